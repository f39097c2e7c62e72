/*
 * test_audience_codec.c
 *		Unit tests of src/audience_codec.c against CRoaring itself: whatever
 *		CRoaring serializes is accepted and read exactly as CRoaring reads it,
 *		and every damaged or hand-made invalid input is rejected for the
 *		expected reason.
 *
 *	./test_audience_codec						run the tests (TAP)
 *	./test_audience_codec --write-corpus DIR	also write the fuzz seeds
 *
 * Every buffer handed to the codec is an exact-size heap copy, so that the
 * sanitizers catch a read one byte past the end.
 */
#include <roaring/roaring.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audience_codec.h"
#include "tap.h"

#define COOKIE_NO_RUN	12346
#define COOKIE_RUN		12347

/* Seeds for the fuzzer are written here when --write-corpus is given. */
static const char *corpus_dir = NULL;

/* A growable byte string, for hand-made bitmaps. */
typedef struct Bytes
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
} Bytes;

/* One container of a hand-made bitmap: its header fields and raw payload. */
typedef struct Part
{
	uint32_t	key;
	uint32_t	card;			/* declared; written as card - 1 */
	int			run;			/* flagged as a run container */
	const uint16_t *words;		/* payload as little-endian uint16s */
	size_t		nwords;
} Part;

/* Appends raw bytes, growing the buffer. */
static void
Put(Bytes *b, const uint8_t *src, size_t n)
{
	if (b->len + n > b->cap)
	{
		b->cap = (b->len + n) * 2 + 64;
		b->data = realloc(b->data, b->cap);
		if (b->data == NULL)
			abort();
	}
	if (n > 0)
		memcpy(b->data + b->len, src, n);
	b->len += n;
}

/* Appends a little-endian uint16, as the format stores it. */
static void
Put16(Bytes *b, uint32_t v)
{
	uint8_t		x[2] = {(uint8_t) v, (uint8_t) (v >> 8)};

	Put(b, x, 2);
}

/* Appends a little-endian uint32. */
static void
Put32(Bytes *b, uint32_t v)
{
	uint8_t		x[4] = {(uint8_t) v, (uint8_t) (v >> 8), (uint8_t) (v >> 16), (uint8_t) (v >> 24)};

	Put(b, x, 4);
}

/* Overwrites a little-endian uint16 at pos, to damage valid bytes. */
static void
Poke16(uint8_t *p, size_t pos, uint32_t v)
{
	p[pos] = (uint8_t) v;
	p[pos + 1] = (uint8_t) (v >> 8);
}

/* Overwrites a little-endian uint32 at pos. */
static void
Poke32(uint8_t *p, size_t pos, uint32_t v)
{
	Poke16(p, pos, v & 0xFFFF);
	Poke16(p, pos + 2, v >> 16);
}

/* Reads a little-endian uint32, to find offsets in CRoaring's output. */
static uint32_t
Peek32(const uint8_t *p, size_t pos)
{
	return (uint32_t) p[pos] | ((uint32_t) p[pos + 1] << 8) |
		((uint32_t) p[pos + 2] << 16) | ((uint32_t) p[pos + 3] << 24);
}

/*
 * Writes a bitmap in the portable layout from its parts, with correct
 * offsets; cookie 12347 if runcookie, else 12346.  Tests then damage it.
 */
static void
Build(Bytes *b, int runcookie, const Part *parts, uint32_t n)
{
	size_t		pos;
	uint32_t	i;

	b->len = 0;
	if (runcookie)
	{
		Put32(b, COOKIE_RUN | ((n - 1) << 16));
		for (i = 0; i < (n + 7) / 8; i++)
		{
			uint8_t		flags = 0;

			for (uint32_t j = 0; j < 8 && i * 8 + j < n; j++)
				if (parts[i * 8 + j].run)
					flags |= (uint8_t) (1 << j);
			Put(b, &flags, 1);
		}
	}
	else
	{
		Put32(b, COOKIE_NO_RUN);
		Put32(b, n);
	}
	for (i = 0; i < n; i++)
	{
		Put16(b, parts[i].key);
		Put16(b, parts[i].card - 1);
	}
	if (!runcookie || n >= 4)
	{
		pos = b->len + 4 * (size_t) n;
		for (i = 0; i < n; i++)
		{
			Put32(b, (uint32_t) pos);
			pos += 2 * parts[i].nwords;
		}
	}
	for (i = 0; i < n; i++)
		for (size_t j = 0; j < parts[i].nwords; j++)
			Put16(b, parts[i].words[j]);
}

/* An exact-size heap copy (ASan sees any read past the end). */
static uint8_t *
Exact(const uint8_t *src, size_t len)
{
	uint8_t    *copy = malloc(len > 0 ? len : 1);

	if (copy == NULL)
		abort();
	if (len > 0)
		memcpy(copy, src, len);
	return copy;
}

/* CRoaring's portable serialization of r, in an exact-size buffer. */
static uint8_t *
Serialize(const roaring_bitmap_t *r, size_t *len)
{
	uint8_t    *buf;

	*len = roaring_bitmap_portable_size_in_bytes(r);
	buf = malloc(*len);
	if (buf == NULL)
		abort();
	if (roaring_bitmap_portable_serialize(r, (char *) buf) != *len)
		abort();
	return buf;
}

/* Saves a fuzz seed when asked to; the name is the file name. */
static void
Seed(const char *name, const uint8_t *data, size_t len)
{
	char		path[1024];
	FILE	   *f;

	if (corpus_dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", corpus_dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
	{
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
}

/* The readers must never fault, even on bytes the check rejected. */
static void
ReadersSurvive(const uint8_t *buf, size_t len)
{
	uint32_t	v;
	static const uint32_t probes[] = {0, 1, 65535, 65536, 0x7FFFFFFF, UINT32_MAX};

	(void) audience_codec_cardinality(buf, len);
	(void) audience_codec_is_empty(buf, len);
	(void) audience_codec_min(buf, len, &v);
	(void) audience_codec_max(buf, len, &v);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		(void) audience_codec_contains(buf, len, probes[i]);
}

/* Asserts a rejection whose reason contains the expected words. */
static void
ExpectRejected(const uint8_t *data, size_t len, const char *reason, const char *name)
{
	uint8_t    *copy = Exact(data, len);
	char		why[256];
	int			accepted = audience_codec_check(copy, len, why, sizeof(why));
	int			right = !accepted && strstr(why, reason) != NULL;

	ReadersSurvive(copy, len);
	ok(right, "rejects %s: \"%s\"", name, reason);
	if (!right)
		printf("#   %s; reason was \"%s\"\n", accepted ? "accepted" : "rejected", why);
	free(copy);
}

/* Asserts acceptance of hand-made bytes and that CRoaring agrees on the set. */
static void
ExpectAccepted(const uint8_t *data, size_t len, uint64_t card, const char *name)
{
	uint8_t    *copy = Exact(data, len);
	char		why[256] = "";
	int			accepted = audience_codec_check(copy, len, why, sizeof(why));
	roaring_bitmap_t *r = roaring_bitmap_portable_deserialize_safe((const char *) copy, len);

	ok(accepted && r != NULL && audience_codec_cardinality(copy, len) == card &&
	   roaring_bitmap_get_cardinality(r) == card,
	   "accepts %s", name);
	if (!accepted)
		printf("#   reason was \"%s\"\n", why);
	if (r != NULL)
		roaring_bitmap_free(r);
	free(copy);
}

/* Probes one value and its neighbours; false on any disagreement. */
static int
ProbeAgrees(const uint8_t *buf, size_t len, const roaring_bitmap_t *r, uint32_t v)
{
	int			agree = audience_codec_contains(buf, len, v) == roaring_bitmap_contains(r, v);

	if (v > 0)
		agree &= audience_codec_contains(buf, len, v - 1) == roaring_bitmap_contains(r, v - 1);
	if (v < UINT32_MAX)
		agree &= audience_codec_contains(buf, len, v + 1) == roaring_bitmap_contains(r, v + 1);
	if (!agree)
		printf("#   contains disagrees near %u\n", v);
	return agree;
}

/* contains agrees with CRoaring on members, neighbours, boundaries and noise. */
static int
ContainsAgrees(const uint8_t *buf, size_t len, const roaring_bitmap_t *r)
{
	roaring_uint32_iterator_t it;
	int			agree = 1;
	int			i;

	/* the first members in a row, then members spread over the value range */
	roaring_init_iterator(r, &it);
	for (i = 0; i < 5000 && it.has_value && agree; i++)
	{
		agree &= audience_codec_contains(buf, len, it.current_value);
		agree &= ProbeAgrees(buf, len, r, it.current_value);
		roaring_advance_uint32_iterator(&it);
	}
	if (!roaring_bitmap_is_empty(r))
	{
		uint32_t	mn = roaring_bitmap_minimum(r);
		uint64_t	span = (uint64_t) roaring_bitmap_maximum(r) - mn;

		for (i = 0; i <= 20000 && agree; i++)
		{
			roaring_init_iterator(r, &it);
			if (!roaring_move_uint32_iterator_equalorlarger(&it, (uint32_t) (mn + span * (uint64_t) i / 20000)))
				return 0;
			agree &= audience_codec_contains(buf, len, it.current_value);
			agree &= ProbeAgrees(buf, len, r, it.current_value);
		}
	}
	/* the edges of 64K chunks, whether present or not */
	for (uint32_t key = 0; key < 65536 && agree; key += (key < 64 || key > 65470) ? 1 : 251)
	{
		agree &= ProbeAgrees(buf, len, r, key << 16);
		agree &= ProbeAgrees(buf, len, r, (key << 16) | 0xFFFF);
		agree &= ProbeAgrees(buf, len, r, (key << 16) | 0x8000);
	}
	for (i = 0; i < 5000 && agree; i++)
		agree &= ProbeAgrees(buf, len, r, ((uint32_t) rand() << 16) ^ (uint32_t) rand());
	return agree;
}

/* Every proper prefix is rejected as truncated (a sample of cuts if large). */
static int
TruncationsRejected(const uint8_t *buf, size_t len)
{
	size_t		step = len <= 20000 ? 1 : len / 400;

	for (size_t cut = 0; cut < len; cut += (cut < 64 || len - cut < 64) ? 1 : step)
	{
		uint8_t    *copy = Exact(buf, cut);
		char		why[256];
		int			right = !audience_codec_check(copy, cut, why, sizeof(why)) &&
			strncmp(why, "truncated", 9) == 0;

		if (right)
			ReadersSurvive(copy, cut);
		free(copy);
		if (!right)
		{
			printf("#   cut at %zu of %zu: \"%s\"\n", cut, len, why);
			return 0;
		}
	}
	return 1;
}

/* A byte appended to valid bytes is rejected. */
static int
TrailingRejected(const uint8_t *buf, size_t len)
{
	uint8_t    *copy = malloc(len + 1);
	char		why[256];
	int			right;

	memcpy(copy, buf, len);
	copy[len] = 0;
	right = !audience_codec_check(copy, len + 1, why, sizeof(why)) &&
		strstr(why, "1 trailing bytes") != NULL;
	free(copy);
	return right;
}

/*
 * The main property: CRoaring's serialization of r is accepted, and the
 * header readers give CRoaring's answers; damaging the length is caught.
 */
static void
CheckAgrees(const roaring_bitmap_t *r, const char *name, const char *seed)
{
	size_t		len;
	uint8_t    *buf = Serialize(r, &len);
	char		why[256] = "";
	uint32_t	mn = 0,
				mx = 0;
	int			accepted = audience_codec_check(buf, len, why, sizeof(why));

	ok(accepted, "%s: accepted (%zu bytes)", name, len);
	if (!accepted)
	{
		printf("#   reason was \"%s\"\n", why);
		free(buf);
		return;
	}
	ok(audience_codec_cardinality(buf, len) == roaring_bitmap_get_cardinality(r) &&
	   audience_codec_is_empty(buf, len) == roaring_bitmap_is_empty(r),
	   "%s: cardinality %llu", name, (unsigned long long) roaring_bitmap_get_cardinality(r));
	if (roaring_bitmap_is_empty(r))
		ok(!audience_codec_min(buf, len, &mn) && !audience_codec_max(buf, len, &mx),
		   "%s: no min or max", name);
	else
		ok(audience_codec_min(buf, len, &mn) && mn == roaring_bitmap_minimum(r) &&
		   audience_codec_max(buf, len, &mx) && mx == roaring_bitmap_maximum(r),
		   "%s: min %u and max %u", name, mn, mx);
	ok(ContainsAgrees(buf, len, r), "%s: contains agrees with CRoaring", name);
	ok(TruncationsRejected(buf, len), "%s: every truncation is rejected as truncated", name);
	ok(TrailingRejected(buf, len), "%s: a trailing byte is rejected", name);
	if (seed != NULL)
		Seed(seed, buf, len);
	free(buf);
}

/* CheckAgrees, then frees r: most sets below are built for one check. */
static void
CheckAgreesFree(roaring_bitmap_t *r, const char *name, const char *seed)
{
	CheckAgrees(r, name, seed);
	roaring_bitmap_free(r);
}

/* What CRoaring 0.2.66 emits, pinned down: the codec relies on it. */
static void
FormatFacts(void)
{
	static const uint8_t empty[] = {0x3a, 0x30, 0, 0, 0, 0, 0, 0};

	/* {10..20, 100..199}: flags 01, key 0, card - 1 = 110, 2 runs (start, length - 1) */
	static const uint8_t runs[] = {0x3b, 0x30, 0, 0, 0x01, 0, 0, 0x6e, 0,
	2, 0, 10, 0, 10, 0, 100, 0, 99, 0};
	roaring_bitmap_t *r = roaring_bitmap_create();
	size_t		len;
	uint8_t    *buf = Serialize(r, &len);

	ok(len == sizeof(empty) && memcmp(buf, empty, len) == 0,
	   "format: the empty bitmap is cookie 12346 and count 0");
	free(buf);
	roaring_bitmap_add_range(r, 10, 21);
	roaring_bitmap_add_range(r, 100, 200);
	roaring_bitmap_run_optimize(r);
	buf = Serialize(r, &len);
	ok(len == sizeof(runs) && memcmp(buf, runs, len) == 0,
	   "format: a run container is a run count, then (start, length - 1) pairs");
	free(buf);
	roaring_bitmap_free(r);

	/* 3 run containers: 4 + 1 + 3 * 4 header + 3 * 6 runs, no offsets */
	r = roaring_bitmap_create();
	for (uint32_t k = 0; k < 3; k++)
		roaring_bitmap_add_range(r, (uint64_t) k << 16, ((uint64_t) k << 16) + 1000);
	roaring_bitmap_run_optimize(r);
	ok(roaring_bitmap_portable_size_in_bytes(r) == 4 + 1 + 12 + 18,
	   "format: fewer than 4 containers with runs have no offset header");
	roaring_bitmap_add_range(r, 3 << 16, (3 << 16) + 1000);
	roaring_bitmap_run_optimize(r);
	ok(roaring_bitmap_portable_size_in_bytes(r) == 4 + 1 + 16 + 16 + 24,
	   "format: 4 containers with runs have an offset header");
	roaring_bitmap_free(r);
}

/* Bitmaps of every container kind and header variant, built by CRoaring. */
static void
ValidFromCRoaring(void)
{
	roaring_bitmap_t *r;

	CheckAgreesFree(roaring_bitmap_create(), "empty", "empty");
	CheckAgreesFree(roaring_bitmap_of(1, 0), "{0}", NULL);
	CheckAgreesFree(roaring_bitmap_of(1, UINT32_MAX), "{4294967295}", "single_max");
	CheckAgreesFree(roaring_bitmap_of(2, 0, UINT32_MAX), "{0, 4294967295}", NULL);
	CheckAgreesFree(roaring_bitmap_of(6, 1, 5, 9, 1000, 65535, 65536), "small arrays", "array");

	r = roaring_bitmap_create();
	for (uint32_t i = 0; i < 4096; i++)
		roaring_bitmap_add(r, (5 << 16) + i * 16);
	CheckAgrees(r, "an array of 4096, the largest", NULL);
	roaring_bitmap_add(r, (5 << 16) + 1);
	CheckAgreesFree(r, "4097 values, the smallest bitset", NULL);

	r = roaring_bitmap_create();
	for (uint32_t i = 0; i < 10000; i += 2)
		roaring_bitmap_add(r, i);
	CheckAgreesFree(r, "bitset container", "bitset");

	r = roaring_bitmap_create();
	for (uint32_t i = 0; i < 65536; i += 13)
		roaring_bitmap_add(r, (3 << 16) + i);
	roaring_bitmap_add(r, (3 << 16) + 65535);
	CheckAgreesFree(r, "bitset holding 0 and 65535 of its chunk", NULL);

	r = roaring_bitmap_from_range(100000, 300000, 1);
	roaring_bitmap_run_optimize(r);
	CheckAgreesFree(r, "run containers from a range", "runs");

	r = roaring_bitmap_from_range(7 << 16, 8 << 16, 1);
	roaring_bitmap_run_optimize(r);
	CheckAgreesFree(r, "a full chunk as one run (cardinality 65536)", "full_chunk");

	r = roaring_bitmap_from_range(65530, 65550, 1);
	roaring_bitmap_run_optimize(r);
	CheckAgreesFree(r, "a run crossing a chunk boundary", NULL);

	r = roaring_bitmap_create();
	for (uint32_t k = 0; k < 3; k++)
		roaring_bitmap_add_range(r, ((uint64_t) k << 16) + 5, ((uint64_t) k << 16) + 900);
	roaring_bitmap_run_optimize(r);
	CheckAgrees(r, "3 run containers, no offset header", "runs_no_offsets");
	roaring_bitmap_add_range(r, (9 << 16) + 5, (9 << 16) + 900);
	roaring_bitmap_run_optimize(r);
	CheckAgreesFree(r, "4 run containers, offset header", "runs_offsets");

	r = roaring_bitmap_create();
	for (uint32_t k = 0; k < 6; k++)
		roaring_bitmap_add(r, k * 70000);
	CheckAgreesFree(r, "many array containers without runs", "arrays_offsets");

	r = roaring_bitmap_create();
	for (uint32_t i = 0; i < 10000; i += 2)
		roaring_bitmap_add(r, i);
	roaring_bitmap_add_range(r, 100000, 300000);
	for (uint32_t k = 10; k < 20; k++)
		roaring_bitmap_add(r, k << 16 | 7);
	roaring_bitmap_run_optimize(r);
	CheckAgreesFree(r, "bitsets, runs and arrays with offsets", "mixed_offsets");

	r = roaring_bitmap_create();
	for (uint32_t k = 0; k < 65536; k++)
		roaring_bitmap_add(r, k << 16 | k);
	CheckAgreesFree(r, "65536 containers, the most there can be", NULL);

	r = roaring_bitmap_from_range(0, (uint64_t) UINT32_MAX + 1, 1);
	roaring_bitmap_run_optimize(r);
	CheckAgreesFree(r, "every uint32 (cardinality 2^32)", NULL);
}

/*
 * CRoaring 0.2.66's remove_range can leave a bitset container of exactly
 * 4096 values, which it then serializes with a header that makes it an
 * array: bytes CRoaring itself decodes to a different set.  The codec must
 * reject exactly those bytes (and accept them if a fixed CRoaring writes
 * them correctly).
 */
static void
CRoaringRemoveRangeBug(void)
{
	roaring_bitmap_t *r = roaring_bitmap_create();
	roaring_bitmap_t *back;
	size_t		len;
	uint8_t    *buf;
	char		why[256] = "";
	int			accepted;

	for (uint32_t i = 0; i < 4100; i++)
		roaring_bitmap_add(r, 2 * i);
	roaring_bitmap_remove_range(r, 0, 8);
	roaring_bitmap_run_optimize(r);
	buf = Serialize(r, &len);
	back = roaring_bitmap_portable_deserialize_safe((const char *) buf, len);
	accepted = audience_codec_check(buf, len, why, sizeof(why));
	if (back != NULL && roaring_bitmap_equals(back, r))
		ok(accepted, "CRoaring remove_range: correct output is accepted");
	else
	{
		ok(!accepted && strstr(why, "array container 0 is not strictly ascending") != NULL,
		   "CRoaring 0.2.66 remove_range: its corrupt output (a 4096-value bitset) is rejected");
		Seed("croaring_remove_range_bug", buf, len);
	}
	if (back != NULL)
		roaring_bitmap_free(back);
	roaring_bitmap_free(r);
	free(buf);
}

/* Random sets of several densities, run-optimized or not. */
static void
ValidRandom(void)
{
	static const uint32_t spans[] = {1000, 70000, 5000000, UINT32_MAX};
	static const int counts[] = {50, 3000, 200000};

	srand(7);
	for (size_t s = 0; s < sizeof(spans) / sizeof(spans[0]); s++)
		for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
			for (int optimize = 0; optimize <= 1; optimize++)
			{
				roaring_bitmap_t *r;
				char		name[128];

				/* 200000 draws over all of uint32 are slow and add nothing */
				if (counts[c] > 3000 && spans[s] == UINT32_MAX)
					continue;
				r = roaring_bitmap_create();
				for (int i = 0; i < counts[c]; i++)
				{
					uint32_t	v = (((uint32_t) rand() << 16) ^ (uint32_t) rand()) % spans[s];

					/* some clustering, so that runs appear */
					if (i % 7 == 0)
						roaring_bitmap_add_range(r, v, (uint64_t) v + (uint32_t) rand() % 300 + 1);
					else
						roaring_bitmap_add(r, v);
				}
				if (optimize)
					roaring_bitmap_run_optimize(r);
				snprintf(name, sizeof(name), "random: %d draws below %u%s",
						 counts[c], spans[s], optimize ? ", run-optimized" : "");
				CheckAgreesFree(r, name, NULL);
			}
}

/* Valid by the format, though CRoaring itself would not write them so. */
static void
ValidHandMade(void)
{
	static const uint16_t arr[] = {1, 2, 3};
	static const uint16_t run5000[] = {2, 0, 999, 2000, 3999};
	Part		parts[2] = {{0, 3, 0, arr, 3}, {1, 5000, 1, run5000, 5}};
	Bytes		b = {0};

	Build(&b, 1, parts, 1);
	ExpectAccepted(b.data, b.len, 3, "cookie 12347 with no run container flagged");
	Build(&b, 1, parts, 2);
	ExpectAccepted(b.data, b.len, 5003, "a run container of more than 4096 values");
	Seed("run_5000", b.data, b.len);
	free(b.data);
}

/* Cookie, count and header damage, with hand-made bytes. */
static void
BadHeaders(void)
{
	static const uint16_t arr[] = {1, 2, 3};
	Part		parts[2] = {{0, 3, 0, arr, 3}, {1, 3, 0, arr, 3}};
	Bytes		b = {0};

	ExpectRejected(b.data, 0, "truncated: 0 bytes, need at least 4 for the cookie", "empty input");
	Put16(&b, COOKIE_NO_RUN);
	ExpectRejected(b.data, b.len, "truncated: 2 bytes, need at least 4 for the cookie", "half a cookie");
	Put16(&b, 0);
	ExpectRejected(b.data, b.len, "truncated: 4 bytes, need 8 for the container count", "a cookie alone");
	b.len = 0;
	Put32(&b, 0x04030201);
	Put32(&b, 0);
	ExpectRejected(b.data, b.len, "unknown cookie 67305985", "a wrong cookie");
	Seed("bad_cookie", b.data, b.len);
	b.len = 0;
	Put32(&b, COOKIE_NO_RUN + 0x10000);
	Put32(&b, 0);
	ExpectRejected(b.data, b.len, "unknown cookie", "cookie 12346 with high bits");
	b.len = 0;
	Put32(&b, COOKIE_NO_RUN);
	Put32(&b, 65537);
	ExpectRejected(b.data, b.len, "container count 65537 exceeds 65536", "65537 containers");
	Poke32(b.data, 4, UINT32_MAX);
	ExpectRejected(b.data, b.len, "container count 4294967295 exceeds", "a huge container count");
	Poke32(b.data, 4, 65536);
	ExpectRejected(b.data, b.len, "truncated: the header of 65536 containers needs 262144 bytes, 0 left",
				   "65536 containers claimed in 8 bytes");
	b.len = 0;
	Put32(&b, COOKIE_RUN | 0xFFFF0000);
	ExpectRejected(b.data, b.len, "truncated: the run flags of 65536 containers need 8192 bytes, 0 left",
				   "65536 run containers claimed in 4 bytes");
	Seed("huge_count", b.data, b.len);

	Build(&b, 0, parts, 2);
	ExpectRejected(b.data, 8 + 8 + 4, "truncated: the offsets of 2 containers need 8 bytes, 4 left",
				   "an offset header cut short");
	Poke16(b.data, 12, 0);
	ExpectRejected(b.data, b.len, "container keys are not strictly ascending at container 1",
				   "duplicate keys");
	Build(&b, 0, parts, 2);
	Poke16(b.data, 8, 5);
	ExpectRejected(b.data, b.len, "container keys are not strictly ascending at container 1",
				   "descending keys");
	Seed("descending_keys", b.data, b.len);
	Build(&b, 0, parts, 2);
	Poke32(b.data, 20, Peek32(b.data, 20) + 2);
	ExpectRejected(b.data, b.len, "offset of container 1 is 32, expected 30",
				   "an offset past its container");
	Poke32(b.data, 20, UINT32_MAX);
	ExpectRejected(b.data, b.len, "offset of container 1 is 4294967295", "an offset far out of bounds");
	Seed("bad_offset", b.data, b.len);
	Build(&b, 0, parts, 2);
	Put(&b, (const uint8_t *) "x", 1);
	ExpectRejected(b.data, b.len, "1 trailing bytes after the last container", "a trailing byte");
	Seed("trailing_byte", b.data, b.len);
	free(b.data);
}

/* Array and bitset container damage. */
static void
BadArraysAndBitsets(void)
{
	static const uint16_t unsorted[] = {3, 1, 2};
	static const uint16_t dup[] = {1, 1, 2};
	static uint16_t bits[4096];
	Part		parts[1] = {{0, 3, 0, unsorted, 3}};
	Bytes		b = {0};

	Build(&b, 0, parts, 1);
	ExpectRejected(b.data, b.len, "array container 0 is not strictly ascending at position 1",
				   "an unsorted array");
	Seed("unsorted_array", b.data, b.len);
	parts[0].words = dup;
	Build(&b, 0, parts, 1);
	ExpectRejected(b.data, b.len, "array container 0 is not strictly ascending at position 1",
				   "a duplicate in an array");
	parts[0].card = 4096;
	Build(&b, 0, parts, 1);
	ExpectRejected(b.data, b.len, "truncated: container 0 needs 8192 bytes, 6 left",
				   "an array shorter than its cardinality");

	/* 5000 bits: the first 5000 of the chunk */
	memset(bits, 0xFF, 5000 / 8);
	parts[0].card = 5000;
	parts[0].words = bits;
	parts[0].nwords = 4096;
	Build(&b, 0, parts, 1);
	ExpectAccepted(b.data, b.len, 5000, "a hand-made bitset");
	Poke16(b.data, 10, 5000);
	ExpectRejected(b.data, b.len, "bitset container 0 holds 5000 values but its header says 5001",
				   "a bitset with fewer bits than declared");
	Poke16(b.data, 10, 4000 - 1);
	ExpectRejected(b.data, b.len, "array container 0 is not strictly ascending at position 1",
				   "a bitset declared as 4000 values (read as an array)");
	Poke16(b.data, 10, 4999);
	b.data[16 + 1000] = 0xFF;
	ExpectRejected(b.data, b.len, "bitset container 0 holds 5008 values but its header says 5000",
				   "a bitset with more bits than declared");
	Seed("bitset_popcount", b.data, b.len);
	ExpectRejected(b.data, b.len - 1, "truncated: container 0 needs 8192 bytes, 8191 left",
				   "a bitset one byte short");
	free(b.data);
}

/* Run container damage. */
static void
BadRuns(void)
{
	static const struct
	{
		uint16_t	words[7];
		size_t		nwords;
		uint32_t	card;
		const char *reason;
		const char *name;
		const char *seed;
	}			cases[] = {
		{{0}, 1, 1, "run container 0 has no runs", "zero runs", "zero_runs"},
		{{2, 1, 4, 3, 4}, 5, 10, "runs of container 0 overlap or are out of order at run 1", "overlapping runs", "overlapping_runs"},
		{{2, 10, 4, 5, 0}, 5, 6, "runs of container 0 overlap or are out of order at run 1", "runs out of order", NULL},
		{{2, 1, 4, 6, 3}, 5, 9, "runs of container 0 touch at run 1 (adjacent runs must be merged)", "adjacent runs", "adjacent_runs"},
		{{1, 65530, 10}, 3, 11, "run 0 of container 0 runs past 65535", "a run past 65535", NULL},
		{{1, 65535, 65535}, 3, 1, "run 0 of container 0 runs past 65535", "a run of 65536 from 65535", NULL},
		{{2, 1, 4, 100, 9}, 5, 20, "run container 0 holds 15 values but its header says 20", "runs not adding up", NULL},
		{{3, 1, 4, 100, 9}, 5, 15, "truncated: container 0 needs 14 bytes, 10 left", "a run count past the end", NULL},
	};
	Bytes		b = {0};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		Part		part = {0, cases[i].card, 1, cases[i].words, cases[i].nwords};

		Build(&b, 1, &part, 1);
		ExpectRejected(b.data, b.len, cases[i].reason, cases[i].name);
		if (cases[i].seed != NULL)
			Seed(cases[i].seed, b.data, b.len);
	}
	ExpectRejected(b.data, 9, "truncated: run container 0 has no run count",
				   "a run container without its count");
	free(b.data);
}

/* Damage to CRoaring's own output, located through its offset header. */
static void
BadFromCRoaring(void)
{
	roaring_bitmap_t *r = roaring_bitmap_create();
	size_t		len;
	uint8_t    *buf;
	uint32_t	off;

	for (uint32_t k = 0; k < 5; k++)
		for (uint32_t i = 10; i < 20; i++)
			roaring_bitmap_add(r, (k << 17) + i);
	for (uint32_t i = 0; i < 9000; i++)
		roaring_bitmap_add(r, (11 << 16) + i);
	for (uint32_t i = 0; i < 5000; i++)
		roaring_bitmap_add(r, (12 << 16) + i * 3);
	/* no run_optimize: cookie 12346, 5 arrays then 2 bitsets */
	buf = Serialize(r, &len);
	Poke16(buf, 8 + 4 * 2, 0);
	ExpectRejected(buf, len, "container keys are not strictly ascending at container 2",
				   "CRoaring output with a key lowered");
	free(buf);

	buf = Serialize(r, &len);
	off = Peek32(buf, 8 + 7 * 4 + 4 * 3);
	Poke16(buf, off, 20);
	ExpectRejected(buf, len, "array container 3 is not strictly ascending at position 1",
				   "CRoaring output with an array value raised");
	free(buf);

	buf = Serialize(r, &len);
	off = Peek32(buf, 8 + 7 * 4 + 4 * 6);
	buf[off] ^= 0x02;
	ExpectRejected(buf, len, "bitset container 6 holds 5001 values but its header says 5000",
				   "CRoaring output with a bit added to a bitset");
	free(buf);

	buf = Serialize(r, &len);
	Poke32(buf, 8 + 7 * 4 + 4 * 4, Peek32(buf, 8 + 7 * 4 + 4 * 4) - 2);
	ExpectRejected(buf, len, "offset of container 4 is", "CRoaring output with an offset moved");
	free(buf);

	roaring_bitmap_run_optimize(r);
	buf = Serialize(r, &len);
	buf[4] &= (uint8_t) ~0x01;
	ExpectRejected(buf, len, "array container 0 is not strictly ascending at position 2",
				   "CRoaring output with a run flag cleared");
	free(buf);
	roaring_bitmap_free(r);
}

/* Bytes from hex digits, for inputs copied from the SQL regression test. */
static size_t
FromHex(const char *hex, uint8_t *out)
{
	size_t		n = 0;

	for (; hex[0] != '\0' && hex[1] != '\0'; hex += 2)
	{
		unsigned int v;

		if (sscanf(hex, "%2x", &v) != 1)
			abort();
		out[n++] = (uint8_t) v;
	}
	return n;
}

/*
 * The exact reasons that expected/audience_bad_input.out shows to SQL users
 * (as "invalid audience: <reason>"); a change here must change that too.
 */
static void
PinnedReasons(void)
{
	static const struct
	{
		const char *hex;
		const char *reason;
	}			cases[] = {
		{"", "truncated: 0 bytes, need at least 4 for the cookie"},
		{"3a30", "truncated: 2 bytes, need at least 4 for the cookie"},
		{"3a300000", "truncated: 4 bytes, need 8 for the container count"},
		{"01020304", "unknown cookie 67305985"},
		{"3a300000ffffffff", "container count 4294967295 exceeds 65536"},
		{"3a3000000100000000000200", "truncated: the offsets of 1 containers need 4 bytes, 0 left"},
		{"3a30000001000000000002001000000003000100", "truncated: container 0 needs 6 bytes, 4 left"},
		{"3a300000010000000000020010000000030001000200", "array container 0 is not strictly ascending at position 1"},
		{"3a300000010000000000020010000000010001000200", "array container 0 is not strictly ascending at position 1"},
		{"3a300000010000000000020011000000010002000300", "offset of container 0 is 17, expected 16"},
		{"3a30000002000000010000000000000018000000001a00000100000000", "container keys are not strictly ascending at container 1"},
		{"3b300000010000080002000100040003000400", "runs of container 0 overlap or are out of order at run 1"},
		{"3b30000001000004000100fcff0a00", "run 0 of container 0 runs past 65535"},
		{"3b3000000100000500010001000900", "run container 0 holds 10 values but its header says 6"},
		{"3b3000000100000000000000", "run container 0 has no runs"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		uint8_t		bytes[64];
		size_t		len = FromHex(cases[i].hex, bytes);
		uint8_t    *copy = Exact(bytes, len);
		char		why[256] = "";
		int			right = !audience_codec_check(copy, len, why, sizeof(why)) &&
			strcmp(why, cases[i].reason) == 0;

		ok(right, "pinned reason: %s", cases[i].reason);
		if (!right)
			printf("#   reason was \"%s\"\n", why);
		free(copy);
	}
}

/* The reason buffer is optional and never overrun. */
static void
ReasonBuffer(void)
{
	static const uint8_t bad[] = {1, 2, 3, 4};
	char		why[8];

	ok(!audience_codec_check(bad, sizeof(bad), NULL, 0), "a NULL reason buffer is allowed");
	memset(why, 'x', sizeof(why));
	ok(!audience_codec_check(bad, sizeof(bad), why, 0) && why[0] == 'x',
	   "a zero-length reason buffer is left alone");
	ok(!audience_codec_check(bad, sizeof(bad), why, sizeof(why)) && strcmp(why, "unknown") == 0,
	   "a short reason buffer gets a truncated, terminated reason");
	ok(audience_codec_check((const uint8_t *) "\x3a\x30\0\0\0\0\0\0", 8, why, sizeof(why)) && why[0] == '\0',
	   "success leaves an empty reason");
	ok(!audience_codec_check(NULL, 0, why, sizeof(why)) && strcmp(why, "truncat") == 0 &&
	   !audience_codec_check(NULL, 5, why, sizeof(why)) && strcmp(why, "no buff") == 0,
	   "a NULL buffer is rejected, not dereferenced");
}

/* Random bytes behind valid cookies: never a fault, never a false acceptance. */
static void
ReadersOnGarbage(void)
{
	int			false_accepts = 0;

	srand(11);
	for (int i = 0; i < 20000; i++)
	{
		size_t		len = (size_t) rand() % 200;
		uint8_t    *buf = malloc(len > 0 ? len : 1);

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t) rand();
		if (len >= 4 && i % 2 == 0)
			Poke16(buf, 0, COOKIE_RUN);
		else if (len >= 8)
		{
			Poke32(buf, 0, COOKIE_NO_RUN);
			Poke32(buf, 4, (uint32_t) rand() % 8);
		}
		if (audience_codec_check(buf, len, NULL, 0))
		{
			roaring_bitmap_t *r = roaring_bitmap_portable_deserialize_safe((const char *) buf, len);

			false_accepts += r == NULL;
			if (r != NULL)
				roaring_bitmap_free(r);
		}
		ReadersSurvive(buf, len);
		free(buf);
	}
	ok(false_accepts == 0, "random bytes: the readers survive, CRoaring decodes whatever is accepted");
}

/* The set hash ignores encoding: runs and arrays of the same values agree. */
static void
SetHashIgnoresEncoding(void)
{
	roaring_bitmap_t *runs = roaring_bitmap_create();
	roaring_bitmap_t *array = roaring_bitmap_of(4, 0, 1, 3, 4);
	roaring_bitmap_t *other = roaring_bitmap_of(4, 0, 1, 3, 5);
	char		b1[256],
				b2[256],
				b3[256];
	size_t		n1,
				n2,
				n3;

	roaring_bitmap_add_range_closed(runs, 0, 1);
	roaring_bitmap_add_range_closed(runs, 3, 4);
	roaring_bitmap_run_optimize(runs);
	n1 = roaring_bitmap_portable_serialize(runs, b1);
	n2 = roaring_bitmap_portable_serialize(array, b2);
	n3 = roaring_bitmap_portable_serialize(other, b3);
	ok(n1 != n2 || memcmp(b1, b2, n1) != 0, "the same set has two encodings");
	ok(audience_codec_set_hash((uint8_t *) b1, n1) == audience_codec_set_hash((uint8_t *) b2, n2),
	   "set hash is equal for both encodings");
	ok(audience_codec_set_hash((uint8_t *) b2, n2) != audience_codec_set_hash((uint8_t *) b3, n3),
	   "set hash differs for a different set");
	roaring_bitmap_free(runs);
	roaring_bitmap_free(array);
	roaring_bitmap_free(other);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		corpus_dir = argv[2];
	else if (argc != 1)
	{
		fprintf(stderr, "usage: %s [--write-corpus DIR]\n", argv[0]);
		return 2;
	}
	FormatFacts();
	ValidFromCRoaring();
	ValidRandom();
	CRoaringRemoveRangeBug();
	ValidHandMade();
	BadHeaders();
	BadArraysAndBitsets();
	BadRuns();
	BadFromCRoaring();
	PinnedReasons();
	ReasonBuffer();
	ReadersOnGarbage();
	SetHashIgnoresEncoding();
	return tap_done();
}
