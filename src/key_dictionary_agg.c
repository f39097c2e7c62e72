/*
 * key_dictionary_agg.c
 *		audience_agg_keys(key): the audience of the ordinals of customer
 *		keys, the same set as audience_agg(customer_ordinal(key)), mapping
 *		the keys many at a time.
 *
 * customer_ordinal() costs one cache miss per key in the dictionary cache's
 * table (a million customers' slots span ~50 MB), and the executor's work
 * between two rows keeps the misses from overlapping.  This aggregate
 * buffers the keys of up to BATCH_MAX rows and hands them to
 * key_dictionary_map_many(), which probes the table in slot order.  Keys
 * that are no customer's are left out, as customer_ordinal() gives them
 * NULL, through the same lookups.
 *
 * The transition state is audience_agg's (audience_agg.h), with a flush
 * hook that maps what is still buffered before audience_agg's functions
 * read it (combine, final).
 *
 * A parallel worker maps its keys in batches as the leader does, from the
 * leader's copy of the cache (key_dictionary_share.c, mapped in one call):
 * sending them unmapped left the leader to map every worker's keys alone
 * after the scan, and to copy text keys twice (generalization shop, text
 * keys, default settings: a year of orders 669 -> 460 ms, 661k customers
 * 193 -> 150 ms; bigint keys 424 -> 431 and 151 -> 153 ms).  Without that
 * copy (the cache did not fit, or no segment could be made) a worker would
 * look each key up in the index: it sends them to the leader instead, up
 * to WORKER_BYTES_MAX of keys, past which it maps them itself.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "fmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "audience.h"
#include "audience_agg.h"
#include "audience_codec.h"
#include "key_dictionary.h"

/* Keys mapped at once: enough for slot order to matter, little memory. */
#define BATCH_MAX 16384

/* Bytes of by-reference keys buffered before a flush, whatever their count. */
#define BYTES_MAX (1024 * 1024)

/* Keys (their Datums and bytes) a parallel worker sends unmapped, at most. */
#define WORKER_BYTES_MAX ((Size) 64 * 1024 * 1024)

/* Serialized state: a flag byte, then the layout of SerialHeader. */
#define SERIAL_KEYS 8			/* distinct from audience_agg's flag bits */

typedef struct SerialHeader
{
	uint32		audience_len;	/* stored form of the ordinals mapped so far */
	Oid			argtype;		/* of the keys that follow (unmapped) */
	uint32		nkeys;
	uint32		nbytes;			/* by-reference keys: their bytes */
	/* audience bytes; Datums (by value) or offsets (uint32); key bytes */
} SerialHeader;

typedef struct KeyAgg
{
	AudienceAggState *ids;
	MemoryContext ctx;			/* the aggregate context */
	FmgrInfo   *flinfo;			/* of the function that maps (transition or
								 * deserialize): its call site */
	Oid			argtype;
	int16		typlen;
	bool		typbyval;
	int			nkeys;
	int			capacity;
	Datum	   *keys;			/* by value, or offsets into bytes */
	char	   *bytes;			/* copies of by-reference keys */
	Size		nbytes;
	Size		bytes_capacity;
	uint32	   *ordinals;
	bool		sends;			/* a worker sending its keys unmapped */
} KeyAgg;

/* Maps the buffered keys and adds their ordinals to the audience. */
static void
FlushKeys(void *arg)
{
	KeyAgg	   *ka = (KeyAgg *) arg;
	int			i,
				n;

	if (ka->nkeys == 0)
		return;
	if (!ka->typbyval)
		for (i = 0; i < ka->nkeys; i++)
			ka->keys[i] = PointerGetDatum(ka->bytes + DatumGetUInt64(ka->keys[i]));
	/* a worker's buffer may exceed a batch: mapped BATCH_MAX at a time */
	for (i = 0; i < ka->nkeys; i += BATCH_MAX)
	{
		int			m = Min(BATCH_MAX, ka->nkeys - i);

		n = key_dictionary_map_many(ka->flinfo, ka->argtype, ka->keys + i, m, ka->ordinals);
		audience_agg_state_add(ka->ids, ka->ordinals, n);
	}
	ka->nkeys = 0;
	ka->nbytes = 0;
}

/*
 * A new state for keys of argtype; flinfo's call site (the function that
 * maps them: transition or deserialize) remembers misses.
 */
static KeyAgg *
NewKeyAgg(MemoryContext aggctx, FmgrInfo *flinfo, Oid argtype)
{
	KeyAgg	   *ka = MemoryContextAllocZero(aggctx, sizeof(KeyAgg));

	ka->ctx = aggctx;
	ka->flinfo = flinfo;
	ka->argtype = argtype;
	if (!OidIsValid(ka->argtype))
		elog(ERROR, "audience_agg_keys: could not determine the key type");
	get_typlenbyval(ka->argtype, &ka->typlen, &ka->typbyval);
	ka->ids = audience_agg_state_new(aggctx);
	audience_agg_state_set_flush(ka->ids, FlushKeys, ka);
	ka->sends = IsParallelWorker() && !key_dictionary_worker_maps(flinfo);
	return ka;
}

/* Room for one more key (the buffers start small: a state per group). */
static void
GrowKeys(KeyAgg *ka)
{
	ka->capacity = ka->capacity == 0 ? 64 : ka->capacity * 2;
	if (ka->keys == NULL)
	{
		ka->keys = MemoryContextAllocHuge(ka->ctx, ka->capacity * sizeof(Datum));
		ka->ordinals = MemoryContextAllocHuge(ka->ctx, Min(ka->capacity, BATCH_MAX) * sizeof(uint32));
	}
	else
	{
		ka->keys = repalloc_huge(ka->keys, ka->capacity * sizeof(Datum));
		if (ka->capacity <= BATCH_MAX)
			ka->ordinals = repalloc(ka->ordinals, ka->capacity * sizeof(uint32));
	}
}

/* Copies a by-reference key's bytes (detoasted, short header kept). */
static void
CopyKey(KeyAgg *ka, Datum key)
{
	const char *p;
	Size		len;

	if (ka->typlen == -1)
	{
		p = (const char *) PG_DETOAST_DATUM_PACKED(key);
		len = VARSIZE_ANY(p);
	}
	else if (ka->typlen == -2)
	{
		p = DatumGetCString(key);
		len = strlen(p) + 1;
	}
	else
	{
		p = DatumGetPointer(key);
		len = ka->typlen;
	}
	if (ka->nbytes + MAXALIGN(len) > ka->bytes_capacity)
	{
		Size		want = Max(ka->bytes_capacity * 2, ka->nbytes + MAXALIGN(len));

		want = Max(want, 1024);
		ka->bytes = ka->bytes == NULL ? MemoryContextAllocHuge(ka->ctx, want)
			: repalloc_huge(ka->bytes, want);
		ka->bytes_capacity = want;
	}
	memcpy(ka->bytes + ka->nbytes, p, len);
	ka->keys[ka->nkeys++] = UInt64GetDatum(ka->nbytes);
	ka->nbytes += MAXALIGN(len);
}

/* Buffers a key; maps the batch when full (a worker may send: see the file's comment). */
static void
AddKey(KeyAgg *ka, Datum key)
{
	if (ka->nkeys == ka->capacity)
		GrowKeys(ka);
	if (ka->typbyval)
		ka->keys[ka->nkeys++] = key;
	else
		CopyKey(ka, key);
	if (ka->sends)
	{
		if ((Size) ka->nkeys * sizeof(Datum) + ka->nbytes >= WORKER_BYTES_MAX)
			FlushKeys(ka);
	}
	else if (ka->nkeys >= BATCH_MAX || ka->nbytes >= BYTES_MAX)
		FlushKeys(ka);
}

/*
 * Not strict: a NULL key is skipped (customer_ordinal() of it is NULL),
 * and the state is created with the first key.
 */
PG_FUNCTION_INFO_V1(audience_agg_keys_trans);
Datum
audience_agg_keys_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	AudienceAggState *st = PG_ARGISNULL(0) ? NULL : (AudienceAggState *) PG_GETARG_POINTER(0);
	KeyAgg	   *ka;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "audience_agg_keys_trans called in non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(st);
	}
	if (st == NULL)
		st = NewKeyAgg(aggctx, fcinfo->flinfo, get_fn_expr_argtype(fcinfo->flinfo, 1))->ids;
	ka = (KeyAgg *) audience_agg_state_flush_arg(st);
	AddKey(ka, PG_GETARG_DATUM(1));
	PG_RETURN_POINTER(st);
}

/*
 * Like audience_agg_final, but NULL when no key mapped to an ordinal, as
 * audience_agg(customer_ordinal(key)) is.
 */
PG_FUNCTION_INFO_V1(audience_agg_keys_final);
Datum
audience_agg_keys_final(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "audience_agg_keys_final called in non-aggregate context");
	if (PG_ARGISNULL(0) || audience_agg_state_empty((AudienceAggState *) PG_GETARG_POINTER(0)))
		PG_RETURN_NULL();
	return audience_agg_final(fcinfo);
}

/* Appends n bytes at *pos of the serialized state. */
static inline void
Put(char **pos, const void *p, Size n)
{
	memcpy(*pos, p, n);
	*pos += n;
}

/*
 * A partial state as bytes for the leader: the ordinals mapped so far as
 * an audience, then the keys still buffered, unmapped.
 */
PG_FUNCTION_INFO_V1(audience_agg_keys_serialize);
Datum
audience_agg_keys_serialize(PG_FUNCTION_ARGS)
{
	AudienceAggState *st = (AudienceAggState *) PG_GETARG_POINTER(0);
	KeyAgg	   *ka = (KeyAgg *) audience_agg_state_flush_arg(st);
	SerialHeader h;
	uint8	   *aud;
	size_t		alen;
	Size		size;
	bytea	   *out;
	char	   *pos;
	int			i;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "audience_agg_keys_serialize called in non-aggregate context");
	aud = audience_agg_state_bytes(st, 0, &alen);
	memset(&h, 0, sizeof(h));
	h.audience_len = (uint32) alen;
	if (ka != NULL)
	{
		h.argtype = ka->argtype;
		h.nkeys = ka->nkeys;
		h.nbytes = ka->typbyval ? 0 : (uint32) ka->nbytes;
	}
	size = VARHDRSZ + 1 + sizeof(h) + alen +
		(Size) h.nkeys * (ka != NULL && ka->typbyval ? sizeof(Datum) : sizeof(uint32)) + h.nbytes;
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("audience_agg_keys state is too large to send"),
				 errdetail("Its serialization needs %zu bytes.", size)));
	out = palloc(size);
	SET_VARSIZE(out, size);
	pos = VARDATA(out);
	*pos++ = SERIAL_KEYS;
	Put(&pos, &h, sizeof(h));
	Put(&pos, aud, alen);
	for (i = 0; i < (int) h.nkeys; i++)
	{
		if (ka->typbyval)
			Put(&pos, &ka->keys[i], sizeof(Datum));
		else
		{
			uint32		off = (uint32) DatumGetUInt64(ka->keys[i]);

			Put(&pos, &off, sizeof(off));
		}
	}
	if (h.nbytes > 0)
		Put(&pos, ka->bytes, h.nbytes);
	pfree(aud);
	PG_RETURN_BYTEA_P(out);
}

/* Refuses serialized bytes that are not ours (they come from our workers). */
static void
BadState(void)
{
	elog(ERROR, "invalid serialized audience_agg_keys state");
}

/* Whether a by-reference key at off lies within the n bytes of keys. */
static bool
KeyFits(const char *keys, uint32 n, uint32 off, int16 typlen)
{
	if (off >= n)
		return false;
	if (typlen > 0)
		return (uint64) off + typlen <= n;
	if (typlen == -2)
		return memchr(keys + off, '\0', n - off) != NULL;
	if (!VARATT_IS_1B(keys + off) && n - off < VARHDRSZ)
		return false;
	return !VARATT_IS_EXTERNAL(keys + off) && (uint64) off + VARSIZE_ANY(keys + off) <= n;
}

/*
 * A worker's partial state in the leader: its audience, and its keys
 * mapped here (in batches, this function's call site keeping misses).
 */
PG_FUNCTION_INFO_V1(audience_agg_keys_deserialize);
Datum
audience_agg_keys_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *data = VARDATA_ANY(in);
	Size		len = VARSIZE_ANY_EXHDR(in);
	const char *pos;
	SerialHeader h;
	KeyAgg	   *ka;
	char	   *keys = NULL;
	Size		unit;
	uint32		i;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "audience_agg_keys_deserialize called in non-aggregate context");
	if (len < 1 + sizeof(h) || data[0] != SERIAL_KEYS)
		BadState();
	memcpy(&h, data + 1, sizeof(h));
	pos = data + 1 + sizeof(h);
	if (h.audience_len > len - 1 - sizeof(h) ||
		!audience_codec_check((const uint8 *) pos, h.audience_len, NULL, 0))
		BadState();
	if (h.nkeys == 0)
	{
		AudienceAggState *st = audience_agg_state_new(aggctx);

		audience_agg_state_add_bytes(st, (const uint8 *) pos, h.audience_len);
		PG_RETURN_POINTER(st);
	}
	ka = NewKeyAgg(aggctx, fcinfo->flinfo, h.argtype);
	audience_agg_state_add_bytes(ka->ids, (const uint8 *) pos, h.audience_len);
	pos += h.audience_len;
	unit = ka->typbyval ? sizeof(Datum) : sizeof(uint32);
	if ((uint64) h.nkeys * unit + h.nbytes != (uint64) (len - (pos - data)) ||
		(ka->typbyval && h.nbytes != 0))
		BadState();
	if (h.nbytes > 0)
	{
		/* aligned for the varlena headers */
		keys = palloc(h.nbytes);
		memcpy(keys, pos + (Size) h.nkeys * unit, h.nbytes);
	}
	for (i = 0; i < h.nkeys; i++, pos += unit)
	{
		if (ka->typbyval)
		{
			Datum		d;

			memcpy(&d, pos, sizeof(d));
			AddKey(ka, d);
		}
		else
		{
			uint32		off;

			memcpy(&off, pos, sizeof(off));
			if (!KeyFits(keys, h.nbytes, off, ka->typlen))
				BadState();
			AddKey(ka, PointerGetDatum(keys + off));
		}
	}
	FlushKeys(ka);
	if (keys != NULL)
		pfree(keys);
	PG_RETURN_POINTER(ka->ids);
}
