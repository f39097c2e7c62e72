/*
 * rule_eval.c
 *		compile(), evaluate() and estimate(): a rule's SQL, and its audience.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "audience.h"
#include "rule_compile.h"
#include "rule_pg.h"

/* Compiles inside SPI (the compiler reads the registry through it). */
static char *
CompileRule(SegmentRule *r, TimestampTz as_of, bool among)
{
	RuleArena	arena;
	RuleNode   *rule;
	char	   *sql;
	MemoryContext caller = CurrentMemoryContext;

	rule_pg_arena(&arena);
	rule = rule_pg_decode(r, &arena);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sql = rule_compile_sql(rule, as_of, among);
	sql = MemoryContextStrdup(caller, sql);
	SPI_finish();
	return sql;
}

/*
 * Runs compiled SQL and returns its audience in the caller's context;
 * among (with its type) is the $1 of a query compiled for candidates.
 */
static Audience *
RunRule(const char *sql, Datum among, Oid among_type)
{
	bool		isnull;
	Datum		d;
	Audience   *result;
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, OidIsValid(among_type) ? 1 : 0, &among_type, &among,
							  NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "rule query returned no row");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "rule query returned NULL");
	d = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
	result = (Audience *) DatumGetPointer(d);
	result = (Audience *) MemoryContextAlloc(caller, VARSIZE(result));
	memcpy(result, DatumGetPointer(d), VARSIZE(DatumGetPointer(d)));
	SPI_finish();
	return result;
}

PG_FUNCTION_INFO_V1(segment_compile);
Datum
segment_compile(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(CompileRule(PG_GETARG_SEGMENT_RULE_P(0),
												 PG_GETARG_TIMESTAMPTZ(1), false)));
}

PG_FUNCTION_INFO_V1(segment_evaluate);
Datum
segment_evaluate(PG_FUNCTION_ARGS)
{
	char	   *sql = CompileRule(PG_GETARG_SEGMENT_RULE_P(0), PG_GETARG_TIMESTAMPTZ(1), false);

	PG_RETURN_POINTER(RunRule(sql, (Datum) 0, InvalidOid));
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
	char	   *sql = CompileRule(PG_GETARG_SEGMENT_RULE_P(0), PG_GETARG_TIMESTAMPTZ(2), true);

	PG_RETURN_POINTER(RunRule(sql, PG_GETARG_DATUM(1), get_fn_expr_argtype(fcinfo->flinfo, 1)));
}
