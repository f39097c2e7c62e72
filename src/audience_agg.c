/*
 * audience_agg.c
 *		audience_agg(int4), union_agg(audience), intersect_agg(audience).
 *
 * The transition state is an in-memory CRoaring bitmap (never re-serialized
 * per row) plus a buffer of pending ids, owned by the aggregate memory
 * context.  Combine, serialize and deserialize functions make all three
 * aggregates usable in parallel query and in partial aggregation pushed down
 * to postgres_fdw shards.
 */
#include "postgres.h"

#include "audience.h"
#include "id_chunks.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/*
 * audience_agg collects ids in a small buffer that is sorted and added in
 * batches; a group that grows past SMALL_LIMIT ids switches to an IdChunks
 * table (O(1) per id, 512 kB of directory), so small groups of a GROUP BY
 * stay small and large builds stay fast.
 */
#define SMALL_LIMIT 8192

typedef struct AggState
{
	AudienceSet *set;			/* members so far */
	bool		seeded;			/* intersect_agg: has seen a first input */
	MemoryContext ctx;			/* the aggregate context */
	int			npending;
	int			capacity;
	uint32	   *pending;		/* small mode buffer */
	IdChunks   *chunks;			/* large mode, or NULL */
} AggState;

/* The aggregate context, or an error when called as a plain function. */
static MemoryContext
AggContext(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggctx;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "%s called in non-aggregate context", fname);
	return aggctx;
}

/* A new state whose bitmap lives exactly as long as the aggregate context. */
static AggState *
NewAggState(MemoryContext aggctx)
{
	MemoryContext old = MemoryContextSwitchTo(aggctx);
	AggState   *st = palloc(sizeof(AggState));

	st->set = audience_set_new();
	st->seeded = false;
	st->ctx = aggctx;
	st->npending = 0;
	st->capacity = 0;
	st->pending = NULL;
	st->chunks = NULL;
	MemoryContextSwitchTo(old);
	return st;
}

static void *
ChunkAlloc(void *ctx, size_t size)
{
	return MemoryContextAllocZero((MemoryContext) ctx, size);
}

static void
ChunkFree(void *ctx, void *p)
{
	pfree(p);
}

static int
CompareUint32(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a;
	uint32		y = *(const uint32 *) b;

	return (x > y) - (x < y);
}

/*
 * Moves pending ids into the bitmap.  Sorting first lets add_many stay
 * inside one container for consecutive ids; the chunk table is written out
 * in portable form and merged by CRoaring in one pass.
 */
static void
FlushPending(AggState *st)
{
	if (st->npending > 0)
	{
		qsort(st->pending, st->npending, sizeof(uint32), CompareUint32);
		roaring_bitmap_add_many(st->set->bm, st->npending, st->pending);
		st->npending = 0;
	}
	if (st->chunks != NULL && st->chunks->nadded > 0)
	{
		size_t		size = id_chunks_portable_size(st->chunks);
		char	   *buf = MemoryContextAllocHuge(st->ctx, size);
		roaring_bitmap_t *part;

		id_chunks_write(st->chunks, (uint8_t *) buf);
		id_chunks_reset(st->chunks);
		part = roaring_bitmap_portable_deserialize_safe(buf, size);
		pfree(buf);
		audience_check_allocated(part);
		if (roaring_bitmap_is_empty(st->set->bm))
		{
			roaring_bitmap_free(st->set->bm);
			st->set->bm = part;
		}
		else
		{
			roaring_bitmap_or_inplace(st->set->bm, part);
			roaring_bitmap_free(part);
		}
	}
}

/* Adds one id in whichever mode the state is in. */
static void
AddId(AggState *st, uint32 id)
{
	if (st->chunks != NULL)
	{
		id_chunks_add(st->chunks, id);
		return;
	}
	if (st->npending == st->capacity)
	{
		if (st->capacity >= SMALL_LIMIT)
		{
			int			i;

			st->chunks = MemoryContextAlloc(st->ctx, sizeof(IdChunks));
			id_chunks_init(st->chunks, ChunkAlloc, ChunkFree, st->ctx);
			for (i = 0; i < st->npending; i++)
				id_chunks_add(st->chunks, st->pending[i]);
			st->npending = 0;
			id_chunks_add(st->chunks, id);
			return;
		}
		st->capacity = st->capacity == 0 ? 64 : st->capacity * 2;
		st->pending = st->pending == NULL
			? MemoryContextAlloc(st->ctx, st->capacity * sizeof(uint32))
			: repalloc(st->pending, st->capacity * sizeof(uint32));
	}
	st->pending[st->npending++] = id;
}

/* Returns the state unchanged; a state not created yet stays SQL NULL. */
static Datum
KeepState(FunctionCallInfo fcinfo, AggState *st)
{
	if (st == NULL)
		PG_RETURN_NULL();
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(audience_agg_trans);
Datum
audience_agg_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = AggContext(fcinfo, "audience_agg_trans");
	AggState   *st = PG_ARGISNULL(0) ? NULL : (AggState *) PG_GETARG_POINTER(0);
	int32		id;

	if (PG_ARGISNULL(1))
		return KeepState(fcinfo, st);
	id = PG_GETARG_INT32(1);
	if (id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("audience member must not be negative: %d", id),
				 errhint("Customer ordinals are between 0 and 4294967295.")));
	if (st == NULL)
		st = NewAggState(aggctx);
	AddId(st, (uint32) id);
	PG_RETURN_POINTER(st);
}

PG_FUNCTION_INFO_V1(audience_agg_trans_int8);
Datum
audience_agg_trans_int8(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = AggContext(fcinfo, "audience_agg_trans_int8");
	AggState   *st = PG_ARGISNULL(0) ? NULL : (AggState *) PG_GETARG_POINTER(0);
	int64		id;

	if (PG_ARGISNULL(1))
		return KeepState(fcinfo, st);
	id = PG_GETARG_INT64(1);
	if (id < 0 || id > PG_UINT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("audience member is out of range: " INT64_FORMAT, id),
				 errhint("Customer ordinals are between 0 and 4294967295.")));
	if (st == NULL)
		st = NewAggState(aggctx);
	AddId(st, (uint32) id);
	PG_RETURN_POINTER(st);
}

/* union_agg transition: OR each input into the state, in place. */
PG_FUNCTION_INFO_V1(audience_union_trans);
Datum
audience_union_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = AggContext(fcinfo, "audience_union_trans");
	AggState   *st = PG_ARGISNULL(0) ? NULL : (AggState *) PG_GETARG_POINTER(0);
	AudienceSet *in;

	if (PG_ARGISNULL(1))
		return KeepState(fcinfo, st);
	if (st == NULL)
		st = NewAggState(aggctx);
	in = audience_set_from(PG_GETARG_AUDIENCE_P(1));
	roaring_bitmap_or_inplace(st->set->bm, in->bm);
	audience_set_free(in);
	st->seeded = true;
	PG_RETURN_POINTER(st);
}

/* intersect_agg transition: the first input seeds the state, then AND. */
PG_FUNCTION_INFO_V1(audience_intersect_trans);
Datum
audience_intersect_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = AggContext(fcinfo, "audience_intersect_trans");
	AggState   *st = PG_ARGISNULL(0) ? NULL : (AggState *) PG_GETARG_POINTER(0);
	AudienceSet *in;

	if (PG_ARGISNULL(1))
		return KeepState(fcinfo, st);
	if (st == NULL)
		st = NewAggState(aggctx);
	in = audience_set_from(PG_GETARG_AUDIENCE_P(1));
	if (st->seeded)
		roaring_bitmap_and_inplace(st->set->bm, in->bm);
	else
		roaring_bitmap_or_inplace(st->set->bm, in->bm);
	audience_set_free(in);
	st->seeded = true;
	PG_RETURN_POINTER(st);
}

/* Copies a partial state into the aggregate context (combine with NULL). */
static AggState *
CopyState(MemoryContext aggctx, AggState *src)
{
	AggState   *st = NewAggState(aggctx);

	FlushPending(src);
	roaring_bitmap_or_inplace(st->set->bm, src->set->bm);
	st->seeded = src->seeded;
	return st;
}

/* Combines two partial states with OR (audience_agg, union_agg) or AND. */
static Datum
CombineStates(FunctionCallInfo fcinfo, bool intersect)
{
	MemoryContext aggctx = AggContext(fcinfo, "audience combine function");
	AggState   *a = PG_ARGISNULL(0) ? NULL : (AggState *) PG_GETARG_POINTER(0);
	AggState   *b = PG_ARGISNULL(1) ? NULL : (AggState *) PG_GETARG_POINTER(1);

	if (b == NULL)
		return KeepState(fcinfo, a);
	if (a == NULL)
		PG_RETURN_POINTER(CopyState(aggctx, b));
	FlushPending(a);
	FlushPending(b);
	if (intersect && a->seeded && b->seeded)
		roaring_bitmap_and_inplace(a->set->bm, b->set->bm);
	else if (!intersect || b->seeded)
	{
		if (intersect)
			roaring_bitmap_clear(a->set->bm);
		roaring_bitmap_or_inplace(a->set->bm, b->set->bm);
	}
	a->seeded = a->seeded || b->seeded;
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(audience_union_combine);
Datum
audience_union_combine(PG_FUNCTION_ARGS)
{
	return CombineStates(fcinfo, false);
}

PG_FUNCTION_INFO_V1(audience_intersect_combine);
Datum
audience_intersect_combine(PG_FUNCTION_ARGS)
{
	return CombineStates(fcinfo, true);
}

/*
 * Serialized partial state: one flag byte (seeded) followed by the portable
 * bitmap, sent from parallel workers or shards to the leader.
 */
PG_FUNCTION_INFO_V1(audience_state_serialize);
Datum
audience_state_serialize(PG_FUNCTION_ARGS)
{
	AggState   *st = (AggState *) PG_GETARG_POINTER(0);
	size_t		nbytes;
	bytea	   *out;

	(void) AggContext(fcinfo, "audience_state_serialize");
	FlushPending(st);
	roaring_bitmap_run_optimize(st->set->bm);
	nbytes = roaring_bitmap_portable_size_in_bytes(st->set->bm);
	out = palloc(VARHDRSZ + 1 + nbytes);
	SET_VARSIZE(out, VARHDRSZ + 1 + nbytes);
	VARDATA(out)[0] = st->seeded ? 1 : 0;
	roaring_bitmap_portable_serialize(st->set->bm, VARDATA(out) + 1);
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(audience_state_deserialize);
Datum
audience_state_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = AggContext(fcinfo, "audience_state_deserialize");
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *data = VARDATA_ANY(in);
	size_t		len = VARSIZE_ANY_EXHDR(in);
	AggState   *st;
	roaring_bitmap_t *bm;

	if (len < 1)
		elog(ERROR, "invalid serialized audience aggregate state");
	st = NewAggState(aggctx);
	bm = roaring_bitmap_portable_deserialize_safe(data + 1, len - 1);
	if (bm == NULL)
		elog(ERROR, "invalid serialized audience aggregate state");
	roaring_bitmap_or_inplace(st->set->bm, bm);
	roaring_bitmap_free(bm);
	st->seeded = data[0] != 0;
	PG_RETURN_POINTER(st);
}

/* Final function shared by the three aggregates. */
PG_FUNCTION_INFO_V1(audience_agg_final);
Datum
audience_agg_final(PG_FUNCTION_ARGS)
{
	AggState   *st;

	(void) AggContext(fcinfo, "audience_agg_final");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (AggState *) PG_GETARG_POINTER(0);
	FlushPending(st);
	PG_RETURN_AUDIENCE_P(audience_set_serialize(st->set));
}
