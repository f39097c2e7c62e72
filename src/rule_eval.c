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
CompileRule(SegmentRule *r, TimestampTz as_of)
{
	RuleArena	arena;
	RuleNode   *rule;
	char	   *sql;
	MemoryContext caller = CurrentMemoryContext;

	rule_pg_arena(&arena);
	rule = rule_pg_decode(r, &arena);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	sql = rule_compile_sql(rule, as_of);
	sql = MemoryContextStrdup(caller, sql);
	SPI_finish();
	return sql;
}

/* Runs compiled SQL and returns its audience in the caller's context. */
static Audience *
RunRule(const char *sql)
{
	bool		isnull;
	Datum		d;
	Audience   *result;
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
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
												 PG_GETARG_TIMESTAMPTZ(1))));
}

PG_FUNCTION_INFO_V1(segment_evaluate);
Datum
segment_evaluate(PG_FUNCTION_ARGS)
{
	char	   *sql = CompileRule(PG_GETARG_SEGMENT_RULE_P(0), PG_GETARG_TIMESTAMPTZ(1));

	PG_RETURN_POINTER(RunRule(sql));
}
