/*
 * fuzz_audience_codec.c
 *		libFuzzer target of src/audience_codec.c.
 *
 * For any bytes: the check and the readers stay inside the buffer.  For
 * bytes the check accepts: CRoaring decodes them, and the header readers
 * answer exactly as the decoded bitmap does; CRoaring's re-serialization,
 * plain and run-optimized, is accepted again and describes the same set.
 * The same bytes, read as a recipe of CRoaring operations, give a bitmap
 * whose serialization must be accepted and read correctly too.  The set
 * operations of audience_setops.c on the accepted bytes and the recipe's
 * bitmap (and on the recipe's bitmap with a shifted copy of itself) give
 * accepted bytes holding CRoaring's result.  Any disagreement aborts, which
 * libFuzzer reports as a crash.
 */
#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audience_codec.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken property and crashes, so that libFuzzer keeps the input. */
static void
Broken(const char *what)
{
	fprintf(stderr, "property broken: %s\n", what);
	abort();
}

/* Probe values that hit the set's containers and their edges. */
static uint32_t
Probe(const uint8_t *buf, size_t size, size_t i)
{
	uint32_t	v = 0;
	size_t		at = (i * 4) % (size >= 4 ? size - 3 : 1);

	if (size >= 4)
		memcpy(&v, buf + at, 4);
	switch (i % 4)
	{
		case 0:
			return v;
		case 1:
			return v & 0x3FFFF;	/* low keys, where the containers are */
		case 2:
			return (v & 0xFFFF0000) | 0xFFFF;
		default:
			return v & 0xFFFF0000;
	}
}

/* The header readers answer for buf exactly as CRoaring does for r. */
static void
Agrees(const uint8_t *buf, size_t size, const roaring_bitmap_t *r, const uint8_t *input, size_t isize)
{
	uint32_t	v;
	roaring_uint32_iterator_t it;
	int			i;

	if (audience_codec_cardinality(buf, size) != roaring_bitmap_get_cardinality(r))
		Broken("cardinality");
	if (audience_codec_is_empty(buf, size) != roaring_bitmap_is_empty(r))
		Broken("is_empty");
	if (audience_codec_min(buf, size, &v) == roaring_bitmap_is_empty(r))
		Broken("min exists");
	if (!roaring_bitmap_is_empty(r) && v != roaring_bitmap_minimum(r))
		Broken("min value");
	if (audience_codec_max(buf, size, &v) == roaring_bitmap_is_empty(r))
		Broken("max exists");
	if (!roaring_bitmap_is_empty(r) && v != roaring_bitmap_maximum(r))
		Broken("max value");
	for (i = 0; i < 32; i++)
	{
		uint32_t	p = Probe(input, isize, (size_t) i);

		if (audience_codec_contains(buf, size, p) != roaring_bitmap_contains(r, p))
			Broken("contains (probe)");
	}
	/* a few members and their neighbours */
	roaring_init_iterator(r, &it);
	for (i = 0; i < 64 && it.has_value; i++)
	{
		uint32_t	m = it.current_value;

		if (!audience_codec_contains(buf, size, m))
			Broken("contains (member)");
		if (m < UINT32_MAX && audience_codec_contains(buf, size, m + 1) != roaring_bitmap_contains(r, m + 1))
			Broken("contains (member + 1)");
		roaring_advance_uint32_iterator(&it);
	}
}

/* CRoaring's own serialization of r must pass the check and agree. */
static void
ReserializedAgrees(const roaring_bitmap_t *r, const uint8_t *input, size_t isize)
{
	size_t		len = roaring_bitmap_portable_size_in_bytes(r);
	uint8_t    *buf = malloc(len);
	char		why[256];

	if (buf == NULL)
		abort();
	if (roaring_bitmap_portable_serialize(r, (char *) buf) != len)
		Broken("serialize length");
	if (!audience_codec_check(buf, len, why, sizeof(why)))
	{
		fprintf(stderr, "rejected CRoaring output: %s\n", why);
		Broken("CRoaring output accepted");
	}
	Agrees(buf, len, r, input, isize);
	free(buf);
}

static void *
FuzzAlloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size > 0 ? size : 1);
}

/* a OP b on the serialized forms agrees with CRoaring, for every OP. */
static void
SetOpsAgree(const uint8_t *abuf, size_t alen, const roaring_bitmap_t *a, const roaring_bitmap_t *b)
{
	size_t		blen = roaring_bitmap_portable_size_in_bytes(b);
	uint8_t    *bbuf = malloc(blen);
	int			op;

	if (bbuf == NULL)
		abort();
	roaring_bitmap_portable_serialize(b, (char *) bbuf);
	for (op = 0; op < 4; op++)
	{
		roaring_bitmap_t *ref = op == 0 ? roaring_bitmap_or(a, b) : op == 1 ? roaring_bitmap_and(a, b) :
			op == 2 ? roaring_bitmap_andnot(a, b) : roaring_bitmap_xor(a, b);
		size_t		len;
		uint8_t    *out = audience_codec_setop(abuf, alen, bbuf, blen, (AudienceSetOp) op,
											   FuzzAlloc, NULL, 0, &len);
		roaring_bitmap_t *back;

		if (!audience_codec_check(out, len, NULL, 0))
			Broken("set operation result accepted");
		back = roaring_bitmap_portable_deserialize_safe((const char *) out, len);
		if (back == NULL || !roaring_bitmap_equals(back, ref))
			Broken("set operation result equals CRoaring's");
		if (audience_codec_setop_cardinality(abuf, alen, bbuf, blen, (AudienceSetOp) op) !=
			roaring_bitmap_get_cardinality(ref))
			Broken("set operation cardinality");
		roaring_bitmap_free(back);
		roaring_bitmap_free(ref);
		free(out);
	}
	if (audience_codec_intersects(abuf, alen, bbuf, blen) != roaring_bitmap_intersect(a, b))
		Broken("intersects");
	if (audience_codec_is_subset(abuf, alen, bbuf, blen) != roaring_bitmap_is_subset(a, b))
		Broken("is_subset");
	if (audience_codec_equal_sets(abuf, alen, bbuf, blen) != roaring_bitmap_equals(a, b))
		Broken("equal_sets");
	free(bbuf);
}

/* The recipe's bitmap against itself shifted by one chunk and a bit. */
static void
ShiftedSetOpsAgree(const roaring_bitmap_t *r)
{
	roaring_bitmap_t *shifted = roaring_bitmap_create();
	roaring_uint32_iterator_t it;
	size_t		len = roaring_bitmap_portable_size_in_bytes(r);
	uint8_t    *buf = malloc(len);

	if (buf == NULL)
		abort();
	roaring_bitmap_portable_serialize(r, (char *) buf);
	for (roaring_init_iterator(r, &it); it.has_value; roaring_advance_uint32_iterator(&it))
		if (it.current_value % 3 != 0)
			roaring_bitmap_add(shifted, it.current_value + 65537);
	roaring_bitmap_run_optimize(shifted);
	SetOpsAgree(buf, len, r, shifted);
	SetOpsAgree(buf, len, r, r);
	roaring_bitmap_free(shifted);
	free(buf);
}

/* Applies a set operation with a range, as the extension's operators do. */
static void
WithRange(roaring_bitmap_t *r, int op, uint32_t lo, uint32_t hi)
{
	roaring_bitmap_t *m = roaring_bitmap_create();

	roaring_bitmap_add_range_closed(m, lo, hi);
	if (op == 0)
		roaring_bitmap_andnot_inplace(r, m);
	else if (op == 1)
		roaring_bitmap_xor_inplace(r, m);
	else
		roaring_bitmap_or_inplace(r, m);
	roaring_bitmap_free(m);
}

/*
 * Reads the input a second way, as a recipe of CRoaring operations, so that
 * the accepting paths see many shapes of valid bitmaps: mutated bytes are
 * mostly rejected, but CRoaring's own output must always be accepted.
 *
 * roaring_bitmap_remove_range is left out on purpose: in CRoaring 0.2.66 it
 * can leave a bitset container of exactly 4096 values, which CRoaring then
 * serializes as corrupt bytes (the header makes it an array); the codec
 * rightly rejects those, and the extension must not call it.
 */
static roaring_bitmap_t *
RecipeAgrees(const uint8_t *data, size_t size)
{
	roaring_bitmap_t *r = roaring_bitmap_create();
	size_t		i;

	for (i = 0; i + 6 <= size && i < 6 * 48; i += 6)
	{
		/* few keys, so that containers fill up and change kind */
		uint32_t	v = ((uint32_t) (data[i + 1] % 8) << 16) | ((uint32_t) data[i + 2] << 8) | data[i + 3];
		uint32_t	n = ((uint32_t) data[i + 4] << 8 | data[i + 5]) % 20000;
		uint32_t	last;

		if (data[i + 1] >= 0xF0)
			v = UINT32_MAX - (v & 0xFFFF);	/* the top of the range */
		last = n > UINT32_MAX - v ? UINT32_MAX : v + n;
		switch (data[i] % 8)
		{
			case 0:
				roaring_bitmap_add(r, v);
				break;
			case 1:
				roaring_bitmap_add_range_closed(r, v, last);
				break;
			case 2:
				for (uint32_t j = 0; j < n % 64 && j <= last - v; j++)
					roaring_bitmap_remove(r, v + j);
				break;
			case 3:
				for (uint32_t j = 0; j < n % 2000 && j <= last - v; j += 1 + data[i] % 7)
					roaring_bitmap_add(r, v + j);
				break;
			case 4:
				WithRange(r, 0, v, v + (last - v) % 300);
				break;
			case 5:
				WithRange(r, 1, v, last);
				break;
			case 6:
				WithRange(r, 2, v, last);
				break;
			default:
				roaring_bitmap_run_optimize(r);
				break;
		}
	}
	ReserializedAgrees(r, data, size);
	roaring_bitmap_run_optimize(r);
	ReserializedAgrees(r, data, size);
	ShiftedSetOpsAgree(r);
	return r;
}

/*
 * Without run containers the format has a single spelling of each set, so
 * CRoaring must write back the very bytes it accepted: nothing in them was
 * read differently or ignored.  (With cookie 12347, unflagged run bits and
 * an all-clear flag set have other spellings, so those are not compared.)
 */
static void
SameBytes(const roaring_bitmap_t *r, const uint8_t *buf, size_t size)
{
	size_t		len;
	uint8_t    *out;

	if (size < 4 || buf[0] != 0x3a || buf[1] != 0x30 || buf[2] != 0 || buf[3] != 0)
		return;
	len = roaring_bitmap_portable_size_in_bytes(r);
	if (len != size)
		Broken("re-serialized size of a cookie 12346 bitmap");
	out = malloc(len);
	if (out == NULL)
		abort();
	roaring_bitmap_portable_serialize(r, (char *) out);
	if (memcmp(out, buf, len) != 0)
		Broken("re-serialized bytes of a cookie 12346 bitmap");
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		why[256];
	roaring_bitmap_t *r;
	roaring_bitmap_t *recipe;
	uint8_t    *copy;
	uint32_t	v;

	/* an exact-size heap copy lets ASan catch any read past the end */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		abort();
	if (size > 0)
		memcpy(copy, data, size);
	recipe = RecipeAgrees(copy, size);
	if (!audience_codec_check(copy, size, why, sizeof(why)))
	{
		if (why[0] == '\0')
			Broken("a rejection has a reason");
		/* the readers promise memory safety even here */
		(void) audience_codec_cardinality(copy, size);
		(void) audience_codec_is_empty(copy, size);
		(void) audience_codec_min(copy, size, &v);
		(void) audience_codec_max(copy, size, &v);
		for (size_t i = 0; i < 8; i++)
			(void) audience_codec_contains(copy, size, Probe(copy, size, i));
		roaring_bitmap_free(recipe);
		free(copy);
		return 0;
	}
	r = roaring_bitmap_portable_deserialize_safe((const char *) copy, size);
	if (r == NULL)
		Broken("CRoaring decodes what the check accepts");
	Agrees(copy, size, r, copy, size);
	SameBytes(r, copy, size);
	ReserializedAgrees(r, copy, size);
	roaring_bitmap_run_optimize(r);
	ReserializedAgrees(r, copy, size);
	SetOpsAgree(copy, size, r, recipe);
	roaring_bitmap_free(r);
	roaring_bitmap_free(recipe);
	free(copy);
	return 0;
}
