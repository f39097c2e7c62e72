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

#endif							/* AUDIENCE_CODEC_H */
