/*
 * key_batch.h
 *		Ordering a batch of hash-table probes by the slot each one starts at.
 *
 * Looking keys up one per row costs a cache miss per key: the slots of a
 * table of a million customers span tens of megabytes, and between two rows
 * the executor runs too much code for the misses to overlap.  A batch of
 * keys probed in slot order reads the table front to back instead, so the
 * hardware prefetcher and the out-of-order core overlap the misses.
 * Pure C, no PostgreSQL.
 */
#ifndef KEY_BATCH_H
#define KEY_BATCH_H

#include <stdint.h>

/* One probe: the key's hash and its position in the caller's batch. */
typedef struct KeyBatchProbe
{
	uint32_t	hash;
	uint32_t	index;
} KeyBatchProbe;

/* Bits of the slot number the batch is sorted by (a counting sort). */
#define KEY_BATCH_RADIX_BITS 12

/*
 * Writes the n probes of in to out (which must not overlap in) ordered by
 * the top KEY_BATCH_RADIX_BITS bits of their first slot, hash & mask, for a
 * table of mask + 1 slots (a power of two); probes of one band keep their
 * order.  A band then spans (mask + 1) / 4096 slots or fewer: neighbours in
 * the table, often in one page.
 */
extern void key_batch_order(const KeyBatchProbe *in, KeyBatchProbe *out, uint32_t n,
							uint32_t mask);

/* The band key_batch_order sorts a hash into. */
extern uint32_t key_batch_band(uint32_t hash, uint32_t mask);

#endif							/* KEY_BATCH_H */
