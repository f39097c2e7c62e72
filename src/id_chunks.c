/*
 * id_chunks.c
 *		O(1) insertion of unsorted ids into per-64K chunks, handed out as
 *		sorted values or bitsets for audience_codec_build.
 */
#include "id_chunks.h"

#include <string.h>

#define ARRAY_MAX 4096
#define BITSET_WORDS 1024

void
id_chunks_init(IdChunks *t, IdChunksAlloc alloc, IdChunksFree free, void *ctx)
{
	memset(t->pages, 0, sizeof(t->pages));
	t->alloc = alloc;
	t->free = free;
	t->ctx = ctx;
	t->nadded = 0;
}

/* The chunk of key, or NULL. */
static inline IdChunk *
Get(const IdChunks *t, uint32_t key)
{
	IdChunk   **page = t->pages[key >> 8];

	return page == NULL ? NULL : page[key & 255];
}

/* The chunk of key, created empty (a buffer of 16) if missing. */
static IdChunk *
Make(IdChunks *t, uint32_t key, bool buffer)
{
	IdChunk   **page = t->pages[key >> 8];
	IdChunk    *c;

	if (page == NULL)
	{
		page = t->alloc(t->ctx, 256 * sizeof(IdChunk *));
		t->pages[key >> 8] = page;
	}
	c = page[key & 255];
	if (c == NULL)
	{
		c = t->alloc(t->ctx, sizeof(IdChunk));
		if (buffer)
		{
			c->capacity = 16;
			c->values = t->alloc(t->ctx, c->capacity * sizeof(uint16_t));
		}
		page[key & 255] = c;
	}
	return c;
}

/* Turns an append buffer into a bitset. */
static void
ToBitset(IdChunks *t, IdChunk *c)
{
	uint32_t	i;

	c->bits = t->alloc(t->ctx, BITSET_WORDS * sizeof(uint64_t));
	for (i = 0; i < c->nvalues; i++)
		c->bits[c->values[i] >> 6] |= UINT64_C(1) << (c->values[i] & 63);
	if (c->values != NULL)
		t->free(t->ctx, c->values);
	c->values = NULL;
}

/* A full append buffer: doubles it, or past 4096 entries makes it a bitset. */
static void
Grow(IdChunks *t, IdChunk *c)
{
	uint16_t   *bigger;

	if (c->capacity >= ARRAY_MAX)
	{
		ToBitset(t, c);
		return;
	}
	bigger = t->alloc(t->ctx, 2 * c->capacity * sizeof(uint16_t));
	memcpy(bigger, c->values, c->nvalues * sizeof(uint16_t));
	t->free(t->ctx, c->values);
	c->values = bigger;
	c->capacity *= 2;
}

static inline void
Add(IdChunks *t, uint32_t id)
{
	IdChunk    *c = Get(t, id >> 16);
	uint16_t	low = (uint16_t) id;

	if (c == NULL)
		c = Make(t, id >> 16, true);
	if (c->bits == NULL && c->nvalues == c->capacity)
		Grow(t, c);
	if (c->bits != NULL)
		c->bits[low >> 6] |= UINT64_C(1) << (low & 63);
	else
		c->values[c->nvalues++] = low;
}

void
id_chunks_add(IdChunks *t, uint32_t id)
{
	t->nadded++;
	Add(t, id);
}

void
id_chunks_add_many(IdChunks *t, const uint32_t *ids, size_t n)
{
	size_t		i;

	t->nadded += n;
	for (i = 0; i < n; i++)
		Add(t, ids[i]);
}

/* Sorts and deduplicates a buffer with a counting pass over a bitset. */
static void
Normalize(IdChunk *c)
{
	uint64_t	seen[BITSET_WORDS];
	uint32_t	i,
				n = 0;

	if (c->bits != NULL)
		return;
	if (c->nvalues > 256)
	{
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < c->nvalues; i++)
			seen[c->values[i] >> 6] |= UINT64_C(1) << (c->values[i] & 63);
		for (i = 0; i < BITSET_WORDS; i++)
		{
			uint64_t	w = seen[i];

			while (w)
			{
				c->values[n++] = (uint16_t) (i * 64 + __builtin_ctzll(w));
				w &= w - 1;
			}
		}
	}
	else
	{
		/* insertion sort is fastest for the short buffers of sparse chunks */
		for (i = 1; i < c->nvalues; i++)
		{
			uint16_t	v = c->values[i];
			uint32_t	j = i;

			while (j > 0 && c->values[j - 1] > v)
			{
				c->values[j] = c->values[j - 1];
				j--;
			}
			c->values[j] = v;
		}
		for (i = 0; i < c->nvalues; i++)
			if (n == 0 || c->values[i] != c->values[n - 1])
				c->values[n++] = c->values[i];
	}
	c->nvalues = n;
}

/* The values of one chunk: the chunk is looked up once, not per value. */
void
id_chunks_add_values(IdChunks *t, uint16_t key, const uint16_t *vals, uint32_t n)
{
	IdChunk    *c = Make(t, key, true);
	uint32_t	i = 0;

	t->nadded += n;
	while (i < n && c->bits == NULL)
	{
		if (c->nvalues == c->capacity)
		{
			Grow(t, c);
			continue;
		}
		c->values[c->nvalues++] = vals[i++];
	}
	for (; i < n; i++)
		c->bits[vals[i] >> 6] |= UINT64_C(1) << (vals[i] & 63);
}

/* ORs a bitset into chunk key, turning the chunk into a bitset first. */
void
id_chunks_add_words(IdChunks *t, uint16_t key, const uint64_t *words)
{
	IdChunk    *c = Make(t, key, false);
	uint32_t	i;

	if (c->bits == NULL)
		ToBitset(t, c);
	for (i = 0; i < BITSET_WORDS; i++)
		c->bits[i] |= words[i];
	t->nadded++;
}

void
id_chunks_merge(IdChunks *dst, IdChunks *src)
{
	uint32_t	k;

	for (k = 0; k < 65536; k++)
	{
		IdChunk    *c = Get(src, k);

		if (c == NULL)
			continue;
		if (c->bits != NULL)
			id_chunks_add_words(dst, (uint16_t) k, c->bits);
		else
			id_chunks_add_values(dst, (uint16_t) k, c->values, c->nvalues);
	}
}

uint32_t
id_chunks_keys(IdChunks *t, uint16_t *keys)
{
	uint32_t	n = 0,
				k;

	for (k = 0; k < 65536; k++)
	{
		IdChunk    *c;

		if (t->pages[k >> 8] == NULL)
		{
			k |= 255;
			continue;
		}
		c = Get(t, k);
		if (c != NULL)
		{
			Normalize(c);
			keys[n++] = (uint16_t) k;
		}
	}
	return n;
}

void
id_chunks_get(IdChunks *t, uint16_t key, const uint16_t **vals, uint32_t *n,
			  const uint64_t **words)
{
	IdChunk    *c = Get(t, key);

	*vals = c->bits == NULL ? c->values : NULL;
	*n = c->bits == NULL ? c->nvalues : 0;
	*words = c->bits;
}

void
id_chunks_reset(IdChunks *t)
{
	uint32_t	p,
				k;

	for (p = 0; p < 256; p++)
	{
		if (t->pages[p] == NULL)
			continue;
		for (k = 0; k < 256; k++)
		{
			IdChunk    *c = t->pages[p][k];

			if (c == NULL)
				continue;
			if (c->values)
				t->free(t->ctx, c->values);
			if (c->bits)
				t->free(t->ctx, c->bits);
			t->free(t->ctx, c);
		}
		t->free(t->ctx, t->pages[p]);
		t->pages[p] = NULL;
	}
	t->nadded = 0;
}
