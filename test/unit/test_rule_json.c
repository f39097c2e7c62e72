/*
 * test_rule_json.c
 *		Unit tests of the JSON form of segment_rule (rule_json.c): round trips
 *		of every scenario and construct, the exact JSON of a few, and errors.
 *		TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_ast.h"
#include "rule_json.h"
#include "rule_parser.h"
#include "rule_print.h"
#include "tap.h"

/* The 18 scenarios of SPEC section 9 and every construct of the language. */
static const char *const rules[] = {
	"TAG '退订标签' NOT IN ('已退订') AND customer.age > 30",
	"max(orders.paid_at) < 90 days ago AND count(orders WHERE status = 'paid') >= 1",
	"EXISTS orders DURING BETWEEN '2023-12-01' AND '2023-12-31' AND NOT EXISTS orders DURING SINCE '2024-01-01'",
	"EXISTS order_lines WHERE sku = 'A' AND NOT EXISTS order_lines WHERE sku = 'B'",
	"count(orders WHERE status = 'paid' DURING LAST 180 days) >= 3",
	"EXISTS orders AND NOT EXISTS orders DURING LAST 1 year",
	"customer.registered_at DURING LAST 15 days AND count(orders) = 0",
	"min(orders.paid_at) DURING LAST 60 days AND count(orders WHERE status = 'paid') > 1",
	"NOT EXISTS orders DURING LAST 90 days AND count(orders WHERE status = 'paid') > 4 AND avg(orders.amount WHERE status = 'paid') > 200",
	"EXISTS messages WHERE campaign = 'A' AND kind = 'delivered' DURING YESTERDAY AND NOT EXISTS messages WHERE campaign = 'A' AND kind = 'read' DURING YESTERDAY",
	"EXISTS messages WHERE kind = 'clicked' AND button = 'coupon' DURING PREVIOUS week AND NOT EXISTS orders WHERE status = 'paid' DURING THIS week",
	"EXISTS messages WHERE kind = 'inbound' AND count(orders) = 0",
	"sum(orders.amount WHERE status = 'paid') >= 300 AND sum(orders.amount WHERE status = 'paid') < 2000",
	"count(orders WHERE status = 'paid') BETWEEN 1 AND 3",
	"EXISTS page_views WHERE seconds > 15 DURING LAST 15 days AND NOT EXISTS orders WHERE status = 'paid'",
	"sum(orders.amount WHERE channel = 'store' AND status = 'paid') > 1000 AND NOT EXISTS orders DURING LAST 30 days",
	"customer.followed_at DURING LAST 1 month AND NOT EXISTS orders",
	"EXISTS order_lines WHERE product_type = 'consumable-1m' DURING PAST 25 TO 35 days",
	/* constructs */
	"customer.city IN ('上海', 'it''s', '\"q\"') OR customer.city IS NULL",
	"customer.vip = true AND customer.\"Full Name\" LIKE 'Wang%' AND customer.age NOT BETWEEN -1.5 AND 1e3",
	"NOT (customer.age <> 3 OR customer.age != 4) AND customer.age NOT IN (1, 2)",
	"customer.registered_at NOT DURING TODAY OR customer.registered_at >= today OR customer.registered_at < now",
	"count_distinct(order_lines.sku WHERE NOT (sku LIKE 'X%' OR sku IS NOT NULL)) >= 2",
	"EXISTS orders DURING SINCE 30 days ago AND EXISTS orders DURING BEFORE '2024-01-01 10:00:00+08' AND EXISTS orders DURING BEFORE today",
	"EXISTS orders DURING LAST 3 hours OR EXISTS orders DURING PAST 0 TO 1 days OR EXISTS orders DURING THIS year OR EXISTS orders DURING PREVIOUS month",
	"TAG 'g' IS EMPTY OR TAG 'h' IS NOT EMPTY OR TAG 'i' IN ('a', 'b') OR IN SEGMENT 'vip 客户'",
	"IN SNAPSHOT '双11 campaign' AND NOT IN SNAPSHOT 'x''y' OR IN SEGMENT 'snapshot'",
	"max(orders.paid_at WHERE amount > 0) DURING LAST 2 weeks AND count(orders.id) < 5 AND min(orders.amount) <= 0.5",
	"customer.note = 'tab\there' AND customer.note <> 'line\nbreak'",
	/* behavioural conditions (issue 15) */
	"EXISTS page_views WHERE page = 'product' DURING LAST 7 days THEN NOT EXISTS order_lines WHERE sku = prev.sku WITHIN 2 days",
	"NOT (EXISTS a THEN EXISTS b WHERE x > prev.\"Y\" THEN NOT EXISTS c) OR first(orders.channel) = 'store'",
	"active_days(page_views DURING LAST 30 days) >= 3 AND mode(o.c WHERE c IS NOT NULL) IN ('a')",
	"sum(orders.amount) IN TOP 10 PERCENT AND customer.age NOT IN BOTTOM 007 AMONG SEGMENT 'vip 客户'",
};

/* text -> tree -> JSON -> tree -> text is the canonical text; JSON is stable. */
static void
test_round_trips(void)
{
	size_t		i;

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
	{
		RuleArena	a;
		RuleError	err;
		RuleNode   *rule,
				   *back;
		char	   *json,
				   *json2,
				   *text,
				   *text2;

		rule_arena_init_malloc(&a);
		rule = rule_parse(rules[i], strlen(rules[i]), &a, &err);
		ok(rule != NULL, "rule %zu parses", i + 1);
		if (rule == NULL)
		{
			printf("# %s\n", err.message);
			rule_arena_destroy(&a);
			continue;
		}
		json = rule_to_json(rule, &a, NULL);
		back = rule_from_json(json, strlen(json), &a, &err);
		ok(back != NULL, "rule %zu: its JSON reads back", i + 1);
		if (back == NULL)
		{
			printf("# %s / %s\n", err.message, json);
			rule_arena_destroy(&a);
			continue;
		}
		ok(rule_equal(rule, back), "rule %zu: the same tree", i + 1);
		text = rule_print(rule, &a, NULL);
		text2 = rule_print(back, &a, NULL);
		ok(strcmp(text, text2) == 0, "rule %zu: the same canonical text", i + 1);
		json2 = rule_to_json(back, &a, NULL);
		ok(strcmp(json, json2) == 0, "rule %zu: json -> rule -> json is idempotent", i + 1);
		rule_arena_destroy(&a);
	}
}

/* The exact canonical JSON of a rule given as text. */
static void
expect_json(const char *text, const char *json)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *rule;
	char	   *got;

	rule_arena_init_malloc(&a);
	rule = rule_parse(text, strlen(text), &a, &err);
	got = rule ? rule_to_json(rule, &a, NULL) : NULL;
	ok(got != NULL && strcmp(got, json) == 0, "JSON of %s", text);
	if (got && strcmp(got, json) != 0)
		printf("#   got      %s\n#   expected %s\n", got, json);
	rule_arena_destroy(&a);
}

static void
test_shapes(void)
{
	expect_json("customer.age > 30",
				"{\"type\":\"attribute\",\"field\":\"age\",\"operator\":\">\",\"values\":[30]}");
	expect_json("count(orders WHERE status = 'paid' DURING LAST 180 days) >= 3",
				"{\"type\":\"aggregate\",\"function\":\"count\",\"source\":\"orders\","
				"\"filter\":{\"field\":\"status\",\"operator\":\"=\",\"values\":[\"paid\"]},"
				"\"window\":{\"type\":\"last\",\"count\":180,\"unit\":\"day\"},\"operator\":\">=\",\"values\":[3]}");
	expect_json("NOT EXISTS orders DURING PAST 25 TO 35 days",
				"{\"not\":{\"type\":\"exists\",\"source\":\"orders\","
				"\"window\":{\"type\":\"past\",\"from\":25,\"to\":35,\"unit\":\"day\"}}}");
	expect_json("IN SNAPSHOT '双11'", "{\"type\":\"snapshot\",\"label\":\"双11\"}");
	expect_json("TAG 'g' IS NOT EMPTY OR IN SEGMENT 'vip'",
				"{\"group\":\"or\",\"conditions\":[{\"type\":\"tag\",\"group\":\"g\",\"operator\":\"is not empty\"},"
				"{\"type\":\"segment\",\"name\":\"vip\"}]}");
	expect_json("customer.registered_at < 15 days ago AND customer.seen_at DURING SINCE '2024-01-01'",
				"{\"group\":\"and\",\"conditions\":[{\"type\":\"attribute\",\"field\":\"registered_at\",\"operator\":\"<\","
				"\"values\":[{\"ago\":15,\"unit\":\"day\"}]},{\"type\":\"attribute\",\"field\":\"seen_at\","
				"\"operator\":\"during\",\"values\":[{\"type\":\"since\",\"from\":\"2024-01-01\"}]}]}");
	expect_json("customer.note = 'a\"b\\c\x01'",
				"{\"type\":\"attribute\",\"field\":\"note\",\"operator\":\"=\",\"values\":[\"a\\\"b\\\\c\\u0001\"]}");
}

/* JSON that application code may send by hand: accepted forms. */
static void
expect_rule(const char *json, const char *text)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *rule;
	char	   *got;

	rule_arena_init_malloc(&a);
	rule = rule_from_json(json, strlen(json), &a, &err);
	got = rule ? rule_print(rule, &a, NULL) : NULL;
	ok(got != NULL && strcmp(got, text) == 0, "reads %s", json);
	if (got == NULL)
		printf("#   error: %s\n", err.message);
	else if (strcmp(got, text) != 0)
		printf("#   got %s\n", got);
	rule_arena_destroy(&a);
}

static void
test_inputs(void)
{
	expect_rule(" { \"group\" : \"and\" , \"conditions\" : [ {\"type\":\"attribute\",\"field\":\"Age\",\"operator\":\">\",\"values\":[30]} ] } ",
				"customer.\"Age\" > 30");
	expect_rule("{\"group\":\"and\",\"conditions\":[{\"group\":\"and\",\"conditions\":[{\"type\":\"segment\",\"name\":\"a\"},"
				"{\"type\":\"segment\",\"name\":\"b\"}]},{\"type\":\"segment\",\"name\":\"c\"}]}",
				"in segment 'a' and in segment 'b' and in segment 'c'");
	expect_rule("{\"type\":\"attribute\",\"field\":\"name\",\"operator\":\"in\",\"values\":[\"\\u738b\",\"\\ud83d\\ude00\",\"a\\/b\"]}",
				"customer.name in ('王', '😀', 'a/b')");
	expect_rule("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"is null\",\"values\":[]}",
				"customer.x is null");
	expect_rule("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"=\",\"values\":[{\"number\":\"1.\"}]}",
				"customer.x = 1.");
	expect_rule("{\"type\":\"exists\",\"source\":\"orders\",\"window\":{\"type\":\"before\",\"to\":{\"moment\":\"now\"}}}",
				"exists orders during before now");
	expect_rule("{\"type\":\"aggregate\",\"function\":\"sum\",\"source\":\"orders\",\"field\":\"amount\","
				"\"filter\":{\"group\":\"or\",\"conditions\":[{\"field\":\"status\",\"operator\":\"=\",\"values\":[\"paid\"]},"
				"{\"not\":{\"field\":\"channel\",\"operator\":\"like\",\"values\":[\"s%\"]}}]},\"operator\":\">\",\"values\":[1000]}",
				"sum(orders.amount where status = 'paid' or not channel like 's%') > 1000");
}

/* Rejected input: message (prefix), kind. */
static void
expect_error(const char *json, int kind, const char *message)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *rule;

	rule_arena_init_malloc(&a);
	rule_error_clear(&err);
	rule = rule_from_json(json, strlen(json), &a, &err);
	ok(rule == NULL && err.kind == kind && strncmp(err.message, message, strlen(message)) == 0,
	   "rejects %.60s: %s", json, message);
	if (rule != NULL || strncmp(err.message, message, strlen(message)) != 0)
		printf("#   got kind %d: %s\n", err.kind, err.message);
	rule_arena_destroy(&a);
}

static void
test_errors(void)
{
	char	   *deep;
	size_t		i;

	expect_error("", RULE_ERR_SYNTAX, "invalid JSON at character 1: unexpected end of input");
	expect_error("{\"type\":\"segment\",\"name\":\"a\"", RULE_ERR_SYNTAX, "invalid JSON at character 29: expected ',' or '}'");
	expect_error("{\"type\":\"segment\",\"name\":\"a\"} x", RULE_ERR_SYNTAX, "invalid JSON at character 31: unexpected text after");
	expect_error("{\"type\":\"segment\",\"type\":\"segment\"}", RULE_ERR_SYNTAX, "invalid JSON at character 25: duplicate key");
	expect_error("{\"a\":\"\\x\"}", RULE_ERR_SYNTAX, "invalid JSON at character 8: unknown escape");
	expect_error("{\"a\":\"\\u0000\"}", RULE_ERR_SYNTAX, "invalid JSON at character 13: \\u0000 is not allowed");
	expect_error("{\"a\":\"\\ud800\"}", RULE_ERR_SYNTAX, "invalid JSON at character 13: high surrogate");
	expect_error("{\"a\":01}", RULE_ERR_SYNTAX, "invalid JSON at character 7: expected ','");
	expect_error("{\"a\":\"x\ty\"}", RULE_ERR_SYNTAX, "invalid JSON at character 8: control character");
	expect_error("[1]", RULE_ERR_SYNTAX, "invalid rule JSON at $: a condition must be an object");
	expect_error("{}", RULE_ERR_SYNTAX, "invalid rule JSON at $: \"type\" is missing");
	expect_error("{\"type\":\"colour\"}", RULE_ERR_SYNTAX, "invalid rule JSON at $.type: unknown condition type \"colour\"");
	expect_error("{\"type\":\"segment\",\"name\":\"a\",\"extra\":1}", RULE_ERR_SYNTAX, "invalid rule JSON at $: unknown key \"extra\"");
	expect_error("{\"type\":\"snapshot\",\"name\":\"a\"}", RULE_ERR_SYNTAX, "invalid rule JSON at $: unknown key \"name\"");
	expect_error("{\"type\":\"snapshot\"}", RULE_ERR_SYNTAX, "invalid rule JSON at $: \"label\" is missing");
	expect_error("{\"type\":\"snapshot\",\"label\":7}", RULE_ERR_SYNTAX, "invalid rule JSON at $.label: must be a string");
	expect_error("{\"group\":\"xor\",\"conditions\":[]}", RULE_ERR_SYNTAX, "invalid rule JSON at $.group: unknown group \"xor\"");
	expect_error("{\"group\":\"and\",\"conditions\":[]}", RULE_ERR_SYNTAX, "invalid rule JSON at $.conditions: must be a non-empty array");
	expect_error("{\"group\":\"and\",\"conditions\":[{\"type\":\"attribute\",\"field\":\"a\",\"operator\":\"~\",\"values\":[1]}]}",
				 RULE_ERR_SYNTAX, "invalid rule JSON at $.conditions[0].operator: unknown operator \"~\"");
	expect_error("{\"type\":\"attribute\",\"field\":\"a\",\"operator\":\"=\",\"values\":[1,2]}",
				 RULE_ERR_SYNTAX, "invalid rule JSON at $.values: operator \"=\" takes 1 value");
	expect_error("{\"type\":\"attribute\",\"field\":\"a\",\"operator\":\"=\",\"values\":[null]}",
				 RULE_ERR_SYNTAX, "invalid rule JSON at $.values[0]: a value must not be null");
	expect_error("{\"type\":\"attribute\",\"field\":\"a\",\"operator\":\"in\",\"values\":[]}",
				 RULE_ERR_SYNTAX, "IN list must not be empty");
	expect_error("{\"type\":\"attribute\",\"field\":\"a\",\"operator\":\"during\",\"values\":[{\"type\":\"last\",\"count\":3,\"unit\":\"fortnight\"}]}",
				 RULE_ERR_INVALID_LITERAL, "unknown time unit \"fortnight\"");
	expect_error("{\"type\":\"attribute\",\"field\":\"a\",\"operator\":\"during\",\"values\":[{\"type\":\"last\",\"count\":3,\"unit\":\"day; drop\"}]}",
				 RULE_ERR_SYNTAX, "invalid rule JSON at $.values[0].unit: \"day; drop\" is not a word");
	expect_error("{\"type\":\"attribute\",\"field\":\"a\",\"operator\":\"during\",\"values\":[{\"type\":\"between\",\"from\":\"2024-02-30\",\"to\":\"2024-03-01\"}]}",
				 RULE_ERR_INVALID_LITERAL, "invalid date");
	expect_error("{\"type\":\"attribute\",\"field\":\"a\",\"operator\":\"during\",\"values\":[{\"type\":\"fortnight\"}]}",
				 RULE_ERR_SYNTAX, "invalid rule JSON at $.values[0].type: unknown window type");
	expect_error("{\"type\":\"aggregate\",\"function\":\"median\",\"source\":\"o\",\"operator\":\">\",\"values\":[1]}",
				 RULE_ERR_SYNTAX, "invalid rule JSON at $.function: unknown function \"median\"");
	expect_error("{\"type\":\"tag\",\"group\":\"g\",\"operator\":\"contains\",\"values\":[\"a\"]}",
				 RULE_ERR_SYNTAX, "invalid rule JSON at $.operator: unknown tag operator");
	expect_error("{\"type\":\"attribute\",\"field\":\"a\",\"operator\":\"=\",\"values\":[{\"ago\":3,\"unit\":\"day\",\"x\":1}]}",
				 RULE_ERR_SYNTAX, "invalid rule JSON at $.values[0]: unknown key \"x\"");
	expect_error("{\"type\":\"attribute\",\"field\":\"a\",\"operator\":\"=\",\"values\":[{\"number\":\"1;\"}]}",
				 RULE_ERR_SYNTAX, "invalid rule JSON at $.values[0]: \"1;\" is not a number");

	/* nesting beyond the limit */
	deep = malloc(200000);
	strcpy(deep, "");
	for (i = 0; i < 100; i++)
		strcat(deep, "{\"not\":");
	strcat(deep, "{\"type\":\"segment\",\"name\":\"a\"}");
	for (i = 0; i < 100; i++)
		strcat(deep, "}");
	expect_error(deep, RULE_ERR_LIMIT, "rule nesting exceeds the maximum depth of 64");
	for (i = 0; i < 100000; i++)
		deep[i] = '[';
	deep[i] = '\0';
	expect_error(deep, RULE_ERR_SYNTAX, "invalid JSON at character");
	free(deep);
}

int
main(void)
{
	test_round_trips();
	test_shapes();
	test_inputs();
	test_errors();
	return tap_done();
}
