/*
 * audience_codec.c
 *		Validation and header-level queries of CRoaring's portable format.
 *
 * Layout (RoaringFormatSpec, little-endian):
 *
 *	cookie		uint32: 12346, then a uint32 container count n; or
 *				12347 | (n - 1) << 16, then (n + 7) / 8 bytes of run flags
 *	header		n pairs of uint16 (key, cardinality - 1), keys ascending
 *	offsets		n uint32 byte offsets of the containers from the start of
 *				the buffer; present for cookie 12346, or when n >= 4
 *	containers	run (flagged): uint16 run count, then (start, length - 1)
 *				uint16 pairs; array (cardinality <= 4096): the sorted uint16
 *				values; bitset (otherwise): 8192 bytes of 64-bit LE words
 *
 * An empty bitmap is cookie 12346 with n = 0 (8 bytes).
 *
 * CRoaring 0.2.66 only bounds-checks this format when it deserializes, and
 * then trusts header cardinalities, sort order and run shapes; so every
 * byte a client sends passes through audience_codec_check first.  The
 * readers use only the headers and binary searches, so that cardinality,
 * membership, min and max never decode the set.
 */
#include "audience_codec.h"
#include "audience_codec_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static bool Fail(char *why, size_t whylen, const char *fmt,...) PRINTF_LIKE(3, 4);

/* Formats a failure reason; returns false so that callers can tail-call it. */
static bool
Fail(char *why, size_t whylen, const char *fmt,...)
{
	va_list		ap;

	if (why != NULL && whylen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* Counts (cookie 12346) or run flags (cookie 12347): sets n and the position after. */
static bool
ReadCookie(Layout *l, size_t *pos, char *why, size_t whylen)
{
	uint32_t	cookie;

	if (l->len < 4)
		return Fail(why, whylen, "truncated: %zu bytes, need at least 4 for the cookie", l->len);
	cookie = Load32(l->buf);
	if ((cookie & 0xFFFF) == COOKIE_RUN)
	{
		l->n = (cookie >> 16) + 1;
		if ((l->len - 4) < (l->n + 7) / 8)
			return Fail(why, whylen, "truncated: the run flags of %u containers need %u bytes, %zu left",
						l->n, (l->n + 7) / 8, l->len - 4);
		l->runflags = l->buf + 4;
		*pos = 4 + (l->n + 7) / 8;
		return true;
	}
	if (cookie != COOKIE_NO_RUN)
		return Fail(why, whylen, "unknown cookie %u", cookie);
	if (l->len < 8)
		return Fail(why, whylen, "truncated: %zu bytes, need 8 for the container count", l->len);
	l->n = Load32(l->buf + 4);
	if (l->n > MAX_CONTAINERS)
		return Fail(why, whylen, "container count %u exceeds %d", l->n, MAX_CONTAINERS);
	*pos = 8;
	return true;
}

/* Reads the cookie and locates the headers, checking that they fit. */
static bool
ReadLayout(Layout *l, const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	size_t		pos = 0;

	memset(l, 0, sizeof(*l));
	l->buf = buf;
	l->len = len;
	if (!ReadCookie(l, &pos, why, whylen))
		return false;
	/* n <= 65536, so none of these products overflow */
	if ((len - pos) / 4 < l->n)
		return Fail(why, whylen, "truncated: the header of %u containers needs %zu bytes, %zu left",
					l->n, (size_t) l->n * 4, len - pos);
	l->header = buf + pos;
	pos += (size_t) l->n * 4;
	if (l->runflags == NULL || l->n >= NO_OFFSET_THRESHOLD)
	{
		if ((len - pos) / 4 < l->n)
			return Fail(why, whylen, "truncated: the offsets of %u containers need %zu bytes, %zu left",
						l->n, (size_t) l->n * 4, len - pos);
		l->offsets = buf + pos;
		pos += (size_t) l->n * 4;
	}
	l->first = pos;
	return true;
}

/* Describes container i starting at byte pos, checking that it fits. */
static bool
ReadContainer(const Layout *l, uint32_t i, size_t pos, Container *c,
			  char *why, size_t whylen)
{
	size_t		left = pos <= l->len ? l->len - pos : 0;

	c->kind = Kind(l, i);
	c->card = Card(l, i);
	switch (c->kind)
	{
		case KIND_RUN:
			if (left < 2)
				return Fail(why, whylen, "truncated: run container %u has no run count", i);
			c->size = 2 + 4 * (size_t) Load16(l->buf + pos);
			break;
		case KIND_ARRAY:
			c->size = 2 * (size_t) c->card;
			break;
		case KIND_BITSET:
			c->size = BITSET_BYTES;
			break;
	}
	if (c->size > left)
		return Fail(why, whylen, "truncated: container %u needs %zu bytes, %zu left",
					i, c->size, left);
	c->data = l->buf + pos;
	return true;
}

/* Sorted and free of duplicates, as CRoaring's binary searches assume. */
static bool
CheckArray(const Container *c, uint32_t i, char *why, size_t whylen)
{
	uint32_t	j;

	for (j = 1; j < c->card; j++)
	{
		uint16_t	prev = Load16(c->data + 2 * (size_t) (j - 1));
		uint16_t	v = Load16(c->data + 2 * (size_t) j);

		if (v <= prev)
			return Fail(why, whylen, "array container %u is not strictly ascending at position %u",
						i, j);
	}
	return true;
}

/* CRoaring takes a bitset's cardinality from the header without counting. */
static bool
CheckBitset(const Container *c, uint32_t i, char *why, size_t whylen)
{
	uint64_t	count = 0;
	size_t		j;

	for (j = 0; j < BITSET_BYTES; j += 8)
		count += (uint64_t) PopCount64(Load64(c->data + j));
	if (count != c->card)
		return Fail(why, whylen, "bitset container %u holds %llu values but its header says %u",
					i, (unsigned long long) count, c->card);
	return true;
}

/*
 * Runs must be sorted, disjoint, inside the 16-bit range and maximal: two
 * adjacent runs are rejected because CRoaring neither merges them (not even
 * run_optimize) nor compares them as equal to the merged run.
 */
static bool
CheckRuns(const Container *c, uint32_t i, char *why, size_t whylen)
{
	uint32_t	nruns = Load16(c->data);
	uint64_t	total = 0;
	uint32_t	prev_end = 0;
	uint32_t	j;

	if (nruns == 0)
		return Fail(why, whylen, "run container %u has no runs", i);
	for (j = 0; j < nruns; j++)
	{
		uint32_t	start = Load16(c->data + 2 + 4 * (size_t) j);
		uint32_t	end = start + Load16(c->data + 4 + 4 * (size_t) j);

		if (end > 0xFFFF)
			return Fail(why, whylen, "run %u of container %u runs past 65535", j, i);
		if (j > 0 && start <= prev_end)
			return Fail(why, whylen, "runs of container %u overlap or are out of order at run %u", i, j);
		if (j > 0 && start == prev_end + 1)
			return Fail(why, whylen, "runs of container %u touch at run %u (adjacent runs must be merged)", i, j);
		total += end - start + 1;
		prev_end = end;
	}
	if (total != c->card)
		return Fail(why, whylen, "run container %u holds %llu values but its header says %u",
					i, (unsigned long long) total, c->card);
	return true;
}

/* Everything about container i that does not depend on the others. */
static bool
CheckContainer(const Layout *l, uint32_t i, size_t pos, size_t *size,
			   char *why, size_t whylen)
{
	Container	c;

	if (i > 0 && Key(l, i) <= Key(l, i - 1))
		return Fail(why, whylen, "container keys are not strictly ascending at container %u", i);
	/* CRoaring reads containers in sequence, the readers here by offset */
	if (l->offsets != NULL && Load32(l->offsets + 4 * (size_t) i) != pos)
		return Fail(why, whylen, "offset of container %u is %u, expected %zu",
					i, Load32(l->offsets + 4 * (size_t) i), pos);
	if (!ReadContainer(l, i, pos, &c, why, whylen))
		return false;
	*size = c.size;
	switch (c.kind)
	{
		case KIND_RUN:
			return CheckRuns(&c, i, why, whylen);
		case KIND_ARRAY:
			return CheckArray(&c, i, why, whylen);
		case KIND_BITSET:
			return CheckBitset(&c, i, why, whylen);
	}
	return false;
}

/* The gate for untrusted bytes: everything CRoaring would trust is verified. */
bool
audience_codec_check(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	Layout		l;
	size_t		pos;
	uint32_t	i;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (buf == NULL && len > 0)
		return Fail(why, whylen, "no buffer");
	if (!ReadLayout(&l, buf, len, why, whylen))
		return false;
	pos = l.first;
	for (i = 0; i < l.n; i++)
	{
		size_t		size = 0;

		if (!CheckContainer(&l, i, pos, &size, why, whylen))
			return false;
		pos += size;
	}
	if (pos != len)
		return Fail(why, whylen, "%zu trailing bytes after the last container", len - pos);
	return true;
}

/* Number of members, from the descriptive header alone: O(containers). */
uint64_t
audience_codec_cardinality(const uint8_t *buf, size_t len)
{
	Layout		l;
	uint64_t	total = 0;
	uint32_t	i;

	if (!ReadLayout(&l, buf, len, NULL, 0))
		return 0;
	for (i = 0; i < l.n; i++)
		total += Card(&l, i);
	return total;
}

/* Checked bitmaps have no empty containers, so this is a header test. */
bool
audience_codec_is_empty(const uint8_t *buf, size_t len)
{
	Layout		l;

	return !ReadLayout(&l, buf, len, NULL, 0) || l.n == 0;
}

/*
 * Locates container i by its offset, or by walking the earlier ones when the
 * format has no offsets (fewer than 4 containers).  False only for bytes
 * that were never checked.
 */
static bool
FindContainer(const Layout *l, uint32_t i, Container *c)
{
	size_t		pos = l->first;
	uint32_t	j;

	if (l->offsets != NULL)
		return ReadContainer(l, i, Load32(l->offsets + 4 * (size_t) i), c, NULL, 0);
	for (j = 0; j < i; j++)
	{
		if (!ReadContainer(l, j, pos, c, NULL, 0))
			return false;
		pos += c->size;
	}
	return ReadContainer(l, i, pos, c, NULL, 0);
}

/* Index of the container holding key, or -1. */
static int64_t
FindKey(const Layout *l, uint16_t key)
{
	int64_t		lo = 0;
	int64_t		hi = (int64_t) l->n - 1;

	while (lo <= hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;
		uint16_t	k = Key(l, (uint32_t) mid);

		if (k == key)
			return mid;
		if (k < key)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* Binary search over the sorted values of an array container. */
static bool
ArrayContains(const Container *c, uint16_t low)
{
	int64_t		lo = 0;
	int64_t		hi = (int64_t) c->card - 1;

	while (lo <= hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;
		uint16_t	v = Load16(c->data + 2 * mid);

		if (v == low)
			return true;
		if (v < low)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

/* Binary search over the sorted, disjoint runs of a run container. */
static bool
RunsContain(const Container *c, uint16_t low)
{
	int64_t		lo = 0;
	int64_t		hi = (int64_t) Load16(c->data) - 1;

	while (lo <= hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;
		uint32_t	start = Load16(c->data + 2 + 4 * mid);
		uint32_t	end = start + Load16(c->data + 4 + 4 * mid);

		if (low < start)
			hi = mid - 1;
		else if (low > end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* Whether a located container holds low. */
bool
audience_codec_container_contains(const Container *c, uint16_t low)
{
	switch (c->kind)
	{
		case KIND_RUN:
			return RunsContain(c, low);
		case KIND_ARRAY:
			return ArrayContains(c, low);
		case KIND_BITSET:
			return (c->data[low / 8] >> (low % 8)) & 1;
	}
	return false;
}

/* Index of the container holding key, or -1 (for audience_setops.c). */
int64_t
audience_codec_find_key(const Layout *l, uint16_t key)
{
	return FindKey(l, key);
}

/* Membership without decoding: one search on keys, one inside the container. */
bool
audience_codec_contains(const uint8_t *buf, size_t len, uint32_t x)
{
	Layout		l;
	Container	c;
	int64_t		i;

	if (!ReadLayout(&l, buf, len, NULL, 0))
		return false;
	i = FindKey(&l, (uint16_t) (x >> 16));
	if (i < 0 || !FindContainer(&l, (uint32_t) i, &c))
		return false;
	return audience_codec_container_contains(&c, (uint16_t) (x & 0xFFFF));
}

/* Lowest (or highest) set bit of a bitset container; false if none is set. */
static bool
BitsetExtreme(const Container *c, bool last, uint16_t *out)
{
	uint32_t	j;

	for (j = 0; j < BITSET_BYTES; j++)
	{
		uint32_t	byte = last ? BITSET_BYTES - 1 - j : j;
		uint8_t		bits = c->data[byte];
		uint32_t	b;

		if (bits == 0)
			continue;
		for (b = 0; b < 8; b++)
		{
			uint32_t	bit = last ? 7 - b : b;

			if ((bits >> bit) & 1)
			{
				*out = (uint16_t) (byte * 8 + bit);
				return true;
			}
		}
	}
	return false;
}

/* Lowest (or highest) 16-bit value of a container; false if it has none. */
static bool
ContainerExtreme(const Container *c, bool last, uint16_t *out)
{
	uint32_t	j;

	switch (c->kind)
	{
		case KIND_RUN:
			if (Load16(c->data) == 0)
				return false;
			if (!last)
			{
				*out = Load16(c->data + 2);
				return true;
			}
			j = Load16(c->data) - 1;
			*out = (uint16_t) (Load16(c->data + 2 + 4 * j) + Load16(c->data + 4 + 4 * j));
			return true;
		case KIND_ARRAY:
			*out = Load16(c->data + 2 * (size_t) (last ? c->card - 1 : 0));
			return true;
		case KIND_BITSET:
			return BitsetExtreme(c, last, out);
	}
	return false;
}

/* Shared by min and max: the extreme of the first or last container. */
static bool
Extreme(const uint8_t *buf, size_t len, bool last, uint32_t *out)
{
	Layout		l;
	Container	c;
	uint32_t	i;
	uint16_t	low;

	if (!ReadLayout(&l, buf, len, NULL, 0) || l.n == 0)
		return false;
	i = last ? l.n - 1 : 0;
	if (!FindContainer(&l, i, &c) || !ContainerExtreme(&c, last, &low))
		return false;
	*out = ((uint32_t) Key(&l, i) << 16) | low;
	return true;
}

/* Smallest member; false for the empty set. */
bool
audience_codec_min(const uint8_t *buf, size_t len, uint32_t *out)
{
	return Extreme(buf, len, false, out);
}

/* Largest member; false for the empty set. */
bool
audience_codec_max(const uint8_t *buf, size_t len, uint32_t *out)
{
	return Extreme(buf, len, true, out);
}

/*
 * A hash that depends only on the set, not on how its containers are
 * encoded (CRoaring may store the same values as a run or as an array): it
 * mixes each container's key, cardinality and lowest and highest value.
 * Equal sets always hash alike; the equality check itself is exact.
 */
uint64_t
audience_codec_set_hash(const uint8_t *buf, size_t len)
{
	Layout		l;
	Container	c;
	uint64_t	h = UINT64_C(0x9E3779B97F4A7C15);
	size_t		pos;
	uint32_t	i;

	if (!ReadLayout(&l, buf, len, NULL, 0))
		return 0;
	pos = l.first;
	for (i = 0; i < l.n; i++)
	{
		uint16_t	lo = 0,
					hi = 0;
		uint64_t	v;

		if (!ReadContainer(&l, i, pos, &c, NULL, 0))
			break;
		pos += c.size;
		(void) ContainerExtreme(&c, false, &lo);
		(void) ContainerExtreme(&c, true, &hi);
		v = ((uint64_t) Key(&l, i) << 48) | ((uint64_t) (Card(&l, i) - 1) << 32) |
			((uint64_t) lo << 16) | hi;
		h ^= v + UINT64_C(0x9E3779B97F4A7C15) + (h << 6) + (h >> 2);
		h *= UINT64_C(0xBF58476D1CE4E5B9);
	}
	return h ^ (h >> 31);
}

/* For audience_setops.c: the layout of checked bytes. */
bool
audience_codec_layout(Layout *l, const uint8_t *buf, size_t len)
{
	return ReadLayout(l, buf, len, NULL, 0);
}

/* For audience_setops.c: container i at byte pos of checked bytes. */
bool
audience_codec_container(const Layout *l, uint32_t i, size_t pos, Container *c)
{
	return ReadContainer(l, i, pos, c, NULL, 0);
}
