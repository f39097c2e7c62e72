/*
 * id_chunks.c
 *		O(1) insertion of unsorted ids into per-64K chunks, and their
 *		serialization in CRoaring's portable format (no run containers);
 *		id_chunks_keys and id_chunks_get hand the chunks to
 *		audience_codec_build, which writes the canonical form.
 */
#include "id_chunks.h"

#include <string.h>

#define ARRAY_MAX 4096
#define BITSET_WORDS 1024

void
id_chunks_init(IdChunks *t, IdChunksAlloc alloc, IdChunksFree free, void *ctx)
{
	memset(t->chunks, 0, sizeof(t->chunks));
	t->alloc = alloc;
	t->free = free;
	t->ctx = ctx;
	t->nadded = 0;
}

/* Turns a full append buffer into a bitset. */
static void
ToBitset(IdChunks *t, IdChunk *c)
{
	uint32_t	i;

	c->bits = t->alloc(t->ctx, BITSET_WORDS * sizeof(uint64_t));
	for (i = 0; i < c->nvalues; i++)
		c->bits[c->values[i] >> 6] |= UINT64_C(1) << (c->values[i] & 63);
	t->free(t->ctx, c->values);
	c->values = NULL;
}

void
id_chunks_add(IdChunks *t, uint32_t id)
{
	IdChunk    *c = t->chunks[id >> 16];
	uint16_t	low = (uint16_t) id;

	t->nadded++;
	if (c == NULL)
	{
		c = t->alloc(t->ctx, sizeof(IdChunk));
		c->capacity = 16;
		c->values = t->alloc(t->ctx, c->capacity * sizeof(uint16_t));
		t->chunks[id >> 16] = c;
	}
	if (c->bits != NULL)
	{
		c->bits[low >> 6] |= UINT64_C(1) << (low & 63);
		return;
	}
	if (c->nvalues == c->capacity)
	{
		uint16_t   *bigger;

		if (c->capacity >= ARRAY_MAX)
		{
			ToBitset(t, c);
			c->bits[low >> 6] |= UINT64_C(1) << (low & 63);
			return;
		}
		bigger = t->alloc(t->ctx, 2 * c->capacity * sizeof(uint16_t));
		memcpy(bigger, c->values, c->nvalues * sizeof(uint16_t));
		t->free(t->ctx, c->values);
		c->values = bigger;
		c->capacity *= 2;
	}
	c->values[c->nvalues++] = low;
}

/* Sorts and deduplicates a buffer with a counting pass over a bitset. */
static void
Normalize(IdChunks *t, IdChunk *c)
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

static uint32_t
Cardinality(const IdChunk *c)
{
	uint32_t	card = 0;
	uint32_t	i;

	if (c->bits == NULL)
		return c->nvalues;
	for (i = 0; i < BITSET_WORDS; i++)
		card += (uint32_t) __builtin_popcountll(c->bits[i]);
	return card;
}

static size_t
ContainerBytes(uint32_t card)
{
	return card > ARRAY_MAX ? BITSET_WORDS * 8 : (size_t) card * 2;
}

size_t
id_chunks_portable_size(IdChunks *t)
{
	size_t		size = 8;
	uint32_t	k;

	for (k = 0; k < 65536; k++)
		if (t->chunks[k] != NULL)
		{
			Normalize(t, t->chunks[k]);
			size += 8 + ContainerBytes(Cardinality(t->chunks[k]));
		}
	return size;
}

static inline void
Put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void
Put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Writes one container: the bitset as is, or its members as an array. */
static void
WriteContainer(const IdChunk *c, uint32_t card, uint8_t *out)
{
	uint32_t	i,
				n = 0;

	if (c->bits == NULL)
	{
		memcpy(out, c->values, (size_t) card * 2);
		return;
	}
	if (card > ARRAY_MAX)
	{
		memcpy(out, c->bits, BITSET_WORDS * 8);
		return;
	}
	for (i = 0; i < BITSET_WORDS; i++)
	{
		uint64_t	w = c->bits[i];

		while (w)
		{
			Put16(out + 2 * n++, (uint16_t) (i * 64 + __builtin_ctzll(w)));
			w &= w - 1;
		}
	}
}

void
id_chunks_write(IdChunks *t, uint8_t *out)
{
	uint32_t	n = 0,
				k,
				i = 0;
	size_t		pos;

	for (k = 0; k < 65536; k++)
		n += t->chunks[k] != NULL;
	Put32(out, 12346);
	Put32(out + 4, n);
	pos = 8 + (size_t) n * 8;
	for (k = 0; k < 65536; k++)
	{
		IdChunk    *c = t->chunks[k];
		uint32_t	card;

		if (c == NULL)
			continue;
		Normalize(t, c);
		card = Cardinality(c);
		Put16(out + 8 + 4 * i, (uint16_t) k);
		Put16(out + 8 + 4 * i + 2, (uint16_t) (card - 1));
		Put32(out + 8 + 4 * (size_t) n + 4 * i, (uint32_t) pos);
		WriteContainer(c, card, out + pos);
		pos += ContainerBytes(card);
		i++;
	}
}

void
id_chunks_add_values(IdChunks *t, uint16_t key, const uint16_t *vals, uint32_t n)
{
	uint32_t	base = (uint32_t) key << 16;
	uint32_t	i;

	for (i = 0; i < n; i++)
		id_chunks_add(t, base | vals[i]);
}

/* ORs a bitset into chunk key, turning the chunk into a bitset first. */
void
id_chunks_add_words(IdChunks *t, uint16_t key, const uint64_t *words)
{
	IdChunk    *c = t->chunks[key];
	uint32_t	i;

	if (c == NULL)
	{
		c = t->alloc(t->ctx, sizeof(IdChunk));
		t->chunks[key] = c;
	}
	if (c->bits == NULL)
	{
		c->bits = t->alloc(t->ctx, BITSET_WORDS * sizeof(uint64_t));
		for (i = 0; i < c->nvalues; i++)
			c->bits[c->values[i] >> 6] |= UINT64_C(1) << (c->values[i] & 63);
		if (c->values != NULL)
			t->free(t->ctx, c->values);
		c->values = NULL;
	}
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
		IdChunk    *c = src->chunks[k];

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
		if (t->chunks[k] != NULL)
		{
			Normalize(t, t->chunks[k]);
			keys[n++] = (uint16_t) k;
		}
	return n;
}

void
id_chunks_get(IdChunks *t, uint16_t key, const uint16_t **vals, uint32_t *n,
			  const uint64_t **words)
{
	IdChunk    *c = t->chunks[key];

	*vals = c->bits == NULL ? c->values : NULL;
	*n = c->bits == NULL ? c->nvalues : 0;
	*words = c->bits;
}

void
id_chunks_reset(IdChunks *t)
{
	uint32_t	k;

	for (k = 0; k < 65536; k++)
	{
		IdChunk    *c = t->chunks[k];

		if (c == NULL)
			continue;
		if (c->values)
			t->free(t->ctx, c->values);
		if (c->bits)
			t->free(t->ctx, c->bits);
		t->free(t->ctx, c);
		t->chunks[k] = NULL;
	}
	t->nadded = 0;
}
