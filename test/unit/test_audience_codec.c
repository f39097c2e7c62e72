/*
 * Unit tests of src/audience_codec.c against CRoaring itself: every bitmap
 * CRoaring serializes is accepted and read correctly, every damaged one is
 * rejected with the right reason.
 */
#include <roaring/roaring.h>
#include <stdlib.h>
#include <string.h>

#include "audience_codec.h"
#include "tap.h"

static uint8_t *
Serialize(roaring_bitmap_t *r, size_t *len)
{
	uint8_t    *buf;

	*len = roaring_bitmap_portable_size_in_bytes(r);
	buf = malloc(*len + 16);
	roaring_bitmap_portable_serialize(r, (char *) buf);
	return buf;
}

static int
Rejects(const uint8_t *buf, size_t len, const char *reason)
{
	char		why[256] = "";

	if (audience_codec_check(buf, len, why, sizeof(why)))
		return 0;
	if (strstr(why, reason) == NULL)
	{
		printf("# reason was: %s\n", why);
		return 0;
	}
	return 1;
}

/* Accepted, and every header-level answer agrees with CRoaring. */
static void
CheckAgrees(roaring_bitmap_t *r, const char *name)
{
	size_t		len;
	uint8_t    *buf = Serialize(r, &len);
	char		why[256];
	uint32_t	mn = 0,
				mx = 0;
	int			agree = 1;
	roaring_uint32_iterator_t it;
	int			k = 0;

	ok(audience_codec_check(buf, len, why, sizeof(why)), "%s: accepted", name);
	ok(audience_codec_cardinality(buf, len) == roaring_bitmap_get_cardinality(r), "%s: cardinality", name);
	if (roaring_bitmap_is_empty(r))
		ok(!audience_codec_min(buf, len, &mn) && !audience_codec_max(buf, len, &mx), "%s: no min/max", name);
	else
		ok(audience_codec_min(buf, len, &mn) && mn == roaring_bitmap_minimum(r) &&
		   audience_codec_max(buf, len, &mx) && mx == roaring_bitmap_maximum(r), "%s: min and max", name);
	roaring_init_iterator(r, &it);
	while (it.has_value && k++ < 100000)
	{
		uint32_t	v = it.current_value;

		agree &= audience_codec_contains(buf, len, v);
		if (v > 0)
			agree &= audience_codec_contains(buf, len, v - 1) == roaring_bitmap_contains(r, v - 1);
		if (v < UINT32_MAX)
			agree &= audience_codec_contains(buf, len, v + 1) == roaring_bitmap_contains(r, v + 1);
		roaring_advance_uint32_iterator(&it);
	}
	agree &= audience_codec_contains(buf, len, 0) == roaring_bitmap_contains(r, 0);
	agree &= audience_codec_contains(buf, len, UINT32_MAX) == roaring_bitmap_contains(r, UINT32_MAX);
	agree &= audience_codec_contains(buf, len, 123456789) == roaring_bitmap_contains(r, 123456789);
	ok(agree, "%s: contains agrees for members and neighbours", name);
	for (size_t cut = 0; cut < len; cut += (len > 5000 ? 97 : 1))
		if (audience_codec_check(buf, cut, why, sizeof(why)))
		{
			agree = 0;
			break;
		}
	ok(agree, "%s: every truncation is rejected", name);
	buf[len] = 0;
	ok(!audience_codec_check(buf, len + 1, why, sizeof(why)) && strstr(why, "trailing"),
	   "%s: a trailing byte is rejected", name);
	free(buf);
}

static void
ValidBitmaps(void)
{
	roaring_bitmap_t *r = roaring_bitmap_create();

	CheckAgrees(r, "empty");
	roaring_bitmap_add(r, 0);
	CheckAgrees(r, "single 0");
	roaring_bitmap_add(r, UINT32_MAX);
	CheckAgrees(r, "0 and 4294967295");
	roaring_bitmap_free(r);

	r = roaring_bitmap_create();
	for (uint32_t i = 0; i < 10000; i += 2)
		roaring_bitmap_add(r, i);
	CheckAgrees(r, "bitset container");
	roaring_bitmap_add_range(r, 100000, 300000);
	roaring_bitmap_run_optimize(r);
	CheckAgrees(r, "bitset and run containers");
	for (uint32_t k = 10; k < 20; k++)
		roaring_bitmap_add(r, k << 16 | 7);
	CheckAgrees(r, "many containers, runs, offsets");
	roaring_bitmap_free(r);

	r = roaring_bitmap_create();
	for (uint32_t k = 0; k < 6; k++)
		roaring_bitmap_add(r, k * 70000);
	CheckAgrees(r, "many array containers without runs");
	roaring_bitmap_free(r);

	srand(7);
	r = roaring_bitmap_create();
	for (int i = 0; i < 200000; i++)
		roaring_bitmap_add(r, (uint32_t) rand() % 5000000);
	roaring_bitmap_run_optimize(r);
	CheckAgrees(r, "random");
	roaring_bitmap_free(r);

	r = roaring_bitmap_from_range(65530, 65550, 1);
	roaring_bitmap_run_optimize(r);
	CheckAgrees(r, "run crossing a container boundary");
	roaring_bitmap_free(r);
}

static void
HexBytes(const char *hex, uint8_t *out, size_t *len)
{
	*len = 0;
	while (hex[0] && hex[1])
	{
		unsigned	v;

		sscanf(hex, "%2x", &v);
		out[(*len)++] = (uint8_t) v;
		hex += 2;
	}
}

static void
BadBitmaps(void)
{
	static const struct
	{
		const char *hex;
		const char *reason;
		const char *name;
	}			cases[] = {
		{"", "truncated", "empty input"},
		{"3a30", "truncated", "short cookie"},
		{"01020304", "unknown cookie", "wrong cookie"},
		{"3a300000ffffffff", "container count", "huge container count"},
		{"3a300000ffff0000", "truncated", "65535 containers claimed, no bytes"},
		{"3b30ffff", "truncated", "65536 run containers claimed, no bytes"},
		{"3a300000010000000000020010000000030001000200", "not strictly ascending", "unsorted array"},
		{"3a300000010000000000020010000000010001000200", "not strictly ascending", "duplicate in array"},
		{"3a300000010000000000020011000000010002000300", "offset", "bad offset"},
		{"3a30000002000000010000000000000018000000001a00000100000000", "keys are not strictly ascending", "descending keys"},
		{"3b300000010000080002000100040003000400", "overlap", "overlapping runs"},
		{"3b30000001000004000100fcff0a00", "past 65535", "run past 65535"},
		{"3b3000000100000500010001000900", "holds 10 values", "run total differs from header"},
		{"3b3000000100000000000000", "no runs", "zero runs"},
		{"3b30000001000000000100ffff", "truncated", "run count beyond the end"},
	};
	uint8_t		buf[256];
	size_t		len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		HexBytes(cases[i].hex, buf, &len);
		ok(Rejects(buf, len, cases[i].reason), "rejects %s", cases[i].name);
	}
}

/* A bitset whose header cardinality is off by one is rejected. */
static void
BadBitset(void)
{
	roaring_bitmap_t *r = roaring_bitmap_create();
	size_t		len;
	uint8_t    *buf;

	for (uint32_t i = 0; i < 10000; i += 2)
		roaring_bitmap_add(r, i);
	buf = Serialize(r, &len);
	buf[10]--;
	ok(Rejects(buf, len, "bitset container 0 holds 5000 values"), "rejects a bitset with the wrong population");
	free(buf);
	roaring_bitmap_free(r);
}

int
main(void)
{
	ValidBitmaps();
	BadBitmaps();
	BadBitset();
	return tap_done();
}
