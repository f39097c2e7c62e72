/*
 * grouped_audience_agg.h
 *		The constants of grouped_audience_agg() (grouped_audience_agg.c),
 *		shared with the compiler that emits its calls (rule_compile_shard.c).
 *
 * They are part of the SQL interface (doc/scale-out.md): keep the values.
 */
#ifndef GROUPED_AUDIENCE_AGG_H
#define GROUPED_AUDIENCE_AGG_H

#include <stdbool.h>

/* The per-customer aggregate. */
typedef enum GaKind
{
	GA_KIND_COUNT = 0,			/* non-NULL values (count(*): a constant) */
	GA_KIND_SUM = 1,			/* 0 over no values */
	GA_KIND_AVG = 2,
	GA_KIND_MIN = 3,
	GA_KIND_MAX = 4,
	GA_KIND_FIRST = 5,			/* on the earliest time; ties: smaller value */
	GA_KIND_LAST = 6,			/* on the latest time; ties: smaller value */
	GA_KIND_COUNT_DISTINCT = 7, /* distinct non-NULL values; 0 over none */
	GA_KIND_MODE = 8,			/* the most frequent non-NULL value; ties:
								 * the smallest */
	GA_KIND_ACTIVE_DAYS = 9,	/* distinct local days of a time value */
	GA_KIND_ACTIVE_WEEKS = 10,	/* distinct local weeks (from Monday) */
	GA_KIND_ACTIVE_MONTHS = 11	/* distinct local months */
} GaKind;

/* The comparison of the aggregate's value with the literals. */
typedef enum GaOp
{
	GA_OP_EQ = 0,
	GA_OP_NE = 1,
	GA_OP_LT = 2,
	GA_OP_LE = 3,
	GA_OP_GT = 4,
	GA_OP_GE = 5,
	GA_OP_IN = 6,
	GA_OP_NOT_IN = 7,
	GA_OP_BETWEEN = 8,
	GA_OP_NOT_BETWEEN = 9,
	GA_OP_IS_NULL = 10,
	GA_OP_IS_NOT_NULL = 11
} GaOp;

typedef enum GaTruth
{
	GA_FALSE,
	GA_TRUE,
	GA_UNKNOWN
} GaTruth;

extern GaTruth ga_compare(GaOp op, bool vnull, int nargs, const bool *argnulls,
						  int (*cmp) (void *ctx, int i), void *ctx);

#endif							/* GROUPED_AUDIENCE_AGG_H */
