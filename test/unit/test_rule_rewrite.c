/*
 * test_rule_rewrite.c
 *		Unit tests of the compiler's rewrites (rule_rewrite.h): each case
 *		is a rule and the canonical text of its rewritten tree.  TAP.
 *
 * The printer shows an AND gathered inside an AND as a flat list, so the
 * gathering of customer conditions is checked by the tree's shape.
 */
#include <stdio.h>
#include <string.h>

#include "rule_parser.h"
#include "rule_print.h"
#include "rule_rewrite.h"
#include "tap.h"
#include "rule_cases.h"

typedef struct RewriteCase
{
	const char *rule;
	const char *rewritten;
} RewriteCase;

static const RewriteCase rewrite_cases[] = {
	/* count compared with 0 or 1 asks whether a row exists */
	{"count(orders) > 0", "exists orders"},
	{"count(orders) >= 1", "exists orders"},
	{"count(orders) <> 0", "exists orders"},
	{"count(orders) = 0", "not exists orders"},
	{"count(orders) < 1", "not exists orders"},
	{"count(orders) <= 0", "not exists orders"},
	{"count(orders WHERE status = 'paid' DURING LAST 1 year) = 0",
	 "not exists orders where status = 'paid' during last 1 year"},
	{"count(orders.coupon) > 0", "exists orders where coupon is not null"},
	{"count_distinct(orders.sku WHERE qty > 1) >= 1",
	 "exists orders where qty > 1 and sku is not null"},
	{"count(orders) > 0 and count(orders during last 1 year) = 0",
	 "exists orders and not exists orders during last 1 year"},
	/* other counts need the value */
	{"count(orders) > 1", "count(orders) > 1"},
	{"count(orders) >= 0", "count(orders) >= 0"},
	{"count(orders) = 1", "count(orders) = 1"},
	{"count(orders) < 0", "count(orders) < 0"},
	{"count(orders) > 0.5", "count(orders) > 0.5"},
	{"count(orders) > '0'", "count(orders) > '0'"},
	/* max above / min below x: some row beyond x */
	{"max(orders.amount) > 100", "exists orders where amount > 100"},
	{"max(orders.paid_at WHERE status = 'paid') >= 3 days ago",
	 "exists orders where status = 'paid' and paid_at >= 3 days ago"},
	{"min(orders.amount during this month) < 5", "exists orders where amount < 5 during this month"},
	{"min(orders.amount) <= 5", "exists orders where amount <= 5"},
	/* max below / min above x: a non-null row, and none beyond */
	{"max(orders.paid_at) < 90 days ago",
	 "exists orders where paid_at is not null and not exists orders where paid_at >= 90 days ago"},
	{"max(orders.amount) <= 10",
	 "exists orders where amount is not null and not exists orders where amount > 10"},
	{"min(orders.amount) > 10",
	 "exists orders where amount is not null and not exists orders where amount <= 10"},
	{"min(orders.amount) >= 10",
	 "exists orders where amount is not null and not exists orders where amount < 10"},
	/* equality and the rest keep their value */
	{"max(orders.amount) = 10", "max(orders.amount) = 10"},
	{"min(orders.amount) <> 10", "min(orders.amount) <> 10"},
	{"sum(orders.amount) > 0", "sum(orders.amount) > 0"},
	{"avg(orders.amount) > 0", "avg(orders.amount) > 0"},
	{"max(orders.paid_at) during last 3 days", "max(orders.paid_at) during last 3 days"},
	/* inside NOT, OR and nested groups */
	{"not count(orders) = 0", "not not exists orders"},
	{"customer.age > 3 or (count(orders) = 0 and tag 'x' in ('y'))",
	 "customer.age > 3 or not exists orders and tag 'x' in ('y')"},
	/* untouched */
	{"customer.age > 30", "customer.age > 30"},
	{"exists orders", "exists orders"},
	{"in segment 'a'", "in segment 'a'"},
};

static const RuleCase customer_only_cases[] = {
	{"customer.age > 30", true},
	{"customer.city in ('a') and not customer.age >= 60", true},
	{"not (customer.vip = true or customer.age is null)", true},
	{"customer.age > 30 and exists orders", false},
	{"exists orders", false},
	{"tag 'x' is empty", false},
	{"in segment 'a'", false},
	{"count(orders) > 3", false},
};

/* Parses, rewrites and prints; NULL on failure. */
static char *
Rewritten(const char *text, RuleArena *arena, RuleNode **tree)
{
	RuleError	err;
	RuleNode   *rule;
	size_t		len;

	rule_error_clear(&err);
	rule = rule_parse(text, strlen(text), arena, &err);
	if (rule == NULL || (*tree = rule_rewrite(rule, arena)) == NULL)
		return NULL;
	return rule_print(*tree, arena, &len);
}

static void
test_rewrites(void)
{
	size_t		i;

	for (i = 0; i < sizeof(rewrite_cases) / sizeof(rewrite_cases[0]); i++)
	{
		RuleArena	arena;
		RuleNode   *tree;
		char	   *out;

		rule_arena_init_malloc(&arena);
		out = Rewritten(rewrite_cases[i].rule, &arena, &tree);
		ok(out != NULL && strcmp(out, rewrite_cases[i].rewritten) == 0,
		   "%s -> %s (got %s)", rewrite_cases[i].rule, rewrite_cases[i].rewritten, out ? out : "NULL");
		rule_arena_destroy(&arena);
	}
}

/* Customer conditions of an AND / OR are gathered under one node, first. */
static void
test_gathering(void)
{
	RuleArena	arena;
	RuleNode   *tree;
	char	   *out;

	rule_arena_init_malloc(&arena);
	out = Rewritten("exists orders and customer.city in ('上海') and tag 'x' in ('y') and customer.age >= 60",
					&arena, &tree);
	ok(out != NULL && tree->kind == RULE_AND && tree->nchildren == 3, "AND of 4 with 2 customer conditions has 3 children");
	ok(tree->children[0]->kind == RULE_AND && tree->children[0]->nchildren == 2 &&
	   rule_is_customer_only(tree->children[0]), "the first is the AND of both customer conditions");
	ok(tree->children[1]->kind == RULE_EXISTS && tree->children[2]->kind == RULE_TAG_IN,
	   "the others keep their order");
	rule_arena_destroy(&arena);

	rule_arena_init_malloc(&arena);
	out = Rewritten("customer.age < 20 or exists orders or not customer.vip = true", &arena, &tree);
	ok(out != NULL && tree->kind == RULE_OR && tree->nchildren == 2 && tree->children[0]->kind == RULE_OR &&
	   rule_is_customer_only(tree->children[0]), "OR gathers its customer conditions under one OR");
	rule_arena_destroy(&arena);

	rule_arena_init_malloc(&arena);
	out = Rewritten("customer.age < 20 and exists orders", &arena, &tree);
	ok(out != NULL && tree->nchildren == 2 && tree->children[0]->kind == RULE_CMP,
	   "a single customer condition is left alone");
	rule_arena_destroy(&arena);

	rule_arena_init_malloc(&arena);
	out = Rewritten("customer.age < 20 and customer.vip = false", &arena, &tree);
	ok(out != NULL && tree->kind == RULE_AND && tree->nchildren == 2 && rule_is_customer_only(tree),
	   "an AND of customer conditions only stays one AND");
	rule_arena_destroy(&arena);
}

/* rule_same_scope on the two predicates of "a AND b" */
typedef struct ScopeCase
{
	const char *rule;
	bool		same;
} ScopeCase;

static const ScopeCase scope_cases[] = {
	{"sum(orders.amount) >= 300 and sum(orders.amount) < 2000", true},
	{"exists orders where status = 'paid' and count(orders where status = 'paid') < 3", true},
	{"count(orders during last 3 days) > 1 and sum(orders.amount during last 3 days) < 9", true},
	{"sum(orders.amount) >= 300 and sum(orders.amount where status = 'paid') < 2000", false},
	{"sum(orders.amount during last 3 days) >= 300 and sum(orders.amount during last 4 days) < 9", false},
	{"sum(orders.amount) >= 300 and sum(lines.amount) < 2000", false},
	{"customer.age > 3 and sum(orders.amount) < 2000", false},
	{"tag 'x' is empty and sum(orders.amount) < 2000", false},
};

static void
test_same_scope(void)
{
	size_t		i;

	for (i = 0; i < sizeof(scope_cases) / sizeof(scope_cases[0]); i++)
	{
		RuleArena	arena;
		RuleError	err;
		RuleNode   *rule;

		rule_arena_init_malloc(&arena);
		rule_error_clear(&err);
		rule = rule_parse(scope_cases[i].rule, strlen(scope_cases[i].rule), &arena, &err);
		ok(rule != NULL && rule->kind == RULE_AND &&
		   rule_same_scope(rule->children[0], rule->children[1]) == scope_cases[i].same &&
		   rule_same_scope(rule->children[1], rule->children[0]) == scope_cases[i].same,
		   "%s: %s", scope_cases[i].rule, scope_cases[i].same ? "same rows" : "other rows");
		rule_arena_destroy(&arena);
	}
}

/*
 * min/max DURING a window, resolved at 2025-03-31 09:15 local (UTC+2) into
 * literal bounds; paid_at is a time column, amount is not.
 */
static const RewriteCase during_cases[] = {
	{"max(orders.paid_at) during last 7 days",
	 "exists orders where paid_at >= '2025-03-24 00:00:00.000000' and paid_at < '2025-04-01 00:00:00.000000'"
	 " and not exists orders where paid_at >= '2025-04-01 00:00:00.000000'"},
	{"min(orders.paid_at where status = 'paid') during previous year",
	 "exists orders where status = 'paid' and (paid_at >= '2024-01-01 00:00:00.000000'"
	 " and paid_at < '2025-01-01 00:00:00.000000')"
	 " and not exists orders where status = 'paid' and paid_at < '2024-01-01 00:00:00.000000'"},
	{"max(orders.paid_at during last 1 year) during last 3 hours",
	 "exists orders where paid_at >= '2025-03-31 04:15:00.000000+00' and paid_at < '2025-03-31 07:15:00.000000+00'"
	 " during last 1 year and not exists orders where paid_at >= '2025-03-31 07:15:00.000000+00' during last 1 year"},
	{"max(orders.paid_at) during before '2024-01-01'",
	 "exists orders where paid_at < '2024-01-01 00:00:00.000000'"
	 " and not exists orders where paid_at >= '2024-01-01 00:00:00.000000'"},
	{"min(orders.paid_at) during before '2024-01-01'", "exists orders where paid_at < '2024-01-01 00:00:00.000000'"},
	{"not min(orders.paid_at) during this month",
	 "not (exists orders where paid_at >= '2025-03-01 00:00:00.000000' and paid_at < '2025-04-01 00:00:00.000000'"
	 " and not exists orders where paid_at < '2025-03-01 00:00:00.000000')"},
	/* not a time column, NOT DURING, customer columns: unchanged */
	{"max(orders.amount) during last 3 days", "max(orders.amount) during last 3 days"},
	{"max(orders.paid_at) not during last 3 days", "max(orders.paid_at) not during last 3 days"},
	{"customer.born_at during last 3 days", "customer.born_at during last 3 days"},
};

static bool
PaidAtIsTime(void *arg, const char *source, const char *column)
{
	(*(int *) arg)++;
	return strcmp(source, "orders") == 0 && strcmp(column, "paid_at") == 0;
}

static void
test_during(void)
{
	size_t		i;
	int			asked = 0;
	RuleRewriteClock clock = {{2025, 3, 31, 9, 15, 0, 0}, INT64_C(1743405300000000), PaidAtIsTime, &asked};

	for (i = 0; i < sizeof(during_cases) / sizeof(during_cases[0]); i++)
	{
		RuleArena	arena;
		RuleError	err;
		RuleNode   *rule;
		RuleNode   *tree;
		char	   *out = NULL;
		size_t		len;

		rule_arena_init_malloc(&arena);
		rule_error_clear(&err);
		rule = rule_parse(during_cases[i].rule, strlen(during_cases[i].rule), &arena, &err);
		if (rule != NULL && (tree = rule_rewrite_at(rule, &arena, &clock)) != NULL)
			out = rule_print(tree, &arena, &len);
		ok(out != NULL && strcmp(out, during_cases[i].rewritten) == 0,
		   "%s -> %s (got %s)", during_cases[i].rule, during_cases[i].rewritten, out ? out : "NULL");
		rule_arena_destroy(&arena);
	}
	ok(asked > 0, "the caller is asked which columns are times");
}

/* A junction a rewrite produces inside one of its kind is spliced in. */
static void
test_flattening(void)
{
	int			asked = 0;
	RuleRewriteClock clock = {{2025, 3, 31, 9, 15, 0, 0}, INT64_C(1743405300000000), PaidAtIsTime, &asked};
	const char *text = "min(orders.paid_at) during last 60 days and count(orders where status = 'paid') > 1";
	RuleArena	arena;
	RuleError	err;
	RuleNode   *rule,
			   *tree = NULL;

	rule_arena_init_malloc(&arena);
	rule_error_clear(&err);
	rule = rule_parse(text, strlen(text), &arena, &err);
	if (rule != NULL)
		tree = rule_rewrite_at(rule, &arena, &clock);
	ok(tree != NULL && tree->kind == RULE_AND && tree->nchildren == 3 &&
	   tree->children[0]->kind == RULE_EXISTS && tree->children[1]->kind == RULE_NOT &&
	   tree->children[2]->kind == RULE_CMP,
	   "min DURING's EXISTS AND NOT EXISTS is spliced into the AND: 3 children in order");
	rule_arena_destroy(&arena);

	rule_arena_init_malloc(&arena);
	Rewritten("exists a or (exists b or (exists c or exists d))", &arena, &tree);
	ok(tree != NULL && tree->kind == RULE_OR && tree->nchildren == 4, "nested ORs become one OR of 4");
	rule_arena_destroy(&arena);

	rule_arena_init_malloc(&arena);
	Rewritten("exists a and (exists b or exists c)", &arena, &tree);
	ok(tree != NULL && tree->kind == RULE_AND && tree->nchildren == 2 && tree->children[1]->kind == RULE_OR,
	   "an OR inside an AND stays");
	rule_arena_destroy(&arena);

	rule_arena_init_malloc(&arena);
	Rewritten("not (exists a and exists b) and exists c", &arena, &tree);
	ok(tree != NULL && tree->kind == RULE_AND && tree->nchildren == 2 && tree->children[0]->kind == RULE_NOT &&
	   tree->children[0]->children[0]->nchildren == 2, "an AND under NOT stays");
	rule_arena_destroy(&arena);
}

int
main(void)
{
	test_same_scope();
	test_during();
	test_rewrites();
	test_gathering();
	test_flattening();
	check_rule_cases(customer_only_cases, sizeof(customer_only_cases) / sizeof(customer_only_cases[0]),
					 rule_is_customer_only, "reads only the customer table", "reads more");
	return tap_done();
}
