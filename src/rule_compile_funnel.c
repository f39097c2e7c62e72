/*
 * rule_compile_funnel.c
 *		event_funnel(steps, within, as_of): an ordered conversion funnel
 *		over EXISTS steps, compiled to one SQL query, and its SRF.
 *
 * Semantics (doc/rules.md, "Ordered funnels"): a customer reaches step k
 * when there are matching events e1 < e2 < ... < ek, each strictly later
 * than the one before (equal times do not advance the chain) and all no
 * later than e1's time plus within: Doris window_funnel in its 'increase'
 * mode.  For a given e1 the earliest e2 after it, then the earliest e3
 * after that, and so on, reaches the furthest (every constraint is "later
 * than the previous event" and "no later than e1 + within"), so the query
 * follows that greedy chain from every first-step event with one LATERAL
 * min() per later step (an index probe on the step source's customer
 * column), keeps each customer's longest chain, and counts per step.  No
 * per-customer procedural loop.
 *
 * The steps' filters, windows, time columns and the key -> ordinal mapping
 * are the rule compiler's (rule_compile_int.h).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "key_dictionary.h"
#include "rule_compile_int.h"
#include "rule_pg.h"
#include "rule_print.h"

/* The most steps a funnel may have (doc/rules.md, limits). */
#define FUNNEL_MAX_STEPS 16

/* The interval's text, as a literal of type interval. */
static char *
IntervalLiteral(const Interval *iv)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(iv)));

	return psprintf("%s::interval", quote_literal_cstr(text));
}

/*
 * The end of the conversion window for a first-step time t1 (of type
 * from), as an expression of type to: the months and days of within are
 * calendar units of the rule's zone (local wall-clock time plus them, as
 * WITHIN in sequences), its hours, minutes and seconds elapsed time.
 */
static char *
WindowEnd(Compiler *c, const char *t1, Oid from, Oid to, const Interval *within)
{
	char	   *end = RcTimeAs(c, t1, from, TIMESTAMPTZOID);

	if (within->month != 0 || within->day != 0)
	{
		Interval	cal = {0};

		cal.month = within->month;
		cal.day = within->day;
		end = RcTimeAs(c, psprintf("%s + %s", RcTimeAs(c, t1, from, TIMESTAMPOID), IntervalLiteral(&cal)),
					   TIMESTAMPOID, TIMESTAMPTZOID);
	}
	if (within->time != 0)
	{
		Interval	elapsed = {0};

		elapsed.time = within->time;
		end = psprintf("(%s + %s)", end, IntervalLiteral(&elapsed));
	}
	return RcTimeAs(c, end, TIMESTAMPTZOID, to);
}

/* A step's filter and window on its row (alias), NULL when neither. */
static char *
StepCondition(Compiler *c, const RuleNode *step, const Source *s, const char *alias)
{
	const char *saved = c->alias;
	char	   *filter = NULL;
	char	   *window = NULL;

	if (step->filter)
	{
		c->alias = alias;
		filter = RcFilterText(c, s, step->name, step->filter);
		c->alias = saved;
	}
	if (step->window)
	{
		StringInfoData keep = c->sql;

		initStringInfo(&c->sql);
		RcAppendWindowCond(c, psprintf("%s.%s", alias, s->time), s->time_type, step->window);
		window = c->sql.data;
		c->sql = keep;
	}
	return filter || window ? RcConjoin(filter, window) : NULL;
}

static void
CheckTimeColumn(const RuleNode *step, const Source *s, int k)
{
	if (!RcIsTimeType(s->time_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("step %d of the funnel needs a date or timestamp time column, but source %s has type %s",
						k, step->name, format_type_be(s->time_type))));
}

/*
 * The query: one row per step (step, members, rate, reached), from the
 * greedy chain of every first-step event (see the file's comment).
 */
static char *
FunnelSql(Compiler *c, const RuleNode **steps, int n, const Interval *within)
{
	StringInfoData q;
	StringInfoData level;
	Source		first;
	Source		prev;
	const char *prev_t = "e1.t";
	char	   *cond;
	int			k;

	initStringInfo(&q);
	initStringInfo(&level);
	RcLoadSource(c, steps[0]->name, &first);
	CheckTimeColumn(steps[0], &first, 1);
	/* each distinct (customer, time) of the first step once */
	cond = StepCondition(c, steps[0], &first, "e");
	appendStringInfo(&q, "WITH f AS MATERIALIZED (SELECT e1.k, max(1");
	for (k = 2; k <= n; k++)
		appendStringInfo(&level, " + (x%d.t IS NOT NULL)::int", k);
	appendStringInfo(&q, "%s) AS level FROM (SELECT DISTINCT e.%s AS k, e.%s AS t FROM %s e "
					 "WHERE e.%s IS NOT NULL AND e.%s IS NOT NULL%s%s) e1",
					 level.data, first.customer, first.time, first.relname,
					 first.customer, first.time, cond ? " AND " : "", cond ? cond : "");
	prev = first;
	for (k = 2; k <= n; k++)
	{
		Source		s;
		char	   *alias = psprintf("e%d", k);
		char	   *t;

		RcLoadSource(c, steps[k - 1]->name, &s);
		CheckTimeColumn(steps[k - 1], &s, k);
		t = psprintf("%s.%s", alias, s.time);
		cond = StepCondition(c, steps[k - 1], &s, alias);
		appendStringInfo(&q, "\n  LEFT JOIN LATERAL (SELECT min(%s) AS t FROM %s %s WHERE %s.%s = e1.k "
						 "AND %s > %s AND %s <= %s%s%s) x%d ON true",
						 t, s.relname, alias, alias, s.customer,
						 t, RcTimeAs(c, prev_t, prev.time_type, s.time_type),
						 t, WindowEnd(c, "e1.t", first.time_type, s.time_type, within),
						 cond ? " AND " : "", cond ? cond : "", k);
		prev = s;
		prev_t = psprintf("x%d.t", k);
	}
	appendStringInfoString(&q, "\n  GROUP BY 1),\n");

	/* each customer's level, among the registered customers, by ordinal */
	if (first.references_customers && !c->reg.tenant && !c->reg.dictionary)
		appendStringInfoString(&q, "l AS MATERIALIZED (SELECT f.level, segment.audience_agg(f.k::bigint) AS a FROM f");
	else
	{
		appendStringInfo(&q, "l AS MATERIALIZED (SELECT f.level, segment.audience_agg(%s) AS a FROM f JOIN %s cu ON cu.%s = f.k",
						 RcCustomerOrdinal(c), c->reg.relname, c->reg.key);
		if (c->reg.dictionary)
			appendStringInfoString(&q, RcDictJoin(&c->reg, "cu", c->reg.key));
		appendStringInfoString(&q, " WHERE true");
		if (c->reg.unguarded)
			appendStringInfo(&q, " AND cu.%s BETWEEN 0 AND 4294967295", c->reg.key);
		if (c->reg.tenant)
			appendStringInfo(&q, " AND cu.%s::text = %s", c->reg.tenant, quote_literal_cstr(c->reg.tenant_value));
	}
	appendStringInfoString(&q, " GROUP BY 1),\n");
	/* reached step k: the customers whose longest chain has k steps or more */
	appendStringInfo(&q, "r AS (SELECT s.step, x.a FROM generate_series(1, %d) s(step) CROSS JOIN LATERAL "
					 "(SELECT coalesce(segment.union_agg(l.a), '{}') AS a FROM l WHERE l.level >= s.step) x)\n", n);
	appendStringInfoString(&q, "SELECT r.step, segment.cardinality(r.a) AS members, "
						   "segment.cardinality(r.a)::float8 / nullif(first_value(segment.cardinality(r.a)) OVER (ORDER BY r.step), 0) AS rate, "
						   "r.a AS reached FROM r ORDER BY r.step");
	return q.data;
}

/* The steps, checked: each an EXISTS source [WHERE f] [DURING w]. */
static const RuleNode **
FunnelSteps(ArrayType *arr, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	RuleArena	arena;
	const RuleNode **steps;
	int			i;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("funnel steps must be a one-dimensional array")));
	deconstruct_array(arr, ARR_ELEMTYPE(arr), -1, false, TYPALIGN_INT, &elems, &nulls, n);
	if (*n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a funnel needs at least one step"),
				 errhint("Pass the steps in order, e.g. ARRAY['EXISTS page_views', 'EXISTS orders']::segment.segment_rule[].")));
	if (*n > FUNNEL_MAX_STEPS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a funnel has at most %d steps, not %d", FUNNEL_MAX_STEPS, *n)));
	rule_pg_arena(&arena);
	steps = palloc(sizeof(RuleNode *) * *n);
	for (i = 0; i < *n; i++)
	{
		RuleNode   *step;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("step %d of the funnel is NULL", i + 1)));
		step = rule_pg_decode((SegmentRule *) PG_DETOAST_DATUM(elems[i]), &arena);
		if (step->kind != RULE_EXISTS || step->negated)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("step %d of the funnel is not an EXISTS predicate", i + 1),
					 errdetail("Step %d is: %s.", i + 1, rule_print(step, &arena, NULL)),
					 errhint("Each step is EXISTS source [WHERE filter] [DURING window]; "
							 "the order of the steps is the funnel's order.")));
		steps[i] = step;
	}
	return steps;
}

static void
CheckWithin(const Interval *w)
{
	if (w->month < 0 || w->day < 0 || w->time < 0 ||
		(w->month == 0 && w->day == 0 && w->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the funnel's within must be a positive interval, not %s",
						DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(w)))),
				 errhint("within is the conversion window from the first step's event, e.g. '1 hour' or '7 days'; "
						 "none of its parts may be negative.")));
}

static void
NotNull(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s of event_funnel() must not be NULL", name)));
}

/*
 * event_funnel(steps segment_rule[], within interval, as_of timestamptz)
 * RETURNS TABLE (step int, members bigint, rate float8, reached audience)
 */
PG_FUNCTION_INFO_V1(segment_event_funnel);
Datum
segment_event_funnel(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const RuleNode **steps;
	const Interval *within;
	Compiler	c;
	char	   *sql;
	int			n;
	uint64		i;

	NotNull(fcinfo, 0, "steps");
	NotNull(fcinfo, 1, "within");
	NotNull(fcinfo, 2, "as_of");
	steps = FunnelSteps(PG_GETARG_ARRAYTYPE_P(0), &n);
	within = PG_GETARG_INTERVAL_P(1);
	CheckWithin(within);
	InitMaterializedSRF(fcinfo, 0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	key_dictionary_prepare();
	memset(&c, 0, sizeof(c));
	RcPrepare(&c, PG_GETARG_TIMESTAMPTZ(2));
	sql = FunnelSql(&c, steps, n, within);
	elog(DEBUG2, "segment: event_funnel query: %s", sql);
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "event_funnel query failed");
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		values[4];
		bool		nulls[4];
		int			j;

		for (j = 0; j < 4; j++)
			values[j] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, j + 1, &nulls[j]);
		/* the tuplestore copies the row into its own memory */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
