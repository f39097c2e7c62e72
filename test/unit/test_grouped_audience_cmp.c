/*
 * test_grouped_audience_cmp.c
 *		Unit tests of grouped_audience_agg()'s comparisons (ga_compare,
 *		grouped_audience_cmp.c) against SQL's three-valued logic, without a
 *		server.  TAP.
 */
#include <stdbool.h>
#include <stdio.h>

#include "grouped_audience_agg.h"
#include "tap.h"

/* the value and the literals are integers here; cmp gives the sign */
typedef struct Ints
{
	int			value;
	const int  *args;
} Ints;

static int
CmpInts(void *ctx, int i)
{
	Ints	   *x = (Ints *) ctx;

	return x->value < x->args[i] ? -1 : x->value > x->args[i];
}

static GaTruth
Eval(GaOp op, int value, bool vnull, int nargs, const int *args, const bool *argnulls)
{
	Ints		x = {value, args};

	return ga_compare(op, vnull, nargs, argnulls, CmpInts, &x);
}

static void
test_comparisons(void)
{
	static const int three[] = {3};
	static const bool none[] = {false, false, false};

	ok(Eval(GA_OP_EQ, 3, false, 1, three, none) == GA_TRUE, "3 = 3");
	ok(Eval(GA_OP_EQ, 2, false, 1, three, none) == GA_FALSE, "2 = 3 is false");
	ok(Eval(GA_OP_NE, 2, false, 1, three, none) == GA_TRUE, "2 <> 3");
	ok(Eval(GA_OP_LT, 2, false, 1, three, none) == GA_TRUE, "2 < 3");
	ok(Eval(GA_OP_LT, 3, false, 1, three, none) == GA_FALSE, "3 < 3 is false");
	ok(Eval(GA_OP_LE, 3, false, 1, three, none) == GA_TRUE, "3 <= 3");
	ok(Eval(GA_OP_GT, 4, false, 1, three, none) == GA_TRUE, "4 > 3");
	ok(Eval(GA_OP_GE, 2, false, 1, three, none) == GA_FALSE, "2 >= 3 is false");
	ok(Eval(GA_OP_EQ, 0, true, 1, three, none) == GA_UNKNOWN, "NULL = 3 is unknown");
}

static void
test_in_between(void)
{
	static const int list[] = {1, 5};
	static const bool none[] = {false, false};
	static const bool second_null[] = {false, true};
	static const bool first_null[] = {true, false};

	ok(Eval(GA_OP_IN, 5, false, 2, list, none) == GA_TRUE, "5 IN (1, 5)");
	ok(Eval(GA_OP_IN, 4, false, 2, list, none) == GA_FALSE, "4 IN (1, 5) is false");
	ok(Eval(GA_OP_IN, 1, false, 2, list, second_null) == GA_TRUE, "1 IN (1, NULL)");
	ok(Eval(GA_OP_IN, 4, false, 2, list, second_null) == GA_UNKNOWN, "4 IN (1, NULL) is unknown");
	ok(Eval(GA_OP_NOT_IN, 4, false, 2, list, none) == GA_TRUE, "4 NOT IN (1, 5)");
	ok(Eval(GA_OP_NOT_IN, 1, false, 2, list, second_null) == GA_FALSE, "1 NOT IN (1, NULL) is false");
	ok(Eval(GA_OP_NOT_IN, 4, false, 2, list, second_null) == GA_UNKNOWN, "4 NOT IN (1, NULL) is unknown");
	ok(Eval(GA_OP_NOT_IN, 0, true, 2, list, none) == GA_UNKNOWN, "NULL NOT IN (1, 5) is unknown");
	ok(Eval(GA_OP_BETWEEN, 1, false, 2, list, none) == GA_TRUE, "1 BETWEEN 1 AND 5");
	ok(Eval(GA_OP_BETWEEN, 5, false, 2, list, none) == GA_TRUE, "5 BETWEEN 1 AND 5");
	ok(Eval(GA_OP_BETWEEN, 6, false, 2, list, none) == GA_FALSE, "6 BETWEEN 1 AND 5 is false");
	ok(Eval(GA_OP_BETWEEN, 0, false, 2, list, second_null) == GA_FALSE, "0 BETWEEN 1 AND NULL is false");
	ok(Eval(GA_OP_BETWEEN, 3, false, 2, list, second_null) == GA_UNKNOWN, "3 BETWEEN 1 AND NULL is unknown");
	ok(Eval(GA_OP_BETWEEN, 9, false, 2, list, first_null) == GA_FALSE, "9 BETWEEN NULL AND 5 is false");
	ok(Eval(GA_OP_NOT_BETWEEN, 6, false, 2, list, none) == GA_TRUE, "6 NOT BETWEEN 1 AND 5");
	ok(Eval(GA_OP_NOT_BETWEEN, 3, false, 2, list, none) == GA_FALSE, "3 NOT BETWEEN 1 AND 5 is false");
	ok(Eval(GA_OP_NOT_BETWEEN, 0, false, 2, list, second_null) == GA_TRUE, "0 NOT BETWEEN 1 AND NULL");
	ok(Eval(GA_OP_NOT_BETWEEN, 3, false, 2, list, second_null) == GA_UNKNOWN, "3 NOT BETWEEN 1 AND NULL is unknown");
	ok(Eval(GA_OP_BETWEEN, 0, true, 2, list, none) == GA_UNKNOWN, "NULL BETWEEN 1 AND 5 is unknown");
}

static void
test_is_null(void)
{
	ok(Eval(GA_OP_IS_NULL, 0, true, 0, NULL, NULL) == GA_TRUE, "NULL IS NULL");
	ok(Eval(GA_OP_IS_NULL, 7, false, 0, NULL, NULL) == GA_FALSE, "7 IS NULL is false");
	ok(Eval(GA_OP_IS_NOT_NULL, 7, false, 0, NULL, NULL) == GA_TRUE, "7 IS NOT NULL");
	ok(Eval(GA_OP_IS_NOT_NULL, 0, true, 0, NULL, NULL) == GA_FALSE, "NULL IS NOT NULL is false");
}

int
main(void)
{
	test_comparisons();
	test_in_between();
	test_is_null();
	return tap_done();
}
