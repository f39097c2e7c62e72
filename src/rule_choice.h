/*
 * rule_choice.h
 *		The rule compiler's decisions from the planner's numbers, as pure
 *		functions (no PostgreSQL): which scans serve a source's predicates,
 *		when a result is checked by index lookups, which form of a rule is
 *		kept, and whether and how an AND is split.  The compiler measures
 *		(rule_compile_*.c); these decide, and test/unit/test_rule_choice.c
 *		checks them without a server.
 */
#ifndef RULE_CHOICE_H
#define RULE_CHOICE_H

#include <stdbool.h>

/* How a source's predicates are scanned (rule_compile_merge.c). */
typedef enum RuleScanChoice
{
	RULE_SCAN_ONE,				/* one scan for all */
	RULE_SCAN_HYBRID,			/* the EXISTS in one plain scan, the
								 * aggregates in one grouped scan */
	RULE_SCAN_SPLIT				/* each EXISTS alone, the aggregates in one
								 * grouped scan */
} RuleScanChoice;

/* cost_hybrid < 0: no hybrid possible (fewer than two EXISTS, or no aggregate). */
extern RuleScanChoice rule_choose_scans(double cost_one, double cost_split, double cost_hybrid);

/*
 * Up to how many members a result is checked against the customer table
 * by index lookups of each, rather than by a scan and an intersection.
 */
extern double rule_probe_threshold(double customers, bool key_indexed, bool dictionary);

/* Whether the per-customer form is kept over set algebra. */
extern bool rule_prefer_per_customer(double cost_per_customer, double cost_algebra);

/* Whether an AND whose whole query costs full_cost is worth trying to split. */
extern bool rule_split_worth_trying(double full_cost, bool forced);

/*
 * The driver of a split among n children by their own costs (the first of
 * the cheapest), or -1 when not worth splitting.
 */
extern int	rule_split_driver(const double *child_costs, int n, double full_cost, bool forced);

/*
 * The children that join the driver (joins[i] set, the driver's included):
 * the next cheapest while the driver's and their costs together stay within
 * the same fraction of the whole, leaving at least one child for the rest.
 * Returns how many children drive.
 */
extern int	rule_split_companions(const double *child_costs, int n, int driver, double full_cost,
								  bool *joins);

/*
 * Up to how many driver members the rest of a split rule runs among them
 * (a fraction of the customers, at least a minimum).
 */
extern double rule_reduce_limit(double customers);

/*
 * Whether a split is dropped before its driver runs: the planner expects
 * the driver to have more members than the rest may run among (expected <
 * 0: no estimate, the driver runs and its exact size decides).
 */
extern bool rule_split_driver_too_large(double expected_members, double customers, bool forced);

#endif							/* RULE_CHOICE_H */
