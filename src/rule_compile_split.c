/*
 * rule_compile_split.c
 *		Semi-join reduction of an AND: the cheapest child as driver, the
 *		others among its members (rule_compile.h, RuleSplit).
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "key_dictionary.h"
#include "rule_choice.h"
#include "rule_compile_int.h"
#include "rule_pg.h"
#include "rule_print.h"
#include "rule_rewrite.h"
#include "rule_share.h"
#include "segment.h"

/* The compiled query of a rule on its own, and its estimated cost. */
static char *
CompileAlone(const RuleNode *rule, TimestampTz as_of, double *cost, bool driver)
{
	Compiler	c;

	memset(&c, 0, sizeof(c));
	c.driver = driver;
	RcCompile(&c, rule, as_of);
	*cost = RcPlanCost(c.sql.data);
	return c.sql.data;
}

/* The AND of the children of top other than child skip (the child alone if one). */
static const RuleNode *
WithoutChild(const RuleNode *top, int skip)
{
	RuleNode   *rest;
	int			i,
				j = 0;

	if (top->nchildren == 2)
		return top->children[1 - skip];
	rest = palloc0(sizeof(RuleNode));
	rest->kind = RULE_AND;
	rest->nchildren = top->nchildren - 1;
	rest->children = palloc(sizeof(RuleNode *) * rest->nchildren);
	for (i = 0; i < top->nchildren; i++)
		if (i != skip)
			rest->children[j++] = top->children[i];
	return rest;
}

/* Whether the rule may be split at all: an AND, in the auto or reduced form. */
static bool
MaySplit(const RuleNode *top, bool forced)
{
	return top->kind == RULE_AND && top->nchildren >= 2 &&
		(segment_rule_form == SEGMENT_FORM_AUTO || forced);
}

/*
 * Each child compiled alone as a driver (no registered-customer check),
 * the cheapest by the planner chosen (rule_choice.c).
 */
bool
rule_compile_split(const RuleNode *rule, TimestampTz as_of, RuleSplit *split)
{
	Compiler	c;
	const RuleNode *top;
	double		cost_full;
	double	   *costs;
	char	  **sqls;
	int			driver,
				i;

	memset(split, 0, sizeof(*split));
	memset(&c, 0, sizeof(c));
	split->forced = segment_rule_form == SEGMENT_FORM_REDUCED;
	RcPrepare(&c, as_of);
	top = RcRewrite(&c, rule);
	if (!MaySplit(top, split->forced))
	{
		split->full_sql = rule_compile_sql(rule, as_of, RULE_AMONG_NONE, -1);
		return false;
	}
	split->customers = RcCustomerRows(&c);
	split->full_sql = CompileAlone(rule, as_of, &cost_full, false);
	if (!rule_split_worth_trying(cost_full, split->forced))
		return false;
	costs = palloc(sizeof(double) * top->nchildren);
	sqls = palloc(sizeof(char *) * top->nchildren);
	for (i = 0; i < top->nchildren; i++)
		sqls[i] = CompileAlone(top->children[i], as_of, &costs[i], true);
	if ((driver = rule_split_driver(costs, top->nchildren, cost_full, split->forced)) < 0)
		return false;
	split->driver_sql = sqls[driver];
	split->full_cost = cost_full;
	split->rest = WithoutChild(top, driver);
	split->note = psprintf("driver: child %d of %d (estimated cost %.0f, whole rule %.0f)",
						   driver + 1, top->nchildren, costs[driver], cost_full);
	return true;
}
