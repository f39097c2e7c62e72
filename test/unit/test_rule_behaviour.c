/*
 * test_rule_behaviour.c
 *		Unit tests of the behavioural conditions in the language core (issue
 *		15): sequences (THEN [NOT] EXISTS ... WITHIN, prev.column), the
 *		first/last/mode/active_* aggregates and TOP / BOTTOM ranks.  Every
 *		good rule round-trips through text, the binary form and JSON; every
 *		bad one is refused with its message, position and hint; bytes written
 *		before these constructs existed still read.  TAP.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_ast.h"
#include "rule_json.h"
#include "rule_parser.h"
#include "rule_print.h"
#include "rule_serial.h"
#include "tap.h"
#include "rule_cases.h"

typedef struct Good
{
	const char *input;
	const char *canonical;
} Good;

/* The scenarios and every form of each construct. */
static const Good goods[] = {
	/* sequences */
	{"EXISTS messages WHERE kind = 'clicked' AND button = 'coupon' DURING PREVIOUS week THEN NOT EXISTS orders WHERE status = 'paid'",
	"exists messages where kind = 'clicked' and button = 'coupon' during previous week then not exists orders where status = 'paid'"},
	{"EXISTS page_views WHERE page = 'product' DURING LAST 7 days THEN NOT EXISTS order_lines WHERE sku = prev.sku WITHIN 2 days",
	"exists page_views where page = 'product' during last 7 days then not exists order_lines where sku = prev.sku within 2 days"},
	{"EXISTS cart_events WHERE kind = 'add' THEN EXISTS orders WHERE status = 'paid' WITHIN 1 hour",
	"exists cart_events where kind = 'add' then exists orders where status = 'paid' within 1 hour"},
	{"EXISTS a THEN EXISTS b THEN NOT EXISTS c THEN EXISTS d WITHIN 30 Minutes",
	"exists a then exists b then not exists c then exists d within 30 minutes"},
	{"exists a then exists b within 1 days", "exists a then exists b within 1 day"},
	{"exists a then exists b within 007 weeks", "exists a then exists b within 7 weeks"},
	{"exists a then exists b within 1000000 years", "exists a then exists b within 1000000 years"},
	{"EXISTS a THEN EXISTS b WHERE x >= prev.y AND z < prev.\"Z\" OR w <> prev.w",
	"exists a then exists b where x >= prev.y and z < prev.\"Z\" or w <> prev.w"},
	{"EXISTS a THEN NOT EXISTS b WHERE x = prev.x THEN EXISTS c WHERE y = prev.y",
	"exists a then not exists b where x = prev.x then exists c where y = prev.y"},
	{"NOT EXISTS a THEN EXISTS b", "not exists a then exists b"},
	{"EXISTS a THEN EXISTS b AND EXISTS c THEN NOT EXISTS d OR customer.x = 1",
	"exists a then exists b and exists c then not exists d or customer.x = 1"},
	{"(EXISTS a THEN EXISTS b WITHIN 3 days) AND customer.age > 3",
	"exists a then exists b within 3 days and customer.age > 3"},
	{"NOT (EXISTS a THEN EXISTS b OR IN SEGMENT 'x')",
	"not (exists a then exists b or in segment 'x')"},
	{"EXISTS a WHERE x = 1 OR y = 2 THEN EXISTS b WHERE x = 1 AND NOT (y = prev.y OR z IS NULL) DURING LAST 3 days WITHIN 2 hours",
	"exists a where x = 1 or y = 2 then exists b where x = 1 and not (y = prev.y or z is null) during last 3 days within 2 hours"},
	{"EXISTS a WHERE t > 3 days ago THEN EXISTS b WHERE t < now WITHIN 5 days",
	"exists a where t > 3 days ago then exists b where t < now within 5 days"},
	/* then, within, prev, top, ... stay usable as names */
	{"EXISTS then WHERE within = 1 THEN EXISTS within WHERE then = prev.within",
	"exists then where within = 1 then exists within where then = prev.within"},
	{"EXISTS prev WHERE prev.x = 1 THEN EXISTS prev WHERE x = prev.prev",
	"exists prev where x = 1 then exists prev where x = prev.prev"},
	{"customer.top IN (1) AND customer.percent = 2 AND customer.among > 3 AND customer.bottom < 4",
	"customer.top in (1) and customer.percent = 2 and customer.among > 3 and customer.bottom < 4"},
	{"EXISTS o WHERE first = 1 AND mode = 2 AND active_days = 3",
	"exists o where first = 1 and mode = 2 and active_days = 3"},
	/* first, last, mode, active_* */
	{"first(orders.channel) = 'store' AND last(orders.paid_at) < 30 days ago",
	"first(orders.channel) = 'store' and last(orders.paid_at) < 30 days ago"},
	{"MODE(order_lines.sku WHERE qty > 0 DURING LAST 1 year) IN ('A', 'B')",
	"mode(order_lines.sku where qty > 0 during last 1 year) in ('A', 'B')"},
	{"first(orders.channel WHERE status = 'paid') IS NULL OR last(orders.channel) LIKE 's%'",
	"first(orders.channel where status = 'paid') is null or last(orders.channel) like 's%'"},
	{"active_days(page_views DURING LAST 30 days) >= 3",
	"active_days(page_views during last 30 days) >= 3"},
	{"active_weeks(orders WHERE status = 'paid') BETWEEN 2 AND 4 AND active_months(orders) = 0",
	"active_weeks(orders where status = 'paid') between 2 and 4 and active_months(orders) = 0"},
	{"EXISTS o WHERE a = 1 AND last(orders.x) = 'y'",
	"exists o where a = 1 and last(orders.x) = 'y'"},
	{"customer.last >= 1 AND last(last.last) = 1",
	"customer.last >= 1 and last(last.last) = 1"},
	/* ranks */
	{"sum(orders.amount WHERE status = 'paid' DURING LAST 365 days) IN TOP 10 PERCENT AND NOT EXISTS orders DURING LAST 7 days",
	"sum(orders.amount where status = 'paid' during last 365 days) in top 10 percent and not exists orders during last 7 days"},
	{"customer.age IN TOP 100", "customer.age in top 100"},
	{"customer.age NOT IN BOTTOM 20 PERCENT", "customer.age not in bottom 20 percent"},
	{"count(orders) IN BOTTOM 0.5 Percent AMONG SEGMENT 'VIP 客户'",
	"count(orders) in bottom 0.5 percent among segment 'VIP 客户'"},
	{"avg(orders.amount) IN TOP 1000000000 AMONG SEGMENT 'it''s'",
	"avg(orders.amount) in top 1000000000 among segment 'it''s'"},
	{"customer.x IN TOP 100 PERCENT OR customer.x IN TOP 100.000 PERCENT OR customer.x IN TOP 007",
	"customer.x in top 100 percent or customer.x in top 100.000 percent or customer.x in top 007"},
	{"active_days(pv) IN TOP 0.001 PERCENT", "active_days(pv) in top 0.001 percent"},
	{"NOT first(orders.channel) IN TOP 5", "not first(orders.channel) in top 5"},
};

typedef struct Bad
{
	const char *input;
	int			kind;
	int			position;
	const char *message;
	const char *hint;			/* prefix, or NULL for any */
} Bad;

static const Bad bads[] = {
	/* sequences */
	{"EXISTS a WITHIN 2 days", RULE_ERR_SYNTAX, 10, "WITHIN needs a sequence: EXISTS ... THEN EXISTS ...", "WITHIN ends a sequence"},
	{"EXISTS a THEN EXISTS b WITHIN 0 days", RULE_ERR_INVALID_LITERAL, 31, "WITHIN needs a count of at least 1", "WITHIN n unit bounds"},
	{"EXISTS a THEN EXISTS b WITHIN 1000001 days", RULE_ERR_LIMIT, 31, "time count 1000001 exceeds the maximum of 1000000", NULL},
	{"EXISTS a THEN EXISTS b WITHIN 2.5 days", RULE_ERR_INVALID_LITERAL, 31, "invalid time count \"2.5\"", NULL},
	{"EXISTS a THEN EXISTS b WITHIN 2 fortnights", RULE_ERR_INVALID_LITERAL, 33, "unknown time unit \"fortnights\"", "Units are"},
	{"EXISTS a THEN EXISTS b WITHIN 2", RULE_ERR_SYNTAX, 32, "syntax error at end of input", NULL},
	{"EXISTS a THEN EXISTS b WITHIN 2 days WITHIN 3 days", RULE_ERR_SYNTAX, 38, "syntax error at or near \"WITHIN\"", "WITHIN ends a sequence"},
	{"EXISTS a THEN customer.x = 1", RULE_ERR_SYNTAX, 15, "syntax error at or near \"customer\"", "THEN is followed by [NOT] EXISTS"},
	{"EXISTS a THEN NOT NOT EXISTS b", RULE_ERR_SYNTAX, 19, "syntax error at or near \"NOT\"", "THEN is followed by [NOT] EXISTS"},
	{"EXISTS a THEN", RULE_ERR_SYNTAX, 14, "syntax error at end of input", "THEN is followed by [NOT] EXISTS"},
	{"EXISTS a THEN (EXISTS b)", RULE_ERR_SYNTAX, 15, "syntax error at or near \"(\"", "THEN is followed by [NOT] EXISTS"},
	{"(EXISTS a) THEN EXISTS b", RULE_ERR_SYNTAX, 12, "syntax error at or near \"THEN\"", "THEN joins EXISTS conditions"},
	{"customer.x = 1 THEN EXISTS b", RULE_ERR_SYNTAX, 16, "syntax error at or near \"THEN\"", "THEN joins EXISTS conditions"},
	{"count(orders) > 1 WITHIN 2 days", RULE_ERR_SYNTAX, 19, "syntax error at or near \"WITHIN\"", "WITHIN ends a sequence"},
	{"EXISTS a THEN EXISTS b DURING LAST 3 days DURING LAST 2 days", RULE_ERR_SYNTAX, 43, "syntax error at or near \"DURING\"", NULL},
	/* prev.column */
	{"EXISTS a WHERE x = prev.y", RULE_ERR_SYNTAX, 20, "prev.y can only be used in the filter of a later step of a sequence", "prev.column reads the event"},
	{"EXISTS a WHERE x = prev.y THEN EXISTS b", RULE_ERR_SYNTAX, 20, "prev.y can only be used in the filter of a later step of a sequence", "prev.column reads the event"},
	{"count(o WHERE x = prev.y) > 1", RULE_ERR_SYNTAX, 19, "prev.y can only be used in the filter of a later step of a sequence", NULL},
	{"EXISTS a THEN EXISTS b AND count(o WHERE x = prev.y) > 1", RULE_ERR_SYNTAX, 46, "prev.y can only be used in the filter of a later step of a sequence", NULL},
	{"customer.x = prev.y", RULE_ERR_SYNTAX, 14, "prev.y can only be used in the filter of a later step of a sequence", NULL},
	{"EXISTS a THEN EXISTS b WHERE prev.x = 1", RULE_ERR_SYNTAX, 30, "prev.x must be on the right side of a comparison", "Write column = prev.column."},
	{"EXISTS a THEN EXISTS b WHERE x IN (prev.x)", RULE_ERR_SYNTAX, 36, "prev.x can only be compared with =, <>, <, <=, > or >=", "prev.column reads the event"},
	{"EXISTS a THEN EXISTS b WHERE x BETWEEN prev.x AND 3", RULE_ERR_SYNTAX, 40, "prev.x can only be compared with =, <>, <, <=, > or >=", NULL},
	{"EXISTS a THEN EXISTS b WHERE x LIKE prev.x", RULE_ERR_SYNTAX, 37, "syntax error at or near \"prev\"", NULL},
	{"EXISTS a THEN EXISTS b WHERE x = prev.", RULE_ERR_SYNTAX, 39, "syntax error at end of input", NULL},
	{"EXISTS a THEN EXISTS b WHERE x = prev.and", RULE_ERR_SYNTAX, 39, "syntax error at or near \"and\"", NULL},
	/* aggregates */
	{"first(orders) = 'x'", RULE_ERR_SYNTAX, 7, "first() requires a column", "Write first(source.column)"},
	{"last(orders) < now", RULE_ERR_SYNTAX, 6, "last() requires a column", NULL},
	{"mode(orders WHERE x = 1) = 'a'", RULE_ERR_SYNTAX, 6, "mode() requires a column", NULL},
	{"active_days(page_views.viewed_at) > 1", RULE_ERR_SYNTAX, 24, "active_days() takes a source, not a column",
	"Write active_days(source [WHERE filter] [DURING window]): it counts the distinct days with a matching event."},
	{"active_weeks(o.x) > 1", RULE_ERR_SYNTAX, 16, "active_weeks() takes a source, not a column", "Write active_weeks(source [WHERE filter] [DURING window]): it counts the distinct weeks"},
	{"active_months(o.x) > 1", RULE_ERR_SYNTAX, 17, "active_months() takes a source, not a column", NULL},
	{"first(orders.paid_at) DURING LAST 3 days", RULE_ERR_SYNTAX, 23, "DURING cannot be applied to first()", "Put the window inside the aggregate, as in first(source.column DURING LAST 30 days)."},
	{"active_days(o) DURING LAST 3 days", RULE_ERR_SYNTAX, 16, "DURING cannot be applied to active_days()", "Put the window inside the aggregate, as in active_days(source DURING LAST 30 days)."},
	/* ranks */
	{"customer.x IN TOP 0", RULE_ERR_INVALID_LITERAL, 19, "TOP 0 selects no customers", NULL},
	{"customer.x IN TOP 0.0 PERCENT", RULE_ERR_INVALID_LITERAL, 19, "TOP 0.0 PERCENT selects no customers", NULL},
	{"customer.x IN BOTTOM 2.5", RULE_ERR_INVALID_LITERAL, 22, "invalid BOTTOM size \"2.5\"", NULL},
	{"customer.x IN TOP -5", RULE_ERR_INVALID_LITERAL, 19, "invalid TOP size \"-5\"", NULL},
	{"customer.x IN TOP 1e3", RULE_ERR_INVALID_LITERAL, 19, "invalid TOP size \"1e3\"", NULL},
	{"customer.x IN TOP .5 PERCENT", RULE_ERR_INVALID_LITERAL, 19, "invalid TOP size \".5\"", NULL},
	{"customer.x IN TOP 150 PERCENT", RULE_ERR_INVALID_LITERAL, 19, "TOP 150 PERCENT: a percentage must not exceed 100", NULL},
	{"customer.x IN TOP 100.01 PERCENT", RULE_ERR_INVALID_LITERAL, 19, "TOP 100.01 PERCENT: a percentage must not exceed 100", NULL},
	{"customer.x IN TOP 1000000001", RULE_ERR_LIMIT, 19, "TOP 1000000001 exceeds the maximum of 1000000000 customers", "Use TOP n PERCENT"},
	{"customer.x IN BOTTOM 99999999999999999999999", RULE_ERR_LIMIT, 22, "BOTTOM 99999999999999999999999 exceeds the maximum of 1000000000 customers", NULL},
	{"customer.x IN TOP ten", RULE_ERR_SYNTAX, 19, "syntax error at or near \"ten\"", "TOP and BOTTOM take a number"},
	{"customer.x IN TOP", RULE_ERR_SYNTAX, 18, "syntax error at end of input", "TOP and BOTTOM take a number"},
	{"customer.x IN TOP 10 AMONG 'vip'", RULE_ERR_SYNTAX, 28, "syntax error at or near \"'vip'\"", NULL},
	{"customer.x IN TOP 10 AMONG SEGMENT vip", RULE_ERR_SYNTAX, 36, "syntax error at or near \"vip\"", NULL},
	{"customer.x IN TOP 10 PERCENT PERCENT", RULE_ERR_SYNTAX, 30, "syntax error at or near \"PERCENT\"", NULL},
	{"EXISTS o WHERE amount IN TOP 10", RULE_ERR_SYNTAX, 26, "TOP cannot be used in a filter", "TOP and BOTTOM rank customers"},
	{"count(o WHERE amount NOT IN BOTTOM 10) > 1", RULE_ERR_SYNTAX, 29, "BOTTOM cannot be used in a filter", NULL},
	{"customer.x IS NOT IN TOP 3", RULE_ERR_SYNTAX, 19, "syntax error at or near \"IN\"", NULL},
};

/* ---------- helpers ---------- */

static RuleNode *
parse(RuleArena *a, const char *text, RuleError *err)
{
	return rule_parse(text, strlen(text), a, err);
}

/*
 * Text, binary and JSON round trips of a parsed rule; NULL when they all
 * hold, else what failed.
 */
static const char *
roundtrip_failure(const RuleNode *rule)
{
	RuleArena	a;
	RuleError	err;
	const char *why = NULL;
	char	   *text,
			   *json,
			   *json2;
	RuleNode   *again,
			   *back,
			   *fromjson;
	uint8_t    *bytes,
			   *bytes2;
	size_t		len,
				len2;

	rule_arena_init_malloc(&a);
	text = rule_print(rule, &a, NULL);
	bytes = rule_serialize(rule, &a, &len);
	json = rule_to_json(rule, &a, NULL);
	if ((again = parse(&a, text, &err)) == NULL)
		why = "canonical text does not parse";
	else if (strcmp(text, rule_print(again, &a, NULL)) != 0)
		why = "printing is not idempotent";
	else if (!rule_equal(rule, again))
		why = "reparsed tree differs";
	else if (!rule_validate(rule, &err))
		why = "tree does not validate";
	else if (len != rule_serialized_size(rule))
		why = "serialized size disagrees";
	else if ((back = rule_deserialize(bytes, len, &a, &err)) == NULL)
		why = "binary form does not deserialize";
	else if (!rule_equal(rule, back))
		why = "deserialized tree differs";
	else if ((bytes2 = rule_serialize(back, &a, &len2)) == NULL ||
			 len2 != len || memcmp(bytes, bytes2, len) != 0)
		why = "reserialized bytes differ";
	else if (len > strlen(text) + 8)
		why = "binary form longer than the text";
	else if ((fromjson = rule_from_json(json, strlen(json), &a, &err)) == NULL)
		why = "JSON does not read back";
	else if (!rule_equal(rule, fromjson))
		why = "tree from JSON differs";
	else if (strcmp(json, json2 = rule_to_json(fromjson, &a, NULL)) != 0)
		why = "JSON is not stable";
	if (why != NULL)
		printf("#   %s\n#   json %s\n#   (%s)\n", text, json, err.message);
	rule_arena_destroy(&a);
	return why;
}

static bool
error_is(const RuleError *err, int kind, int position, const char *message)
{
	return err->kind == kind && err->position == position &&
		strcmp(err->message, message) == 0;
}

/* ---------- good and bad text ---------- */

static void
test_goods(void)
{
	size_t		i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++)
	{
		RuleArena	a;
		RuleError	err;
		RuleNode   *rule;
		char	   *text = NULL;
		const char *why = "does not parse";

		rule_arena_init_malloc(&a);
		rule = parse(&a, goods[i].input, &err);
		if (rule != NULL)
		{
			text = rule_print(rule, &a, NULL);
			why = strcmp(text, goods[i].canonical) != 0 ? "wrong text" :
				roundtrip_failure(rule);
		}
		ok(why == NULL, "good: %s%s%s", goods[i].canonical, why ? ": " : "",
		   why ? why : "");
		if (why != NULL)
			printf("#   got %s\n#   (%s)\n", text ? text : "(null)", err.message);
		rule_arena_destroy(&a);
	}
}

static void
test_bads(void)
{
	size_t		i;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
	{
		const Bad  *b = &bads[i];
		RuleArena	a;
		RuleError	err;
		RuleNode   *rule;
		bool		good;

		rule_arena_init_malloc(&a);
		rule = parse(&a, b->input, &err);
		good = rule == NULL && error_is(&err, b->kind, b->position, b->message) &&
			(b->hint == NULL || strncmp(err.hint, b->hint, strlen(b->hint)) == 0);
		ok(good, "rejects %s: %s", b->input, b->message);
		if (!good)
			printf("#   got kind %d position %d: %s / hint %s\n", err.kind,
				   err.position, err.message, err.hint);
		rule_arena_destroy(&a);
	}
}

/* The rank detail says what sizes are allowed. */
static void
test_error_details(void)
{
	RuleArena	a;
	RuleError	err;

	rule_arena_init_malloc(&a);
	parse(&a, "customer.x IN TOP 2.5", &err);
	ok(strcmp(err.detail, "TOP and BOTTOM take a whole number of customers from 1 to 1000000000, or a percentage above 0 and at most 100 followed by PERCENT, such as 0.5 PERCENT.") == 0,
	   "a bad rank size has a detail");
	rule_arena_destroy(&a);
}

/* ---------- limits ---------- */

static char *
sequence_of(int steps)
{
	char	   *s = malloc(32 * (size_t) steps + 32);
	int			i,
				len = 0;

	for (i = 0; i < steps; i++)
		len += sprintf(s + len, "%sEXISTS s%d", i ? " THEN " : "", i);
	return s;
}

static void
test_limits(void)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *r;
	char	   *s;

	rule_arena_init_malloc(&a);
	s = sequence_of(RULE_MAX_SEQUENCE_STEPS);
	r = parse(&a, s, &err);
	ok(r != NULL && r->kind == RULE_SEQUENCE &&
	   r->nchildren == RULE_MAX_SEQUENCE_STEPS && roundtrip_failure(r) == NULL,
	   "a sequence of 16 steps parses and round trips");
	free(s);
	s = sequence_of(RULE_MAX_SEQUENCE_STEPS + 1);
	r = parse(&a, s, &err);
	/* "EXISTS s0" + 15 * " THEN EXISTS sN" (15 or 16 bytes) then the 16th THEN */
	ok(r == NULL && err.kind == RULE_ERR_LIMIT &&
	   strcmp(err.message, "sequence exceeds the maximum of 16 steps") == 0 &&
	   err.position == (int) (strstr(s, " THEN EXISTS s16") - s) + 2,
	   "a sequence of 17 steps is refused at the 16th THEN");
	free(s);

	/* each step's WHERE counts towards the nesting limit */
	{
		char		buf[4096];
		int			len = 0,
					i;

		len += sprintf(buf + len, "EXISTS a WHERE ");
		for (i = 0; i < 62; i++)
			len += sprintf(buf + len, "NOT ");
		len += sprintf(buf + len, "x = 1 THEN EXISTS b WHERE y = prev.x");
		ok(parse(&a, buf, &err) != NULL, "WHERE + 62 NOTs in a step (depth 63) parse");
		len = sprintf(buf, "NOT EXISTS a WHERE ");
		for (i = 0; i < 63; i++)
			len += sprintf(buf + len, "NOT ");
		len += sprintf(buf + len, "x = 1 THEN EXISTS b");
		ok(parse(&a, buf, &err) == NULL && err.kind == RULE_ERR_LIMIT,
		   "NOT + WHERE + 63 NOTs in a step (depth 65) are refused");
	}
	rule_arena_destroy(&a);
}

/* ---------- the tree ---------- */

static void
test_tree_shape(void)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *r;

	rule_arena_init_malloc(&a);
	r = parse(&a, "EXISTS pv WHERE page = 'p' THEN NOT EXISTS ol WHERE sku = prev.sku THEN EXISTS o WITHIN 2 days", &err);
	ok(r && r->kind == RULE_SEQUENCE && r->nchildren == 3 &&
	   r->children[0]->kind == RULE_EXISTS && !r->children[0]->negated &&
	   r->children[1]->kind == RULE_EXISTS && r->children[1]->negated &&
	   !r->children[2]->negated && strcmp(r->children[2]->name, "o") == 0,
	   "a sequence holds its steps, THEN NOT as a negated step");
	ok(r && r->within && r->within->n == 2 && r->within->unit == RULE_UNIT_DAY,
	   "WITHIN is on the sequence");
	ok(r && r->children[1]->filter->kind == RULE_CMP &&
	   r->children[1]->filter->args[0].kind == RULE_LIT_PREV &&
	   strcmp(r->children[1]->filter->args[0].text, "sku") == 0,
	   "prev.sku is a PREV literal naming the column");
	r = parse(&a, "EXISTS a THEN EXISTS b", &err);
	ok(r && r->kind == RULE_SEQUENCE && r->within == NULL, "WITHIN is optional");
	r = parse(&a, "NOT EXISTS a THEN EXISTS b AND EXISTS c", &err);
	ok(r && r->kind == RULE_AND && r->children[0]->kind == RULE_NOT &&
	   r->children[0]->children[0]->kind == RULE_SEQUENCE &&
	   r->children[1]->kind == RULE_EXISTS,
	   "THEN binds tighter than NOT and AND");
	r = parse(&a, "EXISTS a WHERE x = 1 AND EXISTS b THEN EXISTS c", &err);
	ok(r && r->kind == RULE_AND && r->children[0]->kind == RULE_EXISTS &&
	   r->children[1]->kind == RULE_SEQUENCE, "a filter still ends before EXISTS");
	r = parse(&a, "sum(orders.amount) NOT IN BOTTOM 2.5 PERCENT AMONG SEGMENT 'vip'", &err);
	ok(r && r->kind == RULE_RANK && r->negated && r->rank && !r->rank->top &&
	   r->rank->percent && strcmp(r->rank->n, "2.5") == 0 &&
	   strcmp(r->name, "vip") == 0 && r->value->agg == RULE_AGG_SUM,
	   "a rank holds direction, size, percent and the AMONG segment");
	r = parse(&a, "customer.x IN TOP 3", &err);
	ok(r && r->kind == RULE_RANK && !r->negated && r->rank->top &&
	   !r->rank->percent && r->name == NULL, "AMONG and PERCENT are optional");
	r = parse(&a, "first(o.c) = 1 AND last(o.c) = 1 AND mode(o.c) = 1 AND active_days(o) = 1 AND active_weeks(o) = 1 AND active_months(o) = 1", &err);
	ok(r && r->nchildren == 6 &&
	   r->children[0]->value->agg == RULE_AGG_FIRST &&
	   r->children[1]->value->agg == RULE_AGG_LAST &&
	   r->children[2]->value->agg == RULE_AGG_MODE &&
	   r->children[3]->value->agg == RULE_AGG_ACTIVE_DAYS &&
	   r->children[3]->value->column == NULL &&
	   r->children[4]->value->agg == RULE_AGG_ACTIVE_WEEKS &&
	   r->children[5]->value->agg == RULE_AGG_ACTIVE_MONTHS,
	   "the new aggregates");
	ok(strcmp(rule_agg_name(RULE_AGG_ACTIVE_MONTHS), "active_months") == 0 &&
	   strcmp(rule_agg_name((RuleAggKind) 12), "?") == 0, "aggregate names");
	rule_arena_destroy(&a);
}

/* ---------- references ---------- */

typedef struct RefLog
{
	char		text[1024];
} RefLog;

static bool
log_ref(const RuleRef *ref, void *ctx)
{
	RefLog	   *log = ctx;
	static const char *const kinds[] = {"", "customer", "source", "column", "tag", "value", "segment"};
	size_t		len = strlen(log->text);

	snprintf(log->text + len, sizeof(log->text) - len, "%s:%s%s%s%s;",
			 kinds[ref->kind], ref->source ? ref->source : "",
			 ref->source && ref->column ? "." : "",
			 ref->column ? ref->column : "",
			 ref->name ? ref->name : "");
	return true;
}

static void
expect_refs(const char *rule, const char *expected)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *r;
	RefLog		log;

	rule_arena_init_malloc(&a);
	memset(&log, 0, sizeof(log));
	r = parse(&a, rule, &err);
	ok(r && rule_collect_refs(r, log_ref, &log) && strcmp(log.text, expected) == 0,
	   "references of %s", rule);
	if (r && strcmp(log.text, expected) != 0)
		printf("#   got %s\n", log.text);
	rule_arena_destroy(&a);
}

static void
test_refs(void)
{
	expect_refs("EXISTS pv WHERE page = 'p' THEN NOT EXISTS ol WHERE sku = prev.sku THEN EXISTS o WHERE a > prev.b AND c = 1",
				"source:pv;column:pv.page;source:ol;column:ol.sku;column:pv.sku;source:o;column:o.a;column:pv.b;column:o.c;");
	expect_refs("EXISTS a THEN EXISTS b THEN EXISTS c WHERE x = prev.y",
				"source:a;source:b;source:c;column:c.x;column:b.y;");
	expect_refs("sum(orders.amount WHERE status = 'paid') IN TOP 10 PERCENT AMONG SEGMENT 'vip'",
				"source:orders;column:orders.amount;column:orders.status;segment:vip;");
	expect_refs("customer.age NOT IN BOTTOM 3", "customer:age;");
	expect_refs("active_days(pv WHERE page = 'x') > 1 AND first(orders.channel) = 's'",
				"source:pv;column:pv.page;source:orders;column:orders.channel;");
}

static void
test_may_complement(void)
{
	static const RuleCase cases[] = {
		{"EXISTS a THEN EXISTS b", false},
		{"EXISTS a THEN NOT EXISTS b WITHIN 2 days", false},
		{"NOT (EXISTS a THEN EXISTS b)", true},
		{"EXISTS a THEN EXISTS b AND customer.x = 1", false},
		{"customer.x IN TOP 10", true},
		{"sum(orders.amount) IN TOP 10 PERCENT AMONG SEGMENT 'vip'", true},
		{"active_days(pv) >= 3", true},
		{"first(orders.channel) = 'store'", true},
	};

	check_rule_cases(cases, sizeof(cases) / sizeof(cases[0]), rule_may_complement,
					 "may complement", "does not complement");
}

/* ---------- hand-built trees ---------- */

static RuleNode *
exists_node(RuleArena *a, const char *source, bool negated)
{
	RuleNode   *n = rule_arena_alloc(a, sizeof(RuleNode));

	n->kind = RULE_EXISTS;
	n->name = source;
	n->negated = negated;
	return n;
}

static RuleNode *
sequence_node(RuleArena *a, RuleNode *x, RuleNode *y)
{
	RuleNode   *n = rule_arena_alloc(a, sizeof(RuleNode));

	n->kind = RULE_SEQUENCE;
	n->nchildren = 2;
	n->children = rule_arena_alloc(a, 2 * sizeof(RuleNode *));
	n->children[0] = x;
	n->children[1] = y;
	return n;
}

/* A step filter "col = prev.pcol" (pcol NULL: a number literal). */
static RuleNode *
prev_filter(RuleArena *a, const char *pcol)
{
	RuleNode   *f = rule_arena_alloc(a, sizeof(RuleNode));

	f->kind = RULE_CMP;
	f->op = RULE_OP_EQ;
	f->value = rule_arena_alloc(a, sizeof(RuleValue));
	f->value->kind = RULE_VALUE_FIELD;
	f->value->column = "col";
	f->nargs = 1;
	f->args = rule_arena_alloc(a, sizeof(RuleLiteral));
	f->args[0].kind = RULE_LIT_PREV;
	f->args[0].text = pcol;
	return f;
}

static void
expect_invalid(const RuleNode *t, int kind, const char *what)
{
	RuleError	err;

	ok(!rule_validate(t, &err) && err.kind == kind, "validate refuses %s", what);
	if (err.kind != kind)
		printf("#   got kind %d: %s / %s\n", err.kind, err.message, err.detail);
}

static void
test_validate(void)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *t,
			   *s;
	char		buf[256];

	rule_arena_init_malloc(&a);
	t = sequence_node(&a, exists_node(&a, "a", false), exists_node(&a, "b", true));
	ok(rule_validate(t, &err), "a hand-built sequence validates");
	rule_print_buf(t, buf, sizeof(buf));
	ok(strcmp(buf, "exists a then not exists b") == 0, "and prints");
	t = sequence_node(&a, exists_node(&a, "a", true), exists_node(&a, "b", false));
	expect_invalid(t, RULE_ERR_CORRUPT, "a negated first step");
	expect_invalid(exists_node(&a, "a", true), RULE_ERR_CORRUPT, "a negated EXISTS outside a sequence");
	t = sequence_node(&a, exists_node(&a, "a", false), exists_node(&a, "b", false));
	t->nchildren = 1;
	expect_invalid(t, RULE_ERR_CORRUPT, "a sequence of one step");
	t = sequence_node(&a, exists_node(&a, "a", false), exists_node(&a, "b", false));
	t->children[1]->kind = RULE_IN_SEGMENT;
	expect_invalid(t, RULE_ERR_CORRUPT, "a step that is not EXISTS");
	t = sequence_node(&a, exists_node(&a, "a", false), exists_node(&a, "b", false));
	t->within = rule_arena_alloc(&a, sizeof(RuleDuration));
	t->within->n = 0;
	expect_invalid(t, RULE_ERR_CORRUPT, "WITHIN 0");
	t->within->n = RULE_MAX_WINDOW_COUNT + 1;
	expect_invalid(t, RULE_ERR_LIMIT, "WITHIN over the limit");
	t->within->n = 3;
	t->within->unit = (RuleUnit) 9;
	expect_invalid(t, RULE_ERR_CORRUPT, "WITHIN with an unknown unit");

	/* prev.column only in later steps' comparisons */
	t = sequence_node(&a, exists_node(&a, "a", false), exists_node(&a, "b", false));
	t->children[1]->filter = prev_filter(&a, "x");
	ok(rule_validate(t, &err), "prev.x in step 2 validates");
	t->children[1]->filter->args[0].text = "";
	expect_invalid(t, RULE_ERR_CORRUPT, "prev with an empty column");
	t = sequence_node(&a, exists_node(&a, "a", false), exists_node(&a, "b", false));
	t->children[0]->filter = prev_filter(&a, "x");
	expect_invalid(t, RULE_ERR_CORRUPT, "prev.x in step 1");
	s = exists_node(&a, "a", false);
	s->filter = prev_filter(&a, "x");
	expect_invalid(s, RULE_ERR_CORRUPT, "prev.x outside a sequence");
	t = sequence_node(&a, exists_node(&a, "a", false), exists_node(&a, "b", false));
	t->children[1]->filter = prev_filter(&a, "x");
	t->children[1]->filter->kind = RULE_IN;
	expect_invalid(t, RULE_ERR_CORRUPT, "prev.x in an IN list");

	/* ranks */
	t = rule_arena_alloc(&a, sizeof(RuleNode));
	t->kind = RULE_RANK;
	t->value = rule_arena_alloc(&a, sizeof(RuleValue));
	t->value->kind = RULE_VALUE_CUSTOMER;
	t->value->column = "x";
	expect_invalid(t, RULE_ERR_CORRUPT, "a rank without a size");
	t->rank = rule_arena_alloc(&a, sizeof(RuleRank));
	t->rank->top = true;
	t->rank->n = "12";
	ok(rule_validate(t, &err), "a hand-built rank validates");
	t->rank->n = "1.5";
	expect_invalid(t, RULE_ERR_CORRUPT, "a fractional count");
	t->rank->percent = true;
	ok(rule_validate(t, &err), "a fractional percentage validates");
	t->rank->n = "101";
	expect_invalid(t, RULE_ERR_CORRUPT, "101 percent");
	t->rank->percent = false;
	t->rank->n = "1000000001";
	expect_invalid(t, RULE_ERR_LIMIT, "a count over the limit");
	t->rank->n = "0";
	expect_invalid(t, RULE_ERR_CORRUPT, "a count of 0");
	t->rank->n = "5";
	t->value->kind = RULE_VALUE_FIELD;
	expect_invalid(t, RULE_ERR_CORRUPT, "a rank of a filter column");
	t->value->kind = RULE_VALUE_AGG;
	t->value->agg = RULE_AGG_ACTIVE_DAYS;
	t->value->source = "pv";
	expect_invalid(t, RULE_ERR_CORRUPT, "active_days with a column");
	t->value->column = NULL;
	ok(rule_validate(t, &err), "active_days(pv) in top 5 validates");
	t->value->agg = RULE_AGG_MODE;
	expect_invalid(t, RULE_ERR_CORRUPT, "mode without a column");
	t->value->agg = (RuleAggKind) 12;
	t->value->column = "c";
	expect_invalid(t, RULE_ERR_CORRUPT, "an unknown aggregate");
	rule_arena_destroy(&a);
}

/* ---------- rank sizes ---------- */

static void
test_rank_sizes(void)
{
	static const struct
	{
		const char *n;
		bool		percent;
		RuleRankSize expected;
	}			cases[] = {
		{"1", false, RULE_RANK_SIZE_OK},
		{"1000000000", false, RULE_RANK_SIZE_OK},
		{"0001000000000", false, RULE_RANK_SIZE_OK},
		{"1000000001", false, RULE_RANK_SIZE_TOO_BIG},
		{"0", false, RULE_RANK_SIZE_ZERO},
		{"000", false, RULE_RANK_SIZE_ZERO},
		{"1.0", false, RULE_RANK_SIZE_SYNTAX},
		{"", false, RULE_RANK_SIZE_SYNTAX},
		{"1x", false, RULE_RANK_SIZE_SYNTAX},
		{"100", true, RULE_RANK_SIZE_OK},
		{"100.0000", true, RULE_RANK_SIZE_OK},
		{"100.0001", true, RULE_RANK_SIZE_OVER_100},
		{"0100", true, RULE_RANK_SIZE_OK},
		{"101", true, RULE_RANK_SIZE_OVER_100},
		{"0.000001", true, RULE_RANK_SIZE_OK},
		{"0.0", true, RULE_RANK_SIZE_ZERO},
		{"1.", true, RULE_RANK_SIZE_SYNTAX},
		{".5", true, RULE_RANK_SIZE_SYNTAX},
		{"1.5.", true, RULE_RANK_SIZE_SYNTAX},
		{"1e2", true, RULE_RANK_SIZE_SYNTAX},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(rule_rank_size_check(cases[i].n, cases[i].percent) == cases[i].expected,
		   "rank size \"%s\"%s", cases[i].n, cases[i].percent ? " percent" : "");
	ok(rule_rank_size_check(NULL, false) == RULE_RANK_SIZE_SYNTAX, "rank size NULL");
}

/* ---------- binary form ---------- */

typedef struct OldBytes
{
	const char *canonical;
	const uint8_t *bytes;
	size_t		len;
} OldBytes;

/* Written by rule_serialize() before issue 15 (commit 294283e). */
static const uint8_t old1[] = {0x01, 0x01, 0x02, 0x0c, 0x0b, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x5f, 0x6c, 0x69, 0x6e, 0x65, 0x73, 0x01, 0x04, 0x03, 0x03, 0x73, 0x6b, 0x75, 0x00, 0x01, 0x01, 0x41, 0x03, 0x0c, 0x0b, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x5f, 0x6c, 0x69, 0x6e, 0x65, 0x73, 0x03, 0x04, 0x03, 0x03, 0x73, 0x6b, 0x75, 0x00, 0x01, 0x01, 0x42, 0x01, 0x1e, 0x02};
static const uint8_t old2[] = {0x01, 0x02, 0x02, 0x04, 0x02, 0x00, 0x06, 0x06, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x73, 0x04, 0x03, 0x06, 0x73, 0x74, 0x61, 0x74, 0x75, 0x73, 0x00, 0x01, 0x04, 0x70, 0x61, 0x69, 0x64, 0x01, 0xb4, 0x01, 0x02, 0x05, 0x02, 0x01, 0x33, 0x04, 0x02, 0x04, 0x01, 0x06, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x73, 0x07, 0x70, 0x61, 0x69, 0x64, 0x5f, 0x61, 0x74, 0x02, 0x04, 0x01, 0x5a, 0x02};
static const uint8_t old3[] = {0x01, 0x01, 0x03, 0x8a, 0x01, 0x67, 0x01, 0x01, 0x76, 0x87, 0x01, 0x03, 0x61, 0x67, 0x65, 0x02, 0x01, 0x31, 0x02, 0x01, 0x32, 0x0d, 0x03, 0x76, 0x69, 0x70};
static const uint8_t old4[] = {0x01, 0x01, 0x02, 0x04, 0x02, 0x05, 0x01, 0x0b, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x5f, 0x6c, 0x69, 0x6e, 0x65, 0x73, 0x03, 0x73, 0x6b, 0x75, 0x04, 0x02, 0x01, 0x32, 0x09, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x32, 0x30, 0x32, 0x34, 0x2d, 0x30, 0x31, 0x2d, 0x30, 0x31, 0x0a, 0x32, 0x30, 0x32, 0x34, 0x2d, 0x30, 0x32, 0x2d, 0x30, 0x31};

static const OldBytes olds[] = {
	{"exists order_lines where sku = 'A' and not exists order_lines where sku = 'B' during last 30 days", old1, sizeof(old1)},
	{"count(orders where status = 'paid' during last 180 days) >= 3 or max(orders.paid_at) < 90 days ago", old2, sizeof(old2)},
	{"tag 'g' not in ('v') and customer.age not between 1 and 2 and in segment 'vip'", old3, sizeof(old3)},
	{"count_distinct(order_lines.sku) > 2 and customer.x during between '2024-01-01' and '2024-02-01'", old4, sizeof(old4)},
};

static void
test_old_bytes(void)
{
	size_t		i;

	for (i = 0; i < sizeof(olds) / sizeof(olds[0]); i++)
	{
		RuleArena	a;
		RuleError	err;
		RuleNode   *r;
		char	   *text = NULL;
		uint8_t    *b = NULL;
		size_t		len = 0;

		rule_arena_init_malloc(&a);
		r = rule_deserialize(olds[i].bytes, olds[i].len, &a, &err);
		if (r != NULL)
		{
			text = rule_print(r, &a, NULL);
			b = rule_serialize(r, &a, &len);
		}
		ok(r != NULL && strcmp(text, olds[i].canonical) == 0 &&
		   len == olds[i].len && memcmp(b, olds[i].bytes, len) == 0,
		   "bytes written before issue 15 read and rewrite identically: %s", olds[i].canonical);
		rule_arena_destroy(&a);
	}
}

static void
test_serial_format(void)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *r;
	uint8_t    *b;
	size_t		len;
	static const uint8_t seq[] = {1, RULE_SEQUENCE, 2, RULE_EXISTS, 1, 'a', 0,
	RULE_EXISTS | 0x80, 1, 'b', 0, 1, 2, RULE_UNIT_DAY};
	static const uint8_t rank[] = {1, RULE_RANK | 0x80, RULE_VALUE_CUSTOMER, 1, 'x',
	0x02 | 0x04, 3, '0', '.', '5', 1, 'v'};
	static const uint8_t prev[] = {1, RULE_SEQUENCE, 2, RULE_EXISTS, 1, 'a', 0,
		RULE_EXISTS, 1, 'b', 1, RULE_CMP, RULE_VALUE_FIELD, 1, 'x', RULE_OP_EQ,
	RULE_LIT_PREV, 1, 'y', 0};
	static const uint8_t agg[] = {1, RULE_CMP, RULE_VALUE_AGG, RULE_AGG_ACTIVE_DAYS, 0,
	1, 'p', RULE_OP_GT, RULE_LIT_NUMBER, 1, '1'};

	rule_arena_init_malloc(&a);
	r = parse(&a, "EXISTS a THEN NOT EXISTS b WITHIN 2 days", &err);
	b = rule_serialize(r, &a, &len);
	ok(len == sizeof(seq) && memcmp(b, seq, len) == 0, "a sequence encodes as documented");
	r = parse(&a, "customer.x NOT IN BOTTOM 0.5 PERCENT AMONG SEGMENT 'v'", &err);
	b = rule_serialize(r, &a, &len);
	ok(len == sizeof(rank) && memcmp(b, rank, len) == 0, "a rank encodes as documented");
	r = parse(&a, "EXISTS a THEN EXISTS b WHERE x = prev.y", &err);
	b = rule_serialize(r, &a, &len);
	ok(len == sizeof(prev) && memcmp(b, prev, len) == 0, "prev.y encodes as literal kind 5");
	r = parse(&a, "active_days(p) > 1", &err);
	b = rule_serialize(r, &a, &len);
	ok(len == sizeof(agg) && memcmp(b, agg, len) == 0, "active_days is aggregate 9 without a column");
	rule_arena_destroy(&a);
}

static void
expect_corrupt(const uint8_t *bytes, size_t len, const char *detail, const char *what)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *r;
	bool		good;

	rule_arena_init_malloc(&a);
	r = rule_deserialize(bytes, len, &a, &err);
	good = r == NULL && err.kind == RULE_ERR_CORRUPT &&
		strncmp(err.detail, detail, strlen(detail)) == 0;
	ok(good, "deserialize refuses %s", what);
	if (!good)
		printf("#   got kind %d: %s / %s\n", err.kind, err.message, err.detail);
	rule_arena_destroy(&a);
}

static void
test_serial_garbage(void)
{
	static const uint8_t negfirst[] = {1, RULE_SEQUENCE, 2, RULE_EXISTS | 0x80, 1, 'a', 0,
	RULE_EXISTS, 1, 'b', 0, 0};
	static const uint8_t negexists[] = {1, RULE_EXISTS | 0x80, 1, 'a', 0};
	static const uint8_t onestep[] = {1, RULE_SEQUENCE, 1, RULE_EXISTS, 1, 'a', 0, 0};
	static const uint8_t steps17[] = {1, RULE_SEQUENCE, 17};
	static const uint8_t notexists[] = {1, RULE_SEQUENCE, 2, RULE_EXISTS, 1, 'a', 0,
	RULE_IN_SEGMENT, 1, 'b', 0};
	static const uint8_t within0[] = {1, RULE_SEQUENCE, 2, RULE_EXISTS, 1, 'a', 0,
	RULE_EXISTS, 1, 'b', 0, 1, 0, RULE_UNIT_DAY};
	static const uint8_t withinflag[] = {1, RULE_SEQUENCE, 2, RULE_EXISTS, 1, 'a', 0,
	RULE_EXISTS, 1, 'b', 0, 2};
	static const uint8_t prevtop[] = {1, RULE_CMP, RULE_VALUE_CUSTOMER, 1, 'x', RULE_OP_EQ,
	RULE_LIT_PREV, 1, 'y'};
	static const uint8_t rankflags[] = {1, RULE_RANK, RULE_VALUE_CUSTOMER, 1, 'x', 8, 1, '1'};
	static const uint8_t rankzero[] = {1, RULE_RANK, RULE_VALUE_CUSTOMER, 1, 'x', 1, 1, '0'};
	static const uint8_t agg12[] = {1, RULE_CMP, RULE_VALUE_AGG, 12, 0, 1, 'p', RULE_OP_GT,
	RULE_LIT_NUMBER, 1, '1'};
	static const uint8_t kind17[] = {1, 17};
	static const uint8_t lit6[] = {1, RULE_CMP, RULE_VALUE_CUSTOMER, 1, 'x', RULE_OP_EQ, 6, 1, 'y'};

	expect_corrupt(negfirst, sizeof(negfirst), "The first step of a sequence is negated.", "a negated first step");
	expect_corrupt(negexists, sizeof(negexists), "A negated EXISTS appears outside a sequence.", "a negated EXISTS");
	expect_corrupt(onestep, sizeof(onestep), "Invalid number of sequence steps", "a sequence of one step");
	expect_corrupt(steps17, sizeof(steps17), "Count larger than the data", "17 steps without data");
	expect_corrupt(notexists, sizeof(notexists), "A sequence step is not an EXISTS.", "a step that is not EXISTS");
	expect_corrupt(within0, sizeof(within0), "Time count out of range", "WITHIN 0");
	expect_corrupt(withinflag, sizeof(withinflag), "Invalid WITHIN flag", "a WITHIN flag of 2");
	expect_corrupt(prevtop, sizeof(prevtop), "A prev.column appears outside the filter of a later sequence step.", "prev at the top");
	expect_corrupt(rankflags, sizeof(rankflags), "Invalid rank flags", "rank flags 8");
	expect_corrupt(rankzero, sizeof(rankzero), "A TOP or BOTTOM size is malformed or out of range.", "TOP 0");
	expect_corrupt(agg12, sizeof(agg12), "Unknown aggregate", "aggregate 12");
	expect_corrupt(kind17, sizeof(kind17), "Unknown node kind", "node kind 17");
	expect_corrupt(lit6, sizeof(lit6), "Unknown literal kind", "literal kind 6");
}

/* Every prefix and many single-byte changes of a sequence's and a rank's bytes. */
static void
test_serial_mutations(void)
{
	static const char *const rules[] = {
		"EXISTS pv WHERE page = 'p' DURING LAST 7 days THEN NOT EXISTS ol WHERE sku = prev.sku WITHIN 2 days",
		"sum(o.amount WHERE s = 'paid') NOT IN TOP 10 PERCENT AMONG SEGMENT 'v' OR active_weeks(o) > 2",
	};
	size_t		k;

	for (k = 0; k < sizeof(rules) / sizeof(rules[0]); k++)
	{
		RuleArena	a;
		RuleError	err;
		RuleNode   *r;
		uint8_t    *b,
				   *m;
		size_t		len,
					i;
		int			bad_prefix = 0,
					clean = 1,
					accepted = 0,
					canonical = 0;

		rule_arena_init_malloc(&a);
		r = parse(&a, rules[k], &err);
		b = rule_serialize(r, &a, &len);
		m = malloc(len);
		for (i = 0; i < len; i++)
		{
			RuleArena	t;
			int			v;

			rule_arena_init_malloc(&t);
			if (rule_deserialize(b, i, &t, &err) != NULL)
				bad_prefix++;
			rule_arena_destroy(&t);
			for (v = 0; v < 256; v += 5)
			{
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
					if (l2 == len && memcmp(b2, m, len) == 0)
						canonical++;
				}
				else if (err.kind != RULE_ERR_CORRUPT)
					clean = 0;
				rule_arena_destroy(&t);
			}
		}
		ok(bad_prefix == 0, "no proper prefix deserializes (rule %zu)", k + 1);
		ok(clean, "mutations fail only as corrupt data (rule %zu)", k + 1);
		ok(accepted == canonical, "accepted mutations are canonical (rule %zu: %d)", k + 1, accepted);
		free(m);
		rule_arena_destroy(&a);
	}
}

/* ---------- JSON ---------- */

static void
expect_json(const char *text, const char *json)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *rule;
	char	   *got;

	rule_arena_init_malloc(&a);
	rule = parse(&a, text, &err);
	got = rule ? rule_to_json(rule, &a, NULL) : NULL;
	ok(got != NULL && strcmp(got, json) == 0, "JSON of %s", text);
	if (got && strcmp(got, json) != 0)
		printf("#   got      %s\n#   expected %s\n", got, json);
	rule_arena_destroy(&a);
}

static void
test_json_shapes(void)
{
	expect_json("EXISTS page_views WHERE page = 'product' THEN NOT EXISTS order_lines WHERE sku = prev.sku WITHIN 2 days",
				"{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"page_views\","
				"\"filter\":{\"field\":\"page\",\"operator\":\"=\",\"values\":[\"product\"]}},"
				"{\"not\":{\"type\":\"exists\",\"source\":\"order_lines\","
				"\"filter\":{\"field\":\"sku\",\"operator\":\"=\",\"values\":[{\"prev\":\"sku\"}]}}}],"
				"\"within\":{\"count\":2,\"unit\":\"day\"}}");
	expect_json("EXISTS a DURING LAST 3 days THEN EXISTS b",
				"{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\","
				"\"window\":{\"type\":\"last\",\"count\":3,\"unit\":\"day\"}},{\"type\":\"exists\",\"source\":\"b\"}]}");
	expect_json("first(orders.channel) = 'store'",
				"{\"type\":\"aggregate\",\"function\":\"first\",\"source\":\"orders\",\"field\":\"channel\","
				"\"operator\":\"=\",\"values\":[\"store\"]}");
	expect_json("active_days(page_views DURING LAST 30 days) >= 3",
				"{\"type\":\"aggregate\",\"function\":\"active_days\",\"source\":\"page_views\","
				"\"window\":{\"type\":\"last\",\"count\":30,\"unit\":\"day\"},\"operator\":\">=\",\"values\":[3]}");
	expect_json("sum(orders.amount) IN TOP 10 PERCENT",
				"{\"type\":\"aggregate\",\"function\":\"sum\",\"source\":\"orders\",\"field\":\"amount\","
				"\"operator\":\"in top\",\"values\":[10],\"percent\":true}");
	expect_json("customer.age NOT IN BOTTOM 0.5 PERCENT AMONG SEGMENT 'vip'",
				"{\"type\":\"attribute\",\"field\":\"age\",\"operator\":\"not in bottom\",\"values\":[0.5],"
				"\"percent\":true,\"among\":\"vip\"}");
	expect_json("customer.age IN BOTTOM 007",
				"{\"type\":\"attribute\",\"field\":\"age\",\"operator\":\"in bottom\",\"values\":[{\"number\":\"007\"}]}");
	expect_json("customer.age NOT IN TOP 3 AMONG SEGMENT 'v'",
				"{\"type\":\"attribute\",\"field\":\"age\",\"operator\":\"not in top\",\"values\":[3],\"among\":\"v\"}");
}

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
test_json_inputs(void)
{
	expect_rule("{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"A\"},"
				"{\"not\":{\"type\":\"exists\",\"source\":\"b\",\"filter\":{\"field\":\"x\",\"operator\":\">\","
				"\"values\":[{\"prev\":\"Y\"}]}}}],\"within\":{\"count\":90,\"unit\":\"minutes\"}}",
				"exists \"A\" then not exists b where x > prev.\"Y\" within 90 minutes");
	expect_rule("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"in top\",\"values\":[5],\"percent\":false}",
				"customer.x in top 5");
	expect_rule("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"in top\",\"values\":[{\"number\":\"2.50\"}],\"percent\":true}",
				"customer.x in top 2.50 percent");
	expect_rule("{\"type\":\"aggregate\",\"function\":\"active_months\",\"source\":\"o\",\"operator\":\"in bottom\","
				"\"values\":[1],\"among\":\"it's\"}",
				"active_months(o) in bottom 1 among segment 'it''s'");
	expect_rule("{\"not\":{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\"},{\"type\":\"exists\",\"source\":\"b\"}]}}",
				"not exists a then exists b");
}

static void
expect_json_error(const char *json, int kind, const char *message, const char *hint)
{
	RuleArena	a;
	RuleError	err;
	RuleNode   *rule;
	bool		good;

	rule_arena_init_malloc(&a);
	rule_error_clear(&err);
	rule = rule_from_json(json, strlen(json), &a, &err);
	good = rule == NULL && err.kind == kind && strcmp(err.message, message) == 0 &&
		(hint == NULL || strncmp(err.hint, hint, strlen(hint)) == 0);
	ok(good, "JSON rejects %.70s: %s", json, message);
	if (!good)
		printf("#   got kind %d: %s / hint %s\n", err.kind, err.message, err.hint);
	rule_arena_destroy(&a);
}

static void
test_json_errors(void)
{
	char		buf[4096];
	int			i,
				len;

	expect_json_error("{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\"}]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.steps: must be an array of at least two steps", NULL);
	expect_json_error("{\"type\":\"sequence\"}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.steps: must be an array of at least two steps", NULL);
	expect_json_error("{\"type\":\"sequence\",\"steps\":[{\"not\":{\"type\":\"exists\",\"source\":\"a\"}},{\"type\":\"exists\",\"source\":\"b\"}]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.steps[0]: the first step of a sequence cannot be negated",
					  "A sequence starts with an event that happened");
	expect_json_error("{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\"},{\"type\":\"segment\",\"name\":\"b\"}]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.steps[1].type: a step must be an exists condition, not \"segment\"",
					  "A step is");
	expect_json_error("{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\"},{\"not\":{\"type\":\"tag\"}}]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.steps[1].not.type: a step must be an exists condition, not \"tag\"", NULL);
	expect_json_error("{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\"},7]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.steps[1]: a step must be an object", NULL);
	expect_json_error("{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\"},{\"not\":{\"type\":\"exists\",\"source\":\"b\"},\"x\":1}]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.steps[1]: unknown key \"x\"", NULL);
	expect_json_error("{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\"},{\"type\":\"exists\",\"source\":\"b\"}],\"within\":3}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.within: must be an object {\"count\": n, \"unit\": \"day\"}", NULL);
	expect_json_error("{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\"},{\"type\":\"exists\",\"source\":\"b\"}],\"within\":{\"count\":0,\"unit\":\"day\"}}",
					  RULE_ERR_INVALID_LITERAL, "WITHIN needs a count of at least 1", NULL);
	expect_json_error("{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\"},{\"type\":\"exists\",\"source\":\"b\"}],\"within\":{\"count\":2,\"unit\":\"day x\"}}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.within.unit: \"day x\" is not a word", NULL);
	expect_json_error("{\"type\":\"sequence\",\"steps\":[{\"type\":\"exists\",\"source\":\"a\"},{\"type\":\"exists\",\"source\":\"b\"}],\"within\":{\"n\":2}}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.within: unknown key \"n\"", NULL);
	expect_json_error("{\"type\":\"exists\",\"source\":\"a\",\"filter\":{\"field\":\"x\",\"operator\":\"=\",\"values\":[{\"prev\":\"y\"}]}}",
					  RULE_ERR_SYNTAX, "prev.y can only be used in the filter of a later step of a sequence", "prev.column reads");
	expect_json_error("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"=\",\"values\":[{\"prev\":3}]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.values[0].prev: must be a string", NULL);
	expect_json_error("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"in top\",\"values\":[\"10\"]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.values[0]: operator \"in top\" takes a number", NULL);
	expect_json_error("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"in top\",\"values\":[1,2]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.values: operator \"in top\" takes 1 value", NULL);
	expect_json_error("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"in top\",\"values\":[1],\"percent\":\"yes\"}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.percent: must be true or false", NULL);
	expect_json_error("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"in top\",\"values\":[1],\"among\":7}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.among: must be a string", NULL);
	expect_json_error("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"in middle\",\"values\":[1]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.operator: unknown operator \"in middle\"", "Rank operators:");
	expect_json_error("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\">\",\"values\":[1],\"percent\":true}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $: unknown key \"percent\" for operator \">\"", "\"percent\" and \"among\" go with");
	expect_json_error("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"in top\",\"values\":[150],\"percent\":true}",
					  RULE_ERR_INVALID_LITERAL, "TOP 150 PERCENT: a percentage must not exceed 100", NULL);
	expect_json_error("{\"type\":\"attribute\",\"field\":\"x\",\"operator\":\"in top\",\"values\":[1e3]}",
					  RULE_ERR_INVALID_LITERAL, "invalid TOP size \"1e3\"", NULL);
	expect_json_error("{\"type\":\"exists\",\"source\":\"o\",\"filter\":{\"field\":\"x\",\"operator\":\"in top\",\"values\":[1]}}",
					  RULE_ERR_SYNTAX, "TOP cannot be used in a filter", NULL);
	expect_json_error("{\"type\":\"tag\",\"group\":\"g\",\"operator\":\"in top\",\"values\":[1]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.operator: unknown tag operator \"in top\"", NULL);
	expect_json_error("{\"type\":\"aggregate\",\"function\":\"active_days\",\"source\":\"o\",\"field\":\"x\",\"operator\":\">\",\"values\":[1]}",
					  RULE_ERR_SYNTAX, "active_days() takes a source, not a column", NULL);
	expect_json_error("{\"type\":\"aggregate\",\"function\":\"first\",\"source\":\"o\",\"operator\":\">\",\"values\":[1]}",
					  RULE_ERR_SYNTAX, "first() requires a column", NULL);
	expect_json_error("{\"type\":\"aggregate\",\"function\":\"median\",\"source\":\"o\",\"operator\":\">\",\"values\":[1]}",
					  RULE_ERR_SYNTAX, "invalid rule JSON at $.function: unknown function \"median\"",
					  "Functions: count, sum, avg, min, max, count_distinct, first, last, mode, active_days, active_weeks, active_months.");

	/* 17 steps: the language's limit */
	len = sprintf(buf, "{\"type\":\"sequence\",\"steps\":[");
	for (i = 0; i < 17; i++)
		len += sprintf(buf + len, "%s{\"type\":\"exists\",\"source\":\"s%d\"}", i ? "," : "", i);
	sprintf(buf + len, "]}");
	expect_json_error(buf, RULE_ERR_LIMIT, "sequence exceeds the maximum of 16 steps", NULL);
}

int
main(void)
{
	test_goods();
	test_bads();
	test_error_details();
	test_limits();
	test_tree_shape();
	test_refs();
	test_may_complement();
	test_validate();
	test_rank_sizes();
	test_old_bytes();
	test_serial_format();
	test_serial_garbage();
	test_serial_mutations();
	test_json_shapes();
	test_json_inputs();
	test_json_errors();
	return tap_done();
}
