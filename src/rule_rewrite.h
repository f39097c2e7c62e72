/*
 * rule_rewrite.h
 *		Rewrites a rule into an equivalent tree that is cheaper to evaluate,
 *		before it is compiled to SQL.  Pure C, no PostgreSQL headers.
 *
 * Two rewrites, both exact (same members for every database state):
 *
 *	- Aggregates that only ask whether a row exists become EXISTS, which
 *	  needs no grouping and can be answered from an index range scan:
 *		count(s WHERE f) > 0, >= 1, <> 0			EXISTS s WHERE f
 *		count(s WHERE f) = 0, < 1, <= 0				NOT EXISTS s WHERE f
 *	  (count(s.c) and count_distinct(s.c) add "c IS NOT NULL" to f), and
 *		max(s.c WHERE f) > x, >= x					EXISTS s WHERE f AND c > x
 *		min(s.c WHERE f) < x, <= x					EXISTS s WHERE f AND c < x
 *		max(s.c WHERE f) < x, <= x					EXISTS s WHERE f AND c IS NOT NULL
 *													AND NOT EXISTS s WHERE f AND c >= x
 *		min(s.c WHERE f) > x, >= x					(the mirror image)
 *	  (a window of the aggregate stays the window of each EXISTS), and, when
 *	  the caller gives the as-of clock and c is a date or timestamp column,
 *		max(s.c WHERE f) DURING w					EXISTS s WHERE f AND c >= lo AND c < hi
 *													AND NOT EXISTS s WHERE f AND c >= hi
 *		min(s.c WHERE f) DURING w					EXISTS s WHERE f AND c >= lo AND c < hi
 *													AND NOT EXISTS s WHERE f AND c < lo
 *	  with [lo, hi) the window resolved at the as-of instant, as literal
 *	  moments (an infinite bound drops its comparison).
 *
 *	- In an AND or OR, the children that read only the customer table are
 *	  gathered under one AND / OR node, so that the compiler evaluates them
 *	  as one scan with one WHERE clause.
 *
 * The result shares unchanged subtrees with the input and allocates new
 * nodes in the arena; it is meant for the compiler only (an AND may then
 * hold an AND, which the parser never produces).
 */
#ifndef RULE_REWRITE_H
#define RULE_REWRITE_H

#include <stdbool.h>

#include "rule_ast.h"

#include "rule_window.h"

/*
 * The as-of instant for rewrites that resolve windows, and how to tell a
 * date or timestamp column of a source (the caller's catalog; it may raise
 * its own errors for unknown names).
 */
typedef struct RuleRewriteClock
{
	RuleCivilTime local;		/* as-of, local civil time of the rule's zone */
	int64_t		epoch_usec;		/* the same instant */
	bool		(*is_time_column) (void *arg, const char *source, const char *column);
	void	   *arg;
} RuleRewriteClock;

/* The rewritten rule, or NULL when out of memory. */
extern RuleNode *rule_rewrite(const RuleNode *rule, RuleArena *arena);

/* The same, with the rewrites that need the clock (clock may be NULL). */
extern RuleNode *rule_rewrite_at(const RuleNode *rule, RuleArena *arena,
								 const RuleRewriteClock *clock);

/*
 * Whether a and b are EXISTS or aggregate predicates over the same rows:
 * same source, filter and window.  A customer satisfying an EXISTS, or an
 * aggregate comparison that is false over no rows, then has rows in the
 * other's scope too.
 */
extern bool rule_same_scope(const RuleNode *a, const RuleNode *b);

/* Whether every predicate of the subtree reads only the customer table. */
extern bool rule_is_customer_only(const RuleNode *node);

#endif							/* RULE_REWRITE_H */
