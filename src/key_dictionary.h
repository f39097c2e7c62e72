/*
 * key_dictionary.h
 *		The backend-local cache of the customer key dictionary.
 */
#ifndef KEY_DICTIONARY_H
#define KEY_DICTIONARY_H

#include "fmgr.h"

#include "key_batch.h"

/*
 * A cached key: by-value keys are the Datum itself (len 0); others point to
 * a copy of their bytes, len being the byte count plus one so that an empty
 * string differs from a by-value key.
 */
typedef struct DictKey
{
	Datum		key;
	uint32		len;
	uint32		hash;
} DictKey;

/* Probes ahead of the current one that batch lookups prefetch. */
#define DICT_PREFETCH_AHEAD 8

/* segment.dictionary_cache_size, in kB (0: never cache) */
extern int	segment_dictionary_cache_kb;

extern Oid	key_dictionary_relid(void);
extern bool key_dictionary_cache_fits(double n, int16 typlen);

extern void key_dictionary_prepare(void);
extern bool key_dictionary_keys(const int64 *ordinals, int n, Datum *keys, Oid *key_type);
extern int	key_dictionary_map_many(FmgrInfo *flinfo, Oid argtype, const Datum *keys, int n,
									uint32 *ordinals);
extern bool key_dictionary_worker_maps(FmgrInfo *flinfo);

/* segment._dictionary_share: the leader's copy for parallel workers */
extern char *segment_dictionary_share;

typedef struct DictShareBuilder DictShareBuilder;

extern DictShareBuilder *dict_share_begin(Oid relid, uint64 nkeys, uint64 nbytes);
extern void dict_share_add(DictShareBuilder *b, Datum key, uint32 len, uint32 hash, uint32 ordinal);
extern void dict_share_end(DictShareBuilder *b);
extern void dict_share_drop(void);
extern bool dict_share_lookup(Oid relid, Datum key, uint32 len, uint32 hash, uint32 *ordinal,
							  bool *available);
extern bool dict_share_mask(Oid relid, uint32 *mask);
extern void dict_share_lookup_many(Oid relid, const DictKey *keys, const KeyBatchProbe *order,
								   int n, uint32 *ordinals, bool *hit);

#endif							/* KEY_DICTIONARY_H */
