/*
 * test_rule_parser.c
 *		Unit tests of the segment_rule language core: parser, canonical
 *		printer, binary form, validation, references and limits.  TAP.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_ast.h"
#include "rule_parser.h"
#include "rule_print.h"
#include "rule_serial.h"
#include "tap.h"
#include "rule_cases.h"

typedef struct Scenario
{
	const char *name;
	const char *input;
	const char *canonical;
} Scenario;

/* SPEC section 9, as the documentation and the corpus write them. */
static const Scenario scenarios[] = {
	{"1 not unsubscribed, older than 30",
		"TAG '退订标签' NOT IN ('已退订') AND customer.age > 30",
	"tag '退订标签' not in ('已退订') and customer.age > 30"},
	{"2 win-back",
		"max(orders.paid_at) < 90 days ago AND EXISTS orders WHERE status = 'paid'",
	"max(orders.paid_at) < 90 days ago and exists orders where status = 'paid'"},
	{"3 December 2023 and never since",
		"EXISTS orders DURING BETWEEN '2023-12-01' AND '2023-12-31' AND NOT EXISTS orders DURING SINCE '2024-01-01'",
	"exists orders during between '2023-12-01' and '2023-12-31' and not exists orders during since '2024-01-01'"},
	{"4 cross-sell",
		"EXISTS order_lines WHERE sku = 'SKU-1' AND NOT EXISTS order_lines WHERE sku = 'SKU-2'",
	"exists order_lines where sku = 'SKU-1' and not exists order_lines where sku = 'SKU-2'"},
	{"5 loyal",
		"count(orders WHERE status = 'paid' DURING LAST 180 days) >= 3",
	"count(orders where status = 'paid' during last 180 days) >= 3"},
	{"6 lapsed",
		"EXISTS orders AND NOT EXISTS orders DURING LAST 1 year",
	"exists orders and not exists orders during last 1 year"},
	{"7 prospects",
		"customer.registered_at DURING LAST 15 days AND NOT EXISTS orders",
	"customer.registered_at during last 15 days and not exists orders"},
	{"8 to nurture",
		"min(orders.paid_at WHERE status = 'paid') DURING LAST 60 days AND count(orders WHERE status = 'paid') > 1",
	"min(orders.paid_at where status = 'paid') during last 60 days and count(orders where status = 'paid') > 1"},
	{"9 high-value lapsed",
		"NOT EXISTS orders DURING LAST 90 days AND count(orders WHERE status = 'paid') > 4 AND avg(orders.amount WHERE status = 'paid') > 200",
	"not exists orders during last 90 days and count(orders where status = 'paid') > 4 and avg(orders.amount where status = 'paid') > 200"},
	{"10 delivered, not read",
		"EXISTS messages WHERE campaign = 'A' AND kind = 'delivered' DURING YESTERDAY AND NOT EXISTS messages WHERE campaign = 'A' AND kind = 'read' DURING YESTERDAY",
	"exists messages where campaign = 'A' and kind = 'delivered' during yesterday and not exists messages where campaign = 'A' and kind = 'read' during yesterday"},
	{"11 clicked coupon last week, no paid order since",
		"EXISTS messages WHERE kind = 'clicked' AND button = 'coupon' DURING PREVIOUS week AND NOT EXISTS orders WHERE status = 'paid' DURING PREVIOUS week AND NOT EXISTS orders WHERE status = 'paid' DURING THIS week",
	"exists messages where kind = 'clicked' and button = 'coupon' during previous week and not exists orders where status = 'paid' during previous week and not exists orders where status = 'paid' during this week"},
	{"12 talked, never ordered",
		"EXISTS messages WHERE kind = 'inbound' AND NOT EXISTS orders",
	"exists messages where kind = 'inbound' and not exists orders"},
	{"13 tier low",
		"sum(orders.amount WHERE status = 'paid') < 300",
	"sum(orders.amount where status = 'paid') < 300"},
	{"13 tier mid",
		"sum(orders.amount WHERE status = 'paid') >= 300 AND sum(orders.amount WHERE status = 'paid') < 2000",
	"sum(orders.amount where status = 'paid') >= 300 and sum(orders.amount where status = 'paid') < 2000"},
	{"13 tier high",
		"sum(orders.amount WHERE status = 'paid') >= 2000",
	"sum(orders.amount where status = 'paid') >= 2000"},
	{"14 band 1-3",
		"count(orders WHERE status = 'paid') BETWEEN 1 AND 3",
	"count(orders where status = 'paid') between 1 and 3"},
	{"14 band 4-6",
		"count(orders WHERE status = 'paid') BETWEEN 4 AND 6",
	"count(orders where status = 'paid') between 4 and 6"},
	{"15 new",
		"min(orders.paid_at WHERE status = 'paid') DURING LAST 180 days AND count(orders WHERE status = 'paid' DURING LAST 30 days) = 1",
	"min(orders.paid_at where status = 'paid') during last 180 days and count(orders where status = 'paid' during last 30 days) = 1"},
	{"15 returning",
		"min(orders.paid_at WHERE status = 'paid') < 180 days ago AND EXISTS orders WHERE status = 'paid' DURING LAST 30 days",
	"min(orders.paid_at where status = 'paid') < 180 days ago and exists orders where status = 'paid' during last 30 days"},
	{"15 prospects",
		"EXISTS page_views WHERE seconds > 15 DURING LAST 15 days AND NOT EXISTS orders WHERE status = 'paid'",
	"exists page_views where seconds > 15 during last 15 days and not exists orders where status = 'paid'"},
	{"15 silent",
		"NOT EXISTS orders WHERE status = 'paid' DURING LAST 30 days AND EXISTS orders WHERE status = 'paid' DURING LAST 180 days",
	"not exists orders where status = 'paid' during last 30 days and exists orders where status = 'paid' during last 180 days"},
	{"15 loyal",
		"EXISTS orders WHERE status = 'paid' DURING LAST 30 days AND count(orders WHERE status = 'paid' DURING LAST 180 days) >= 2",
	"exists orders where status = 'paid' during last 30 days and count(orders where status = 'paid' during last 180 days) >= 2"},
	{"15 repeat",
		"count(orders WHERE status = 'paid' DURING LAST 180 days) >= 2",
	"count(orders where status = 'paid' during last 180 days) >= 2"},
	{"16 channel migration",
		"sum(orders.amount WHERE channel = 'store' AND status = 'paid') > 1000 AND NOT EXISTS orders DURING LAST 30 days",
	"sum(orders.amount where channel = 'store' and status = 'paid') > 1000 and not exists orders during last 30 days"},
	{"17 new followers without orders",
		"customer.registered_at DURING LAST 1 month AND NOT EXISTS orders",
	"customer.registered_at during last 1 month and not exists orders"},
	{"18 replenishment",
		"EXISTS order_lines WHERE product_type = 'consumable-1m' DURING PAST 25 TO 35 days",
	"exists order_lines where product_type = 'consumable-1m' during past 25 to 35 days"},
};

/* Spelling variants and the canonical text they normalize to. */
static const Scenario canon[] = {
	{"spacing and case", "Customer.AGE>30", "customer.age > 30"},
	{"!= is <>", "customer.age != 30", "customer.age <> 30"},
	{"quoted identifier kept", "customer.\"Age\" = 1", "customer.\"Age\" = 1"},
	{"quoted plain identifier unquoted", "customer.\"age\" = 1", "customer.age = 1"},
	{"reserved word quoted", "customer.\"and\" = 1", "customer.\"and\" = 1"},
	{"non-reserved keyword bare", "customer.last >= 1 AND count(count) > 0",
	"customer.last >= 1 and count(count) > 0"},
	{"quote doubling", "customer.\"a\"\"b\" = 'it''s'", "customer.\"a\"\"b\" = 'it''s'"},
	{"non-ASCII identifier quoted", "customer.客户 = '上海'", "customer.\"客户\" = '上海'"},
	{"dollar in identifier quoted", "customer.a$b = 1", "customer.\"a$b\" = 1"},
	{"number verbatim", "sum(orders.amount) >= 199.90", "sum(orders.amount) >= 199.90"},
	{"negative exponent number", "customer.x > -1.5E-3", "customer.x > -1.5E-3"},
	{"leading dot number", "customer.x < .5", "customer.x < .5"},
	{"booleans", "customer.vip = TRUE OR customer.vip = False",
	"customer.vip = true or customer.vip = false"},
	{"singular unit", "customer.x DURING LAST 1 days", "customer.x during last 1 day"},
	{"plural unit", "customer.x DURING LAST 2 day", "customer.x during last 2 days"},
	{"zero is plural", "customer.x > 0 day ago", "customer.x > 0 days ago"},
	{"past unit follows m", "customer.x DURING PAST 0 TO 1 days",
	"customer.x during past 0 to 1 day"},
	{"leading zeros of counts", "customer.x DURING LAST 007 hours",
	"customer.x during last 7 hours"},
	{"moment literals", "customer.x BETWEEN 3 hours ago AND NOW AND customer.y < Today",
	"customer.x between 3 hours ago and now and customer.y < today"},
	{"redundant parentheses", "((customer.a = 1))", "customer.a = 1"},
	{"and flattened", "customer.a = 1 AND (customer.b = 2 AND customer.c = 3)",
	"customer.a = 1 and customer.b = 2 and customer.c = 3"},
	{"or flattened", "(customer.a = 1 OR customer.b = 2) OR customer.c = 3",
	"customer.a = 1 or customer.b = 2 or customer.c = 3"},
	{"or inside and keeps parentheses",
		"(customer.a = 1 OR customer.b = 2) AND customer.c = 3",
	"(customer.a = 1 or customer.b = 2) and customer.c = 3"},
	{"and inside or loses them", "(customer.a = 1 AND customer.b = 2) OR customer.c = 3",
	"customer.a = 1 and customer.b = 2 or customer.c = 3"},
	{"not over and", "NOT (customer.a = 1 AND customer.b = 2)",
	"not (customer.a = 1 and customer.b = 2)"},
	{"double not kept", "NOT NOT customer.a = 1", "not not customer.a = 1"},
	{"negated predicates",
		"customer.a NOT IN (1,2) AND customer.b IS NOT NULL AND customer.c NOT BETWEEN 1 AND 2 AND customer.d NOT LIKE 'x%' AND customer.e NOT DURING TODAY",
	"customer.a not in (1, 2) and customer.b is not null and customer.c not between 1 and 2 and customer.d not like 'x%' and customer.e not during today"},
	{"tags and segments", "TAG 'g' IS EMPTY OR TAG 'g' IS NOT EMPTY OR IN SEGMENT 'VIP'",
	"tag 'g' is empty or tag 'g' is not empty or in segment 'VIP'"},
	{"snapshots", "In Snapshot '双11 campaign' AND NOT IN SNAPSHOT 'it''s' OR in segment 'snapshot'",
	"in snapshot '双11 campaign' and not in snapshot 'it''s' or in segment 'snapshot'"},
	{"filter qualified by its source", "EXISTS orders WHERE orders.status = 'paid'",
	"exists orders where status = 'paid'"},
	{"parenthesized exists", "(EXISTS orders WHERE status = 'paid') AND customer.age > 3",
	"exists orders where status = 'paid' and customer.age > 3"},
	{"filter ends before an aggregate",
		"EXISTS orders WHERE status = 'paid' OR count(messages) > 1",
	"exists orders where status = 'paid' or count(messages) > 1"},
	{"filter ends before NOT ( TAG",
		"EXISTS orders WHERE a = 1 AND NOT (TAG 'g' IS EMPTY)",
	"exists orders where a = 1 and not tag 'g' is empty"},
	{"filter keeps NOT and parentheses",
		"EXISTS orders WHERE a = 1 AND NOT (b = 2 OR c IS NULL)",
	"exists orders where a = 1 and not (b = 2 or c is null)"},
	{"column named ago in a filter",
		"EXISTS orders WHERE a = 5 AND ago = 1",
	"exists orders where a = 5 and ago = 1"},
	{"count of a column and count_distinct",
		"count(orders.id) > 0 AND count_distinct(order_lines.sku) >= 5",
	"count(orders.id) > 0 and count_distinct(order_lines.sku) >= 5"},
	{"windows", "customer.a DURING THIS month OR customer.a DURING PREVIOUS year OR customer.a DURING SINCE TODAY OR customer.a DURING BEFORE NOW OR customer.a DURING SINCE 2 weeks ago",
	"customer.a during this month or customer.a during previous year or customer.a during since today or customer.a during before now or customer.a during since 2 weeks ago"},
	{"timestamp literals verbatim",
		"customer.a DURING BETWEEN '2024-01-01T10:00:00.5+08:00' AND '2024-01-02 00:00Z'",
	"customer.a during between '2024-01-01T10:00:00.5+08:00' and '2024-01-02 00:00Z'"},
	{"string after cmp stays a string", "customer.registered_at >= '2024-01-01'",
	"customer.registered_at >= '2024-01-01'"},
	{"newlines and tabs", "\tcustomer.a\n=\r\n1\n", "customer.a = 1"},
	{"quoted source", "EXISTS \"Order Lines\" WHERE \"Sku\" LIKE 'A%'",
	"exists \"Order Lines\" where \"Sku\" like 'A%'"},
};

typedef struct BadInput
{
	const char *input;
	int			kind;
	int			position;
	const char *message;
} BadInput;

static const BadInput bad_inputs[] = {
	{"", RULE_ERR_SYNTAX, 1, "syntax error at end of input"},
	{"   ", RULE_ERR_SYNTAX, 4, "syntax error at end of input"},
	{"customer.name = 'abc", RULE_ERR_SYNTAX, 17, "unterminated quoted string at or near \"'abc\""},
	{"customer.\"abc = 1", RULE_ERR_SYNTAX, 10, "unterminated quoted identifier at or near \"\"abc = 1\""},
	{"customer.\"\" = 1", RULE_ERR_SYNTAX, 10, "zero-length delimited identifier at or near \"\"\"\""},
	{"customer.x DURING LAST 3 fortnight", RULE_ERR_INVALID_LITERAL, 26, "unknown time unit \"fortnight\""},
	{"customer.x > 3 Fortnights AGO", RULE_ERR_INVALID_LITERAL, 16, "unknown time unit \"Fortnights\""},
	{"customer.x IN ()", RULE_ERR_SYNTAX, 16, "IN list must not be empty"},
	{"TAG 'x' IN ()", RULE_ERR_SYNTAX, 13, "IN list must not be empty"},
	{"customer.x DURING BETWEEN '2024-02-30' AND '2024-03-01'", RULE_ERR_INVALID_LITERAL, 27, "invalid date \"2024-02-30\" in window"},
	{"customer.x DURING SINCE '2023-02-29'", RULE_ERR_INVALID_LITERAL, 25, "invalid date \"2023-02-29\" in window"},
	{"customer.x DURING BEFORE '2024-01-01 24:00'", RULE_ERR_INVALID_LITERAL, 26, "invalid timestamp \"2024-01-01 24:00\" in window"},
	{"customer.x DURING SINCE 'last tuesday'", RULE_ERR_INVALID_LITERAL, 25, "invalid date \"last tuesday\" in window"},
	{"customer.x DURING BETWEEN '2024-01-01' AND '2024-01-01T10:00+25'", RULE_ERR_INVALID_LITERAL, 44, "invalid timestamp \"2024-01-01T10:00+25\" in window"},
	{"customer.x DURING PAST 3 TO 1 days", RULE_ERR_INVALID_LITERAL, 24, "PAST 3 TO 1 days: the first number must not exceed the second"},
	{"customer.x DURING BETWEEN '2024-02-01' AND '2024-01-01'", RULE_ERR_INVALID_LITERAL, 27, "BETWEEN '2024-02-01' AND '2024-01-01': the start must not be after the end"},
	{"customer.x DURING BETWEEN '2024-01-02' AND '2024-01-01 23:00'", RULE_ERR_INVALID_LITERAL, 27, "BETWEEN '2024-01-02' AND '2024-01-01 23:00': the start must not be after the end"},
	{"customer.x DURING LAST 1000001 days", RULE_ERR_LIMIT, 24, "time count 1000001 exceeds the maximum of 1000000"},
	{"customer.x DURING LAST 99999999999999999999 days", RULE_ERR_LIMIT, 24, "time count 99999999999999999999 exceeds the maximum of 1000000"},
	{"customer.x DURING LAST 3.5 days", RULE_ERR_INVALID_LITERAL, 24, "invalid time count \"3.5\""},
	{"customer.x DURING LAST -3 days", RULE_ERR_INVALID_LITERAL, 24, "invalid time count \"-3\""},
	{"customer.x DURING THIS day", RULE_ERR_SYNTAX, 24, "syntax error at or near \"day\""},
	{"customer.x DURING NEXT week", RULE_ERR_SYNTAX, 19, "syntax error at or near \"NEXT\""},
	{"customer.x DURING SINCE 3 days", RULE_ERR_SYNTAX, 31, "syntax error at end of input"},
	{"customer.age > 30 30", RULE_ERR_SYNTAX, 19, "syntax error at or near \"30\""},
	{"customer.x = 1)", RULE_ERR_SYNTAX, 15, "syntax error at or near \")\""},
	{"customer.x = 1 ; DROP TABLE customers", RULE_ERR_SYNTAX, 16, "syntax error at or near \";\""},
	{"count(orders) >", RULE_ERR_SYNTAX, 16, "syntax error at end of input"},
	{"customer.x = 1 AND", RULE_ERR_SYNTAX, 19, "syntax error at end of input"},
	{"(customer.x = 1", RULE_ERR_SYNTAX, 16, "syntax error at end of input"},
	{"customer.age >> 3", RULE_ERR_SYNTAX, 15, "syntax error at or near \">\""},
	{"customer.age = 3days", RULE_ERR_SYNTAX, 16, "trailing junk after numeric literal at or near \"3days\""},
	{"customer.age @ 3", RULE_ERR_SYNTAX, 14, "syntax error at or near \"@\""},
	{"customer.x = NULL", RULE_ERR_SYNTAX, 14, "syntax error at or near \"NULL\""},
	{"customer.and = 1", RULE_ERR_SYNTAX, 10, "syntax error at or near \"and\""},
	{"customer.x IS NOT 1", RULE_ERR_SYNTAX, 19, "syntax error at or near \"1\""},
	{"customer.x NOT IS NULL", RULE_ERR_SYNTAX, 16, "syntax error at or near \"IS\""},
	{"customer.x LIKE 3", RULE_ERR_SYNTAX, 17, "syntax error at or near \"3\""},
	{"customer.x IN (1, 2", RULE_ERR_SYNTAX, 20, "syntax error at end of input"},
	{"customer.x IN (1,)", RULE_ERR_SYNTAX, 18, "syntax error at or near \")\""},
	{"customer.x IN (1 days ago)", RULE_ERR_SYNTAX, 18, "syntax error at or near \"days\""},
	{"TAG 'x' IN (1)", RULE_ERR_SYNTAX, 13, "syntax error at or near \"1\""},
	{"IN SEGMENT foo", RULE_ERR_SYNTAX, 12, "syntax error at or near \"foo\""},
	{"IN SNAPSHOT foo", RULE_ERR_SYNTAX, 13, "syntax error at or near \"foo\""},
	{"IN SNAPSHOT", RULE_ERR_SYNTAX, 12, "syntax error at end of input"},
	{"IN SNAPSHOTS 'x'", RULE_ERR_SYNTAX, 4, "syntax error at or near \"SNAPSHOTS\""},
	{"IN \"snapshot\" 'x'", RULE_ERR_SYNTAX, 4, "syntax error at or near \"\"snapshot\"\""},
	{"EXISTS WHERE x = 1", RULE_ERR_SYNTAX, 8, "syntax error at or near \"WHERE\""},
	{"foo.x = 1", RULE_ERR_SYNTAX, 1, "syntax error at or near \"foo\""},
	{"customer.名前 = 'x' AND 价格 > 1", RULE_ERR_SYNTAX, 23, "syntax error at or near \"价格\""},
	{"sum(orders) > 1", RULE_ERR_SYNTAX, 5, "sum() requires a column"},
	{"count(orders) DURING LAST 3 days", RULE_ERR_SYNTAX, 15, "DURING cannot be applied to count()"},
	{"EXISTS orders WHERE customer.age > 3", RULE_ERR_SYNTAX, 21, "filter on source \"orders\" cannot use \"customer.age\""},
	{"EXISTS orders WHERE paid_at DURING LAST 3 days", RULE_ERR_SYNTAX, 29, "syntax error at or near \"DURING\""},
	{"count(orders WHERE status = 'paid' AND customer.age > 3) > 1", RULE_ERR_SYNTAX, 36, "syntax error at or near \"AND\""},
	{"customer.x = 'a\xff'", RULE_ERR_ENCODING, 16, "invalid byte sequence for encoding \"UTF8\": 0xff"},
	{"customer.x = '\xc3\xa9\xc3('", RULE_ERR_ENCODING, 16, "invalid byte sequence for encoding \"UTF8\": 0xc3 0x28"},
	{"customer.x = '\xed\xa0\x80'", RULE_ERR_ENCODING, 15, "invalid byte sequence for encoding \"UTF8\": 0xed 0xa0 0x80"},
	{"customer.x = '\xc0\xaf'", RULE_ERR_ENCODING, 15, "invalid byte sequence for encoding \"UTF8\": 0xc0 0xaf"},
	{"customer.x = '\xe4\xb8'", RULE_ERR_ENCODING, 15, "invalid byte sequence for encoding \"UTF8\": 0xe4 0xb8 0x27"},
};

/* ---------- helpers ---------- */

static RuleNode *
parse(RuleArena *a, const char *text, RuleError *err)
{
	return rule_parse(text, strlen(text), a, err);
}

/*
 * The properties every parsed rule has: printing is stable, reparsing
 * gives an equal tree, the binary form round-trips byte for byte, and the
 * tree validates.  Returns NULL when they hold, else what failed.
 */
static const char *
roundtrip_failure(const RuleNode *rule)
{
	RuleArena	a;
	RuleError	err;
	const char *why = NULL;
	char	   *text,
			   *text2;
	RuleNode   *again,
			   *back;
	uint8_t    *bytes,
			   *bytes2;
	size_t		len,
				len2;

	rule_arena_init_malloc(&a);
	text = rule_print(rule, &a, NULL);
	again = parse(&a, text, &err);
	if (again == NULL)
		why = "canonical text does not parse";
	else if (strcmp(text, text2 = rule_print(again, &a, NULL)) != 0)
		why = "printing is not idempotent";
	else if (!rule_equal(rule, again))
		why = "reparsed tree differs";
	else if (!rule_validate(rule, &err))
		why = "tree does not validate";
	else
	{
		bytes = rule_serialize(rule, &a, &len);
		back = rule_deserialize(bytes, len, &a, &err);
		if (len != rule_serialized_size(rule))
			why = "serialized size disagrees";
		else if (back == NULL)
			why = "binary form does not deserialize";
		else if (!rule_equal(rule, back))
			why = "deserialized tree differs";
		else
		{
			bytes2 = rule_serialize(back, &a, &len2);
			if (len2 != len || memcmp(bytes, bytes2, len) != 0)
				why = "reserialized bytes differ";
			else if (len > strlen(text) + 8)
				why = "binary form longer than the text";
		}
	}
	rule_arena_destroy(&a);
	return why;
}

static void
test_scenarios(void)
{
	size_t		i;

	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
	{
		RuleArena	a;
		RuleError	err;
		RuleNode   *rule;
		char	   *text;
		const char *why;

		rule_arena_init_malloc(&a);
		rule = parse(&a, scenarios[i].input, &err);
		ok(rule != NULL, "scenario %s parses%s%s", scenarios[i].name,
		   rule ? "" : ": ", rule ? "" : err.message);
		if (rule != NULL)
		{
			text = rule_print(rule, &a, NULL);
			ok(strcmp(text, scenarios[i].canonical) == 0,
			   "scenario %s canonical text", scenarios[i].name);
			if (strcmp(text, scenarios[i].canonical) != 0)
				printf("#   got      %s\n#   expected %s\n", text, scenarios[i].canonical);
			why = roundtrip_failure(rule);
			ok(why == NULL, "scenario %s round trips%s%s", scenarios[i].name,
			   why ? ": " : "", why ? why : "");
		}
		rule_arena_destroy(&a);
	}
}

static void
test_canonical(void)
{
	size_t		i;

	for (i = 0; i < sizeof(canon) / sizeof(canon[0]); i++)
	{
		RuleArena	a;
		RuleError	err;
		RuleNode   *rule;
		char	   *text = NULL;
		const char *why = "does not parse";

		rule_arena_init_malloc(&a);
		rule = parse(&a, canon[i].input, &err);
		if (rule != NULL)
		{
			text = rule_print(rule, &a, NULL);
			why = strcmp(text, canon[i].canonical) != 0 ? "wrong text" :
				roundtrip_failure(rule);
		}
		ok(why == NULL, "canonical: %s%s%s", canon[i].name, why ? ": " : "",
		   why ? why : "");
		if (why != NULL)
			printf("#   got %s\n#   (%s)\n", text ? text : "(null)", err.message);
		rule_arena_destroy(&a);
	}
}

static bool
error_is(const RuleError *err, int kind, int position, const char *message)
{
	return err->kind == kind && err->position == position &&
		strcmp(err->message, message) == 0;
}

static void
show_error(const RuleError *err)
{
	printf("#   got kind %d position %d: %s\n", err->kind, err->position,
		   err->message);
}

static void
test_bad_inputs(void)
{
	size_t		i;

	for (i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++)
	{
		const BadInput *b = &bad_inputs[i];
		RuleArena	a;
		RuleError	err;
		RuleNode   *rule;
		bool		good;

		rule_arena_init_malloc(&a);
		rule = parse(&a, b->input, &err);
		good = rule == NULL && error_is(&err, b->kind, b->position, b->message);
		ok(good, "rejects %s", b->message);
		if (!good)
			show_error(&err);
		rule_arena_destroy(&a);
	}
}

/* Details and hints are sentences; spot-check a few. */
static void
test_error_texts(void)
{
	RuleArena	a;
	RuleError	err;

	rule_arena_init_malloc(&a);
	parse(&a, "customer.x DURING SINCE 'soon'", &err);
	ok(strncmp(err.detail, "Dates are written 'YYYY-MM-DD'", 30) == 0,
	   "bad date format has a detail");
	parse(&a, "customer.x DURING LAST 3 eons", &err);
	ok(strcmp(err.hint, "Units are minute, hour, day, week, month and year, singular or plural.") == 0,
	   "unknown unit has a hint");
	parse(&a, "sum(orders) > 1", &err);
	ok(strcmp(err.hint, "Write sum(source.column); only count() can count rows.") == 0,
	   "aggregate without column has a hint");
	parse(&a, "customer.x DURING SOMEDAY", &err);
	ok(strncmp(err.hint, "A window is LAST n unit", 23) == 0,
	   "unknown window has a hint");
	ok(rule_parse("customer.x = 1", 14, &a, NULL) != NULL, "err may be NULL");
	ok(rule_parse("customer.x = ", 13, &a, NULL) == NULL, "err may be NULL on error");
	rule_arena_destroy(&a);
}

/* ---------- limits ---------- */

/* n opening parentheses around a predicate. */
static char *
nested_parens(int n)
{
	char	   *s = malloc(2 * n + 32);
	int			i,
				len = 0;

	for (i = 0; i < n; i++)
		s[len++] = '(';
	len += sprintf(s + len, "customer.a = 1");
	for (i = 0; i < n; i++)
		s[len++] = ')';
	s[len] = '\0';
	return s;
}

static char *
nested_nots(int n)
{
	char	   *s = malloc(4 * n + 32);
	int			i,
				len = 0;

	for (i = 0; i < n; i++)
		len += sprintf(s + len, "NOT ");
	sprintf(s + len, "customer.a = 1");
	return s;
}

/* NOT and WHERE nest too: NOT (EXISTS o WHERE NOT (a = 1 OR ...)). */
static char *
nested_mixed(int levels)
{
	char	   *s = malloc(64 * levels + 64);
	int			i,
				len = 0;

	len += sprintf(s + len, "EXISTS o WHERE ");
	for (i = 1; i < levels; i++)
		len += sprintf(s + len, "NOT (a = %d OR ", i);
	len += sprintf(s + len, "b = 1");
	for (i = 1; i < levels; i++)
		s[len++] = ')';
	s[len] = '\0';
	return s;
}

static void
test_limit_nesting(void)
{
	RuleArena	a;
	RuleError	err;
	char	   *s;
	RuleNode   *rule;

	rule_arena_init_malloc(&a);
	s = nested_parens(64);
	ok(parse(&a, s, &err) != NULL, "64 nested parentheses parse");
	free(s);
	s = nested_parens(65);
	ok(parse(&a, s, &err) == NULL &&
	   error_is(&err, RULE_ERR_LIMIT, 65, "rule nesting exceeds the maximum depth of 64"),
	   "65 nested parentheses are refused at the 65th");
	free(s);
	s = nested_nots(64);
	rule = parse(&a, s, &err);
	ok(rule != NULL && roundtrip_failure(rule) == NULL, "64 NOTs parse and round trip");
	free(s);
	s = nested_nots(65);
	ok(parse(&a, s, &err) == NULL &&
	   error_is(&err, RULE_ERR_LIMIT, 257, "rule nesting exceeds the maximum depth of 64"),
	   "65 NOTs are refused at the 65th");
	free(s);
	s = nested_parens(100000);
	ok(parse(&a, s, &err) == NULL && err.kind == RULE_ERR_LIMIT,
	   "deep input fails on length, without recursion trouble");
	free(s);
	s = nested_parens(30000);
	ok(parse(&a, s, &err) == NULL &&
	   error_is(&err, RULE_ERR_LIMIT, 65, "rule nesting exceeds the maximum depth of 64"),
	   "30000 nested parentheses stop at the 65th");
	free(s);
	s = nested_mixed(32);
	rule = parse(&a, s, &err);
	ok(rule != NULL && roundtrip_failure(rule) == NULL,
	   "WHERE + 31 NOT ( levels (depth 63) parse and round trip");
	free(s);
	s = nested_mixed(34);
	ok(parse(&a, s, &err) == NULL && err.kind == RULE_ERR_LIMIT,
	   "WHERE + 33 NOT ( levels (depth 67) are refused");
	free(s);
	rule_arena_destroy(&a);
}

static void
test_limit_length(void)
{
	RuleArena	a;
	RuleError	err;
	size_t		n = 70000;
	char	   *s = malloc(n + 1);
	RuleNode   *rule;
	size_t		i,
				len;

	rule_arena_init_malloc(&a);
	memset(s, ' ', n);
	memcpy(s, "customer.a = 1", 14);
	s[n] = '\0';
	ok(rule_parse(s, n, &a, &err) == NULL &&
	   error_is(&err, RULE_ERR_LIMIT, 0, "rule text exceeds the maximum length of 65536 bytes"),
	   "70000-byte input is refused");
	ok(rule_parse(s, RULE_MAX_TEXT_LEN, &a, &err) != NULL,
	   "65536-byte input (trailing spaces) parses");

	/* input within the limit whose canonical form is longer */
	len = sprintf(s, "customer.a=1");
	for (i = 0; len + 16 <= RULE_MAX_TEXT_LEN; i++)
		len += sprintf(s + len, " or customer.a=1");
	rule = rule_parse(s, len, &a, &err);
	ok(rule == NULL && err.kind == RULE_ERR_LIMIT &&
	   strstr(err.detail, "canonical form") != NULL,
	   "input whose canonical text would exceed the limit is refused");
	free(s);
	rule_arena_destroy(&a);
}

static char *
in_list(int n)
{
	char	   *s = malloc(16 + 3 * (size_t) n);
	int			i,
				len = sprintf(s, "customer.a IN (");

	for (i = 0; i < n; i++)
		len += sprintf(s + len, i ? ",%d" : "%d", i % 10);
	sprintf(s + len, ")");
	return s;
}

static void
test_limit_in_list(void)
{
	RuleArena	a;
	RuleError	err;
	char	   *s;
	RuleNode   *rule;

	rule_arena_init_malloc(&a);
	s = in_list(RULE_MAX_IN_LIST);
	rule = parse(&a, s, &err);
	ok(rule != NULL && rule->nargs == RULE_MAX_IN_LIST &&
	   roundtrip_failure(rule) == NULL, "IN list of 10000 values parses and round trips");
	free(s);
	s = in_list(RULE_MAX_IN_LIST + 1);
	ok(parse(&a, s, &err) == NULL &&
	   error_is(&err, RULE_ERR_LIMIT, 16 + 2 * RULE_MAX_IN_LIST,
				"IN list exceeds the maximum of 10000 values"),
	   "IN list of 10001 values is refused at the 10001st");
	free(s);
	rule = parse(&a, "customer.x DURING LAST 1000000 years AND customer.y < 1000000 minutes ago", &err);
	ok(rule != NULL && roundtrip_failure(rule) == NULL, "counts of 1000000 are accepted");
	rule_arena_destroy(&a);
}

/* ---------- the tree ---------- */

static void
test_tree_shape(void)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *r;
	RuleNode   *e;

	rule_arena_init_malloc(&a);
	r = parse(&a, "NOT EXISTS orders WHERE status = 'paid' DURING SINCE '2024-01-01 10:00+08'", &err);
	ok(r && r->kind == RULE_NOT && r->nchildren == 1, "NOT EXISTS is a NOT node");
	e = r ? r->children[0] : NULL;
	ok(e && e->kind == RULE_EXISTS && strcmp(e->name, "orders") == 0 &&
	   e->filter && e->filter->kind == RULE_CMP &&
	   e->filter->value->kind == RULE_VALUE_FIELD &&
	   strcmp(e->filter->value->column, "status") == 0 &&
	   e->filter->args[0].kind == RULE_LIT_STRING &&
	   strcmp(e->filter->args[0].text, "paid") == 0,
	   "EXISTS carries source and filter");
	ok(e && e->window && e->window->kind == RULE_WINDOW_SINCE &&
	   e->window->from.kind == RULE_MOMENT_DATETIME &&
	   e->window->from.datetime.has_offset &&
	   e->window->from.datetime.offset_seconds == 8 * 3600 &&
	   e->window->from.datetime.hour == 10,
	   "SINCE timestamp with offset is parsed");

	r = parse(&a, "count(orders) = 0", &err);
	ok(r && r->kind == RULE_CMP && r->value->kind == RULE_VALUE_AGG &&
	   r->value->agg == RULE_AGG_COUNT && r->value->column == NULL &&
	   r->op == RULE_OP_EQ && r->args[0].kind == RULE_LIT_NUMBER &&
	   strcmp(r->args[0].text, "0") == 0, "count(orders) = 0 counts rows");

	r = parse(&a, "max(orders.paid_at) < 90 days ago", &err);
	ok(r && r->args[0].kind == RULE_LIT_MOMENT &&
	   r->args[0].moment.kind == RULE_MOMENT_AGO &&
	   r->args[0].moment.count == 90 && r->args[0].moment.unit == RULE_UNIT_DAY,
	   "90 days ago is a moment literal");

	r = parse(&a, "customer.a = 1 AND (customer.b = 2 AND (customer.c = 3 OR customer.d = 4))", &err);
	ok(r && r->kind == RULE_AND && r->nchildren == 3 &&
	   r->children[2]->kind == RULE_OR, "nested AND is flattened, OR kept");

	r = parse(&a, "EXISTS o WHERE a = 1 OR b = 2 AND customer.x = 1", &err);
	ok(r && r->kind == RULE_AND && r->nchildren == 2 &&
	   r->children[0]->kind == RULE_EXISTS &&
	   r->children[0]->filter->kind == RULE_OR,
	   "filter stops before a rule predicate, keeping its own OR");
	rule_arena_destroy(&a);
}

typedef struct RefLog
{
	char		text[1024];
	int			stop_after;
	int			seen;
} RefLog;

static bool
log_ref(const RuleRef *ref, void *ctx)
{
	RefLog	   *log = ctx;
	static const char *const kinds[] = {"", "customer", "source", "column", "tag", "value", "segment"};
	size_t		len = strlen(log->text);

	snprintf(log->text + len, sizeof(log->text) - len, "%s:%s%s%s%s%s;",
			 kinds[ref->kind], ref->source ? ref->source : "",
			 ref->source && ref->column ? "." : "",
			 ref->column ? ref->column : "",
			 ref->name ? ref->name : "",
			 ref->value ? ref->value : "");
	return ++log->seen != log->stop_after;
}

static void
test_refs(void)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *r;
	RefLog		log;

	rule_arena_init_malloc(&a);
	r = parse(&a, "customer.age > 1 AND count(orders.id WHERE status = 'paid') > 1 AND TAG 'g' IN ('v1', 'v2') OR IN SEGMENT 's' OR NOT EXISTS messages WHERE kind = 'x' AND TAG 'h' IS EMPTY", &err);
	memset(&log, 0, sizeof(log));
	ok(r && rule_collect_refs(r, log_ref, &log), "collect_refs walks everything");
	ok(strcmp(log.text, "customer:age;source:orders;column:orders.id;column:orders.status;tag:g;value:gv1;value:gv2;segment:s;source:messages;column:messages.kind;tag:h;") == 0,
	   "references in text order");
	if (strcmp(log.text, "customer:age;source:orders;column:orders.id;column:orders.status;tag:g;value:gv1;value:gv2;segment:s;source:messages;column:messages.kind;tag:h;") != 0)
		printf("#   got %s\n", log.text);
	memset(&log, 0, sizeof(log));
	log.stop_after = 3;
	ok(!rule_collect_refs(r, log_ref, &log) && log.seen == 3,
	   "collect_refs stops when the callback says so");
	rule_arena_destroy(&a);
}

/* ---------- hand-built trees ---------- */

static RuleNode *
cmp_node(RuleArena *a, const char *column, const char *number)
{
	RuleNode   *n = rule_arena_alloc(a, sizeof(RuleNode));

	n->kind = RULE_CMP;
	n->op = RULE_OP_GT;
	n->value = rule_arena_alloc(a, sizeof(RuleValue));
	n->value->kind = RULE_VALUE_CUSTOMER;
	n->value->column = column;
	n->nargs = 1;
	n->args = rule_arena_alloc(a, sizeof(RuleLiteral));
	n->args[0].kind = RULE_LIT_NUMBER;
	n->args[0].text = number;
	return n;
}

static RuleNode *
bool_node(RuleArena *a, RuleNodeKind kind, RuleNode *x, RuleNode *y)
{
	RuleNode   *n = rule_arena_alloc(a, sizeof(RuleNode));

	n->kind = kind;
	n->nchildren = 2;
	n->children = rule_arena_alloc(a, 2 * sizeof(RuleNode *));
	n->children[0] = x;
	n->children[1] = y;
	return n;
}

static void
test_validate(void)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *t;
	char		buf[128];

	rule_arena_init_malloc(&a);
	t = bool_node(&a, RULE_AND, cmp_node(&a, "a", "1"),
				  bool_node(&a, RULE_AND, cmp_node(&a, "b", "2"), cmp_node(&a, "c", "3")));
	ok(!rule_validate(t, &err) && err.kind == RULE_ERR_CORRUPT,
	   "validate refuses AND inside AND");
	ok(rule_normalize(t, &a) && t->nchildren == 3 && rule_validate(t, &err),
	   "normalize flattens it, then it validates");
	rule_print_buf(t, buf, sizeof(buf));
	ok(strcmp(buf, "customer.a > 1 and customer.b > 2 and customer.c > 3") == 0,
	   "hand-built tree prints");
	ok(rule_print_buf(t, buf, 10) == strlen("customer.a > 1 and customer.b > 2 and customer.c > 3") &&
	   strcmp(buf, "customer.") == 0, "rule_print_buf truncates like snprintf");

	t = cmp_node(&a, "a", "1.2.3");
	ok(!rule_validate(t, &err) && err.kind == RULE_ERR_CORRUPT,
	   "validate refuses a malformed number");
	t = cmp_node(&a, "", "1");
	ok(!rule_validate(t, &err), "validate refuses an empty identifier");
	t = cmp_node(&a, "a\xff", "1");
	ok(!rule_validate(t, &err), "validate refuses invalid UTF-8");
	t = cmp_node(&a, "a", "1");
	t->value->kind = RULE_VALUE_FIELD;
	ok(!rule_validate(t, &err), "validate refuses a bare column outside a filter");
	t = cmp_node(&a, "a", "1");
	t->args[0].kind = RULE_LIT_MOMENT;
	t->args[0].moment.kind = RULE_MOMENT_AGO;
	t->args[0].moment.count = 5000000;
	ok(!rule_validate(t, &err) && err.kind == RULE_ERR_LIMIT,
	   "validate refuses a count over the limit");
	rule_arena_destroy(&a);
}

/* ---------- binary form ---------- */

static void
test_serial_format(void)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *r;
	uint8_t    *b;
	size_t		len;
	static const uint8_t seg[] = {1, RULE_IN_SEGMENT, 1, 'x'};
	static const uint8_t snap[] = {1, 16, 2, 'x', 'y'};
	static const uint8_t notin[] = {1, RULE_TAG_IN | 0x80, 1, 'g', 1, 1, 'v'};

	rule_arena_init_malloc(&a);
	r = parse(&a, "IN SEGMENT 'x'", &err);
	b = rule_serialize(r, &a, &len);
	ok(len == sizeof(seg) && memcmp(b, seg, len) == 0, "IN SEGMENT 'x' encodes as 01 0d 01 78");
	r = parse(&a, "IN SNAPSHOT 'xy'", &err);
	b = rule_serialize(r, &a, &len);
	ok(RULE_IN_SNAPSHOT == 16 && len == sizeof(snap) && memcmp(b, snap, len) == 0,
	   "IN SNAPSHOT 'xy' encodes as 01 10 02 78 79 (kind 16, appended)");
	r = rule_deserialize(snap, sizeof(snap), &a, &err);
	ok(r != NULL && r->kind == RULE_IN_SNAPSHOT && strcmp(r->name, "xy") == 0, "kind 16 decodes as IN SNAPSHOT");
	r = parse(&a, "TAG 'g' NOT IN ('v')", &err);
	b = rule_serialize(r, &a, &len);
	ok(len == sizeof(notin) && memcmp(b, notin, len) == 0, "negation is the high bit of the kind");
	rule_arena_destroy(&a);
}

/* Deserializes bytes, expecting a refusal with the given detail prefix. */
static void
expect_corrupt(const uint8_t *bytes, size_t len, const char *detail,
			   const char *what)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *r;
	bool		good;

	rule_arena_init_malloc(&a);
	r = rule_deserialize(bytes, len, &a, &err);
	good = r == NULL && err.kind == RULE_ERR_CORRUPT &&
		strcmp(err.message, "invalid segment_rule binary data") == 0 &&
		strncmp(err.detail, detail, strlen(detail)) == 0;
	ok(good, "deserialize refuses %s", what);
	if (!good)
		printf("#   got kind %d: %s / %s\n", err.kind, err.message, err.detail);
	rule_arena_destroy(&a);
}

static void
test_serial_garbage(void)
{
	static const uint8_t version2[] = {2, RULE_IN_SEGMENT, 1, 'x'};
	static const uint8_t trailing[] = {1, RULE_IN_SEGMENT, 1, 'x', 0};
	static const uint8_t truncated[] = {1, RULE_IN_SEGMENT, 5, 'x'};
	static const uint8_t longvarint[] = {1, RULE_IN_SEGMENT, 0x81, 0x00, 'x'};
	static const uint8_t kind99[] = {1, 99};
	static const uint8_t negcmp[] = {1, RULE_CMP | 0x80, 1, 1, 'a', 0, 2, 1, '1'};
	static const uint8_t nul[] = {1, RULE_IN_SEGMENT, 2, 'x', 0};
	static const uint8_t onechild[] = {1, RULE_AND, 1, RULE_IN_SEGMENT, 1, 'x'};
	static const uint8_t andand[] = {1, RULE_AND, 2, RULE_AND, 2,
		RULE_IN_SEGMENT, 1, 'x', RULE_IN_SEGMENT, 1, 'y', RULE_IN_SEGMENT, 1, 'z'};
	static const uint8_t bigcount[] = {1, RULE_AND, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F};
	static const uint8_t badbool[] = {1, RULE_CMP, 1, 1, 'a', 0, 3, 2};
	static const uint8_t field_top[] = {1, RULE_CMP, 3, 1, 'a', 0, 2, 1, '1'};
	static const uint8_t badnum[] = {1, RULE_CMP, 1, 1, 'a', 0, 2, 2, '1', 'x'};
	static const uint8_t pastbad[] = {1, RULE_DURING, 1, 1, 'a', RULE_WINDOW_PAST, 3, 1, RULE_UNIT_DAY};
	static const uint8_t baddate[] = {1, RULE_DURING, 1, 1, 'a', RULE_WINDOW_SINCE,
		RULE_MOMENT_DATETIME, 10, '2', '0', '2', '4', '-', '0', '2', '-', '3', '0'};
	uint8_t		deep[2 + 2 * 300];
	int			i;

	expect_corrupt(NULL, 0, "Empty data", "empty data");
	expect_corrupt(version2, sizeof(version2), "Unknown format version", "another version");
	expect_corrupt(trailing, sizeof(trailing), "Trailing bytes", "trailing bytes");
	expect_corrupt(truncated, sizeof(truncated), "String longer than the data", "a short string");
	expect_corrupt(longvarint, sizeof(longvarint), "Number not in shortest form", "a padded varint");
	expect_corrupt(kind99, sizeof(kind99), "Unknown node kind", "an unknown kind");
	expect_corrupt(negcmp, sizeof(negcmp), "Unknown node kind", "a negated comparison");
	expect_corrupt(nul, sizeof(nul), "String contains a NUL byte", "a NUL in a string");
	expect_corrupt(onechild, sizeof(onechild), "Boolean node with fewer than two operands", "AND of one");
	expect_corrupt(andand, sizeof(andand), "An AND or OR node has an operand of its own kind.", "AND inside AND");
	expect_corrupt(bigcount, sizeof(bigcount), "Count larger than the data", "a huge count");
	expect_corrupt(badbool, sizeof(badbool), "Invalid boolean", "a boolean byte of 2");
	expect_corrupt(field_top, sizeof(field_top), "A value kind is unknown or misplaced.", "a filter column at the top");
	expect_corrupt(badnum, sizeof(badnum), "A number literal is malformed.", "a malformed number");
	expect_corrupt(pastbad, sizeof(pastbad), "PAST 3 TO 1 day", "PAST 3 TO 1");
	expect_corrupt(baddate, sizeof(baddate), "Invalid date literal", "2024-02-30");
	deep[0] = 1;
	for (i = 0; i < 300; i++)
		deep[1 + i] = RULE_NOT;
	deep[301] = RULE_IN_SEGMENT;
	expect_corrupt(deep, 302, "Tree too deep", "300 nested NOTs");
	for (i = 0; i < 80; i++)
		deep[1 + i] = RULE_NOT;
	deep[81] = RULE_IN_SEGMENT;
	deep[82] = 1;
	deep[83] = 'x';
	expect_corrupt(deep, 84, "Rule nesting exceeds the maximum depth of 64", "80 nested NOTs");
}

/* Every prefix and every single-byte change of a real rule's bytes. */
static void
test_serial_mutations(void)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *r;
	uint8_t    *b;
	uint8_t    *m;
	size_t		len,
				i;
	int			bad_prefix = 0,
				crash_free = 1,
				accepted = 0,
				recanonical = 0;

	rule_arena_init_malloc(&a);
	r = parse(&a, scenarios[9].input, &err);
	b = rule_serialize(r, &a, &len);
	m = malloc(len);
	for (i = 0; i < len; i++)
	{
		RuleArena	t;

		rule_arena_init_malloc(&t);
		if (rule_deserialize(b, i, &t, &err) != NULL)
			bad_prefix++;
		rule_arena_destroy(&t);
	}
	ok(bad_prefix == 0, "no proper prefix of a rule's bytes deserializes");
	for (i = 0; i < len; i++)
	{
		int			v;

		for (v = 0; v < 256; v += 7)
		{
			RuleArena	t;
			RuleNode   *d;

			memcpy(m, b, len);
			m[i] = (uint8_t) v;
			rule_arena_init_malloc(&t);
			d = rule_deserialize(m, len, &t, &err);
			if (d != NULL)
			{
				size_t		l2;
				uint8_t    *b2 = rule_serialize(d, &t, &l2);

				accepted++;
				if (l2 == len && memcmp(b2, m, len) == 0 &&
					roundtrip_failure(d) == NULL)
					recanonical++;
			}
			else if (err.kind != RULE_ERR_CORRUPT)
				crash_free = 0;
			rule_arena_destroy(&t);
		}
	}
	ok(crash_free, "mutated bytes fail only as corrupt data");
	ok(accepted == recanonical,
	   "every accepted mutation is canonical and round trips (%d of %d)",
	   recanonical, accepted);
	free(m);
	rule_arena_destroy(&a);
}

/* ---------- windows on their own ---------- */

static void
test_parse_window(void)
{
	RuleArena	a;
	RuleError	err;
	RuleWindow *w;
	char	   *text;

	rule_arena_init_malloc(&a);
	w = rule_parse_window("LAST 3 Days", 11, &a, &err);
	text = w ? rule_print_window(w, &a, NULL) : NULL;
	ok(w && w->kind == RULE_WINDOW_LAST && w->n == 3 && w->unit == RULE_UNIT_DAY &&
	   strcmp(text, "last 3 days") == 0, "rule_parse_window: LAST 3 Days");
	w = rule_parse_window("PAST 0 TO 1 days", 16, &a, &err);
	ok(w && w->kind == RULE_WINDOW_PAST && w->n == 0 && w->m == 1,
	   "rule_parse_window: PAST 0 TO 1 days");
	w = rule_parse_window("last 3 days x", 13, &a, &err);
	ok(w == NULL && error_is(&err, RULE_ERR_SYNTAX, 13, "syntax error at or near \"x\""),
	   "rule_parse_window refuses trailing text");
	w = rule_parse_window("", 0, &a, &err);
	ok(w == NULL && error_is(&err, RULE_ERR_SYNTAX, 1, "syntax error at end of input"),
	   "rule_parse_window refuses empty text");
	rule_arena_destroy(&a);
}

/* ---------- out of memory ---------- */

typedef struct FailAlloc
{
	int			left;			/* allocations before failing */
} FailAlloc;

static void *
failing_alloc(void *ctx, size_t size)
{
	FailAlloc  *f = ctx;

	if (f->left-- <= 0)
		return NULL;
	return malloc(size);
}

static void
plain_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

/* Makes a big rule need many arena blocks, then fails each in turn. */
static void
test_out_of_memory(void)
{
	char	   *s = malloc(40000);
	size_t		len = 0;
	int			i,
				clean = 1,
				succeeded = 0;

	for (i = 0; i < 300; i++)
		len += sprintf(s + len, "%sEXISTS orders%d WHERE status = 'paid' AND amount > %d DURING LAST %d days",
					   i ? " OR " : "", i, i, i);
	for (i = 0; i < 400 && !succeeded; i++)
	{
		RuleArena	a;
		RuleError	err;
		FailAlloc	f = {i};
		RuleNode   *r;

		rule_arena_init(&a, failing_alloc, plain_free, &f);
		r = rule_parse(s, len, &a, &err);
		if (r != NULL)
		{
			size_t		blen;
			uint8_t    *b = NULL;

			/* the failure may also hit printing or serializing */
			while (b == NULL)
			{
				b = rule_serialize(r, &a, &blen);
				if (b == NULL)
					f.left = 1000;
			}
			f.left = 0;
			if (rule_deserialize(b, blen, &a, &err) != NULL ||
				err.kind != RULE_ERR_OUT_OF_MEMORY)
				clean = 0;
			succeeded = 1;
		}
		else if (err.kind != RULE_ERR_OUT_OF_MEMORY)
			clean = 0;
		rule_arena_destroy(&a);
	}
	ok(clean && succeeded, "allocation failures report out of memory (%d tries)", i);
	free(s);
}

/* Rules that may complement read the customer table too. */
static void
test_may_complement(void)
{
	static const RuleCase cases[] = {
		{"EXISTS orders", false},
		{"EXISTS orders WHERE status = 'paid' DURING LAST 30 days", false},
		{"NOT EXISTS orders", true},
		{"EXISTS orders AND NOT EXISTS refunds", true},
		{"count(orders) >= 1", true},	/* judged on the tree: may */
		{"sum(orders.amount WHERE status = 'paid') < 300", true},
		{"customer.city = '上海'", false},
		{"customer.city = '上海' OR max(orders.paid_at) IS NULL", true},
		{"TAG 'tier' IN ('high')", false},
		{"TAG 'tier' NOT IN ('high')", true},
		{"TAG 'tier' IS EMPTY", true},
		{"TAG 'tier' IS NOT EMPTY", false},
		{"IN SEGMENT 'vip' AND EXISTS orders", false},
		{"IN SNAPSHOT 'sent' AND EXISTS orders", false},
		{"NOT IN SNAPSHOT 'sent'", true},
		{"(EXISTS orders OR IN SEGMENT 'vip') AND customer.age > 30", false},
	};
	check_rule_cases(cases, sizeof(cases) / sizeof(cases[0]), rule_may_complement, "may complement", "does not complement");
}

int
main(void)
{
	test_scenarios();
	test_canonical();
	test_bad_inputs();
	test_error_texts();
	test_limit_nesting();
	test_limit_length();
	test_limit_in_list();
	test_tree_shape();
	test_refs();
	test_validate();
	test_serial_format();
	test_serial_garbage();
	test_serial_mutations();
	test_parse_window();
	test_out_of_memory();
	test_may_complement();
	return tap_done();
}
