/*
 * key_batch.c
 *		A one-pass counting sort of hash-table probes by their slot band.
 *
 * A full sort by slot is not needed: probes within one band touch
 * neighbouring slots, and one pass over 4096 counters costs less per key
 * than the cache miss it saves.
 */
#include "key_batch.h"

#include <string.h>

#define BANDS (1u << KEY_BATCH_RADIX_BITS)

/*
 * The shift that leaves the top KEY_BATCH_RADIX_BITS bits of a slot number
 * of a table of mask + 1 slots (mask of the form 2^k - 1).
 */
static uint32_t
BandShift(uint32_t mask)
{
	uint32_t	bits = 0;

	while (bits < 32 && (mask >> bits) != 0)
		bits++;
	return bits > KEY_BATCH_RADIX_BITS ? bits - KEY_BATCH_RADIX_BITS : 0;
}

uint32_t
key_batch_band(uint32_t hash, uint32_t mask)
{
	return (hash & mask) >> BandShift(mask);
}

void
key_batch_order(const KeyBatchProbe *in, KeyBatchProbe *out, uint32_t n, uint32_t mask)
{
	uint32_t	starts[BANDS];
	uint32_t	shift = BandShift(mask);
	uint32_t	i,
				sum = 0;

	memset(starts, 0, sizeof(starts));
	for (i = 0; i < n; i++)
		starts[(in[i].hash & mask) >> shift]++;
	for (i = 0; i < BANDS; i++)
	{
		uint32_t	c = starts[i];

		starts[i] = sum;
		sum += c;
	}
	for (i = 0; i < n; i++)
		out[starts[(in[i].hash & mask) >> shift]++] = in[i];
}
