/*
 * key_dictionary.c
 *		customer_ordinal(key): a customer key's ordinal, through a
 *		backend-local cache of the key dictionary (segment.customer_ordinals).
 *
 * Customer keys that are not integers in [0, 2^32) reach audiences through
 * the dictionary.  Joining it costs a hash table of every customer per
 * query (about 400 ms per million customers here), which made every rule
 * with dictionary keys slower than the hand-written query that returns the
 * keys themselves.  The dictionary is append-only: a key keeps its ordinal
 * for as long as the registration exists (rows are only inserted, ON
 * CONFLICT DO NOTHING, and the table is dropped with the registration).  So
 * a mapping read once stays true, and the cache needs no invalidation
 * except when the table itself goes (relcache callback) or when it was read
 * in a transaction that aborts (it may hold that transaction's own keys).
 *
 * A key missing from the cache is looked up through the key index under
 * the query's snapshot (a key added since the cache was filled, or a key
 * that is no customer's); a miss that finds nothing is remembered only for
 * the current call site, whose snapshot does not change.
 *
 * Keys are cached by their bytes: bytewise-equal keys are equal under any
 * type's equality, and a key whose bytes differ from its stored form
 * (numeric 1.0 and 1.00) is a miss answered by the index with the type's
 * own equality.
 */
#include "postgres.h"

#include <sys/mman.h>

#include "access/genam.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "access/parallel.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "key_batch.h"
#include "key_dictionary.h"

int			segment_dictionary_cache_kb = 262144;

typedef struct DictSlot
{
	DictKey		k;
	uint32		ordinal;
	char		status;
} DictSlot;

static inline bool
DictKeyEqual(const DictKey *a, const DictKey *b)
{
	return a->hash == b->hash && a->len == b->len &&
		(a->len == 0 ? a->key == b->key :
		 memcmp(DatumGetPointer(a->key), DatumGetPointer(b->key), a->len - 1) == 0);
}

#define SH_PREFIX		dict
#define SH_ELEMENT_TYPE DictSlot
#define SH_KEY_TYPE		DictKey
#define SH_KEY			k
#define SH_HASH_KEY(tb, kk)	((kk).hash)
#define SH_EQUAL(tb, a, b)	DictKeyEqual(&(a), &(b))
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#define SH_USE_NONDEFAULT_ALLOCATOR
#include "lib/simplehash.h"

/* The same table for the misses of one query, in ordinary memory. */
#define SH_PREFIX		absent
#define SH_ELEMENT_TYPE DictSlot
#define SH_KEY_TYPE		DictKey
#define SH_KEY			k
#define SH_HASH_KEY(tb, kk)	((kk).hash)
#define SH_EQUAL(tb, a, b)	DictKeyEqual(&(a), &(b))
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * The cache's slots live in their own mapping, advised to use huge pages:
 * lookups come in no useful order, and on the machines measured a random
 * probe of a 50 MB table with 4 kB pages cost ~560 ns, mostly address
 * translation.  mmap's memory is zeroed, as simplehash requires.
 */
#define HUGE_PAGE ((Size) 2 * 1024 * 1024)

typedef struct Mapping
{
	void	   *data;
	void	   *base;
	Size		len;
} Mapping;

static Mapping mappings[2];		/* the table, and its successor while growing */

static inline void *
dict_allocate(dict_hash *tb, Size size)
{
	Size		len = size + HUGE_PAGE;
	char	   *base;
	char	   *data;
	int			i;

	for (i = 0; i < lengthof(mappings) && mappings[i].base != NULL; i++)
		;
	if (i == lengthof(mappings))
		elog(ERROR, "key dictionary cache has no free mapping slot");
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory for the key dictionary cache"),
				 errdetail("Failed to map %zu bytes.", len),
				 errhint("Lower segment.dictionary_cache_size to join the dictionary instead.")));
	data = (char *) TYPEALIGN(HUGE_PAGE, base);
#ifdef MADV_HUGEPAGE
	(void) madvise(data, size, MADV_HUGEPAGE);
#endif
	mappings[i].data = data;
	mappings[i].base = base;
	mappings[i].len = len;
	return data;
}

static inline void
dict_free(dict_hash *tb, void *pointer)
{
	int			i;

	for (i = 0; i < lengthof(mappings); i++)
		if (mappings[i].data == pointer)
		{
			munmap(mappings[i].base, mappings[i].len);
			memset(&mappings[i], 0, sizeof(Mapping));
			return;
		}
	elog(ERROR, "key dictionary cache freed an unknown mapping");
}

/* The backend's cache of the dictionary. */
typedef struct DictCache
{
	Oid			relid;			/* segment.customer_ordinals; InvalidOid: empty */
	Oid			indexid;		/* its unique index on key */
	Oid			key_type;
	int16		typlen;
	bool		typbyval;
	bool		loaded;			/* the whole table was read */
	bool		unpublished;	/* no copy for workers yet (filled while in
								 * parallel mode, where settings are frozen) */
	TransactionId filled_in;	/* top transaction that last added entries */
	MemoryContext cxt;
	dict_hash  *table;
	DictKey    *by_ordinal;		/* the inverse: a key per ordinal (len
								 * PG_UINT32_MAX where none), for the keys
								 * of candidates (key_dictionary_keys) */
	uint32		nby_ordinal;
} DictCache;

static DictCache cache;
static bool callbacks_registered = false;

/* Per call site: the cache generation it checked, and misses of its query. */
typedef struct CallSite
{
	uint64		generation;
	bool		direct;			/* no dictionary: integer keys are ordinals */
	absent_hash *absent;		/* keys the index did not have (this query) */
	MemoryContext cxt;
} CallSite;

static uint64 generation = 1;

static void
ResetCache(void)
{
	if (cache.table)
		dict_destroy(cache.table);
	dict_share_drop();
	if (cache.cxt)
		MemoryContextDelete(cache.cxt);
	memset(&cache, 0, sizeof(cache));
	generation++;
}

static void
RelcacheCallback(Datum arg, Oid relid)
{
	if (OidIsValid(cache.relid) && (relid == InvalidOid || relid == cache.relid))
		ResetCache();
}

/*
 * Entries read in a transaction that aborts may be that transaction's own
 * keys, which will get other ordinals later: drop them all.
 */
static void
AtXactEvent(XactEvent event, void *arg)
{
	if ((event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) &&
		TransactionIdIsValid(cache.filled_in))
		ResetCache();
	else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
		cache.filled_in = InvalidTransactionId;
}

static void
AtSubXactEvent(SubXactEvent event, SubTransactionId mySubid,
				SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && TransactionIdIsValid(cache.filled_in))
		ResetCache();
}

static void
RegisterCallbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterRelcacheCallback(RelcacheCallback, (Datum) 0);
	RegisterXactCallback(AtXactEvent, NULL);
	RegisterSubXactCallback(AtSubXactEvent, NULL);
	callbacks_registered = true;
}

/* The dictionary table, or InvalidOid when the keys are used directly. */
Oid
key_dictionary_relid(void)
{
	return catalog_relid("customer_ordinals");
}

/* The unique index on the key column (attribute 2). */
static Oid
KeyIndex(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);

		if (index->rd_index->indisunique && index->rd_index->indnatts == 1 &&
			index->rd_index->indkey.values[0] == 2 && index->rd_rel->relam == BTREE_AM_OID)
			found = RelationGetRelid(index);
		index_close(index, AccessShareLock);
		if (OidIsValid(found))
			break;
	}
	list_free(indexes);
	if (!OidIsValid(found))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the key dictionary has no unique index on its key"),
				 errhint("Register the customer table again with segment.register_customers().")));
	return found;
}

/* The bytes a key is cached by. */
static DictKey
MakeKey(Datum value, int16 typlen, bool typbyval)
{
	DictKey		k;

	if (typbyval)
	{
		k.key = value;
		k.len = 0;
		k.hash = (uint32) hash_bytes_uint32((uint32) value) ^
			(uint32) hash_bytes_uint32((uint32) (((uint64) value) >> 32));
	}
	else
	{
		if (typlen == -1)
		{
			struct varlena *v = PG_DETOAST_DATUM_PACKED(value);

			k.key = PointerGetDatum(VARDATA_ANY(v));
			k.len = VARSIZE_ANY_EXHDR(v);
		}
		else if (typlen == -2)
		{
			k.key = value;
			k.len = strlen(DatumGetCString(value));
		}
		else
		{
			k.key = value;
			k.len = typlen;
		}
		/* len 0 means by-value: an empty string gets a distinct length */
		k.hash = hash_bytes((const unsigned char *) DatumGetPointer(k.key), k.len);
		k.len += 1;
	}
	return k;
}

/* Records the key of an ordinal in the inverse array, growing it. */
static void
RememberOrdinal(DictKey k, uint32 ordinal)
{
	/* ordinals far beyond the number of keys (gaps): no inverse for them */
	if ((uint64) ordinal > 4 * (uint64) cache.table->members + 1048576)
		return;
	if (ordinal >= cache.nby_ordinal)
	{
		uint32		n = Max(Max(cache.nby_ordinal * 2, 1024), ordinal + 1);

		cache.by_ordinal = cache.by_ordinal
			? repalloc_huge(cache.by_ordinal, sizeof(DictKey) * (Size) n)
			: MemoryContextAllocHuge(cache.cxt, sizeof(DictKey) * (Size) n);
		memset(cache.by_ordinal + cache.nby_ordinal, 0xFF, sizeof(DictKey) * (Size) (n - cache.nby_ordinal));
		cache.nby_ordinal = n;
	}
	cache.by_ordinal[ordinal] = k;
}

static void
AddEntry(dict_hash *table, MemoryContext cxt, DictKey k, uint32 ordinal)
{
	bool		found;
	DictSlot   *slot;

	if (k.len > 0)
	{
		char	   *copy = MemoryContextAlloc(cxt, Max(k.len - 1, 1));

		memcpy(copy, DatumGetPointer(k.key), k.len - 1);
		k.key = PointerGetDatum(copy);
	}
	slot = dict_insert(table, k, &found);
	slot->ordinal = ordinal;
	if (table == cache.table)
		RememberOrdinal(k, ordinal);
}

static void
AddAbsent(CallSite *site, DictKey k)
{
	bool		found;

	if (k.len > 0)
	{
		char	   *copy = MemoryContextAlloc(site->cxt, Max(k.len - 1, 1));

		memcpy(copy, DatumGetPointer(k.key), k.len - 1);
		k.key = PointerGetDatum(copy);
	}
	(void) absent_insert(site->absent, k, &found);
}

/* Reads the whole dictionary into the cache. */
static void
LoadAll(Relation rel)
{
	TableScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snapshot = GetActiveSnapshot();
	MemoryContext old;

	slot = table_slot_create(rel, NULL);
	scan = table_beginscan(rel, snapshot, 0, NULL);
	old = MemoryContextSwitchTo(cache.cxt);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		ordinal = slot_getattr(slot, 1, &isnull);
		Datum		key = slot_getattr(slot, 2, &isnull);

		if (isnull)
			continue;
		AddEntry(cache.table, cache.cxt, MakeKey(key, cache.typlen, cache.typbyval),
				 (uint32) DatumGetInt64(ordinal));
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(old);
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	cache.loaded = true;
	cache.filled_in = GetTopTransactionIdIfAny();
	if (!TransactionIdIsValid(cache.filled_in))
		cache.filled_in = FrozenTransactionId;	/* any abort of this xact resets */
}

/*
 * Writes the leader's copy for parallel workers (key_dictionary_share.c),
 * when parallel query can run at all.
 */
static void
Publish(void)
{
	dict_iterator it;
	DictSlot   *slot;
	uint64		nkeys,
				nbytes;
	DictShareBuilder *b;

	if (IsInParallelMode())
	{
		cache.unpublished = true;
		return;
	}
	cache.unpublished = false;
	if (max_parallel_workers_per_gather <= 0 || max_parallel_workers <= 0)
		return;
	/* by-value keys take a Datum each; others need their lengths summed */
	nkeys = cache.table->members;
	nbytes = nkeys * sizeof(Datum);
	if (!cache.typbyval)
	{
		nbytes = 0;
		dict_start_iterate(cache.table, &it);
		while ((slot = dict_iterate(cache.table, &it)) != NULL)
			nbytes += slot->k.len - 1;
	}
	if ((b = dict_share_begin(cache.relid, nkeys, nbytes)) == NULL)
		return;
	dict_start_iterate(cache.table, &it);
	while ((slot = dict_iterate(cache.table, &it)) != NULL)
		dict_share_add(b, slot->k.key, slot->k.len, slot->k.hash, slot->ordinal);
	dict_share_end(b);
}

/*
 * Makes the cache match the current dictionary; false when there is none.
 * A parallel worker only reads the relation's description: it looks keys
 * up in the leader's copy (or through the index), never reads it all.
 */
static bool
EnsureCache(void)
{
	Oid			relid;
	Relation	rel;
	Form_pg_attribute att;
	double		tuples;
	bool		worker = IsParallelWorker();

	RegisterCallbacks();
	if (OidIsValid(cache.relid) && (cache.loaded || worker))
		return true;
	relid = key_dictionary_relid();
	if (!OidIsValid(relid))
		return false;
	ResetCache();
	rel = table_open(relid, AccessShareLock);
	att = TupleDescAttr(RelationGetDescr(rel), 1);
	cache.relid = relid;
	cache.indexid = KeyIndex(rel);
	cache.key_type = att->atttypid;
	cache.typlen = att->attlen;
	cache.typbyval = att->attbyval;
	if (!worker)
	{
		cache.cxt = AllocSetContextCreate(TopMemoryContext, "segment key dictionary",
										  ALLOCSET_DEFAULT_SIZES);
		tuples = rel->rd_rel->reltuples > 0 ? rel->rd_rel->reltuples : 1024;
		cache.table = dict_create(cache.cxt, (uint32) Min(tuples * 1.1, 1 << 28), NULL);
		LoadAll(rel);
		Publish();
	}
	table_close(rel, AccessShareLock);
	return true;
}

/*
 * Before a query that maps keys through customer_ordinal() starts, so that
 * its parallel workers find the leader's copy: fills the cache when the
 * dictionary exists and fits.
 */
void
key_dictionary_prepare(void)
{
	Oid			relid;
	Relation	rel;
	bool		fits;

	if (IsParallelWorker())
		return;
	if (OidIsValid(cache.relid) && cache.loaded)
	{
		if (cache.unpublished)
			Publish();
		return;
	}
	relid = key_dictionary_relid();
	if (!OidIsValid(relid))
		return;
	rel = table_open(relid, AccessShareLock);
	fits = key_dictionary_cache_fits(Max(rel->rd_rel->reltuples, 1),
									 TupleDescAttr(RelationGetDescr(rel), 1)->attlen);
	table_close(rel, AccessShareLock);
	if (fits)
		(void) EnsureCache();
}

/* Looks a key up through the key index, under the query's snapshot. */
static bool
IndexLookup(Datum value, uint32 *ordinal)
{
	Relation	rel = table_open(cache.relid, AccessShareLock);
	Relation	index = index_open(cache.indexid, AccessShareLock);
	IndexScanDesc scan;
	ScanKeyData skey;
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	Oid			eqop;
	bool		found = false;

	eqop = get_opfamily_member(index->rd_opfamily[0], cache.key_type, cache.key_type,
							   BTEqualStrategyNumber);
	if (!OidIsValid(eqop))
		elog(ERROR, "no equality operator for the key dictionary's key type");
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, get_opcode(eqop), value);
	skey.sk_collation = index->rd_indcollation[0];
	scan = index_beginscan(rel, index, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;

		*ordinal = (uint32) DatumGetInt64(slot_getattr(slot, 1, &isnull));
		found = true;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The ordinal of key (of the dictionary's key type), or false when the key
 * is in no customer's row of the dictionary.
 */
static bool
Lookup(CallSite *site, Datum value, uint32 *ordinal)
{
	DictKey		k = MakeKey(value, cache.typlen, cache.typbyval);
	DictSlot   *slot = cache.table ? dict_lookup(cache.table, k) : NULL;
	bool		shared;

	if (slot)
	{
		*ordinal = slot->ordinal;
		return true;
	}
	if (cache.table == NULL && IsParallelWorker() &&
		dict_share_lookup(cache.relid, k.key, k.len, k.hash, ordinal, &shared))
		return true;
	if (site->absent && absent_lookup(site->absent, k))
		return false;
	if (IndexLookup(value, ordinal))
	{
		/* an invalidation while the index was read may have emptied it */
		if (cache.table != NULL)
		{
			AddEntry(cache.table, cache.cxt, k, *ordinal);
			if (!TransactionIdIsValid(cache.filled_in))
				cache.filled_in = FrozenTransactionId;
		}
		return true;
	}
	if (!site->absent)
		site->absent = absent_create(site->cxt, 64, NULL);
	AddAbsent(site, k);
	return false;
}

/* Whether a dictionary of about n keys fits segment.dictionary_cache_size. */
bool
key_dictionary_cache_fits(double n, int16 typlen)
{
	/*
	 * What a key costs: its slot at the table's fill (about half), its entry
	 * in the inverse array, its slot and bytes in the copy for parallel
	 * workers, and for keys stored by reference their bytes twice with the
	 * allocator's overhead: about 100 bytes for a bigint key.
	 */
	double		bytes = typlen > 0 && typlen <= 8 ? sizeof(Datum) : 32;
	double		per_key = sizeof(DictSlot) * 2.0 + sizeof(DictKey) + 32.0 + bytes +
		(typlen > 0 && typlen <= 8 ? 0 : bytes + 16);

	return segment_dictionary_cache_kb > 0 && n * per_key <= segment_dictionary_cache_kb * 1024.0;
}

/* Integer keys used directly: their own ordinals when in [0, 2^32). */
static bool
DirectKey(Oid argtype, Datum d, uint32 *ordinal)
{
	int64		key;

	switch (argtype)
	{
		case INT2OID:
			key = DatumGetInt16(d);
			break;
		case INT4OID:
			key = DatumGetInt32(d);
			break;
		case INT8OID:
			key = DatumGetInt64(d);
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("customer keys are integers, not %s", format_type_be(argtype)),
					 errhint("Pass the key as the customer table's key type.")));
	}
	if (key < 0 || key > (int64) PG_UINT32_MAX)
		return false;
	*ordinal = (uint32) key;
	return true;
}

/* The call site of flinfo, made on first use. */
static CallSite *
GetSite(FmgrInfo *flinfo)
{
	CallSite   *site = (CallSite *) flinfo->fn_extra;

	if (site == NULL)
	{
		site = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(CallSite));
		site->cxt = flinfo->fn_mcxt;
		flinfo->fn_extra = site;
	}
	if (site->generation != generation)
	{
		site->direct = !EnsureCache();
		/* the cache is read in C: check what the table's ACL would */
		if (!site->direct &&
			pg_class_aclcheck(cache.relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(cache.relid));
		site->generation = generation;
		site->absent = NULL;
	}
	return site;
}

/* Keys must be of the dictionary's key type (or binary-coercible to it). */
static void
CheckKeyType(Oid argtype)
{
	if (argtype != cache.key_type && !IsBinaryCoercible(argtype, cache.key_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("customer keys are of type %s, not %s",
						format_type_be(cache.key_type), format_type_be(argtype)),
				 errhint("Cast the key to %s.", format_type_be(cache.key_type))));
}

PG_FUNCTION_INFO_V1(customer_ordinal);

/*
 * customer_ordinal(key anyelement) -> bigint: the key's ordinal, NULL when
 * it is no registered customer's key.  Integer keys used directly are
 * their own ordinals when in [0, 2^32).
 */
Datum
customer_ordinal(PG_FUNCTION_ARGS)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	CallSite   *site = GetSite(fcinfo->flinfo);
	uint32		ordinal;

	if (site->direct)
	{
		if (!DirectKey(argtype, PG_GETARG_DATUM(0), &ordinal))
			PG_RETURN_NULL();
		PG_RETURN_INT64((int64) ordinal);
	}
	CheckKeyType(argtype);
	if (!Lookup(site, PG_GETARG_DATUM(0), &ordinal))
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) ordinal);
}

/* Integer keys used directly, many at once: those in [0, 2^32). */
static int
DirectMany(Oid argtype, const Datum *keys, int n, uint32 *ordinals)
{
	int			i,
				found = 0;

	for (i = 0; i < n; i++)
		found += DirectKey(argtype, keys[i], &ordinals[found]);
	return found;
}

/*
 * Work arrays of key_dictionary_map_many, kept for the backend's life:
 * fresh memory costs a page fault per page on the machines measured, more
 * than the probes of a batch when allocated anew for each one.
 */
static struct
{
	int			capacity;
	DictKey    *keys;
	KeyBatchProbe *probes;
	KeyBatchProbe *order;
	uint32	   *ordinals;
	bool	   *hit;
}			scratch;

static void
GrowScratch(int n)
{
	if (n <= scratch.capacity)
		return;
	if (scratch.capacity > 0)
	{
		pfree(scratch.keys);
		pfree(scratch.probes);
		pfree(scratch.order);
		pfree(scratch.ordinals);
		pfree(scratch.hit);
		scratch.capacity = 0;
	}
	scratch.keys = MemoryContextAlloc(TopMemoryContext, n * sizeof(DictKey));
	scratch.probes = MemoryContextAlloc(TopMemoryContext, n * sizeof(KeyBatchProbe));
	scratch.order = MemoryContextAlloc(TopMemoryContext, n * sizeof(KeyBatchProbe));
	scratch.ordinals = MemoryContextAlloc(TopMemoryContext, n * sizeof(uint32));
	scratch.hit = MemoryContextAlloc(TopMemoryContext, n * sizeof(bool));
	scratch.capacity = n;
}

/*
 * Probes the backend's table in slot order (key_batch.c); a probe a few
 * places ahead is prefetched, so that the misses of one band overlap.
 * Sets hit[i] for the keys found.
 */
static void
ProbeCache(const DictKey *k, const KeyBatchProbe *order, int n, uint32 *ord, bool *hit)
{
	dict_hash  *tb = cache.table;
	int			i;

	for (i = 0; i < n; i++)
	{
		uint32		j = order[i].index;
		DictSlot   *slot;

		if (i + DICT_PREFETCH_AHEAD < n)
			__builtin_prefetch(&tb->data[order[i + DICT_PREFETCH_AHEAD].hash & tb->sizemask]);
		slot = dict_lookup(tb, k[j]);
		if (slot != NULL)
		{
			ord[j] = slot->ordinal;
			hit[j] = true;
		}
	}
}

/*
 * Maps n keys of type argtype at once, for audience_agg_keys(): the ordinals
 * of those that are customers' keys go to ordinals[0 .. result), in no
 * particular order; the others are left out, as customer_ordinal() gives
 * them NULL.  flinfo holds the call site (its misses, the generation it
 * checked), as customer_ordinal()'s does.
 *
 * The keys are hashed, ordered by the slot they start at and probed in
 * that order; a key the cache (or a worker's copy) lacks then takes the
 * one-key path, whose index lookup may accept invalidations that empty the
 * cache, which is why it comes after every probe.
 */
int
key_dictionary_map_many(FmgrInfo *flinfo, Oid argtype, const Datum *keys, int n,
						uint32 *ordinals)
{
	CallSite   *site = GetSite(flinfo);
	DictKey    *k;
	KeyBatchProbe *probes,
			   *order;
	uint32	   *ord;
	bool	   *hit;
	uint32		mask = 0;
	int			i,
				found = 0;
	bool		shared = false;

	if (site->direct)
		return DirectMany(argtype, keys, n, ordinals);
	CheckKeyType(argtype);
	if (n == 0)
		return 0;
	GrowScratch(n);
	k = scratch.keys;
	probes = scratch.probes;
	order = scratch.order;
	ord = scratch.ordinals;
	hit = scratch.hit;
	memset(hit, 0, n * sizeof(bool));
	for (i = 0; i < n; i++)
	{
		k[i] = MakeKey(keys[i], cache.typlen, cache.typbyval);
		probes[i].hash = k[i].hash;
		probes[i].index = i;
	}
	if (cache.table != NULL)
		mask = cache.table->sizemask;
	else if (IsParallelWorker())
		shared = dict_share_mask(cache.relid, &mask);
	if (cache.table != NULL || shared)
	{
		key_batch_order(probes, order, n, mask);
		if (cache.table != NULL)
			ProbeCache(k, order, n, ord, hit);
		else
			dict_share_lookup_many(cache.relid, k, order, n, ord, hit);
	}
	for (i = 0; i < n; i++)
	{
		if (hit[i])
			ordinals[found++] = ord[i];
		else if (Lookup(site, keys[i], &ord[i]))
			ordinals[found++] = ord[i];
	}
	return found;
}

/*
 * In a parallel worker: whether key_dictionary_map_many() maps keys from
 * memory (the leader's copy of the cache, or integers used directly) rather
 * than one index lookup per key.
 */
bool
key_dictionary_worker_maps(FmgrInfo *flinfo)
{
	CallSite   *site = GetSite(flinfo);
	uint32		mask;

	return site->direct || cache.table != NULL || dict_share_mask(cache.relid, &mask);
}

/*
 * The keys of n ordinals from the backend's cache, as Datums of the key
 * type (in the current memory context), for the candidates of a reduced
 * rule (rule_eval.c).  False when the cache is not loaded or misses one of
 * them (the caller then asks the dictionary table).
 */
bool
key_dictionary_keys(const int64 *ordinals, int n, Datum *keys, Oid *key_type)
{
	int			i;

	if (!OidIsValid(cache.relid) || !cache.loaded || IsParallelWorker())
		return false;
	for (i = 0; i < n; i++)
	{
		DictKey    *k;

		if (ordinals[i] < 0 || ordinals[i] >= cache.nby_ordinal ||
			(k = &cache.by_ordinal[ordinals[i]])->len == PG_UINT32_MAX)
			return false;
		if (k->len == 0)
			keys[i] = k->key;
		else if (cache.typlen == -1)
		{
			struct varlena *v = palloc(VARHDRSZ + k->len - 1);

			SET_VARSIZE(v, VARHDRSZ + k->len - 1);
			memcpy(VARDATA(v), DatumGetPointer(k->key), k->len - 1);
			keys[i] = PointerGetDatum(v);
		}
		else if (cache.typlen == -2)
			keys[i] = CStringGetDatum(pnstrdup(DatumGetPointer(k->key), k->len - 1));
		else
		{
			char	   *b = palloc(k->len - 1);

			memcpy(b, DatumGetPointer(k->key), k->len - 1);
			keys[i] = PointerGetDatum(b);
		}
	}
	*key_type = cache.key_type;
	return true;
}
