/*
 * audience_kernel.c
 *		The set operations in plain C, outside PostgreSQL: segment's kernel
 *		(src/audience_setops.c, on the stored bytes) against Debian's CRoaring
 *		0.2.66, on two bitmaps of 10M random draws over 0..50M (~9.06M
 *		members, 6.26 MB each), as in bench/audience_anchor.sh.  This is the
 *		floor the SQL figures are compared with.
 *
 *	cc -O2 -Isrc bench/audience_kernel.c src/audience_codec.c src/audience_setops.c -lroaring
 *	./a.out
 */
#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audience_codec.h"

#define REPS 21

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
CompareDouble(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
Median(double *t)
{
	qsort(t, REPS, sizeof(double), CompareDouble);
	return t[REPS / 2];
}

static void *
Alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size);
}

static roaring_bitmap_t *
Random(uint64_t *state)
{
	roaring_bitmap_t *r = roaring_bitmap_create();
	int			i;

	for (i = 0; i < 10000000; i++)
	{
		*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
		roaring_bitmap_add(r, (uint32_t) ((*state >> 33) % 50000001));
	}
	roaring_bitmap_run_optimize(r);
	return r;
}

static uint8_t *
Serialize(const roaring_bitmap_t *r, size_t *len)
{
	uint8_t    *buf;

	*len = roaring_bitmap_portable_size_in_bytes(r);
	buf = malloc(*len);
	roaring_bitmap_portable_serialize(r, (char *) buf);
	return buf;
}

int
main(void)
{
	uint64_t	state = 18;
	roaring_bitmap_t *a = Random(&state);
	roaring_bitmap_t *b = Random(&state);
	size_t		alen,
				blen;
	uint8_t    *abuf = Serialize(a, &alen);
	uint8_t    *bbuf = Serialize(b, &blen);
	const char *names[] = {"a | b", "a & b", "a - b", "a # b"};
	int			op;

	printf("a: %llu members, %zu bytes\n", (unsigned long long) roaring_bitmap_get_cardinality(a), alen);
	printf("| operation | CRoaring 0.2.66: op on decoded sets | decode + op + serialize | count on decoded sets | segment: op on the stored bytes | count on the stored bytes |\n");
	printf("|---|---|---|---|---|---|\n");
	for (op = 0; op < 4; op++)
	{
		double		t_op[REPS],
					t_full[REPS],
					t_seg[REPS],
					t_card[REPS],
					t_rcard[REPS];
		int			i;

		for (i = 0; i < REPS; i++)
		{
			double		t0;
			roaring_bitmap_t *x,
					   *y,
					   *r;
			size_t		len;
			uint8_t    *out;

			t0 = Now();
			r = op == 0 ? roaring_bitmap_or(a, b) : op == 1 ? roaring_bitmap_and(a, b) :
				op == 2 ? roaring_bitmap_andnot(a, b) : roaring_bitmap_xor(a, b);
			t_op[i] = Now() - t0;
			roaring_bitmap_free(r);

			t0 = Now();
			x = roaring_bitmap_portable_deserialize_safe((const char *) abuf, alen);
			y = roaring_bitmap_portable_deserialize_safe((const char *) bbuf, blen);
			if (op == 0)
				roaring_bitmap_or_inplace(x, y);
			else if (op == 1)
				roaring_bitmap_and_inplace(x, y);
			else if (op == 2)
				roaring_bitmap_andnot_inplace(x, y);
			else
				roaring_bitmap_xor_inplace(x, y);
			roaring_bitmap_run_optimize(x);
			out = Serialize(x, &len);
			t_full[i] = Now() - t0;
			free(out);
			roaring_bitmap_free(x);
			roaring_bitmap_free(y);

			t0 = Now();
			out = audience_codec_setop(abuf, alen, bbuf, blen, (AudienceSetOp) op, Alloc, NULL, 0, &len);
			t_seg[i] = Now() - t0;
			free(out);

			t0 = Now();
			(void) (op == 0 ? roaring_bitmap_or_cardinality(a, b) : op == 1 ? roaring_bitmap_and_cardinality(a, b) :
					op == 2 ? roaring_bitmap_andnot_cardinality(a, b) : roaring_bitmap_xor_cardinality(a, b));
			t_rcard[i] = Now() - t0;

			t0 = Now();
			(void) audience_codec_setop_cardinality(abuf, alen, bbuf, blen, (AudienceSetOp) op);
			t_card[i] = Now() - t0;
		}
		printf("| %s | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f ms |\n", names[op],
			   Median(t_op), Median(t_full), Median(t_rcard), Median(t_seg), Median(t_card));
	}
	return 0;
}
