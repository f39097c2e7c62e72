/*
 * test_audience_setops.c
 *		Unit tests of src/audience_setops.c against CRoaring itself: for
 *		pairs of bitmaps of every container mix (arrays, bitsets, runs, full
 *		and empty chunks, keys in one side only), a OP b computed on the
 *		serialized forms is accepted by the checker, holds the same set as
 *		CRoaring's a OP b, and has the same bytes as CRoaring's run-optimized
 *		serialization; the cardinalities, overlap, subset and equality tests
 *		agree with CRoaring's.
 *
 * Buffers handed to the code are exact-size heap copies, so that the
 * sanitizers catch a read one byte past the end.
 */
#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audience_codec.h"
#include "tap.h"

static uint64_t rng = UINT64_C(0x853C49E6748FEA9B);

static const char *const op_names[] = {"or", "and", "andnot", "xor"};

static uint32_t
Next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t) (rng >> 16);
}

static void *
Alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size > 0 ? size : 1);
}

static void
Free(void *ctx, void *p)
{
	(void) ctx;
	free(p);
}

/* Streamed reads from a buffer, checked to stay inside it. */
typedef struct Stream
{
	const uint8_t *buf;
	size_t		len;
	int			reads;
} Stream;

static bool
StreamRead(void *ctx, size_t off, size_t n, uint8_t *dst)
{
	Stream	   *st = (Stream *) ctx;

	if (off > st->len || st->len - off < n)
		abort();
	memcpy(dst, st->buf + off, n);
	st->reads++;
	return true;
}

static AudienceInput
Streamed(Stream *st)
{
	AudienceInput in;

	memset(&in, 0, sizeof(in));
	in.len = st->len;
	in.read = StreamRead;
	in.ctx = st;
	in.alloc = Alloc;
	in.free = Free;
	return in;
}

/* The streamed variants give what the in-memory ones give. */
static int
CheckStreamed(const uint8_t *abuf, size_t alen, const uint8_t *bbuf, size_t blen)
{
	Stream		sa = {abuf, alen, 0};
	Stream		sb = {bbuf, blen, 0};
	AudienceInput a = Streamed(&sa);
	AudienceInput b = Streamed(&sb);
	int			broken = 0;
	int			op;

	for (op = 0; op < 4; op++)
	{
		size_t		l1,
					l2;
		uint8_t    *r1 = audience_codec_setop(abuf, alen, bbuf, blen, (AudienceSetOp) op, Alloc, NULL, 0, &l1);
		uint8_t    *r2 = audience_codec_setop_input(&a, &b, (AudienceSetOp) op, Alloc, NULL, 0, &l2);

		if (l1 != l2 || memcmp(r1, r2, l1) != 0)
			broken++, printf("# streamed %s differs\n", op_names[op]);
		if (audience_codec_setop_cardinality_input(&a, &b, (AudienceSetOp) op) !=
			audience_codec_setop_cardinality(abuf, alen, bbuf, blen, (AudienceSetOp) op))
			broken++, printf("# streamed %s cardinality differs\n", op_names[op]);
		free(r1);
		free(r2);
	}
	for (op = 0; op < 64; op++)
	{
		uint32_t	x = op % 2 ? Next() % (40u << 16) : Next();

		if (audience_codec_contains_input(&a, x) != audience_codec_contains(abuf, alen, x))
			broken++, printf("# streamed contains differs for %u\n", x);
	}
	if (audience_codec_intersects_input(&a, &b) != audience_codec_intersects(abuf, alen, bbuf, blen))
		broken++, printf("# streamed intersects differs\n");
	if (audience_codec_is_subset_input(&a, &b) != audience_codec_is_subset(abuf, alen, bbuf, blen))
		broken++, printf("# streamed is_subset differs\n");
	return broken;
}

/* CRoaring's run-optimized serialization of r, in an exact-size buffer. */
static uint8_t *
Serialize(roaring_bitmap_t *r, size_t *len)
{
	uint8_t    *buf;

	roaring_bitmap_run_optimize(r);
	*len = roaring_bitmap_portable_size_in_bytes(r);
	buf = malloc(*len);
	if (buf == NULL || roaring_bitmap_portable_serialize(r, (char *) buf) != *len)
		abort();
	return buf;
}

/*
 * One chunk of 64K ids in a given shape: sparse (array), dense (bitset),
 * a few long runs, many short runs (array or bitset by size), full, or
 * runs of exactly two (the run/array size tie).
 */
static void
AddChunk(roaring_bitmap_t *r, uint32_t key, int shape)
{
	uint32_t	base = key << 16;
	uint32_t	j,
				n;

	switch (shape)
	{
		case 0:					/* sparse */
			n = 1 + Next() % 3000;
			for (j = 0; j < n; j++)
				roaring_bitmap_add(r, base + Next() % 65536);
			break;
		case 1:					/* dense */
			for (j = 0; j < 20000; j++)
				roaring_bitmap_add(r, base + Next() % 65536);
			break;
		case 2:					/* a few long runs */
			n = 1 + Next() % 5;
			for (j = 0; j < n; j++)
			{
				uint32_t	s = Next() % 60000;

				roaring_bitmap_add_range_closed(r, base + s, base + s + Next() % 5000);
			}
			break;
		case 3:					/* many short runs */
			n = 100 + Next() % 3000;
			for (j = 0; j < n; j++)
			{
				uint32_t	s = Next() % 65500;

				roaring_bitmap_add_range_closed(r, base + s, base + s + Next() % 8);
			}
			break;
		case 4:					/* full */
			roaring_bitmap_add_range_closed(r, base, base + 65535);
			break;
		case 5:					/* runs of two: 2 * runs == cardinality */
			n = 1 + Next() % 1500;
			for (j = 0; j < n; j++)
			{
				uint32_t	s = (Next() % 16000) * 4;

				roaring_bitmap_add_range_closed(r, base + s, base + s + 1);
			}
			break;
		case 6:					/* a single value at an edge */
			roaring_bitmap_add(r, base + (Next() % 2 ? 0 : 65535));
			break;
		default:				/* runs up to the chunk's end */
			roaring_bitmap_add_range_closed(r, base + 65000 + Next() % 500, base + 65535);
			for (j = 0; j < 300; j++)
				roaring_bitmap_add(r, base + Next() % 65000);
			break;
	}
}

/* A random bitmap over keys 0..nkeys-1, each chunk present with p/8. */
static roaring_bitmap_t *
RandomBitmap(uint32_t nkeys, uint32_t p, int shape)
{
	roaring_bitmap_t *r = roaring_bitmap_create();
	uint32_t	k;

	for (k = 0; k < nkeys; k++)
		if (Next() % 8 < p)
			AddChunk(r, k, shape >= 0 ? shape : (int) (Next() % 8));
	return r;
}


/* CRoaring's a OP b. */
static roaring_bitmap_t *
Reference(const roaring_bitmap_t *a, const roaring_bitmap_t *b, AudienceSetOp op)
{
	switch (op)
	{
		case AUDIENCE_OP_OR:
			return roaring_bitmap_or(a, b);
		case AUDIENCE_OP_AND:
			return roaring_bitmap_and(a, b);
		case AUDIENCE_OP_ANDNOT:
			return roaring_bitmap_andnot(a, b);
		case AUDIENCE_OP_XOR:
			return roaring_bitmap_xor(a, b);
	}
	abort();
}

static int	byte_mismatches = 0;

/* One pair, every operation: returns the number of broken properties. */
static int
CheckPair(roaring_bitmap_t *a, roaring_bitmap_t *b)
{
	size_t		alen,
				blen;
	uint8_t    *abuf = Serialize(a, &alen);
	uint8_t    *bbuf = Serialize(b, &blen);
	int			broken = 0;
	int			op;

	for (op = 0; op < 4; op++)
	{
		roaring_bitmap_t *ref = Reference(a, b, (AudienceSetOp) op);
		size_t		rlen,
					len;
		uint8_t    *rbuf = Serialize(ref, &rlen);
		uint8_t    *out = audience_codec_setop(abuf, alen, bbuf, blen, (AudienceSetOp) op,
											   Alloc, NULL, 3, &len);
		uint8_t    *exact = malloc(len);
		roaring_bitmap_t *back;
		char		why[200];

		memcpy(exact, out + 3, len);
		if (!audience_codec_check(exact, len, why, sizeof(why)))
		{
			printf("# %s: result rejected: %s\n", op_names[op], why);
			broken++;
		}
		else
		{
			back = roaring_bitmap_portable_deserialize_safe((const char *) exact, len);
			if (back == NULL || !roaring_bitmap_equals(back, ref))
			{
				printf("# %s: result is a different set\n", op_names[op]);
				broken++;
			}
			else if (len != rlen || memcmp(exact, rbuf, len) != 0)
				byte_mismatches++;
			roaring_bitmap_free(back);
		}
		if (audience_codec_setop_cardinality(abuf, alen, bbuf, blen, (AudienceSetOp) op) !=
			roaring_bitmap_get_cardinality(ref))
		{
			printf("# %s: cardinality differs\n", op_names[op]);
			broken++;
		}
		free(exact);
		free(out);
		free(rbuf);
		roaring_bitmap_free(ref);
	}
	if (audience_codec_intersects(abuf, alen, bbuf, blen) != roaring_bitmap_intersect(a, b))
		broken++, printf("# intersects differs\n");
	if (audience_codec_is_subset(abuf, alen, bbuf, blen) != roaring_bitmap_is_subset(a, b))
		broken++, printf("# is_subset differs\n");
	if (audience_codec_equal_sets(abuf, alen, bbuf, blen) != roaring_bitmap_equals(a, b))
		broken++, printf("# equal_sets differs\n");
	broken += CheckStreamed(abuf, alen, bbuf, blen);
	free(abuf);
	free(bbuf);
	return broken;
}

/* Pairs of one shape each, and of mixed shapes. */
static void
RandomPairs(void)
{
	int			shape,
				t,
				broken = 0;

	for (shape = -1; shape < 8; shape++)
		for (t = 0; t < 12; t++)
		{
			roaring_bitmap_t *a = RandomBitmap(1 + Next() % 40, 1 + Next() % 8, shape);
			roaring_bitmap_t *b = RandomBitmap(1 + Next() % 40, 1 + Next() % 8,
											   t % 2 ? shape : -1);

			broken += CheckPair(a, b);
			broken += CheckPair(b, a);
			roaring_bitmap_free(a);
			roaring_bitmap_free(b);
		}
	ok(broken == 0, "random pairs of every container mix: results valid, equal to CRoaring's (%d broken)",
	   broken);
	printf("# results byte-identical to CRoaring's except %d (run/array size ties)\n",
		   byte_mismatches);
}

/* Edge pairs: empty sides, a set with itself, subset and disjoint pairs. */
static void
EdgePairs(void)
{
	roaring_bitmap_t *empty = roaring_bitmap_create();
	roaring_bitmap_t *a = RandomBitmap(30, 6, -1);
	roaring_bitmap_t *copy = roaring_bitmap_copy(a);
	roaring_bitmap_t *sub = roaring_bitmap_copy(a);
	roaring_bitmap_t *far = roaring_bitmap_create();
	roaring_bitmap_t *top = roaring_bitmap_from_range(UINT64_C(4294901760), UINT64_C(4294967296), 1);
	size_t		len;
	uint8_t    *ebuf = Serialize(empty, &len);
	uint8_t    *out;
	size_t		olen;

	roaring_bitmap_remove_range_closed(sub, 100000, 400000);
	roaring_bitmap_add(far, 3000000000u);
	ok(CheckPair(empty, empty) == 0, "empty with empty");
	ok(CheckPair(a, empty) == 0 && CheckPair(empty, a) == 0, "a set with the empty set");
	ok(CheckPair(a, copy) == 0, "a set with an equal set");
	ok(CheckPair(a, sub) == 0 && CheckPair(sub, a) == 0, "a set with a subset");
	ok(CheckPair(a, far) == 0 && CheckPair(far, a) == 0, "disjoint sets");
	ok(CheckPair(top, a) == 0 && CheckPair(top, top) == 0, "the last chunk, full");
	out = audience_codec_setop(ebuf, len, ebuf, len, AUDIENCE_OP_OR, Alloc, NULL, 0, &olen);
	ok(olen == 8 && audience_codec_cardinality(out, olen) == 0, "empty result is the 8-byte empty bitmap");
	free(out);
	free(ebuf);
	roaring_bitmap_free(empty);
	roaring_bitmap_free(a);
	roaring_bitmap_free(copy);
	roaring_bitmap_free(sub);
	roaring_bitmap_free(far);
	roaring_bitmap_free(top);
}

/* The readers stay inside truncated and damaged buffers. */
static void
GarbageStaysInside(void)
{
	roaring_bitmap_t *a = RandomBitmap(20, 6, -1);
	size_t		len,
				olen,
				cut;
	uint8_t    *buf = Serialize(a, &len);

	for (cut = 0; cut < len; cut += 1 + len / 50)
	{
		uint8_t    *part = malloc(cut > 0 ? cut : 1);
		uint8_t    *out;

		memcpy(part, buf, cut);
		out = audience_codec_setop(part, cut, buf, len, AUDIENCE_OP_XOR, Alloc, NULL, 0, &olen);
		free(out);
		(void) audience_codec_setop_cardinality(buf, len, part, cut, AUDIENCE_OP_OR);
		(void) audience_codec_is_subset(part, cut, buf, len);
		free(part);
	}
	ok(1, "truncated inputs are read inside their buffers");
	free(buf);
	roaring_bitmap_free(a);
}

/* Inputs larger than the read window, streamed in several reads. */
static void
BigStreamed(void)
{
	roaring_bitmap_t *a = RandomBitmap(400, 8, 1);
	roaring_bitmap_t *b = RandomBitmap(400, 6, -1);
	size_t		alen,
				blen;
	uint8_t    *abuf = Serialize(a, &alen);
	uint8_t    *bbuf = Serialize(b, &blen);
	Stream		sa = {abuf, alen, 0};
	AudienceInput in = Streamed(&sa);

	ok(alen > 3 * 64 * 1024, "a bitmap of %zu bytes, several read windows", alen);
	ok(CheckPair(a, b) == 0 && CheckPair(b, a) == 0, "large pairs, streamed and in memory, agree with CRoaring");
	(void) audience_codec_setop_cardinality_input(&in, &in, AUDIENCE_OP_AND);
	ok(sa.reads > 3, "a large input is read in windows (%d reads)", sa.reads);
	free(abuf);
	free(bbuf);
	roaring_bitmap_free(a);
	roaring_bitmap_free(b);
}

int
main(void)
{
	RandomPairs();
	EdgePairs();
	GarbageStaysInside();
	BigStreamed();
	return tap_done();
}
