/*
 * audience_codec.c
 *		Validation and header-level queries of CRoaring's portable format.
 *
 * Layout (little-endian): a 32-bit cookie; either 12346 followed by a 32-bit
 * container count, or 12347 | (count - 1) << 16 followed by a bitset of run
 * flags; then a (key, cardinality - 1) pair of uint16 per container; then,
 * for cookie 12346 or for 4 or more containers, a uint32 byte offset per
 * container; then the containers: run (uint16 count, then start and
 * length - 1 pairs), array (cardinality uint16 values) or bitset (8192
 * bytes, when the cardinality exceeds 4096).
 *
 * CRoaring 0.2.66 only bounds-checks this format when deserializing, so
 * everything a client sends passes through audience_codec_check first.
 */
#include "audience_codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define COOKIE_NO_RUN	12346
#define COOKIE_RUN		12347
#define NO_OFFSET_THRESHOLD 4
#define MAX_CONTAINERS	65536
#define ARRAY_MAX		4096
#define BITSET_BYTES	8192

enum ContainerKind
{
	KIND_ARRAY,
	KIND_BITSET,
	KIND_RUN
};

/* A parsed view of the headers; containers are located lazily. */
typedef struct Layout
{
	const uint8_t *buf;
	size_t		len;
	uint32_t	n;				/* number of containers */
	const uint8_t *runflags;	/* NULL when no run containers */
	const uint8_t *header;		/* n (key, card - 1) pairs */
	const uint8_t *offsets;		/* NULL when absent */
	size_t		first;			/* byte position of the first container */
} Layout;

static inline uint16_t
Load16(const uint8_t *p)
{
	uint16_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t
Load32(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static bool Fail(char *why, size_t whylen, const char *fmt,...) __attribute__((format(printf, 3, 4)));

/* Formats a failure reason; always returns false for tail calls. */
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

static inline uint16_t
Key(const Layout *l, uint32_t i)
{
	return Load16(l->header + 4 * (size_t) i);
}

static inline uint32_t
Card(const Layout *l, uint32_t i)
{
	return (uint32_t) Load16(l->header + 4 * (size_t) i + 2) + 1;
}

static inline enum ContainerKind
Kind(const Layout *l, uint32_t i)
{
	if (l->runflags != NULL && (l->runflags[i / 8] >> (i % 8)) & 1)
		return KIND_RUN;
	return Card(l, i) <= ARRAY_MAX ? KIND_ARRAY : KIND_BITSET;
}

/* Reads the cookie and headers, checking they fit in the buffer. */
static bool
ReadLayout(Layout *l, const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	size_t		pos;
	uint32_t	cookie;

	memset(l, 0, sizeof(*l));
	l->buf = buf;
	l->len = len;
	if (len < 4)
		return Fail(why, whylen, "truncated: %zu bytes, need at least 4 for the cookie", len);
	cookie = Load32(buf);
	if ((cookie & 0xFFFF) == COOKIE_RUN)
	{
		l->n = (cookie >> 16) + 1;
		l->runflags = buf + 4;
		pos = 4 + (l->n + 7) / 8;
	}
	else if (cookie == COOKIE_NO_RUN)
	{
		if (len < 8)
			return Fail(why, whylen, "truncated: %zu bytes, need 8 for the container count", len);
		l->n = Load32(buf + 4);
		if (l->n > MAX_CONTAINERS)
			return Fail(why, whylen, "container count %u exceeds %d", l->n, MAX_CONTAINERS);
		pos = 8;
	}
	else
		return Fail(why, whylen, "unknown cookie %u", cookie);

	if (pos > len || (len - pos) / 4 < l->n)
		return Fail(why, whylen, "truncated: the header of %u containers needs %zu bytes, %zu left",
					l->n, (size_t) l->n * 4, pos > len ? 0 : len - pos);
	l->header = buf + pos;
	pos += (size_t) l->n * 4;
	if (cookie == COOKIE_NO_RUN || l->n >= NO_OFFSET_THRESHOLD)
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

/* Size in bytes of container i, given the bytes at its start. */
static bool
ContainerSize(const Layout *l, uint32_t i, size_t pos, size_t *size, char *why, size_t whylen)
{
	size_t		left = l->len - pos;

	switch (Kind(l, i))
	{
		case KIND_RUN:
			if (left < 2)
				return Fail(why, whylen, "truncated: run container %u has no run count", i);
			*size = 2 + 4 * (size_t) Load16(l->buf + pos);
			break;
		case KIND_ARRAY:
			*size = 2 * (size_t) Card(l, i);
			break;
		case KIND_BITSET:
			*size = BITSET_BYTES;
			break;
	}
	if (*size > left)
		return Fail(why, whylen, "truncated: container %u needs %zu bytes, %zu left", i, *size, left);
	return true;
}

static bool
CheckArray(const uint8_t *p, uint32_t card, uint32_t i, char *why, size_t whylen)
{
	uint32_t	j;

	for (j = 1; j < card; j++)
		if (Load16(p + 2 * j) <= Load16(p + 2 * (j - 1)))
			return Fail(why, whylen, "array container %u is not strictly ascending at position %u", i, j);
	return true;
}

static bool
CheckBitset(const uint8_t *p, uint32_t card, uint32_t i, char *why, size_t whylen)
{
	uint64_t	count = 0;
	size_t		j;

	for (j = 0; j < BITSET_BYTES; j += 8)
		count += (uint64_t) __builtin_popcountll(Load32(p + j) | ((uint64_t) Load32(p + j + 4) << 32));
	if (count != card)
		return Fail(why, whylen, "bitset container %u holds %llu values but its header says %u",
					i, (unsigned long long) count, card);
	return true;
}

static bool
CheckRuns(const uint8_t *p, uint32_t card, uint32_t i, char *why, size_t whylen)
{
	uint32_t	nruns = Load16(p);
	uint64_t	total = 0;
	int64_t		prev_end = -1;
	uint32_t	j;

	if (nruns == 0)
		return Fail(why, whylen, "run container %u has no runs", i);
	for (j = 0; j < nruns; j++)
	{
		uint32_t	start = Load16(p + 2 + 4 * j);
		uint32_t	end = start + Load16(p + 4 + 4 * j);

		if (end > 0xFFFF)
			return Fail(why, whylen, "run %u of container %u runs past 65535", j, i);
		if ((int64_t) start <= prev_end)
			return Fail(why, whylen, "runs of container %u overlap or are out of order at run %u", i, j);
		total += end - start + 1;
		prev_end = end;
	}
	if (total != card)
		return Fail(why, whylen, "run container %u holds %llu values but its header says %u",
					i, (unsigned long long) total, card);
	return true;
}

bool
audience_codec_check(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	Layout		l;
	size_t		pos;
	uint32_t	i;

	if (!ReadLayout(&l, buf, len, why, whylen))
		return false;
	pos = l.first;
	for (i = 0; i < l.n; i++)
	{
		size_t		size;
		const uint8_t *p;
		bool		ok;

		if (i > 0 && Key(&l, i) <= Key(&l, i - 1))
			return Fail(why, whylen, "container keys are not strictly ascending at container %u", i);
		if (l.offsets != NULL && Load32(l.offsets + 4 * (size_t) i) != pos)
			return Fail(why, whylen, "offset of container %u is %u, expected %zu",
						i, Load32(l.offsets + 4 * (size_t) i), pos);
		if (!ContainerSize(&l, i, pos, &size, why, whylen))
			return false;
		p = buf + pos;
		switch (Kind(&l, i))
		{
			case KIND_RUN:
				ok = CheckRuns(p, Card(&l, i), i, why, whylen);
				break;
			case KIND_ARRAY:
				ok = CheckArray(p, Card(&l, i), i, why, whylen);
				break;
			default:
				ok = CheckBitset(p, Card(&l, i), i, why, whylen);
				break;
		}
		if (!ok)
			return false;
		pos += size;
	}
	if (pos != len)
		return Fail(why, whylen, "%zu trailing bytes after the last container", len - pos);
	return true;
}

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

/* Start of container i: from the offsets, or by walking the earlier ones. */
static const uint8_t *
ContainerStart(const Layout *l, uint32_t i)
{
	size_t		pos = l->first;
	uint32_t	j;

	if (l->offsets != NULL)
		return l->buf + Load32(l->offsets + 4 * (size_t) i);
	for (j = 0; j < i; j++)
	{
		size_t		size = 0;

		(void) ContainerSize(l, j, pos, &size, NULL, 0);
		pos += size;
	}
	return l->buf + pos;
}

/* Index of the container with the given key, or -1. */
static int64_t
FindKey(const Layout *l, uint16_t key)
{
	int64_t		lo = 0,
				hi = (int64_t) l->n - 1;

	while (lo <= hi)
	{
		int64_t		mid = (lo + hi) / 2;
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

static bool
ArrayContains(const uint8_t *p, uint32_t card, uint16_t low)
{
	int64_t		lo = 0,
				hi = (int64_t) card - 1;

	while (lo <= hi)
	{
		int64_t		mid = (lo + hi) / 2;
		uint16_t	v = Load16(p + 2 * mid);

		if (v == low)
			return true;
		if (v < low)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

static bool
RunsContain(const uint8_t *p, uint16_t low)
{
	int64_t		lo = 0,
				hi = (int64_t) Load16(p) - 1;

	while (lo <= hi)
	{
		int64_t		mid = (lo + hi) / 2;
		uint32_t	start = Load16(p + 2 + 4 * mid);
		uint32_t	end = start + Load16(p + 4 + 4 * mid);

		if (low < start)
			hi = mid - 1;
		else if (low > end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool
audience_codec_contains(const uint8_t *buf, size_t len, uint32_t x)
{
	Layout		l;
	int64_t		i;
	const uint8_t *p;
	uint16_t	low = (uint16_t) (x & 0xFFFF);

	if (!ReadLayout(&l, buf, len, NULL, 0))
		return false;
	i = FindKey(&l, (uint16_t) (x >> 16));
	if (i < 0)
		return false;
	p = ContainerStart(&l, (uint32_t) i);
	switch (Kind(&l, (uint32_t) i))
	{
		case KIND_RUN:
			return RunsContain(p, low);
		case KIND_ARRAY:
			return ArrayContains(p, Card(&l, (uint32_t) i), low);
		default:
			return (p[low / 8] >> (low % 8)) & 1;
	}
}

/* Smallest (first) or largest (last) low 16 bits of container i. */
static uint16_t
ContainerExtreme(const Layout *l, uint32_t i, bool last)
{
	const uint8_t *p = ContainerStart(l, i);
	uint32_t	j;

	switch (Kind(l, i))
	{
		case KIND_RUN:
			if (!last)
				return Load16(p + 2);
			j = Load16(p) - 1;
			return (uint16_t) (Load16(p + 2 + 4 * j) + Load16(p + 4 + 4 * j));
		case KIND_ARRAY:
			return Load16(p + 2 * (last ? Card(l, i) - 1 : 0));
		default:
			for (j = 0; j < 65536; j++)
			{
				uint32_t	bit = last ? 65535 - j : j;

				if ((p[bit / 8] >> (bit % 8)) & 1)
					return (uint16_t) bit;
			}
			return 0;
	}
}

bool
audience_codec_min(const uint8_t *buf, size_t len, uint32_t *out)
{
	Layout		l;

	if (!ReadLayout(&l, buf, len, NULL, 0) || l.n == 0)
		return false;
	*out = ((uint32_t) Key(&l, 0) << 16) | ContainerExtreme(&l, 0, false);
	return true;
}

bool
audience_codec_max(const uint8_t *buf, size_t len, uint32_t *out)
{
	Layout		l;

	if (!ReadLayout(&l, buf, len, NULL, 0) || l.n == 0)
		return false;
	*out = ((uint32_t) Key(&l, l.n - 1) << 16) | ContainerExtreme(&l, l.n - 1, true);
	return true;
}
