/*
 * audience_codec.h
 *		Pure-C reader and validator of CRoaring's portable serialization
 *		(the stored form of an audience).  No PostgreSQL or CRoaring
 *		headers, so it is unit-tested and fuzzed on its own.
 *
 * audience_codec_check is the only function meant for untrusted bytes.  The
 * readers answer correctly only for bytes that passed it (or that CRoaring
 * wrote), but they never read outside [buf, buf + len) whatever the input.
 */
#ifndef AUDIENCE_CODEC_H
#define AUDIENCE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Checks the whole structure of untrusted bytes.  On failure returns false
 * and, if why is not NULL, writes a short lower-case reason (truncated to
 * whylen - 1 characters).  Linear in len; allocates nothing.
 */
extern bool audience_codec_check(const uint8_t *buf, size_t len,
								 char *why, size_t whylen);

/* The readers below expect checked bytes; each reads only what it needs. */
extern uint64_t audience_codec_cardinality(const uint8_t *buf, size_t len);
extern bool audience_codec_is_empty(const uint8_t *buf, size_t len);
extern bool audience_codec_contains(const uint8_t *buf, size_t len, uint32_t x);
extern bool audience_codec_min(const uint8_t *buf, size_t len, uint32_t *out);
extern bool audience_codec_max(const uint8_t *buf, size_t len, uint32_t *out);

/* A hash of the set itself, equal for every encoding of the same set. */
extern uint64_t audience_codec_set_hash(const uint8_t *buf, size_t len);

/*
 * Set operations on two checked serializations (audience_setops.c), never
 * decoding them.  The result is CRoaring's portable form, laid out as
 * run_optimize and portable_serialize would lay it out.
 */
typedef enum AudienceSetOp
{
	AUDIENCE_OP_OR,
	AUDIENCE_OP_AND,
	AUDIENCE_OP_ANDNOT,
	AUDIENCE_OP_XOR
} AudienceSetOp;

typedef void *(*AudienceCodecAlloc) (void *ctx, size_t size);

/*
 * a OP b, written at offset reserve of one buffer from alloc (reserve is
 * room for a caller's header); *len is set to the bitmap's bytes.  Returns
 * NULL only when alloc does.
 */
extern uint8_t *audience_codec_setop(const uint8_t *a, size_t alen,
									 const uint8_t *b, size_t blen,
									 AudienceSetOp op, AudienceCodecAlloc alloc,
									 void *ctx, size_t reserve, size_t *len);

/*
 * An input read in windows instead of from one buffer (a large TOASTed
 * value read slice by slice, so that it is never copied whole): read copies
 * bytes [off, off + n) into dst, which is always the start of a buffer from
 * alloc.  Inputs must still be checked bytes.
 */
typedef bool (*AudienceReadFn) (void *ctx, size_t off, size_t n, uint8_t *dst);

typedef struct AudienceInput
{
	const uint8_t *buf;			/* all bytes in memory, or NULL */
	size_t		len;			/* bytes in all */
	AudienceReadFn read;		/* when buf is NULL */
	void	   *ctx;
	AudienceCodecAlloc alloc;	/* memory for a window and the header */
	void		(*free) (void *mem, void *p);
	void	   *mem;
} AudienceInput;

extern uint8_t *audience_codec_setop_input(const AudienceInput *a, const AudienceInput *b,
										   AudienceSetOp op, AudienceCodecAlloc alloc,
										   void *ctx, size_t reserve, size_t *len);
extern uint64_t audience_codec_setop_cardinality_input(const AudienceInput *a,
													   const AudienceInput *b,
													   AudienceSetOp op);
extern bool audience_codec_intersects_input(const AudienceInput *a, const AudienceInput *b);
extern bool audience_codec_is_subset_input(const AudienceInput *a, const AudienceInput *b);
extern uint64_t audience_codec_input_cardinality(const AudienceInput *in);
extern bool audience_codec_contains_input(const AudienceInput *in, uint32_t x);

/* Questions about two sets that build no result. */
extern uint64_t audience_codec_and_cardinality(const uint8_t *a, size_t alen,
											   const uint8_t *b, size_t blen);
extern uint64_t audience_codec_setop_cardinality(const uint8_t *a, size_t alen,
												 const uint8_t *b, size_t blen,
												 AudienceSetOp op);
extern bool audience_codec_intersects(const uint8_t *a, size_t alen,
									  const uint8_t *b, size_t blen);
extern bool audience_codec_is_subset(const uint8_t *a, size_t alen,
									 const uint8_t *b, size_t blen);
extern bool audience_codec_equal_sets(const uint8_t *a, size_t alen,
									  const uint8_t *b, size_t blen);

/*
 * Canonical bytes from containers supplied in ascending key order: fn fills
 * container i (0 <= i < n) as sorted, distinct values or as 1024 bitset
 * words, and is called twice per container (one walk sizes, one writes).
 */
typedef struct AudienceSource
{
	uint16_t	key;
	const uint16_t *vals;		/* nvals sorted values, or NULL */
	uint32_t	nvals;
	const uint64_t *words;		/* else a bitset of host words */
} AudienceSource;

typedef void (*AudienceSourceFn) (void *arg, uint32_t i, AudienceSource *src);

extern uint8_t *audience_codec_build(uint32_t n, AudienceSourceFn fn, void *arg,
									 AudienceCodecAlloc alloc, void *ctx,
									 size_t reserve, size_t *len);

/*
 * Calls fn for each container of checked bytes with its key and either its
 * sorted values (arrays) or 1024 bitset words (bitsets and runs); card is
 * the container's cardinality.  The pointers are valid during the call.
 */
typedef void (*AudienceContainerFn) (void *arg, uint16_t key, const uint16_t *vals,
									 uint32_t card, const uint64_t *words);

extern void audience_codec_each_container(const uint8_t *buf, size_t len,
										  AudienceContainerFn fn, void *arg);

#endif							/* AUDIENCE_CODEC_H */
