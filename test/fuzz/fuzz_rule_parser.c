/*
 * fuzz_rule_parser.c
 *		libFuzzer target of the segment_rule core.
 *
 * Each input is used three ways:
 *	1. as rule text (up to its first NUL): a failure must carry an error
 *	   report; a success must print to text that parses to an equal tree and
 *	   prints identically, serialize to bytes that deserialize to an equal
 *	   tree and reserialize identically, validate, and resolve every window
 *	   and moment in it;
 *	2. as window text (rule_parse_window), with the same print/parse check;
 *	3. as raw bytes for rule_deserialize: when accepted they must be exactly
 *	   what rule_serialize writes for the tree, whose text round-trips.
 * Any violated property aborts, so libFuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_lexer.h"
#include "rule_parser.h"
#include "rule_print.h"
#include "rule_serial.h"
#include "rule_window.h"

#define CHECK(cond, what) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "fuzz_rule_parser: %s\n", what); \
			abort(); \
		} \
	} while (0)

static const RuleCivilTime as_of_times[] = {
	{2024, 2, 29, 11, 0, 0, 0},
	{2023, 12, 31, 23, 59, 59, 999999},
	{-4713, 1, 1, 0, 0, 0, 0},
	{294276, 12, 31, 12, 0, 0, 0},
};

static const int64_t as_of_epochs[] = {
	INT64_C(1709175600000000), INT64_MIN + 1, INT64_MAX - 1, 0
};

static void check_tree_windows(const RuleNode *node);

/* A resolver must accept every window a valid tree holds. */
static void
check_window(const RuleWindow *w)
{
	size_t		i;
	RuleBound	lo,
				hi;

	if (w == NULL)
		return;
	for (i = 0; i < sizeof(as_of_times) / sizeof(as_of_times[0]); i++)
		CHECK(rule_resolve_window(w, &as_of_times[i], as_of_epochs[i], &lo, &hi),
			  "a valid window does not resolve");
}

static void
check_literal_moment(const RuleLiteral *lit)
{
	size_t		i;
	RuleBound	b;

	if (lit->kind != RULE_LIT_MOMENT)
		return;
	for (i = 0; i < sizeof(as_of_times) / sizeof(as_of_times[0]); i++)
		CHECK(rule_resolve_moment(&lit->moment, &as_of_times[i], as_of_epochs[i], &b),
			  "a valid moment does not resolve");
}

static void
check_value_windows(const RuleValue *v)
{
	if (v == NULL || v->kind != RULE_VALUE_AGG)
		return;
	check_window(v->window);
	if (v->filter)
		check_tree_windows(v->filter);
}

static void
check_tree_windows(const RuleNode *node)
{
	int			i;

	for (i = 0; i < node->nchildren; i++)
		check_tree_windows(node->children[i]);
	for (i = 0; i < node->nargs; i++)
		check_literal_moment(&node->args[i]);
	check_value_windows(node->value);
	check_window(node->window);
	if (node->filter)
		check_tree_windows(node->filter);
}

/* Error reports are well formed whatever the input. */
static void
check_error(const RuleError *err, size_t input_chars)
{
	CHECK(err->kind != RULE_ERR_NONE, "failure without an error kind");
	CHECK(err->message[0] != '\0', "failure without a message");
	CHECK(err->position >= 0 && (size_t) err->position <= input_chars + 1,
		  "error position out of range");
	CHECK(rule_utf8_valid(err->message, strlen(err->message), NULL, NULL) &&
		  rule_utf8_valid(err->detail, strlen(err->detail), NULL, NULL) &&
		  rule_utf8_valid(err->hint, strlen(err->hint), NULL, NULL),
		  "error texts are not valid UTF-8");
}

/* Text -> tree -> text -> tree, and the binary form. */
static void
check_rule(const RuleNode *rule, RuleArena *a)
{
	RuleError	err;
	size_t		len1,
				len2,
				blen1,
				blen2,
				blen3;
	char	   *text1 = rule_print(rule, a, &len1);
	RuleNode   *again;
	char	   *text2;
	uint8_t    *b1,
			   *b2,
			   *b3;
	RuleNode   *back;

	CHECK(text1 != NULL, "printing failed");
	CHECK(len1 <= RULE_MAX_TEXT_LEN, "canonical text over the limit");
	CHECK(rule_validate(rule, &err), "parsed tree does not validate");
	again = rule_parse(text1, len1, a, &err);
	CHECK(again != NULL, "canonical text does not parse");
	text2 = rule_print(again, a, &len2);
	CHECK(len1 == len2 && memcmp(text1, text2, len1) == 0,
		  "printing is not idempotent");
	CHECK(rule_equal(rule, again), "reparsed tree differs");

	b1 = rule_serialize(rule, a, &blen1);
	b2 = rule_serialize(again, a, &blen2);
	CHECK(blen1 == blen2 && memcmp(b1, b2, blen1) == 0,
		  "reparsed tree serializes differently");
	CHECK(blen1 <= RULE_MAX_SERIAL_LEN, "binary form over its bound");
	back = rule_deserialize(b1, blen1, a, &err);
	CHECK(back != NULL, "binary form does not deserialize");
	CHECK(rule_equal(rule, back), "deserialized tree differs");
	b3 = rule_serialize(back, a, &blen3);
	CHECK(blen1 == blen3 && memcmp(b1, b3, blen1) == 0,
		  "reserialized bytes differ");
	check_tree_windows(rule);
}

static size_t
utf8_chars(const char *s, size_t len)
{
	size_t		n = 0,
				i;

	for (i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static void
fuzz_text(const char *text, size_t size, RuleArena *a)
{
	RuleError	err;
	size_t		len = strlen(text);
	RuleNode   *rule = rule_parse(text, len, a, &err);
	RuleWindow *w;

	if (rule == NULL)
		check_error(&err, utf8_chars(text, len));
	else
		check_rule(rule, a);

	/* bytes after a NUL are an encoding error, never parsed */
	if (size != len)
		CHECK(rule_parse(text, size, a, &err) == NULL &&
			  (err.kind == RULE_ERR_ENCODING || err.kind == RULE_ERR_LIMIT),
			  "embedded NUL accepted");

	w = rule_parse_window(text, len, a, &err);
	if (w == NULL)
		check_error(&err, utf8_chars(text, len));
	else
	{
		size_t		l1,
					l2;
		char	   *t1 = rule_print_window(w, a, &l1);
		RuleWindow *w2 = rule_parse_window(t1, l1, a, &err);
		char	   *t2;

		CHECK(w2 != NULL, "canonical window does not parse");
		t2 = rule_print_window(w2, a, &l2);
		CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0, "window printing is not idempotent");
		check_window(w);
	}
}

static void
fuzz_bytes(const uint8_t *data, size_t size, RuleArena *a)
{
	RuleError	err;
	RuleNode   *rule = rule_deserialize(data, size, a, &err);

	if (rule == NULL)
	{
		CHECK(err.kind == RULE_ERR_CORRUPT, "deserialization failed oddly");
		check_error(&err, 0);
		return;
	}
	else
	{
		size_t		blen;
		uint8_t    *b = rule_serialize(rule, a, &blen);

		CHECK(blen == size && memcmp(b, data, size) == 0,
			  "accepted bytes are not canonical");
		check_rule(rule, a);
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RuleArena	a;
	char	   *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rule_arena_init_malloc(&a);
	fuzz_text(text, size, &a);
	fuzz_bytes(data, size, &a);
	rule_arena_destroy(&a);
	free(text);
	return 0;
}
