/*
 * rule_json_pg.c
 *		The casts segment_rule <-> jsonb, over the pure-C rule_json core.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "rule_json.h"
#include "rule_pg.h"

PG_FUNCTION_INFO_V1(segment_rule_to_jsonb);
Datum
segment_rule_to_jsonb(PG_FUNCTION_ARGS)
{
	RuleArena	arena;
	RuleNode   *rule;
	char	   *json;

	rule_pg_arena(&arena);
	rule = rule_pg_decode(PG_GETARG_SEGMENT_RULE_P(0), &arena);
	json = rule_to_json(rule, &arena, NULL);
	if (json == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

PG_FUNCTION_INFO_V1(segment_rule_from_jsonb);
Datum
segment_rule_from_jsonb(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	char	   *json = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	RuleArena	arena;
	RuleError	err;
	RuleNode   *rule;

	rule_pg_arena(&arena);
	rule_error_clear(&err);
	rule = rule_from_json(json, strlen(json), &arena, &err);
	if (rule == NULL)
		rule_pg_report(&err, NULL);
	PG_RETURN_POINTER(rule_pg_encode(rule));
}
