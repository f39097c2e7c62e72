/*
 * rule_compile_shard_join.c
 *		Customer conditions AND [NOT] EXISTS of a source co-located with
 *		the customer table, as one join per shard (doc/scale-out.md).
 *
 * On a single node "registered in the last 15 days AND no order" is asked
 * per customer: the few customers of the window, each looked up in the
 * orders' index (the per-customer form of rule_compile_customer.c).  As
 * set algebra over shards, every shard instead turns all its orders into
 * an audience, to be subtracted from the few on the coordinator: measured
 * 7.7 times the single node's time at 1M customers on 4 shards.  When the
 * customer table and the source are co-located (rule_compile_colocated.c),
 * each shard runs the per-customer form over its own rows, in one query
 * that postgres_fdw sends whole:
 *
 *	 SELECT (segment.audience_agg(cu.id::bigint)
 *			  FILTER (WHERE e.customer_id IS NULL))::bytea AS yes
 *	 FROM ONLY customers_s1 cu LEFT JOIN ONLY orders_s1 e
 *	   ON e.customer_id = cu.id AND <the EXISTS's filter and window>
 *	 WHERE <customer conditions>
 *
 * (an inner join without FILTER for EXISTS), and the coordinator unites
 * the shards' audiences.  A join, not NOT EXISTS: PostgreSQL 15's
 * postgres_fdw ships no semi- or anti-join, and the FILTER is the anti-
 * join (a matched row's e.customer_id equals cu.id, never NULL).  The join
 * repeats a customer once per matching row, which leaves the audience as
 * it is; when that is many rows the planner's costs say so, and the
 * cheaper of this form and set algebra is kept (RcShardChooseJoin), as on
 * a single node.  The two are compared on one shard (hash partitions hold
 * alike shares of the rows): its join against the two audiences the set
 * algebra asks of it, the customer conditions' and the EXISTS's.  With
 * remote estimates every foreign scan planned is a remote EXPLAIN; costing
 * the whole of both forms took 20 ms on 4 shards, more than the join runs.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "catalog.h"
#include "rule_choice.h"
#include "rule_compile_int.h"
#include "rule_compile_colocated.h"
#include "rule_compile_shard_join.h"
#include "rule_rewrite.h"
#include "segment.h"

/*
 * The EXISTS of a rule "customer conditions AND [NOT] EXISTS source"
 * (after the rewrites, which gather customer conditions under one node
 * and turn count(source) = 0 into NOT EXISTS), with *block the customer
 * conditions and *negated the NOT; NULL for any other shape.
 */
static const RuleNode *
JoinedExists(const RuleNode *rule, const RuleNode **block, bool *negated)
{
	const RuleNode *other;

	if (rule->kind != RULE_AND || rule->nchildren != 2)
		return NULL;
	if (rule_is_customer_only(rule->children[0]))
		*block = rule->children[0], other = rule->children[1];
	else if (rule_is_customer_only(rule->children[1]))
		*block = rule->children[1], other = rule->children[0];
	else
		return NULL;
	*negated = other->kind == RULE_NOT;
	if (*negated)
		other = other->children[0];
	return other->kind == RULE_EXISTS && !other->negated ? other : NULL;
}

/* The join form of a rule, and its comparison with set algebra. */
typedef struct ShardJoin
{
	char	   *sql;			/* the union of the joins */
	int			nshards;
	bool		negated;		/* NOT EXISTS: left joins */
	double		cost;			/* one shard's join, estimated */
	double		cost_algebra;	/* the same shard's audiences for set algebra */
} ShardJoin;

/*
 * The rule as a union of one join per pair of co-located partitions (see
 * the file's comment) in j, with the estimates if costs; false when it is
 * not of that shape, the source is not co-located with the customer
 * table, keys are mapped through the dictionary (a shard cannot map them),
 * or a shard would not run its join whole.
 */
static bool
ShardJoinSql(Compiler *c, const RuleNode *rule, bool costs, ShardJoin *j)
{
	const RuleNode *block;
	const RuleNode *exists;
	Source		s;
	List	   *pairs;
	ShardPair  *first;
	char	   *agg;
	char	   *cond;
	char	   *on;
	char	   *where;
	List	   *branches = NIL;
	ListCell   *lc;

	if (c->among || c->reg.dictionary || (exists = JoinedExists(rule, &block, &j->negated)) == NULL)
		return false;
	RcLoadSource(c, exists->name, &s);
	pairs = rc_colocated_pairs(c->reg.rel, c->reg.key_column, s.rel,
							   catalog_source(c->catalog, exists->name)->customer_column);
	if (pairs == NIL)
		return false;
	/* bytea: the audience's roaring bytes travel, not its text (rule_compile_shard.c) */
	agg = psprintf("(%s%s)::bytea AS yes", RcCustomerAudience(c),
				   j->negated ? psprintf(" FILTER (WHERE e.%s IS NULL)", s.customer) : "");
	cond = RcLeafCondition(c, &s, exists->name, exists->filter, exists->window);
	on = psprintf("e.%s = cu.%s", s.customer, c->reg.key);
	if (strcmp(cond, "true") != 0)
		on = psprintf("%s AND %s", on, cond);
	where = RcCustomerWhere(c, block);
	foreach(lc, pairs)
	{
		ShardPair  *p = lfirst(lc);

		branches = lappend(branches, psprintf("SELECT %s FROM ONLY %s cu %s ONLY %s e ON %s WHERE %s",
											  agg, p->first, j->negated ? "LEFT JOIN" : "JOIN",
											  p->second, on, where));
	}
	/* the branches differ only in their tables: one plan tells */
	if (!rc_shipped(linitial(branches), &j->cost))
		return false;
	if (costs)
	{
		first = linitial(pairs);
		j->cost_algebra =
			RcPlanCost(psprintf("SELECT (%s)::bytea FROM ONLY %s cu WHERE %s",
								RcCustomerAudience(c), first->first, where)) +
			RcPlanCost(psprintf("SELECT (segment.audience_agg(e.%s::bigint))::bytea FROM ONLY %s e WHERE %s",
								s.customer, first->second, cond));
	}

	j->sql = rc_union_branches(branches);
	j->nshards = list_length(pairs);
	return true;
}

/*
 * A plain rule over a sharded customer table, compiled as set algebra in
 * c->sql: replaced by one join per shard when the rule has that form and
 * the planner estimates it cheaper (or segment.rule_form is per_customer).
 */
void
RcShardChooseJoin(Compiler *c, const RuleNode *rule)
{
	char	   *algebra = c->sql.data;
	bool		forced = segment_rule_form == SEGMENT_FORM_PER_CUSTOMER;
	ShardJoin	j;
	const char *what;

	if (segment_rule_form == SEGMENT_FORM_SET_ALGEBRA || segment_rule_form == SEGMENT_FORM_REDUCED ||
		!ShardJoinSql(c, rule, !forced, &j))
		return;
	what = psprintf("customer conditions and %s on %d co-located shards: a %s join per shard, "
					"its audience computed there", j.negated ? "NOT EXISTS" : "EXISTS", j.nshards,
					j.negated ? "left" : "inner");
	initStringInfo(&c->sql);
	c->shard_joined = forced || rule_prefer_per_customer(j.cost, j.cost_algebra);
	if (forced)
		appendStringInfo(&c->sql, "-- %s (segment.rule_form)\n%s", what, j.sql);
	else if (c->shard_joined)
		appendStringInfo(&c->sql, "-- %s (estimated cost on a shard %.0f; set algebra %.0f)\n%s",
						 what, j.cost, j.cost_algebra, j.sql);
	else
		appendStringInfo(&c->sql, "-- set algebra over audiences (estimated cost on a shard %.0f; "
						 "a join %.0f)\n%s", j.cost_algebra, j.cost, algebra);
}
