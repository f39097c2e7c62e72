/*
 * id_chunks.h
 *		Fast accumulation of unsorted 32-bit ids, for audience_agg and
 *		union_agg.
 *
 * Adding random ids to a roaring bitmap one at a time costs a container
 * search and, for array containers, a memmove per id.  Here each 64K chunk
 * of the id space is found by direct indexing (a two-level directory, so an
 * empty table costs 2 kB, not 512 kB) and is either an unsorted append
 * buffer or, past 4096 entries, a plain bitset: every add is O(1).  The
 * chunks are handed out sorted (id_chunks_keys, id_chunks_get) for
 * audience_codec_build to write the stored form.
 * Pure C: memory comes from caller-supplied functions.
 */
#ifndef ID_CHUNKS_H
#define ID_CHUNKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void *(*IdChunksAlloc) (void *ctx, size_t size);	/* zeroed memory */
typedef void (*IdChunksFree) (void *ctx, void *p);

typedef struct IdChunk
{
	uint16_t   *values;			/* append buffer, or NULL once a bitset */
	uint64_t   *bits;			/* 1024 words, or NULL while a buffer */
	uint32_t	nvalues;
	uint32_t	capacity;
} IdChunk;

typedef struct IdChunks
{
	IdChunk   **pages[256];		/* by id >> 24: 256 chunks each, or NULL */
	IdChunksAlloc alloc;
	IdChunksFree free;
	void	   *ctx;
	uint64_t	nadded;
} IdChunks;

extern void id_chunks_init(IdChunks *t, IdChunksAlloc alloc, IdChunksFree free, void *ctx);
extern void id_chunks_add(IdChunks *t, uint32_t id);

/*
 * Adds n ids in one tight loop.  Cheaper per id than id_chunks_add from a
 * caller that does much work between two ids: the cache misses on the
 * bitsets of consecutive ids overlap instead of stalling one by one.
 */
extern void id_chunks_add_many(IdChunks *t, const uint32_t *ids, size_t n);

/* Bulk additions: the values of one chunk, or a whole 1024-word bitset. */
extern void id_chunks_add_values(IdChunks *t, uint16_t key, const uint16_t *vals, uint32_t n);
extern void id_chunks_add_words(IdChunks *t, uint16_t key, const uint64_t *words);

/* Adds every member of src to dst. */
extern void id_chunks_merge(IdChunks *dst, IdChunks *src);

/*
 * Sorts and deduplicates every chunk and lists the keys in use, ascending,
 * into keys (room for 65536); returns how many.  id_chunks_get then gives a
 * listed chunk's members as sorted values or as a bitset.
 */
extern uint32_t id_chunks_keys(IdChunks *t, uint16_t *keys);
extern void id_chunks_get(IdChunks *t, uint16_t key, const uint16_t **vals, uint32_t *n,
						  const uint64_t **words);

/* Frees every chunk; the table is empty and reusable afterwards. */
extern void id_chunks_reset(IdChunks *t);

#endif							/* ID_CHUNKS_H */
