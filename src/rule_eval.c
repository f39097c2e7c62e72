/*
 * rule_eval.c
 *		compile(), evaluate(), _evaluate_among() and the predicate sharing
 *		switches of refresh_all(): a rule's SQL, and its audience.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/datum.h"
#include "utils/portal.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "audience.h"
#include "audience_codec.h"
#include "audience_keys.h"
#include "key_dictionary.h"
#include "rule_choice.h"
#include "rule_compile.h"
#include "rule_pg.h"
#include "rule_share.h"

static RuleNode *
DecodeRule(SegmentRule *r, RuleArena *arena)
{
	rule_pg_arena(arena);
	return rule_pg_decode(r, arena);
}

/*
 * Runs a compiled query (inside SPI) and returns its audience copied into
 * the caller's context.
 */
static Audience *
CopyAudience(const Audience *a, MemoryContext cxt)
{
	Audience   *copy = (Audience *) MemoryContextAlloc(cxt, VARSIZE(a));

	memcpy(copy, a, VARSIZE(a));
	return copy;
}

/* The one-row result in SPI_tuptable, copied into the caller's context. */
static Audience *
ResultAudience(MemoryContext caller)
{
	bool		isnull;
	Datum		d;

	if (SPI_processed != 1)
		elog(ERROR, "rule query returned no row");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "rule query returned NULL");
	return CopyAudience((Audience *) PG_DETOAST_DATUM(d), caller);
}

static Audience *
RunQuery(const RuleQuery *q, MemoryContext caller)
{
	if (SPI_execute_with_args(q->sql, q->nparams, q->types, q->values, q->nulls,
							  true, 0) != SPI_OK_SELECT)
		elog(ERROR, "rule query failed");
	return ResultAudience(caller);
}

static int64
Members(const Audience *a)
{
	return (int64) audience_codec_cardinality(AUDIENCE_BYTES(a), AUDIENCE_NBYTES(a));
}

/*
 * The planner's cost of a query with its parameters' values (a custom
 * plan: the keys array's size is known), from a cursor never fetched.  The
 * query then runs through SPI_execute: a cursor fetched in steps would run
 * it without parallel workers.
 */
static double
PlannedCost(const RuleQuery *q)
{
	Portal		portal = SPI_cursor_open_with_args(NULL, q->sql, q->nparams, q->types, q->values,
												   NULL, true, 0);
	double		cost = linitial_node(PlannedStmt, portal->stmts)->planTree->total_cost;

	SPI_cursor_close(portal);
	return cost;
}

/*
 * A rule split for semi-join reduction (rule_compile.h): the driver, then
 * the rest among its members when they are few and the planner expects
 * that to cost less than the whole rule; else the whole rule (the
 * driver's query, estimated at most a third of it, is then lost).
 */
static Audience *
EvaluateReduced(RuleSplit *split, TimestampTz as_of, MemoryContext caller)
{
	RuleQuery	q;
	Audience   *driver;
	int64		n;
	Oid			types[2];
	Datum		values[2];
	MemoryContext spi = CurrentMemoryContext;

	memset(&q, 0, sizeof(q));
	q.sql = split->driver_sql;
	driver = RunQuery(&q, spi);
	n = Members(driver);
	types[0] = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
	if (n == 0)
		return CopyAudience(driver, caller);
	/* the rule as a whole, when the rest is not run among the driver's */
	q.sql = split->full_sql;
	if (split->forced || n <= rule_reduce_limit(split->customers))
	{
		RuleQuery	among;
		double		cost_among = 0;

		/* among candidates the result is within them: no intersection */
		memset(&among, 0, sizeof(among));
		values[0] = PointerGetDatum(driver);
		values[1] = audience_member_keys(driver, &types[1]);
		among.sql = rule_compile_sql(split->rest, as_of, RULE_AMONG_KEYS, n);
		among.nparams = 2;
		among.types = types;
		among.values = values;
		if (!split->forced)
			cost_among = PlannedCost(&among);
		/* the whole rule's cost was planned when it was split */
		elog(DEBUG1, "segment: %s; %lld members; the rest among them: cost %.0f, the whole rule %.0f",
			 split->note, (long long) n, cost_among, split->full_cost);
		elog(DEBUG2, "segment: the rest among the driver's members: %s", among.sql);
		if (split->forced || cost_among < split->full_cost)
			return RunQuery(&among, caller);
	}
	return RunQuery(&q, caller);
}

/*
 * Compiles and runs a rule inside one SPI connection (the compiler reads
 * the registry through it).  among, when given, is the candidates' audience
 * ($1); while refresh_all() shares predicates, the shared form is used.
 * Otherwise an AND may be split for semi-join reduction.
 */
static Audience *
Evaluate(SegmentRule *r, TimestampTz as_of, Datum among, Oid among_type)
{
	RuleArena	arena;
	RuleNode   *rule = DecodeRule(r, &arena);
	MemoryContext caller = CurrentMemoryContext;
	RuleQuery	q;
	Audience   *result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* parallel workers of the rule's query read the leader's cache */
	key_dictionary_prepare();
	memset(&q, 0, sizeof(q));
	if (OidIsValid(among_type))
	{
		Audience   *cand = DatumGetAudienceP(among);

		q.sql = rule_compile_sql(rule, as_of, RULE_AMONG_CANDIDATES, Members(cand));
		q.nparams = 1;
		q.types = &among_type;
		q.values = &among;
	}
	else if (rule_share_active())
		rule_compile_shared(rule, as_of, &q);
	else
	{
		RuleSplit	split;

		if (rule_compile_split(rule, as_of, &split))
		{
			result = EvaluateReduced(&split, as_of, caller);
			SPI_finish();
			return result;
		}
		q.sql = split.full_sql;
	}
	result = RunQuery(&q, caller);
	SPI_finish();
	return result;
}

PG_FUNCTION_INFO_V1(segment_compile);
Datum
segment_compile(PG_FUNCTION_ARGS)
{
	RuleArena	arena;
	RuleNode   *rule = DecodeRule(PG_GETARG_SEGMENT_RULE_P(0), &arena);
	MemoryContext caller = CurrentMemoryContext;
	char	   *sql;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	{
		RuleSplit	split;

		/* the run-time split, when evaluate() would try it, then the whole rule */
		if (rule_compile_split(rule, PG_GETARG_TIMESTAMPTZ(1), &split))
			sql = MemoryContextStrdup(caller,
									  psprintf("-- semi-join reduction: %s; the rest runs among its members when they are "
											   "at most %.0f and the planner expects that cheaper, else this query\n%s",
											   split.note, rule_reduce_limit(split.customers),
											   split.full_sql));
		else if (split.note)
			sql = MemoryContextStrdup(caller, psprintf("-- no semi-join reduction: %s\n%s", split.note,
													   split.full_sql));
		else
			sql = MemoryContextStrdup(caller, split.full_sql);
	}
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(sql));
}

PG_FUNCTION_INFO_V1(segment_evaluate);
Datum
segment_evaluate(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(Evaluate(PG_GETARG_SEGMENT_RULE_P(0), PG_GETARG_TIMESTAMPTZ(1),
							   (Datum) 0, InvalidOid));
}

/*
 * _evaluate_among(rule, among, as_of): evaluate(rule, as_of) & among, with
 * every scan restricted to the candidates; for re-tagging the customers a
 * statement touched without scanning everyone.
 */
PG_FUNCTION_INFO_V1(segment_evaluate_among);
Datum
segment_evaluate_among(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(Evaluate(PG_GETARG_SEGMENT_RULE_P(0), PG_GETARG_TIMESTAMPTZ(2),
							   PG_GETARG_DATUM(1), get_fn_expr_argtype(fcinfo->flinfo, 1)));
}

/*
 * _evaluate_rules(rules[], among, as_of): the audience of each rule (within
 * the candidates when among is not NULL), from one query whose scans the
 * rules share: how auto-tagging evaluates the values of a tag group.
 */
PG_FUNCTION_INFO_V1(segment_evaluate_rules);
Datum
segment_evaluate_rules(PG_FUNCTION_ARGS)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;
	const RuleNode **rules;
	RuleArena	arena;
	Datum		among = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	Oid			among_type = PG_ARGISNULL(1) ? InvalidOid : get_fn_expr_argtype(fcinfo->flinfo, 1);
	MemoryContext caller = CurrentMemoryContext;
	Datum	   *results;
	Oid			restype = InvalidOid;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	char	   *sql;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	arr = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	rule_pg_arena(&arena);
	rules = palloc(sizeof(RuleNode *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("rules must not contain NULL")));
		rules[i] = rule_pg_decode((SegmentRule *) PG_DETOAST_DATUM(elems[i]), &arena);
	}
	results = palloc(sizeof(Datum) * Max(n, 1));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	key_dictionary_prepare();
	if (n > 0)
	{
		RuleAmong	mode = OidIsValid(among_type) ? RULE_AMONG_CANDIDATES : RULE_AMONG_NONE;
		int64		count = -1;

		if (OidIsValid(among_type))
		{
			Audience   *cand = DatumGetAudienceP(among);

			count = (int64) audience_codec_cardinality(AUDIENCE_BYTES(cand), AUDIENCE_NBYTES(cand));
		}
		sql = rule_compile_many(rules, n, PG_GETARG_TIMESTAMPTZ(2), mode, count);
		if (SPI_execute_with_args(sql, OidIsValid(among_type) ? 1 : 0, &among_type, &among, NULL,
								  true, 0) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "rule query returned no row");
		restype = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
		for (i = 0; i < n; i++)
		{
			bool		isnull;
			Audience   *a = DatumGetAudienceP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
															 i + 1, &isnull));
			Audience   *copy = MemoryContextAlloc(caller, VARSIZE_ANY(a));

			memcpy(copy, a, VARSIZE_ANY(a));
			results[i] = PointerGetDatum(copy);
		}
	}
	SPI_finish();
	if (n == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(get_fn_expr_rettype(fcinfo->flinfo) == InvalidOid
													? InvalidOid : get_element_type(get_fn_expr_rettype(fcinfo->flinfo))));
	get_typlenbyvalalign(restype, &typlen, &typbyval, &typalign);
	PG_RETURN_ARRAYTYPE_P(construct_array(results, n, restype, typlen, typbyval, typalign));
}
