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
 * follows that greedy chain from every first-step event and keeps each
 * customer's longest.  It is set-based, as a hand-written window-function
 * funnel: the steps' events in one sorted pass with a window aggregate
 * per later step, then a hash join per step (FunnelSql).  A first version
 * probed each later step with LATERAL (SELECT min(time) ...) per
 * first-step event: 50x slower over monthly partitions (every probe
 * visits each partition's index).  No per-customer procedural loop.
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

/* A timestamptz literal in UTC, independent of the session's settings. */
static char *
TzLiteral(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("the funnel's window is out of range")));
	return psprintf("'%04d-%02d-%02d %02d:%02d:%02d.%06d+00'::timestamptz",
					tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) fsec);
}

/*
 * The span later steps' events can fall in, from the first step's DURING
 * window [lo, hi): after lo, and no later than the conversion window's end
 * for an event just before hi.  As literals (NULL: unbounded), so that the
 * planner prunes partitions and estimates the range scans as it would for
 * a hand-written query; hi is computed by the server (calendar units of
 * the rule's zone).  Caller connected to SPI.
 */
typedef struct Span
{
	char	   *lo;
	char	   *hi;
} Span;

static void
FirstSpan(Compiler *c, const RuleNode *first, const Interval *within, Span *span)
{
	RuleBound	lo,
				hi;

	span->lo = span->hi = NULL;
	if (first->window == NULL || !rule_resolve_window(first->window, &c->local, c->epoch, &lo, &hi))
		return;
	if (lo.kind != RULE_BOUND_NEG_INFINITY)
		span->lo = TzLiteral(rule_pg_bound(&lo, c->tz));
	if (hi.kind != RULE_BOUND_POS_INFINITY)
	{
		char	   *q = psprintf("SELECT %s", WindowEnd(c, TzLiteral(rule_pg_bound(&hi, c->tz)),
													   TIMESTAMPTZOID, TIMESTAMPTZOID, within));
		bool		isnull;
		Datum		d;

		if (SPI_execute(q, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not compute the funnel's span: %s", q);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			span->hi = TzLiteral(DatumGetTimestampTz(d));
	}
}

/* Step k's matching events as rows (k, t timestamptz, s) of the union. */
static void
AppendStepEvents(Compiler *c, StringInfo q, const RuleNode *step, int k, const Span *span)
{
	Source		s;
	char	   *cond;
	char	   *t;

	RcLoadSource(c, step->name, &s);
	CheckTimeColumn(step, &s, k);
	t = psprintf("e.%s", s.time);
	cond = StepCondition(c, step, &s, "e");
	appendStringInfo(q, "SELECT e.%s AS k, %s AS t, %d AS s FROM %s e WHERE e.%s IS NOT NULL AND %s IS NOT NULL%s%s",
					 s.customer, RcTimeAs(c, t, s.time_type, TIMESTAMPTZOID), k, s.relname, s.customer, t,
					 cond ? " AND " : "", cond ? cond : "");
	if (k > 1 && span->lo)
		appendStringInfo(q, " AND %s > %s", t, RcTimeAs(c, span->lo, TIMESTAMPTZOID, s.time_type));
	if (k > 1 && span->hi)
		appendStringInfo(q, " AND %s <= %s", t, RcTimeAs(c, span->hi, TIMESTAMPTZOID, s.time_type));
}

/*
 * The query: one row per step (step, members, rate, reached).  The step
 * events in one union (ev), each row with "the earliest event of step j
 * strictly after it" for every later step j (nj: min() FILTER over a
 * window in descending time whose frame starts at the partition's start,
 * so each aggregate grows incrementally); the chain of a first-step event
 * is then followed by a join on (customer, time) per step: the step-j
 * event reached at time xj has n(j+1) as the next.  A step counts while
 * its event is within the window of the first's.
 */
static char *
FunnelSql(Compiler *c, const RuleNode **steps, int n, const Interval *within)
{
	StringInfoData q;
	Source		first;
	Span		span;
	int			k;

	initStringInfo(&q);
	RcLoadSource(c, steps[0]->name, &first);
	FirstSpan(c, steps[0], within, &span);
	if (n == 1)
	{
		appendStringInfoString(&q, "WITH f AS (SELECT s1.k, 1 AS level FROM (");
		AppendStepEvents(c, &q, steps[0], 1, &span);
		appendStringInfoString(&q, ") s1)");
	}
	else
	{
		appendStringInfoString(&q, "WITH ev AS (");
		for (k = 1; k <= n; k++)
		{
			if (k > 1)
				appendStringInfoString(&q, "\n  UNION ALL ");
			AppendStepEvents(c, &q, steps[k - 1], k, &span);
		}
		appendStringInfoString(&q, "),\nw AS (SELECT ev.k, ev.t, ev.s");
		for (k = 2; k <= n; k++)
			appendStringInfo(&q, ", min(ev.t) FILTER (WHERE ev.s = %d) OVER later AS n%d", k, k);
		appendStringInfoString(&q, " FROM ev WINDOW later AS (PARTITION BY ev.k ORDER BY ev.t DESC "
							   "RANGE BETWEEN UNBOUNDED PRECEDING AND '1 microsecond'::interval PRECEDING))");
		appendStringInfoString(&q, ",\nf AS (SELECT w1.k, 1");
		for (k = 2; k <= n; k++)
			appendStringInfo(&q, " + coalesce((w%d.n%d <= %s)::int, 0)", k - 1, k,
							 WindowEnd(c, "w1.t", TIMESTAMPTZOID, TIMESTAMPTZOID, within));
		appendStringInfoString(&q, " AS level FROM w w1");
		for (k = 2; k < n; k++)
			appendStringInfo(&q, "\n  LEFT JOIN (SELECT DISTINCT w.k, w.t, w.n%d FROM w WHERE w.s = %d) w%d "
							 "ON w%d.k = w1.k AND w%d.t = w%d.n%d",
							 k + 1, k, k, k, k, k - 1, k);
		appendStringInfoString(&q, " WHERE w1.s = 1)");
	}
	appendStringInfoString(&q, ",\ng AS MATERIALIZED (SELECT f.k, max(f.level) AS level FROM f GROUP BY 1),\n");

	/* each customer's level, among the registered customers, by ordinal */
	if (first.references_customers && !c->reg.tenant && !c->reg.dictionary)
		appendStringInfoString(&q, "l AS MATERIALIZED (SELECT g.level, segment.audience_agg(g.k::bigint) AS a FROM g");
	else
	{
		appendStringInfo(&q, "l AS MATERIALIZED (SELECT g.level, segment.audience_agg(%s) AS a FROM g JOIN %s cu ON cu.%s = g.k",
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
