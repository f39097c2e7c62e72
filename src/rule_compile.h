/*
 * rule_compile.h
 *		Compiles a rule into one SQL query that returns its audience.
 */
#ifndef RULE_COMPILE_H
#define RULE_COMPILE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "rule_ast.h"

/*
 * Among candidates, the query takes an audience of candidate customers as
 * $1 and every scan is restricted to them, so the result is the rule's
 * audience & $1.  RULE_AMONG_CUSTOMERS promises that every candidate is a
 * registered customer of the tenant (they come from the customer table), so
 * the candidates are the universe.  among_count, the number of candidates,
 * chooses how scans are restricted to them.
 */
typedef enum RuleAmong
{
	RULE_AMONG_NONE,
	RULE_AMONG_CANDIDATES,
	RULE_AMONG_CUSTOMERS,
	RULE_AMONG_KEYS				/* candidates $1 and their customer keys $2
								 * (an array of the key type): source and
								 * customer-table scans are restricted with
								 * "column = ANY ($2)", which an index on the
								 * column serves */
} RuleAmong;

/* Up to this many candidates are an "= ANY (array)", more a bitmap probe. */
#define RULE_AMONG_LIST_MAX 200

extern char *rule_compile_sql(const RuleNode *rule, TimestampTz as_of, RuleAmong among,
							  int64 among_count);


/*
 * n rules in one query returning n audience columns (r1 .. rn), predicates
 * over the same source sharing one scan across all of them.
 */
extern char *rule_compile_many(const RuleNode **rules, int n, TimestampTz as_of, RuleAmong among,
							   int64 among_count);

/*
 * Semi-join reduction of a rule that is an AND (after rewriting): one
 * child, the driver, evaluated first; the others (rest, their AND) then
 * among the driver's members when they are few (RULE_AMONG_KEYS), so that
 * their scans probe the customer-column index for those customers instead
 * of reading every row ("viewed the cart this week AND NOT ordered": the
 * week's orders of the cart viewers only).  False when the rule is not
 * worth splitting; full_sql is then its query.  Caller connected to SPI.
 */
typedef struct RuleSplit
{
	char	   *full_sql;		/* when not split */
	double		full_cost;		/* its estimated cost, when split */
	char	   *driver_sql;		/* the driver's own query */
	const RuleNode *rest;		/* the other children */
	double		customers;		/* the planner's number of customers */
	bool		forced;			/* segment.rule_form = reduced */
	char	   *note;			/* why, for the log */
} RuleSplit;

extern bool rule_compile_split(const RuleNode *rule, TimestampTz as_of, RuleSplit *split);

/* A compiled query with its parameters (for SPI_execute_with_args). */
typedef struct RuleQuery
{
	char	   *sql;
	int			nparams;
	Oid		   *types;
	Datum	   *values;
	char	   *nulls;
} RuleQuery;

/*
 * While refresh_all() shares predicates (rule_share.h): the query with
 * every shareable predicate, and the universe, computed once per run and
 * passed as parameters.  Runs predicates through SPI (caller connected).
 */
extern void rule_compile_shared(const RuleNode *rule, TimestampTz as_of, RuleQuery *query);

#endif							/* RULE_COMPILE_H */
