/*
 * key_dictionary_share.c
 *		The leader's copy of the key dictionary cache for parallel workers.
 *
 * customer_ordinal() is parallel safe only if a worker does not read the
 * whole dictionary itself (about 0.3 s per million keys, per worker, per
 * query).  So a backend that fills its cache also writes a flat copy into
 * a dynamic shared memory segment, kept mapped for the backend's life,
 * and names it in the setting segment._dictionary_share, which PostgreSQL
 * hands to every parallel worker with the leader's other settings.  A
 * worker attaches to it and looks keys up there; a key it lacks (added
 * since) is looked up through the key index, as in the leader.
 *
 * The copy is immutable: slots (hash, ordinal, offset and length of the
 * key's bytes) in open addressing, then the bytes.  The setting carries
 * the segment handle, the dictionary's relation and a random token also
 * written in the header, so that a worker never trusts a segment that is
 * gone or reused for something else.
 */
#include "postgres.h"

#include <sys/mman.h>
#include <unistd.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/dsm.h"
#include "utils/guc.h"

#include "key_dictionary.h"

#define SHARE_MAGIC 0x53474b44	/* "SGKD" */

typedef struct SharedSlot
{
	uint32		hash;
	uint32		ordinal;
	uint32		off;			/* into the bytes */
	uint32		len;			/* DictKey.len + 1; 0: empty slot */
} SharedSlot;

typedef struct SharedHeader
{
	uint32		magic;
	Oid			relid;
	uint64		token;
	uint32		mask;			/* slots - 1 */
	uint32		nbytes;
	/* SharedSlot slots[mask + 1], then the key bytes */
} SharedHeader;

#define SLOTS(h) ((SharedSlot *) ((char *) (h) + MAXALIGN(sizeof(SharedHeader))))
#define BYTES(h) ((char *) (SLOTS(h) + (h)->mask + 1))

char	   *segment_dictionary_share = NULL;

/* The leader's segment (kept until the cache is dropped). */
static dsm_segment *published = NULL;

/* A worker's attachment, for the query it serves. */
static dsm_segment *attached = NULL;
static SharedHeader *attached_header = NULL;
static bool attach_tried = false;

struct DictShareBuilder
{
	dsm_segment *seg;
	SharedHeader *h;
	uint32		used;
};

/* Bytes of a key as stored: by-value keys are their Datum. */
static inline const char *
KeyBytes(const Datum *key, uint32 len, uint32 *n)
{
	if (len == 0)
	{
		*n = sizeof(Datum);
		return (const char *) key;
	}
	*n = len - 1;
	return DatumGetPointer(*key);
}

DictShareBuilder *
dict_share_begin(Oid relid, uint64 nkeys, uint64 nbytes)
{
	DictShareBuilder *b;
	uint64		slots = 1024;
	Size		size;

	dict_share_drop();
	if (nbytes > PG_UINT32_MAX || nkeys > PG_UINT32_MAX / 4)
		return NULL;
	while (slots < nkeys * 2)
		slots <<= 1;
	size = MAXALIGN(sizeof(SharedHeader)) + slots * sizeof(SharedSlot) + nbytes;
	b = palloc0(sizeof(DictShareBuilder));
	b->seg = dsm_create(size, DSM_CREATE_NULL_IF_MAXSEGMENTS);
	if (b->seg == NULL)
		return NULL;
	b->h = dsm_segment_address(b->seg);
	memset(b->h, 0, MAXALIGN(sizeof(SharedHeader)) + slots * sizeof(SharedSlot));
	b->h->magic = SHARE_MAGIC;
	b->h->relid = relid;
	b->h->mask = (uint32) (slots - 1);
	b->h->nbytes = (uint32) nbytes;
	return b;
}

void
dict_share_add(DictShareBuilder *b, Datum key, uint32 len, uint32 hash, uint32 ordinal)
{
	SharedSlot *slots = SLOTS(b->h);
	uint32		i = hash & b->h->mask;
	uint32		n;
	const char *bytes = KeyBytes(&key, len, &n);

	if (b->used + n > b->h->nbytes)
		elog(ERROR, "key dictionary share overflow");
	while (slots[i].len != 0)
		i = (i + 1) & b->h->mask;
	memcpy(BYTES(b->h) + b->used, bytes, n);
	slots[i].hash = hash;
	slots[i].ordinal = ordinal;
	slots[i].off = b->used;
	slots[i].len = len + 1;
	b->used += n;
}

/* Keeps the segment for the backend's life and names it for workers. */
void
dict_share_end(DictShareBuilder *b)
{
	char		value[64];

	b->h->token = pg_prng_uint64(&pg_global_prng_state) | 1;
	dsm_pin_mapping(b->seg);
	published = b->seg;
	snprintf(value, sizeof(value), "%u/%u/" UINT64_FORMAT, dsm_segment_handle(b->seg),
			 b->h->relid, b->h->token);
	SetConfigOption("segment._dictionary_share", value, PGC_USERSET, PGC_S_SESSION);
	pfree(b);
}

/*
 * Drops the leader's copy (the cache was dropped).  The setting may still
 * name it; a worker then finds the segment gone or its token different.
 */
void
dict_share_drop(void)
{
	if (published != NULL)
	{
		dsm_detach(published);
		published = NULL;
	}
}

/* In a worker: the leader's copy for relid, or NULL. */
static SharedHeader *
Attach(Oid relid)
{
	unsigned int handle;
	Oid			rel;
	uint64		token;
	SharedHeader *h;

	if (attach_tried)
		return attached_header && attached_header->relid == relid ? attached_header : NULL;
	attach_tried = true;
	if (segment_dictionary_share == NULL ||
		sscanf(segment_dictionary_share, "%u/%u/" UINT64_FORMAT, &handle, &rel, &token) != 3 ||
		rel != relid)
		return NULL;
	attached = dsm_attach((dsm_handle) handle);
	if (attached == NULL)
		return NULL;
	dsm_pin_mapping(attached);
	h = dsm_segment_address(attached);
	if (dsm_segment_map_length(attached) < sizeof(SharedHeader) || h->magic != SHARE_MAGIC ||
		h->relid != relid || h->token != token)
	{
		dsm_detach(attached);
		attached = NULL;
		return NULL;
	}
	attached_header = h;
#ifdef MADV_POPULATE_READ
	/*
	 * One call maps every page: lookups touch pages at random, and a page
	 * fault per page cost more than the lookups on the machines measured.
	 */
	(void) madvise((void *) TYPEALIGN_DOWN(sysconf(_SC_PAGESIZE), (uintptr_t) h),
				   dsm_segment_map_length(attached), MADV_POPULATE_READ);
#endif
	return h;
}

/* The ordinal of a key in the copy h; false when it is not there. */
static inline bool
FindSlot(SharedHeader *h, Datum key, uint32 len, uint32 hash, uint32 *ordinal)
{
	SharedSlot *slots = SLOTS(h);
	uint32		i,
				n;
	const char *bytes = KeyBytes(&key, len, &n);

	for (i = hash & h->mask; slots[i].len != 0; i = (i + 1) & h->mask)
		if (slots[i].hash == hash && slots[i].len == len + 1 &&
			memcmp(BYTES(h) + slots[i].off, bytes, n) == 0)
		{
			*ordinal = slots[i].ordinal;
			return true;
		}
	return false;
}

/*
 * In a parallel worker: looks a key up in the leader's copy.  False when
 * there is no copy for relid (*available false) or the key is not in it.
 */
bool
dict_share_lookup(Oid relid, Datum key, uint32 len, uint32 hash, uint32 *ordinal, bool *available)
{
	SharedHeader *h = Attach(relid);

	*available = h != NULL;
	return h != NULL && FindSlot(h, key, len, hash, ordinal);
}

/* In a parallel worker: the slot mask of the leader's copy, if there is one. */
bool
dict_share_mask(Oid relid, uint32 *mask)
{
	SharedHeader *h = Attach(relid);

	if (h == NULL)
		return false;
	*mask = h->mask;
	return true;
}

/*
 * In a parallel worker: looks n keys up in the leader's copy, in the order
 * given (by slot band, key_batch_order), prefetching a few probes ahead.
 * Sets hit[i] and ordinals[i] for the keys found.
 */
void
dict_share_lookup_many(Oid relid, const DictKey *keys, const KeyBatchProbe *order, int n,
					   uint32 *ordinals, bool *hit)
{
	SharedHeader *h = Attach(relid);
	SharedSlot *slots;
	int			i;

	if (h == NULL)
		return;
	slots = SLOTS(h);
	for (i = 0; i < n; i++)
	{
		uint32		j = order[i].index;

		if (i + DICT_PREFETCH_AHEAD < n)
			__builtin_prefetch(&slots[order[i + DICT_PREFETCH_AHEAD].hash & h->mask]);
		hit[j] = FindSlot(h, keys[j].key, keys[j].len, keys[j].hash, &ordinals[j]);
	}
}
