/*
 * rule_compile_customer.c
 *		Conditions on the customer table (one scan, one WHERE clause), the
 *		check that a rule's customers are registered, and the two forms of
 *		a rule outside triggers and refresh_all(): set algebra over
 *		audiences, or one query per customer row, the cheaper kept.
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
#include "rule_compile_shard.h"
#include "rule_compile_shard_join.h"
#include "rule_pg.h"
#include "rule_print.h"
#include "rule_rewrite.h"
#include "rule_share.h"
#include "segment.h"

static void AppendRowBool(Compiler *c, const RuleNode *n, bool negate);

/*
 * A customer condition as a boolean over the customer row cu; negated, it
 * is "(cond) IS NOT TRUE", true for NULLs (see AppendRowBool).
 */
static void
AppendCustomerCondition(Compiler *c, const RuleNode *n, bool negate)
{
	const char *col = n->value->column;

	if (negate)
		appendStringInfoChar(&c->sql, '(');
	RcAppendCondition(c, n, psprintf("cu.%s", quote_identifier(col)),
					RcColumnType(c->reg.rel, c->reg.relname, col), psprintf("customer.%s", col));
	if (negate)
		appendStringInfoString(&c->sql, " IS NOT TRUE)");
}

/* The tenant's rows of the customer table (alias cu), each "... AND ". */
static void
AppendCustomerScope(Compiler *c)
{
	if (c->reg.tenant)
		appendStringInfo(&c->sql, "cu.%s::text = %s AND ", c->reg.tenant, quote_literal_cstr(c->reg.tenant_value));
	/* a view's rows outside the ordinal range are no customers (never members) */
	if (c->reg.unguarded)
		appendStringInfo(&c->sql, "cu.%s BETWEEN 0 AND 4294967295 AND ", c->reg.key);
}

/* FROM and WHERE of a customer-table scan: the tenant's rows (alias cu). */
void
RcAppendCustomerFrom(Compiler *c)
{
	appendStringInfo(&c->sql, " FROM %s cu", c->reg.relname);
	if (c->reg.dictionary)
		appendStringInfoString(&c->sql, RcDictJoin(&c->reg, "cu", c->reg.key));
	appendStringInfoString(&c->sql, " WHERE ");
	AppendCustomerScope(c);
}

/*
 * The customer conditions cond over the customer row cu, restricted to the
 * tenant's rows, as a boolean (a shard's join reads it).
 */
char *
RcCustomerWhere(Compiler *c, const RuleNode *cond)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	AppendCustomerScope(c);
	AppendRowBool(c, cond, false);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/*
 * Conditions on the customer table, whatever their boolean shape: one scan
 * with one WHERE clause (an index on a column serves it when selective),
 * restricted to the tenant, so its customers are registered ones.
 */
void
RcCompileCustomer(Compiler *c, const RuleNode *n)
{
	appendStringInfo(&c->sql, "SELECT coalesce(%s, '{}') AS yes", RcCustomerAudience(c));
	RcAppendCustomerFrom(c);
	AppendRowBool(c, n, false);
	RcAppendAmongKey(c, psprintf("cu.%s", c->reg.key),
				   c->reg.dictionary ? RcCustomerOrdinal(c) : psprintf("cu.%s", c->reg.key));
}

/*
 * Whether an index (the primary key, typically) leads with the customer
 * key: then members are looked up as "key = ANY (array)", index probes
 * without a join.  Otherwise they join the table as a semi-join.
 */
static bool
KeyIndexed(Compiler *c)
{
	return catalog_key_indexed(c->reg.rel, c->reg.key_column);
}

/*
 * The audience of the tenant's customers satisfying customer conditions
 * (NULL: all of them), as column a; with probe, only among the members of
 * x.a (index lookups of each member instead of a scan).
 */
static char *
CustomerScanSql(Compiler *c, const RuleNode *cond, bool probe)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	appendStringInfo(&c->sql, "SELECT coalesce(%s, '{}') AS a", RcCustomerAudience(c));
	RcAppendCustomerFrom(c);
	if (cond)
		AppendRowBool(c, cond, false);
	else
		appendStringInfoString(&c->sql, "true");
	if (probe && c->key_indexed && !c->reg.dictionary)
		appendStringInfo(&c->sql, " AND cu.%s = ANY (segment.to_bigint_array((SELECT x.a FROM x)))", c->reg.key);
	else if (probe && c->key_indexed && c->reg.cached)
		/* the members' keys from the cache: no index scan of the dictionary table */
		appendStringInfo(&c->sql, " AND cu.%s = ANY (segment.audience_keys((SELECT x.a FROM x), NULL::%s))",
						 c->reg.key, c->reg.key_type);
	else if (probe)
		appendStringInfo(&c->sql, " AND %s IN (SELECT segment.ids_bigint(x.a) FROM x)",
						 c->reg.dictionary ? RcCustomerOrdinal(c) : psprintf("cu.%s", c->reg.key));
	text = probe ? c->sql.data : RcShardCustomers(c, c->sql.data);	/* scale-out */
	c->sql = saved;
	return text;
}

/*
 * Whether a source's key (an expression of the key's type) is a key of the
 * customer table (of the tenant): a semi-join, index probes for a few keys,
 * a hash or merge join for many.
 */
char *
RcKeyRegistered(Compiler *c, const char *key)
{
	return psprintf("EXISTS (SELECT FROM %s cu WHERE cu.%s = %s%s)", c->reg.relname, c->reg.key, key,
					c->reg.tenant ? psprintf(" AND cu.%s::text = %s", c->reg.tenant,
											 quote_literal_cstr(c->reg.tenant_value)) : "");
}

/*
 * A rule that is one EXISTS or one aggregate (count, sum, avg, min, max,
 * count_distinct) over a source, or such a predicate AND NOT others, with
 * dictionary keys: its customers are checked as keys, in its own scan,
 * before they are mapped to ordinals.
 * The run-time check after mapping would look the members' ordinals up
 * again for their keys (few), or map every customer of the table (many:
 * 1M lookups, 0.2-1 s, slowest in parallel workers), where the semi-join
 * reads the key index once.
 */
static bool
KeyCheckableLeaf(const RuleNode *n)
{
	if (n->kind == RULE_EXISTS)
		return true;
	if (n->kind < RULE_CMP || n->kind > RULE_DURING || n->value == NULL ||
		n->value->kind != RULE_VALUE_AGG)
		return false;
	switch (n->value->agg)
	{
		case RULE_AGG_COUNT:
		case RULE_AGG_SUM:
		case RULE_AGG_AVG:
		case RULE_AGG_MIN:
		case RULE_AGG_MAX:
		case RULE_AGG_COUNT_DISTINCT:
			return true;
		default:
			return false;
	}
}

/*
 * The planner's number of distinct customers in the rows of an EXISTS or
 * aggregate predicate (its filter and window), from a plan of their
 * GROUP BY customer.
 */
double
RcExpectedCustomers(Compiler *c, const RuleNode *n)
{
	bool		exists = n->kind == RULE_EXISTS;
	const char *name = exists ? n->name : n->value->source;
	Source		s;
	double		rows;

	RcLoadSource(c, name, &s);
	RcPlanEstimate(psprintf("SELECT e.%s FROM %s e WHERE %s GROUP BY 1", s.customer, s.relname,
							RcLeafCondition(c, &s, name, exists ? n->filter : n->value->filter,
											exists ? n->window : n->value->window)),
				   NULL, &rows, NULL);
	return rows;
}

/*
 * Whether the planner expects the predicate's rows to have few distinct
 * customers, up to the run-time check's probe threshold: measured at the
 * default work_mem, the semi-join of 482k keys ("first order last year")
 * hashed the 1M customer keys in 8 batches and ran slower than mapping
 * every customer for the universe in parallel workers; for a few hundred
 * keys it is index probes ("urgent ticket in 12 hours": no CASE, no
 * dictionary round trip).
 */
static bool
FewKeys(Compiler *c, const RuleNode *n)
{
	double		rows = RcExpectedCustomers(c, n);

	c->key_indexed = KeyIndexed(c);
	c->key_rows = rows;
	return rows <= rule_probe_threshold(RcCustomerRows(c), c->key_indexed, c->reg.dictionary);
}
/*
 * The predicate whose scan checks the rule's customers: the rule itself,
 * or the one positive child of an AND whose other children are NOTs
 * (x AND NOT y is x - y, within x); NULL if none.
 */
static const RuleNode *
KeyChecked(Compiler *c, const RuleNode *rule)
{
	const RuleNode *positive = NULL;
	int			i;

	if (!c->post_join || c->driver)
		return NULL;
	if (rule->kind != RULE_AND)
		positive = rule;
	else
		for (i = 0; i < rule->nchildren; i++)
			if (rule->children[i]->kind == RULE_NOT && !rule_is_customer_only(rule->children[i]))
				continue;
			else if (positive != NULL)
				return NULL;
			else
				positive = rule->children[i];
	if (positive == NULL || !KeyCheckableLeaf(positive))
		return NULL;
	return FewKeys(c, positive) ? positive : NULL;
}

/* The planner's idea of the number of customers (at least 1). */
double
RcCustomerRows(Compiler *c)
{
	return catalog_rel_tuples(c->reg.rel);
}

/*
 * The per-customer form of a predicate: a boolean over the customer row cu
 * with correlated subqueries, as one would write the rule by hand
 * ("... WHERE cu.age > 30 AND NOT EXISTS (SELECT FROM orders e WHERE
 * e.customer_id = cu.id ...)").  The planner turns EXISTS into semi- and
 * anti-joins (index lookups for few customers, hash joins for many);
 * aggregates are scalar subqueries whose value over no rows is the
 * language's (0 for count and sum, NULL otherwise).
 *
 * A rule's NOT is "the registered customers for which the condition is not
 * true", so NOTs are pushed down (De Morgan) to the predicates and a negated
 * comparison is "(cond) IS NOT TRUE", true for NULLs; without a NOT above
 * it, a comparison that is NULL rejects the row as false would.  Customer
 * conditions alone (one scan of the customer table) use the same walk.
 */
static void
AppendRowBool(Compiler *c, const RuleNode *n, bool negate)
{
	const char *ordinal = c->reg.dictionary ? RcCustomerOrdinal(c) : c->reg.key_ordinal;
	int			i;

	check_stack_depth();
	switch (n->kind)
	{
		case RULE_AND:
		case RULE_OR:
			appendStringInfoChar(&c->sql, '(');
			for (i = 0; i < n->nchildren; i++)
			{
				if (i > 0)
					appendStringInfoString(&c->sql, (n->kind == RULE_AND) != negate ? " AND " : " OR ");
				AppendRowBool(c, n->children[i], negate);
			}
			appendStringInfoChar(&c->sql, ')');
			return;
		case RULE_NOT:
			AppendRowBool(c, n->children[0], !negate);
			return;
		case RULE_EXISTS:
			{
				Source		s;

				RcLoadSource(c, n->name, &s);
				appendStringInfo(&c->sql, "(%sEXISTS (SELECT FROM %s e WHERE e.%s = cu.%s AND %s))",
								 negate ? "NOT " : "", s.relname, s.customer, c->reg.key,
								 RcLeafCondition(c, &s, n->name, n->filter, n->window));
				return;
			}
		case RULE_TAG_IN:
		case RULE_TAG_EMPTY:
			{
				/* holds for holders: IN, IS NOT EMPTY; for the others: NOT IN, IS EMPTY */
				bool		holders = (n->kind == RULE_TAG_IN) != n->negated;

				appendStringInfo(&c->sql, "(%sEXISTS (SELECT FROM segment.tag_members m JOIN segment.tags t "
								 "ON t.id = m.tag_id WHERE m.ordinal = %s AND t.group_id = %s",
								 holders != negate ? "" : "NOT ", ordinal, RcTagGroupId(n->name));
				RcAppendTagValues(c, n);
				appendStringInfoString(&c->sql, "))");
				return;
			}
		case RULE_IN_SEGMENT:
			appendStringInfo(&c->sql, "(%s(SELECT coalesce(members, '{}') FROM segment.segments WHERE id = %s) "
							 "OPERATOR(segment.@>) %s::bigint)", negate ? "NOT " : "", RcSegmentId(n->name), ordinal);
			return;
		case RULE_IN_SNAPSHOT:
			appendStringInfo(&c->sql, "(%s(SELECT members FROM segment.snapshots WHERE id = %s) "
							 "OPERATOR(segment.@>) %s::bigint)", negate ? "NOT " : "", RcSnapshotId(n->name), ordinal);
			return;
		case RULE_SEQUENCE:
			{
				Source		s;
				char	   *cond = RcSequenceCondition(c, n, &s);

				appendStringInfo(&c->sql, "(%sEXISTS (SELECT FROM %s e WHERE e.%s = cu.%s AND %s))",
								 negate ? "NOT " : "", s.relname, s.customer, c->reg.key, cond);
				return;
			}
		case RULE_RANK:
			/* the selection is computed once (an init plan), then probed */
			appendStringInfo(&c->sql, "(%s(%s) OPERATOR(segment.@>) %s::bigint)",
							 negate ? "NOT " : "", RcRankSql(c, n), ordinal);
			return;
		default:
			if (n->value->kind == RULE_VALUE_CUSTOMER)
			{
				AppendCustomerCondition(c, n, negate);
				return;
			}
			{
				const RuleValue *v = n->value;
				Source		s;
				AggInfo		a;
				char	   *value;

				RcLoadSource(c, v->source, &s);
				RcCheckAggregate(c, v, &s, &a);
				value = psprintf("(SELECT %s FROM %s e WHERE e.%s = cu.%s AND %s)",
								 RcAggSql(&a, v->agg, NULL), s.relname, s.customer,
								 c->reg.key, RcLeafCondition(c, &s, v->source, v->filter, v->window));
				if (negate)
					appendStringInfoChar(&c->sql, '(');
				RcAppendCondition(c, n, value, a.vtype, a.what);
				if (negate)
					appendStringInfoString(&c->sql, " IS NOT TRUE)");
			}
	}
}

/* The whole rule per customer: one query over the customer table. */
static char *
PerCustomerSql(Compiler *c, const RuleNode *rule)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	appendStringInfo(&c->sql, "SELECT coalesce(%s, '{}')", RcCustomerAudience(c));
	RcAppendCustomerFrom(c);
	AppendRowBool(c, rule, false);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/*
 * A rule outside the triggers and refresh_all(): the customer conditions
 * of a top-level AND (or the whole rule) become one scan of the customer
 * table, which is also the rule's check that its customers are registered:
 *	- the rest complements (NOT, count(...) < 3...): the scan is the
 *	  universe the rest is computed in, and the result is their
 *	  intersection;
 *	- otherwise the rest is computed first (CTE x), and the query decides
 *	  at run time, from its exact size: few members are looked up in the
 *	  customer table with the conditions, many are intersected with one
 *	  scan of it.  Both arms are uncorrelated subqueries (init plans) run
 *	  only when taken.
 * Without customer conditions the same holds with the universe, and no
 * check at all is needed when every customer found comes from sources
 * whose foreign key guarantees it is registered.
 */
/* An AND / OR without its child i (the other child alone if one is left). */
static const RuleNode *
WithoutChild(const RuleNode *rule, int i)
{
	RuleNode   *out = palloc0(sizeof(RuleNode));
	int			j;

	out->kind = rule->kind;
	out->children = palloc(sizeof(RuleNode *) * rule->nchildren);
	for (j = 0; j < rule->nchildren; j++)
		if (j != i)
			out->children[out->nchildren++] = rule->children[j];
	return out->nchildren == 1 ? out->children[0] : out;
}

/*
 * "customer conditions OR rest": the customers of the conditions' scan are
 * registered, so only the rest is checked (the universe or the run-time
 * check below), and the scan is added after: "IN SEGMENT 'app_buyers' OR
 * customer.vip = true" looks up the segment's members alone, not the vip
 * customers a second time.
 */
static void
CompileOrWithCustomers(Compiler *c, const RuleNode *block, const RuleNode *rest)
{
	StringInfoData expr;
	const char *scan;
	const char *universe;
	double		threshold;

	RcCompileMergedScans(c, rest);
	RcCompileNode(c, rest);
	expr = c->sql;
	initStringInfo(&c->sql);
	scan = CustomerScanSql(c, block, false);
	if (c->uses_universe || RcShardedCustomers(c))	/* scale-out: no probe of shards */
	{
		appendStringInfoString(&c->notes, "-- universe: one scan of the customer table; the customer "
							   "conditions of the OR: one scan\n");
		appendStringInfo(&c->sql, "%sWITH u AS MATERIALIZED (%s)\nSELECT (u.a OPERATOR(segment.&) %s) "
						 "OPERATOR(segment.|) (%s)\nFROM u%s",
						 c->notes.data, CustomerScanSql(c, NULL, false), expr.data, scan, c->from.data);
		return;
	}
	if (c->driver || (!c->unchecked && !c->reg.tenant && !c->reg.dictionary))
	{
		appendStringInfo(&c->sql, "%sSELECT %s OPERATOR(segment.|) (%s)\nFROM%s",
						 c->notes.data, expr.data, scan, c->from.data + 1);
		return;
	}
	c->key_indexed = KeyIndexed(c);
	threshold = rule_probe_threshold(RcCustomerRows(c), c->key_indexed, c->reg.dictionary);
	appendStringInfo(&c->notes, "-- registered-customer check of the OR's other children: index lookups of "
					 "each member when at most %.0f, else one scan and an intersection; the customer "
					 "conditions: one scan\n", threshold);
	universe = CustomerScanSql(c, NULL, false);
	c->check_body = psprintf("SELECT %s AS a\nFROM%s", expr.data, c->from.data + 1);
	c->check_scan = psprintf("%s UNION ALL %s", universe, scan);
	appendStringInfo(&c->sql, "%sWITH x AS MATERIALIZED (SELECT %s AS a\nFROM%s)\n"
					 "SELECT (CASE WHEN segment.cardinality(x.a) <= %.0f\n"
					 "  THEN (%s)\n"
					 "  ELSE x.a OPERATOR(segment.&) (%s) END) OPERATOR(segment.|) (%s)\nFROM x",
					 c->notes.data, expr.data, c->from.data + 1, threshold,
					 CustomerScanSql(c, NULL, true), universe, scan);
}

static void
CompileSetAlgebra(Compiler *c, const RuleNode *rule)
{
	const RuleNode *block = NULL;
	const RuleNode *rest = rule;
	StringInfoData expr;
	double		threshold;
	int			i;

	if (rule_is_customer_only(rule))
	{
		appendStringInfoString(&c->notes, "-- customer conditions: one scan of the customer table\n");
		appendStringInfo(&c->sql, "%s%s", c->notes.data, CustomerScanSql(c, rule, false));
		return;
	}
	if (rule->kind == RULE_OR || rule->kind == RULE_AND)
		for (i = 0; i < rule->nchildren && block == NULL; i++)
			if (rule_is_customer_only(rule->children[i]))
			{
				block = rule->children[i];
				rest = WithoutChild(rule, i);
			}
	if (block && rule->kind == RULE_OR)
	{
		CompileOrWithCustomers(c, block, rest);
		return;
	}
	c->key_checked = block ? NULL : KeyChecked(c, rest);
	RcCompileMergedScans(c, rest);
	RcCompileNode(c, rest);
	expr = c->sql;
	initStringInfo(&c->sql);
	if (c->key_checked && !c->uses_universe)
	{
		appendStringInfo(&c->notes, "-- registered-customer check: a semi-join of the source's keys "
						 "with the customer table, before they are mapped to ordinals (estimated %.0f keys)\n",
						 c->key_rows);
		appendStringInfo(&c->sql, "%sSELECT %s\nFROM%s", c->notes.data, expr.data, c->from.data + 1);
		return;
	}
	if (c->uses_universe || RcShardedCustomers(c))	/* scale-out: no probe of shards */
	{
		appendStringInfo(&c->notes, "-- universe: %s\n",
						 block ? "the customers satisfying the customer conditions (one scan)"
						 : "one scan of the customer table");
		appendStringInfo(&c->sql, "%sWITH u AS MATERIALIZED (%s)\nSELECT u.a OPERATOR(segment.&) %s\nFROM u%s",
						 c->notes.data, CustomerScanSql(c, block, false), expr.data, c->from.data);
		return;
	}
	if (!block && (c->driver || (!c->unchecked && !c->reg.tenant && !c->reg.dictionary)))
	{
		appendStringInfoString(&c->notes, c->driver ? "-- no registered-customer check: the rest of the rule checks the members\n"
							   : "-- no registered-customer check: validated foreign keys guarantee it\n");
		appendStringInfo(&c->sql, "%sSELECT %s\nFROM%s", c->notes.data, expr.data, c->from.data + 1);
		return;
	}
	c->key_indexed = KeyIndexed(c);
	threshold = rule_probe_threshold(RcCustomerRows(c), c->key_indexed, c->reg.dictionary);
	appendStringInfo(&c->notes, "-- %s: index lookups of each member when at most %.0f, else one scan and an intersection\n",
					 block ? "customer conditions and registered-customer check" : "registered-customer check",
					 threshold);
	c->check_body = psprintf("SELECT %s AS a\nFROM%s", expr.data, c->from.data + 1);
	c->check_scan = CustomerScanSql(c, block, false);
	appendStringInfo(&c->sql, "%sWITH x AS MATERIALIZED (SELECT %s AS a\nFROM%s)\n"
					 "SELECT CASE WHEN segment.cardinality(x.a) <= %.0f\n"
					 "  THEN (%s)\n"
					 "  ELSE x.a OPERATOR(segment.&) (%s) END\nFROM x",
					 c->notes.data, expr.data, c->from.data + 1, threshold,
					 CustomerScanSql(c, block, true), CustomerScanSql(c, block, false));
}

/*
 * Whether a rule is an AND with customer conditions: the only shape where
 * the per-customer form is considered, since only there can it start from
 * few customers.  Elsewhere its estimates rest on join selectivities alone
 * and were seen 1000 times too low (an EXISTS over a tag table never
 * analyzed: estimated 5435, ran 5 s against 0.5 s as set algebra).
 */
bool
RcHasCustomerConjunct(const RuleNode *rule)
{
	int			i;

	if (rule->kind != RULE_AND)
		return false;
	for (i = 0; i < rule->nchildren; i++)
		if (rule_is_customer_only(rule->children[i]))
			return true;
	return false;
}

/*
 * A rule outside the triggers and refresh_all(): compiled both as set
 * algebra over audiences (CompileSetAlgebra) and per customer
 * (PerCustomerSql), and the form the planner estimates cheaper is kept.
 * Per customer wins where few customers qualify by their own columns
 * ("registered in the last 15 days AND no order": index lookups of the
 * few), set algebra where sources are scanned anyway.
 */
void
RcCompilePlain(Compiler *c, const RuleNode *rule)
{
	char	   *algebra;
	char	   *percustomer;
	double		cost_algebra,
				cost_percustomer;

	CompileSetAlgebra(c, rule);
	if (RcShardedCustomers(c) && !rule_is_customer_only(rule))
	{
		/* scale-out: set algebra, one audience per shard, or a join per shard */
		RcShardChooseJoin(c, rule);
		return;
	}
	if (rule_is_customer_only(rule) || segment_rule_form == SEGMENT_FORM_SET_ALGEBRA ||
		(segment_rule_form == SEGMENT_FORM_AUTO && !RcHasCustomerConjunct(rule)))
		return;
	algebra = c->sql.data;
	percustomer = PerCustomerSql(c, rule);
	if (segment_rule_form == SEGMENT_FORM_PER_CUSTOMER)
	{
		c->sql.data = psprintf("-- per customer (segment.rule_form)\n%s", percustomer);
		return;
	}
	/*
	 * The planner charges both arms of the run-time check; at most one
	 * runs, and the probe only when it is the cheaper: charge the scan.
	 */
	cost_algebra = c->check_body ? RcPlanCost(c->check_body) + RcPlanCost(c->check_scan) : RcPlanCost(algebra);
	cost_percustomer = RcPlanCost(percustomer);
	initStringInfo(&c->sql);
	if (rule_prefer_per_customer(cost_percustomer, cost_algebra))
		appendStringInfo(&c->sql, "-- per customer: one query over the customer table "
						 "(estimated cost %.0f; set algebra %.0f)\n%s",
						 cost_percustomer, cost_algebra, percustomer);
	else
		appendStringInfo(&c->sql, "-- set algebra over audiences (estimated cost %.0f; per customer %.0f)\n%s",
						 cost_algebra, cost_percustomer, algebra);
}
