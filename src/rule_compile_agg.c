/*
 * rule_compile_agg.c
 *		Aggregate predicates (count, sum, avg, min, max, count_distinct,
 *		first, last, mode, active_days/weeks/months):
 *		their SQL, the type of their value, whether their condition holds
 *		for customers without rows, and their grouped scan.
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
#include "rule_compile_int.h"
#include "rule_compile_shard.h"
#include "rule_pg.h"
#include "rule_print.h"
#include "rule_rewrite.h"
#include "rule_share.h"
#include "segment.h"

/*
 * The aggregate call, restricted to rows satisfying cond when not NULL.
 * first() and last() take the value on the earliest / latest event with a
 * time (ties to the smallest value, NULLs last: first_by() / last_by(),
 * src/first_last_agg.c), mode() the most frequent non-NULL value (PostgreSQL's mode()
 * keeps the first of equally frequent values in its order: the
 * smallest), active_*() count distinct periods (a->period).
 */
const char *
RcAggSql(const AggInfo *a, RuleAggKind agg, const char *cond)
{
	bool		some = cond && strcmp(cond, "true") != 0;
	const char *f = some ? psprintf(" FILTER (WHERE %s)", cond) : "";
	const char *arg = a->arg;

	switch (agg)
	{
		case RULE_AGG_COUNT:
			return arg == NULL ? psprintf("count(*)%s", f) : psprintf("count(%s)%s", arg, f);
		case RULE_AGG_SUM:
			return psprintf("coalesce(sum(%s)%s, 0)", arg, f);
		case RULE_AGG_AVG:
			return psprintf("avg(%s)%s", arg, f);
		case RULE_AGG_MIN:
			return psprintf("min(%s)%s", arg, f);
		case RULE_AGG_MAX:
			return psprintf("max(%s)%s", arg, f);
		case RULE_AGG_COUNT_DISTINCT:
			return psprintf("count(DISTINCT %s)%s", arg, f);
		case RULE_AGG_FIRST:
		case RULE_AGG_LAST:
			/* of the time column itself: its minimum or maximum, no sort */
			if (strcmp(arg, a->time) == 0)
				return psprintf("%s(%s)%s", agg == RULE_AGG_LAST ? "max" : "min", arg, f);
			/* one row kept per group, not every row sorted (first_last_agg.c) */
			return psprintf("segment.%s(%s, %s)%s", agg == RULE_AGG_LAST ? "last_by" : "first_by", arg, a->time, f);
		case RULE_AGG_MODE:
			return psprintf("mode() WITHIN GROUP (ORDER BY %s)%s", arg, f);
		case RULE_AGG_ACTIVE_DAYS:
		case RULE_AGG_ACTIVE_WEEKS:
		case RULE_AGG_ACTIVE_MONTHS:
			return psprintf("count(DISTINCT %s)%s", a->period, f);
	}
	return NULL;
}

/* The day, week (from Monday) or month of a source row's time, locally. */
static char *
PeriodSql(Compiler *c, RuleAggKind agg, const Source *s)
{
	const char *t = psprintf("e.%s", s->time);
	char	   *local = RcTimeAs(c, t, s->time_type, TIMESTAMPOID);

	if (!RcIsTimeType(s->time_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s() needs a date or timestamp time column, but %s has type %s",
						rule_agg_name(agg), t, format_type_be(s->time_type))));
	switch (agg)
	{
		case RULE_AGG_ACTIVE_DAYS:
			return s->time_type == DATEOID ? pstrdup(t) : psprintf("(%s)::date", local);
		case RULE_AGG_ACTIVE_WEEKS:
			return psprintf("date_trunc('week', %s)", local);
		default:
			return psprintf("date_trunc('month', %s)", local);
	}
}

/* The type an aggregate produces, for typing the literal compared with it. */
static Oid
AggResultType(RuleAggKind agg, Oid argtype)
{
	switch (agg)
	{
		case RULE_AGG_COUNT:
		case RULE_AGG_COUNT_DISTINCT:
		case RULE_AGG_ACTIVE_DAYS:
		case RULE_AGG_ACTIVE_WEEKS:
		case RULE_AGG_ACTIVE_MONTHS:
			return INT8OID;
		case RULE_AGG_AVG:
		case RULE_AGG_SUM:
			return RcIsTimeType(argtype) ? argtype : NUMERICOID;
		default:
			return argtype;
	}
}

/* Whether an aggregate is 0 (not NULL) over no rows. */
static bool
ZeroOverNoRows(RuleAggKind agg)
{
	return agg == RULE_AGG_COUNT || agg == RULE_AGG_COUNT_DISTINCT || agg == RULE_AGG_SUM ||
		agg == RULE_AGG_ACTIVE_DAYS || agg == RULE_AGG_ACTIVE_WEEKS || agg == RULE_AGG_ACTIVE_MONTHS;
}

void
RcCheckAggregate(Compiler *c, const RuleValue *v, const Source *s, AggInfo *a)
{
	bool		rows = v->column == NULL;
	Oid			argtype = rows ? INT8OID : RcColumnType(s->rel, s->relname, v->column);

	if ((v->agg == RULE_AGG_SUM || v->agg == RULE_AGG_AVG) &&
		!(TypeCategory(argtype) == TYPCATEGORY_NUMERIC))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s(%s.%s) needs a numeric column, but it has type %s", rule_agg_name(v->agg),
						v->source, v->column, format_type_be(argtype))));
	a->vtype = AggResultType(v->agg, argtype);
	a->what = psprintf("%s(%s%s%s)", rule_agg_name(v->agg), v->source, rows ? "" : ".", rows ? "" : v->column);
	a->arg = rows ? NULL : psprintf("e.%s", quote_identifier(v->column));
	/* the same count, sorted faster (RcColumnCSortable) */
	if (v->agg == RULE_AGG_COUNT_DISTINCT && !rows && RcColumnCSortable(s->rel, v->column))
		a->arg = psprintf("%s COLLATE \"C\"", a->arg);
	a->empty = psprintf("%s::%s", ZeroOverNoRows(v->agg) ? "0" : "NULL", format_type_be(a->vtype));
	a->time = psprintf("e.%s", s->time);
	a->period = NULL;
	if (v->agg == RULE_AGG_ACTIVE_DAYS || v->agg == RULE_AGG_ACTIVE_WEEKS || v->agg == RULE_AGG_ACTIVE_MONTHS)
		a->period = PeriodSql(c, v->agg, s);
}

/*
 * Whether an aggregate's condition holds for the value over no rows (0 for
 * count and sum, NULL otherwise): then customers without matching rows
 * belong too, as universe - seen.  Asked of the server, which knows the
 * comparison semantics of every type.
 */
bool
RcEmptyHolds(Compiler *c, const RuleNode *n, const AggInfo *a)
{
	StringInfoData saved = c->sql;
	bool		holds;

	initStringInfo(&c->sql);
	appendStringInfoString(&c->sql, "SELECT (");
	RcAppendCondition(c, n, a->empty, a->vtype, a->what);
	appendStringInfoString(&c->sql, ") IS TRUE");
	if (SPI_execute(c->sql.data, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not evaluate %s", c->sql.data);
	holds = strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0;
	pfree(c->sql.data);
	c->sql = saved;
	return holds;
}

/*
 * The columns of an aggregate predicate over g.<value>: "yes" holds the
 * customers whose value satisfies the condition; when the condition holds
 * for no rows, "seen" (customers with matching rows: g.<seen>, or every
 * row of g) too.
 */
void
RcAppendAggColumns(Compiler *c, const RuleNode *n, const AggInfo *a, const char *value,
				 const char *seen, const char *suffix, bool holds)
{
	appendStringInfo(&c->sql, "coalesce(%s FILTER (WHERE ", RcOuterAudience(c));
	RcAppendCondition(c, n, psprintf("g.%s", value), a->vtype, a->what);
	appendStringInfo(&c->sql, "), '{}') AS yes%s", suffix);
	if (holds)
		appendStringInfo(&c->sql, ", coalesce(%s%s, '{}') AS seen%s", RcOuterAudience(c),
						 seen ? psprintf(" FILTER (WHERE g.%s)", seen) : "", suffix);
}

/* The expression of an aggregate predicate from its columns (alias.yesN...). */
void
RcAppendAggExpr(Compiler *c, const char *alias, const char *suffix, bool holds)
{
	if (holds)
	{
		appendStringInfo(&c->sql, "(%s.yes%s OPERATOR(segment.|) (u.a OPERATOR(segment.-) %s.seen%s))",
						 alias, suffix, alias, suffix);
		c->uses_universe = true;
	}
	else
		appendStringInfo(&c->sql, "%s.yes%s", alias, suffix);
}

/* An aggregate's comparison on a grouped value, as text. */
char *
RcGroupCondition(Compiler *c, const RuleNode *n, const AggInfo *a, const char *value)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	RcAppendCondition(c, n, value, a->vtype, a->what);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/*
 * Whether an aggregate has no partial (parallel) form and takes its rows
 * grouped by customer: first_by() / last_by() (no combine function),
 * mode() (ordered-set: never hashed), count(DISTINCT ...) and active_*().
 * At the default work_mem the planner fed such aggregates from the
 * customer-column index of every partition (a Merge Append of index scans,
 * random heap reads): "mode(items.category)" read 5.7M order lines so in
 * 46 s, where sorting a sequential scan took 4.2 s.  Reading the rows
 * behind OFFSET 0 makes it sort or hash them, and costs no parallelism
 * these aggregates could have used (rule_compile_merge.c does it for
 * merged scans with one of them, RcCompileAggregate for mode()).
 */
bool
RcSortedInput(const RuleValue *v, const AggInfo *a)
{
	switch (v->agg)
	{
		case RULE_AGG_FIRST:
		case RULE_AGG_LAST:
			return strcmp(a->arg, a->time) != 0;	/* else min() / max() */
		case RULE_AGG_MODE:
		case RULE_AGG_COUNT_DISTINCT:
		case RULE_AGG_ACTIVE_DAYS:
		case RULE_AGG_ACTIVE_WEEKS:
		case RULE_AGG_ACTIVE_MONTHS:
			return true;
		default:
			return false;
	}
}

/*
 * count_distinct alone in its scan: the rows it reads (filter and window,
 * values not NULL) sorted by key and value in a subquery, then grouped, as
 * one would write it by hand.  count(DISTINCT ...) needs its input in
 * customer order, and at the default work_mem the planner got that order
 * by walking the customer-column index of every monthly partition (random
 * heap reads of a year of orders: 6.9 s, where reading the window by the
 * time index and sorting took 2.3 s); the subquery's sort by both columns
 * is what no such index gives.  Unlike the OFFSET 0 fence it replaced, it
 * can run in parallel workers (Gather Merge): a year of orders 1.2 s
 * fenced, 1.0 s sorted.  Rows with a NULL value count nothing: a customer
 * with only those is 0 whether grouped or not (0 over no rows).
 * Among candidates the scans are small: left to the planner; a source in
 * customer order is walked by its index as by hand (RcCustomerOrdered).
 */
static bool
SortedDistinct(Compiler *c, const RuleValue *v, const Source *s)
{
	return v->agg == RULE_AGG_COUNT_DISTINCT && !c->among && !s->customer_ordered;
}

/*
 * first() / last() alone on its source: the customer's first row in the
 * order (time, value) or (time DESC, value) by DISTINCT ON, as one would
 * write it by hand.  In a grouped scan first_by() keeps one row per
 * customer, but the planner then feeds the GroupAggregate from the
 * customer index (a Merge Append of index scans over partitions, random
 * heap reads): 5x the hand query at 1M customers (bench/README.md), where
 * DISTINCT ON sorts a sequential scan as the hand query does.  The same
 * value: events without a time (or a customer) take no part, ties go to
 * the smaller value, NULL values sort last.
 * The end of the scan is RcAppendGroupEnd's without the GROUP BY.
 */
static void
AppendFirstLastScan(Compiler *c, const RuleValue *v, const Source *s, const AggInfo *a)
{
	/* sorted by the key under "C" where that sorts faster (RcSortedKey) */
	const char *sorted = RcSortedKey(c, s);
	const char *by = sorted ? sorted : "1";

	appendStringInfo(&c->sql, " FROM (SELECT DISTINCT ON (%s) %s AS k, %s AS v", by, RcInnerKey(c, s), a->arg);
	RcAppendSourceFrom(c, s);
	RcAppendSourceWhere(c, s, v->source, v->filter, v->window, true);
	appendStringInfo(&c->sql, " AND e.%s IS NOT NULL AND %s IS NOT NULL ORDER BY %s, %s%s, %s", s->customer,
					 a->time, by, a->time, v->agg == RULE_AGG_LAST ? " DESC" : "", a->arg);
	if (!c->reg.dictionary && !s->references_customers)
		appendStringInfoString(&c->sql, " OFFSET 0) g WHERE g.k BETWEEN 0 AND 4294967295");
	else
		appendStringInfo(&c->sql, ") g%s", c->post_join ? RcDictJoin(&c->reg, "g", "k") : "");
}

/*
 * agg(source.column WHERE ... DURING ...) <condition>: a grouped scan of the
 * source; returns whether the condition holds for no rows.
 */
bool
RcCompileAggregate(Compiler *c, const RuleNode *n)
{
	const RuleValue *v = n->value;
	Source		s;
	AggInfo		a;
	bool		holds;
	int			list_end;
	char	   *where;
	const char *group_by = "1";

	RcLoadSource(c, v->source, &s);
	c->unchecked |= !s.references_customers;
	RcCheckAggregate(c, v, &s, &a);
	holds = RcEmptyHolds(c, n, &a);
	appendStringInfoString(&c->sql, "SELECT ");
	RcAppendAggColumns(c, n, &a, "v", NULL, "", holds);
	list_end = c->sql.len;
	if ((v->agg == RULE_AGG_FIRST || v->agg == RULE_AGG_LAST) && strcmp(a.arg, a.time) != 0)
	{
		AppendFirstLastScan(c, v, &s, &a);
		RcFenceGrouped(c, list_end, holds ? NULL : RcGroupCondition(c, n, &a, "g.v"));
		return holds;
	}
	if (SortedDistinct(c, v, &s))
	{
		/* sorted by the key under "C" where that sorts faster (RcSortedKey) */
		const char *sorted = RcSortedKey(c, &s);

		appendStringInfo(&c->sql, " FROM (SELECT %s AS k, count(DISTINCT e.d) AS v FROM (SELECT %s AS k, %s AS d",
						 sorted ? RcSortedKeyOutput(&s, "e.k") : "e.k", sorted ? sorted : RcInnerKey(c, &s), a.arg);
		RcAppendSourceFrom(c, &s);
		RcAppendSourceWhere(c, &s, v->source, v->filter, v->window, true);
		appendStringInfo(&c->sql, " AND %s IS NOT NULL ORDER BY 1, 2) e", a.arg);
		if (sorted)
			group_by = "e.k";	/* the key sorted under "C" */
	}
	else
	{
		/* mode() behind OFFSET 0 (RcSortedInput; among candidates: left to the planner) */
		bool		fenced = v->agg == RULE_AGG_MODE && !c->among && !s.customer_ordered;

		appendStringInfo(&c->sql, " FROM (SELECT %s AS k, %s AS v", RcInnerKey(c, &s),
						 RcAggSql(&a, v->agg, NULL));
		if (fenced)
			appendStringInfoString(&c->sql, " FROM (SELECT *");
		RcAppendSourceFrom(c, &s);
		RcAppendSourceWhere(c, &s, v->source, v->filter, v->window, true);
		if (fenced)
			appendStringInfoString(&c->sql, " OFFSET 0) e");
	}
	RcAppendGroupEndBy(c, &s, group_by);
	where = holds ? NULL : RcGroupCondition(c, n, &a, "g.v");
	/*
	 * true over no rows: the universe is built anyway, and it is the check
	 * (CompileSetAlgebra)
	 */
	if (c->key_checked == n && !holds)
	{
		/* only the groups the audience takes are checked and mapped */
		where = where ? psprintf("%s AND %s", where, RcKeyRegistered(c, "g.k")) : RcKeyRegistered(c, "g.k");
		if (c->reg.cached)
			appendStringInfo(&c->sql, " WHERE %s", where);
	}
	RcFenceGrouped(c, list_end, where);
	return holds;
}

/* segment.grouped_aggregates: off keeps the grouped scan (for comparison) */
bool		segment_grouped_aggregates = true;

/*
 * A lone count, sum, avg, min or max predicate over integer keys as one
 * grouped_audience_agg() over its rows, into c->sql, in place of the
 * grouped scan of RcCompileAggregate: the aggregate groups by customer in
 * its own hash table and returns the audience of those whose value
 * satisfies the comparison (the customers that fail it, as "seen", when
 * the predicate holds over no rows and is not covered: the universe is
 * then complemented), so no GROUP BY hashes or sorts the rows and no
 * audience is built over the groups.  "count(orders WHERE status =
 * 'paid') BETWEEN 1 AND 3" over 3.8M paid orders: 790 ms serial against
 * 1105 ms for the parallel grouped scan (doc/segments.md).  Not with
 * dictionary keys (the aggregate takes ordinals), among candidates (few
 * rows: the grouped scan by index), for the registered-customer semi-join
 * (c->key_checked), or over a sharded source (rule_compile_shard.c answers
 * it per shard).  The rows are restricted to keys a customer can have:
 * the aggregate refuses others.  Returns whether it wrote the query, and
 * then whether the predicate holds over no rows in *holds.
 */
bool
RcLocalGroupedAggregate(Compiler *c, const RuleNode *n, bool covered, bool *holds)
{
	const RuleValue *v = n->value;
	Source		s;
	char	   *yes;
	char	   *no;

	if (c->reg.dictionary || c->among || c->key_checked == n || !segment_grouped_aggregates)
		return false;
	switch (v->agg)
	{
		case RULE_AGG_COUNT:
		case RULE_AGG_SUM:
		case RULE_AGG_AVG:
		case RULE_AGG_MIN:
		case RULE_AGG_MAX:
			break;
		default:
			return false;
	}
	RcLoadSource(c, v->source, &s);
	if (rc_has_foreign_partitions(s.rel) || !RcGroupedCalls(c, n, &s, &yes, &no, holds))
		return false;
	c->unchecked |= !s.references_customers;
	if (*holds && !covered)
		appendStringInfo(&c->sql, "SELECT '{}'::segment.audience AS yes, coalesce(%s, '{}') AS seen", no);
	else
		appendStringInfo(&c->sql, "SELECT coalesce(%s, '{}') AS yes", yes);
	RcAppendSourceFrom(c, &s);
	appendStringInfo(&c->sql, " WHERE %s AND e.%s BETWEEN 0 AND 4294967295",
					 RcLeafCondition(c, &s, v->source, v->filter, v->window), s.customer);
	return true;
}
