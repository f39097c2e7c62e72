/*
 * audience_codec.h
 *		Pure-C reader and validator of CRoaring's portable serialization
 *		(the stored form of an audience).  No PostgreSQL or CRoaring
 *		headers: unit-tested and fuzzed on its own.
 */
#ifndef AUDIENCE_CODEC_H
#define AUDIENCE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Checks the whole structure of untrusted bytes.  On failure returns false
 * and writes a short lower-case reason into why.
 */
extern bool audience_codec_check(const uint8_t *buf, size_t len, char *why, size_t whylen);

/* The functions below require bytes that passed audience_codec_check. */
extern uint64_t audience_codec_cardinality(const uint8_t *buf, size_t len);
extern bool audience_codec_contains(const uint8_t *buf, size_t len, uint32_t x);
extern bool audience_codec_min(const uint8_t *buf, size_t len, uint32_t *out);
extern bool audience_codec_max(const uint8_t *buf, size_t len, uint32_t *out);

#endif							/* AUDIENCE_CODEC_H */
