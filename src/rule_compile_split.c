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

/*
 * The compiled query of a rule on its own, and its estimated cost (not
 * planned, 0, when *joined: the rule is one join per shard, see
 * rule_compile_shard_join.c).
 */
static char *
CompileAlone(const RuleNode *rule, TimestampTz as_of, double *cost, bool driver, bool *joined)
{
	Compiler	c;

	memset(&c, 0, sizeof(c));
	c.driver = driver;
	RcCompile(&c, rule, as_of);
	if (joined)
		*joined = c.shard_joined;
	*cost = c.shard_joined ? 0 : RcPlanCost(c.sql.data);
	return c.sql.data;
}

/*
 * The AND of the children of top with in[i] == want (the child alone if
 * one).
 */
static const RuleNode *
Children(const RuleNode *top, const bool *in, bool want)
{
	RuleNode   *and;
	int			i,
				j = 0;

	for (i = 0; i < top->nchildren; i++)
		j += in[i] == want;
	if (j == 1)
		for (i = 0; i < top->nchildren; i++)
			if (in[i] == want)
				return top->children[i];
	and = palloc0(sizeof(RuleNode));
	and->kind = RULE_AND;
	and->nchildren = j;
	and->children = palloc(sizeof(RuleNode *) * j);
	for (i = 0, j = 0; i < top->nchildren; i++)
		if (in[i] == want)
			and->children[j++] = top->children[i];
	return and;
}

/* "2", "1 and 3", "1, 2 and 4": the driving children, numbered from 1. */
static char *
ChildList(const bool *in, int n)
{
	StringInfoData s;
	int			i,
				seen = 0,
				total = 0;

	for (i = 0; i < n; i++)
		total += in[i];
	initStringInfo(&s);
	for (i = 0; i < n; i++)
		if (in[i])
		{
			seen++;
			appendStringInfo(&s, "%s%d", seen == 1 ? "" : seen == total ? " and " : ", ", i + 1);
		}
	return s.data;
}

/*
 * The planner's number of members of a driver, or -1 when it has none:
 * the rows of customer conditions, the distinct customers of an EXISTS's
 * rows (RcExpectedCustomers), the smallest of an AND's children that have one.
 */
static double
ExpectedMembers(Compiler *c, const RuleNode *n)
{
	double		rows = -1;
	int			i;

	if (rule_is_customer_only(n))
		RcPlanEstimate(psprintf("SELECT FROM %s cu WHERE %s", c->reg.relname, RcCustomerWhere(c, n)),
					   NULL, &rows, NULL);
	else if (n->kind == RULE_EXISTS)
		rows = RcExpectedCustomers(c, n);
	else if (n->kind == RULE_AND)
		for (i = 0; i < n->nchildren; i++)
		{
			double		child = ExpectedMembers(c, n->children[i]);

			if (child >= 0 && (rows < 0 || child < rows))
				rows = child;
		}
	return rows;
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
 * the cheapest by the planner chosen (rule_choice.c), with the other
 * children cheap enough to join it: the driver is then their AND.
 */
bool
rule_compile_split(const RuleNode *rule, TimestampTz as_of, RuleSplit *split)
{
	Compiler	c;
	const RuleNode *top;
	double		cost_full;
	double	   *costs;
	char	  **sqls;
	bool	   *joins;
	bool		joined;
	double		expected;
	int			driver,
				ndriving,
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
	split->full_sql = CompileAlone(rule, as_of, &cost_full, false, &joined);
	/*
	 * A join per shard starts from the customer conditions on each shard,
	 * where the reduced rule's rest would pull the candidates' rows (and
	 * the remote estimates of planning it cost more than the join runs)
	 */
	if (joined || !rule_split_worth_trying(cost_full, split->forced))
		return false;
	costs = palloc(sizeof(double) * top->nchildren);
	sqls = palloc(sizeof(char *) * top->nchildren);
	for (i = 0; i < top->nchildren; i++)
		sqls[i] = CompileAlone(top->children[i], as_of, &costs[i], true, NULL);
	if ((driver = rule_split_driver(costs, top->nchildren, cost_full, split->forced)) < 0)
		return false;
	joins = palloc(sizeof(bool) * top->nchildren);
	ndriving = rule_split_companions(costs, top->nchildren, driver, cost_full, joins);
	expected = ExpectedMembers(&c, Children(top, joins, true));
	if (rule_split_driver_too_large(expected, split->customers, split->forced))
	{
		split->note = psprintf("the driver (child%s %s of %d) is expected to have %.0f members, above %.0f",
							   ndriving > 1 ? "ren" : "", ChildList(joins, top->nchildren), top->nchildren,
							   expected, rule_reduce_limit(split->customers));
		return false;
	}
	split->full_cost = cost_full;
	split->rest = Children(top, joins, false);
	if (ndriving == 1)
	{
		split->driver_sql = sqls[driver];
		split->note = psprintf("driver: child %d of %d (estimated cost %.0f, whole rule %.0f)",
							   driver + 1, top->nchildren, costs[driver], cost_full);
		return true;
	}
	{
		double		cost_driver;

		split->driver_sql = CompileAlone(Children(top, joins, true), as_of, &cost_driver, true, NULL);
		split->note = psprintf("driver: children %s of %d together (estimated cost %.0f, whole rule %.0f)",
							   ChildList(joins, top->nchildren), top->nchildren, cost_driver, cost_full);
	}
	return true;
}
