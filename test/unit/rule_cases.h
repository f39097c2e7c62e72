/*
 * rule_cases.h
 *		Table-driven checks of a yes/no property of parsed rules, shared by
 *		the unit tests (include after tap.h).
 */
#ifndef RULE_CASES_H
#define RULE_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "rule_parser.h"

typedef struct RuleCase
{
	const char *rule;
	bool		expected;
} RuleCase;

/* Parses each rule and checks property(rule) == expected, naming the outcome yes/no. */
static void
check_rule_cases(const RuleCase *cases, size_t n, bool (*property) (const RuleNode *),
				 const char *yes, const char *no)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		RuleArena	arena;
		RuleError	err;
		RuleNode   *rule;

		rule_arena_init_malloc(&arena);
		rule_error_clear(&err);
		rule = rule_parse(cases[i].rule, strlen(cases[i].rule), &arena, &err);
		ok(rule != NULL && property(rule) == cases[i].expected,
		   "%s %s", cases[i].rule, cases[i].expected ? yes : no);
		rule_arena_destroy(&arena);
	}
}

#endif							/* RULE_CASES_H */
