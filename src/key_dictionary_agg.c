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
 * The transition state is audience_agg's (audience_agg.h), so that partial
 * states are combined, serialized (as the audience of the ordinals, mapped
 * in the worker through the leader's copy of the cache) and deserialized
 * by audience_agg's functions; they call the flush hook first, which maps
 * what is still buffered.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "audience.h"
#include "audience_agg.h"
#include "key_dictionary.h"

/* Keys mapped at once: enough for slot order to matter, little memory. */
#define BATCH_MAX 16384

/* Bytes of by-reference keys buffered before a flush, whatever their count. */
#define BYTES_MAX (1024 * 1024)

typedef struct KeyAgg
{
	AudienceAggState *ids;
	MemoryContext ctx;			/* the aggregate context */
	FmgrInfo   *flinfo;			/* the transition function's: its call site */
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
	n = key_dictionary_map_many(ka->flinfo, ka->argtype, ka->keys, ka->nkeys, ka->ordinals);
	audience_agg_state_add(ka->ids, ka->ordinals, n);
	ka->nkeys = 0;
	ka->nbytes = 0;
}

static KeyAgg *
NewKeyAgg(MemoryContext aggctx, FunctionCallInfo fcinfo)
{
	KeyAgg	   *ka = MemoryContextAllocZero(aggctx, sizeof(KeyAgg));

	ka->ctx = aggctx;
	ka->flinfo = fcinfo->flinfo;
	ka->argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	if (!OidIsValid(ka->argtype))
		elog(ERROR, "audience_agg_keys: could not determine the key type");
	get_typlenbyval(ka->argtype, &ka->typlen, &ka->typbyval);
	ka->ids = audience_agg_state_new(aggctx);
	audience_agg_state_set_flush(ka->ids, FlushKeys, ka);
	return ka;
}

/* Room for one more key (the buffers start small: a state per group). */
static void
GrowKeys(KeyAgg *ka)
{
	ka->capacity = ka->capacity == 0 ? 64 : ka->capacity * 2;
	if (ka->keys == NULL)
	{
		ka->keys = MemoryContextAlloc(ka->ctx, ka->capacity * sizeof(Datum));
		ka->ordinals = MemoryContextAlloc(ka->ctx, ka->capacity * sizeof(uint32));
	}
	else
	{
		ka->keys = repalloc(ka->keys, ka->capacity * sizeof(Datum));
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
		st = NewKeyAgg(aggctx, fcinfo)->ids;
	ka = (KeyAgg *) audience_agg_state_flush_arg(st);
	if (ka->nkeys == ka->capacity)
		GrowKeys(ka);
	if (ka->typbyval)
		ka->keys[ka->nkeys++] = PG_GETARG_DATUM(1);
	else
		CopyKey(ka, PG_GETARG_DATUM(1));
	if (ka->nkeys == BATCH_MAX || ka->nbytes >= BYTES_MAX)
		FlushKeys(ka);
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
