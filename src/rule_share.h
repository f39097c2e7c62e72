/*
 * rule_share.h
 *		Results of rule predicates shared across the evaluations of one
 *		refresh_all() run.
 *
 * Twenty segments often repeat the same sub-conditions ("paid orders in the
 * last 30 days", the universe of customers).  While sharing is on, the
 * compiler runs each predicate's subquery once and keys its one-row result
 * by the subquery's SQL text, which holds the source, filter, aggregate,
 * comparison and the window already resolved to literal bounds: equal text
 * means an equal result within the run.  The cache lives in the transaction
 * and is dropped by _share_end() or at transaction end, whichever is first.
 */
#ifndef RULE_SHARE_H
#define RULE_SHARE_H

#include "postgres.h"

/* One cached subquery result: a single row of ncols columns. */
typedef struct RuleShared
{
	int			ncols;
	char	  **names;
	Oid		   *types;
	Datum	   *values;
	bool	   *nulls;
} RuleShared;

extern bool rule_share_active(void);

/*
 * The result of the one-row query sql, run through SPI (the caller is
 * connected) on the first request of the run; *hit tells whether it was cached.
 */
extern const RuleShared *rule_share_get(const char *sql, bool *hit);

#endif							/* RULE_SHARE_H */
