/*
 * audience_codec_int.h
 *		The portable format's layout as audience_codec.c reads it, shared
 *		with audience_setops.c.  Not an interface for anything else.
 */
#ifndef AUDIENCE_CODEC_INT_H
#define AUDIENCE_CODEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define COOKIE_NO_RUN		12346
#define COOKIE_RUN			12347
#define NO_OFFSET_THRESHOLD 4
#define MAX_CONTAINERS		65536
#define ARRAY_MAX			4096
#define BITSET_BYTES		8192


typedef enum ContainerKind
{
	KIND_ARRAY,
	KIND_BITSET,
	KIND_RUN
} ContainerKind;

/* The cookie and headers, read once; containers are located on demand. */
typedef struct Layout
{
	const uint8_t *buf;
	size_t		len;
	uint32_t	n;				/* number of containers */
	const uint8_t *runflags;	/* NULL for cookie 12346 */
	const uint8_t *header;		/* n (key, cardinality - 1) pairs */
	const uint8_t *offsets;		/* NULL when absent */
	size_t		first;			/* byte position of container 0 */
} Layout;

/* One container, bounds-checked: data[0 .. size) lies inside the buffer. */
typedef struct Container
{
	ContainerKind kind;
	uint32_t	card;			/* as declared in the header */
	const uint8_t *data;
	size_t		size;
} Container;

/*
 * The format is little-endian on any host, and nothing is aligned.  On a
 * little-endian host a memcpy is one unaligned load; elsewhere the bytes
 * are assembled.
 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define AUDIENCE_CODEC_LE 1
#endif

static inline uint16_t
Load16(const uint8_t *p)
{
#ifdef AUDIENCE_CODEC_LE
	uint16_t	v;

	memcpy(&v, p, 2);
	return v;
#else
	return (uint16_t) (p[0] | (p[1] << 8));
#endif
}

/* As Load16, for the cookie, counts and offsets. */
static inline uint32_t
Load32(const uint8_t *p)
{
#ifdef AUDIENCE_CODEC_LE
	uint32_t	v;

	memcpy(&v, p, 4);
	return v;
#else
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) |
		((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
#endif
}

/* As Load16, for bitset words. */
static inline uint64_t
Load64(const uint8_t *p)
{
#ifdef AUDIENCE_CODEC_LE
	uint64_t	v;

	memcpy(&v, p, 8);
	return v;
#else
	return (uint64_t) Load32(p) | ((uint64_t) Load32(p + 4) << 32);
#endif
}

/* Stores, the inverse of the loads. */
static inline void
Store16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
}

static inline void
Store32(uint8_t *p, uint32_t v)
{
	Store16(p, (uint16_t) v);
	Store16(p + 2, (uint16_t) (v >> 16));
}

/* Bits set in a bitset word, with the compiler's instruction when it has one. */
static inline int
PopCount64(uint64_t w)
{
#if defined(__GNUC__) || defined(__clang__)
	return __builtin_popcountll(w);
#else
	w = w - ((w >> 1) & UINT64_C(0x5555555555555555));
	w = (w & UINT64_C(0x3333333333333333)) + ((w >> 2) & UINT64_C(0x3333333333333333));
	w = (w + (w >> 4)) & UINT64_C(0x0F0F0F0F0F0F0F0F);
	return (int) ((w * UINT64_C(0x0101010101010101)) >> 56);
#endif
}

/* High 16 bits shared by the values of container i. */
static inline uint16_t
Key(const Layout *l, uint32_t i)
{
	return Load16(l->header + 4 * (size_t) i);
}

/* Declared cardinality of container i, 1 to 65536. */
static inline uint32_t
Card(const Layout *l, uint32_t i)
{
	return (uint32_t) Load16(l->header + 4 * (size_t) i + 2) + 1;
}

/*
 * The run flag decides first, then the cardinality, as in CRoaring; so a
 * non-run container of more than 4096 values is always read as a bitset.
 */
static inline ContainerKind
Kind(const Layout *l, uint32_t i)
{
	if (l->runflags != NULL && ((l->runflags[i / 8] >> (i % 8)) & 1))
		return KIND_RUN;
	return Card(l, i) <= ARRAY_MAX ? KIND_ARRAY : KIND_BITSET;
}

/* Layout of checked bytes (false only for bytes that were never checked). */
extern bool audience_codec_layout(Layout *l, const uint8_t *buf, size_t len);

/* Container i starting at byte pos; false if it would not fit. */
extern bool audience_codec_container(const Layout *l, uint32_t i, size_t pos, Container *c);

/* Binary search of the keys; whether a located container holds low. */
extern int64_t audience_codec_find_key(const Layout *l, uint16_t key);
extern bool audience_codec_container_contains(const Container *c, uint16_t low);

#endif							/* AUDIENCE_CODEC_INT_H */
