/*
 * fuzz_rule_json.c
 *		libFuzzer target of the JSON form of segment_rule.
 *
 * Each input is used two ways:
 *	1. as JSON: a failure must carry a well-formed error report; a success
 *	   must write JSON that reads back to an equal tree and writes the same
 *	   JSON again (json -> rule -> json is idempotent);
 *	2. as rule text: when it parses, its JSON must read back to an equal tree.
 * Any violated property aborts, so libFuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_json.h"
#include "rule_lexer.h"
#include "rule_parser.h"

#define CHECK(cond, what) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "fuzz_rule_json: %s\n", what); \
			abort(); \
		} \
	} while (0)

/* The tree's JSON reads back to an equal tree that writes the same JSON. */
static void
check_json_round_trip(const RuleNode *rule, RuleArena *a)
{
	RuleError	err;
	size_t		len1,
				len2;
	char	   *j1 = rule_to_json(rule, a, &len1);
	RuleNode   *back;
	char	   *j2;

	CHECK(j1 != NULL, "writing JSON failed");
	back = rule_from_json(j1, len1, a, &err);
	CHECK(back != NULL, "written JSON does not read back");
	CHECK(rule_equal(rule, back), "JSON round trip changes the tree");
	j2 = rule_to_json(back, a, &len2);
	CHECK(len1 == len2 && memcmp(j1, j2, len1) == 0, "JSON writing is not idempotent");
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *rule;

	rule_arena_init_malloc(&a);
	rule_error_clear(&err);
	rule = rule_from_json((const char *) data, size, &a, &err);
	if (rule == NULL)
	{
		CHECK(err.kind != RULE_ERR_NONE && err.message[0] != '\0', "failure without an error");
		CHECK(rule_utf8_valid(err.message, strlen(err.message), NULL, NULL),
			  "error message is not valid UTF-8");
	}
	else
		check_json_round_trip(rule, &a);

	rule = rule_parse((const char *) data, size, &a, &err);
	if (rule != NULL)
		check_json_round_trip(rule, &a);
	rule_arena_destroy(&a);
	return 0;
}
