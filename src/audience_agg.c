/*
 * audience_agg.c
 *		audience_agg(int4), union_agg(audience), intersect_agg(audience).
 *
 * Every byte of a transition state is palloc'ed in the aggregate's memory
 * context, so that hash aggregation sees it in its memory accounting and
 * spills at work_mem; CRoaring's malloc'ed bitmaps would be invisible to it
 * (a GROUP BY of many groups holding large sets would grow without bound).
 * The result is written in canonical form straight from the state by
 * audience_codec_build, never through CRoaring.  Combine, serialize and
 * deserialize functions make all three aggregates usable in parallel query
 * and in partial aggregation pushed down to postgres_fdw shards.
 */
#include "postgres.h"

#include "audience.h"
#include "audience_agg.h"
#include "audience_codec.h"
#include "id_chunks.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/*
 * audience_agg and union_agg collect ids in a small buffer, sorted when
 * the state is finished; a group that grows past SMALL_LIMIT ids switches to
 * an IdChunks table (O(1) per id, 2 kB of directory), so small groups of a
 * GROUP BY stay small and large builds stay fast.  intersect_agg keeps the
 * intersection so far in stored form: it only ever shrinks.
 */
#define SMALL_LIMIT 8192

/* Ids buffered in large mode before one id_chunks_add_many call. */
#define BATCH 1024

/* Flag bits of a serialized state. */
#define STATE_SEEDED	1
#define STATE_INTERSECT 2

typedef struct AggState
{
	MemoryContext ctx;			/* the aggregate context */
	bool		seeded;			/* intersect_agg: has seen a first input */
	int			npending;
	int			capacity;
	uint32	   *pending;		/* small mode buffer */
	IdChunks   *chunks;			/* large mode, or NULL */
	uint32	   *batch;			/* large mode: ids not in chunks yet */
	int			nbatch;
	Audience   *inter;			/* intersect_agg: the intersection so far */
	AudienceAggFlush flush;		/* adds input buffered elsewhere, or NULL */
	void	   *flush_arg;
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

/* A new, empty state in the aggregate context. */
static AggState *
NewAggState(MemoryContext aggctx)
{
	AggState   *st = MemoryContextAllocZero(aggctx, sizeof(AggState));

	st->ctx = aggctx;
	return st;
}

/* Adds what the state's owner buffered (audience_agg_state_set_flush). */
static inline void
Flush(AggState *st)
{
	if (st->flush != NULL)
		st->flush(st->flush_arg);
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

/* Moves the small buffer into a new chunk table. */
static void
SwitchToChunks(AggState *st)
{
	int			i;

	if (st->chunks != NULL)
		return;
	st->chunks = MemoryContextAlloc(st->ctx, sizeof(IdChunks));
	id_chunks_init(st->chunks, ChunkAlloc, ChunkFree, st->ctx);
	st->batch = MemoryContextAlloc(st->ctx, BATCH * sizeof(uint32));
	st->nbatch = 0;
	for (i = 0; i < st->npending; i++)
		id_chunks_add(st->chunks, st->pending[i]);
	st->npending = 0;
	if (st->pending != NULL)
		pfree(st->pending);
	st->pending = NULL;
	st->capacity = 0;
}

/* Moves the buffered ids of large mode into the chunks. */
static void
FlushBatch(AggState *st)
{
	if (st->chunks != NULL && st->nbatch > 0)
		id_chunks_add_many(st->chunks, st->batch, st->nbatch);
	st->nbatch = 0;
}

/*
 * Adds one id in whichever mode the state is in.  Large mode buffers ids:
 * a bitset write is a cache miss, and between two transition calls the
 * executor runs too much code for consecutive misses to overlap.
 */
static inline void
AddId(AggState *st, uint32 id)
{
	if (st->chunks != NULL)
	{
		st->batch[st->nbatch++] = id;
		if (unlikely(st->nbatch == BATCH))
			FlushBatch(st);
		return;
	}
	if (unlikely(st->npending == st->capacity))
	{
		if (st->capacity >= SMALL_LIMIT)
		{
			SwitchToChunks(st);
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

/* audience_codec_each_container callback: adds one container of an input. */
static void
AddContainer(void *arg, uint16_t key, const uint16_t *vals, uint32_t card,
			 const uint64_t *words)
{
	AggState   *st = (AggState *) arg;
	uint32		base = (uint32) key << 16;
	uint32		i;

	if (vals != NULL && st->chunks != NULL)
	{
		id_chunks_add_values(st->chunks, key, vals, card);
		return;
	}
	if (vals != NULL)
	{
		for (i = 0; i < card; i++)
			AddId(st, base | vals[i]);
		return;
	}
	if (st->chunks == NULL && st->npending + card > SMALL_LIMIT)
		SwitchToChunks(st);
	if (st->chunks != NULL)
	{
		id_chunks_add_words(st->chunks, key, words);
		return;
	}
	for (i = 0; i < 1024; i++)
	{
		uint64		w = words[i];

		while (w)
		{
			AddId(st, base | (i * 64 + __builtin_ctzll(w)));
			w &= w - 1;
		}
	}
}

/* Adds every member of stored bytes (validated or our own). */
static void
AddBytes(AggState *st, const uint8 *bytes, size_t len)
{
	audience_codec_each_container(bytes, len, AddContainer, st);
}

static int
CompareUint32(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a;
	uint32		y = *(const uint32 *) b;

	return (x > y) - (x < y);
}

/* The small buffer, sorted and split by key, for audience_codec_build. */
typedef struct SmallSource
{
	uint16	   *lows;			/* low 16 bits of each distinct id */
	uint16	   *keys;			/* per container */
	uint32	   *starts;			/* per container, plus one past the end */
} SmallSource;

static void
SmallContainer(void *arg, uint32_t i, AudienceSource *src)
{
	SmallSource *s = (SmallSource *) arg;

	src->key = s->keys[i];
	src->vals = s->lows + s->starts[i];
	src->nvals = s->starts[i + 1] - s->starts[i];
}

typedef struct ChunkSource
{
	IdChunks   *chunks;
	uint16	   *keys;
} ChunkSource;

static void
ChunkContainer(void *arg, uint32_t i, AudienceSource *src)
{
	ChunkSource *s = (ChunkSource *) arg;

	src->key = s->keys[i];
	id_chunks_get(s->chunks, src->key, &src->vals, &src->nvals, &src->words);
}

static void *
ResultAlloc(void *ctx, size_t size)
{
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("audience is too large to store"),
				 errdetail("Its serialization needs %zu bytes.", size)));
	return palloc(size);
}

/*
 * The members of a union-type state in canonical stored form, with reserve
 * bytes free in front (a varlena header); the state is left as it was, but
 * sorted.  Scratch memory is freed before returning.
 */
static uint8 *
BuildBytes(AggState *st, size_t reserve, size_t *len)
{
	uint8	   *out;
	uint32		n = 0;

	Flush(st);
	if (st->chunks != NULL)
	{
		ChunkSource cs;

		FlushBatch(st);
		cs.chunks = st->chunks;
		cs.keys = palloc(65536 * sizeof(uint16));
		n = id_chunks_keys(st->chunks, cs.keys);
		out = audience_codec_build(n, ChunkContainer, &cs, ResultAlloc, NULL, reserve, len);
		pfree(cs.keys);
	}
	else
	{
		SmallSource ss;
		int			i,
					m = 0;

		if (st->npending > 1)
			qsort(st->pending, st->npending, sizeof(uint32), CompareUint32);
		for (i = 0; i < st->npending; i++)
			if (m == 0 || st->pending[i] != st->pending[m - 1])
				st->pending[m++] = st->pending[i];
		st->npending = m;
		ss.lows = palloc((m + 1) * sizeof(uint16));
		ss.keys = palloc((m + 1) * sizeof(uint16));
		ss.starts = palloc((m + 2) * sizeof(uint32));
		for (i = 0; i < m; i++)
		{
			uint16		key = (uint16) (st->pending[i] >> 16);

			if (n == 0 || ss.keys[n - 1] != key)
			{
				ss.keys[n] = key;
				ss.starts[n++] = i;
			}
			ss.lows[i] = (uint16) st->pending[i];
		}
		ss.starts[n] = m;
		out = audience_codec_build(n, SmallContainer, &ss, ResultAlloc, NULL, reserve, len);
		pfree(ss.lows);
		pfree(ss.keys);
		pfree(ss.starts);
	}
	return out;
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
	if (unlikely(id < 0))
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

/* union_agg transition: adds each input's containers to the state. */
PG_FUNCTION_INFO_V1(audience_union_trans);
Datum
audience_union_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = AggContext(fcinfo, "audience_union_trans");
	AggState   *st = PG_ARGISNULL(0) ? NULL : (AggState *) PG_GETARG_POINTER(0);
	Audience   *in;

	if (PG_ARGISNULL(1))
		return KeepState(fcinfo, st);
	if (st == NULL)
		st = NewAggState(aggctx);
	in = PG_GETARG_AUDIENCE_P(1);
	AddBytes(st, AUDIENCE_BYTES(in), AUDIENCE_NBYTES(in));
	PG_FREE_IF_COPY(in, 1);
	st->seeded = true;
	PG_RETURN_POINTER(st);
}

/* A palloc'ed copy of stored bytes as an Audience in the state's context. */
static Audience *
CopyAudience(MemoryContext ctx, const uint8 *bytes, size_t len)
{
	Audience   *a = MemoryContextAllocHuge(ctx, VARHDRSZ + len);

	SET_VARSIZE(a, VARHDRSZ + len);
	memcpy(a->data, bytes, len);
	return a;
}

/* The state's intersection, ANDed with more stored bytes. */
static void
IntersectInto(AggState *st, const uint8 *bytes, size_t len)
{
	MemoryContext old;
	Audience   *next;
	size_t		rlen;

	if (!st->seeded)
	{
		st->inter = CopyAudience(st->ctx, bytes, len);
		st->seeded = true;
		return;
	}
	old = MemoryContextSwitchTo(st->ctx);
	next = (Audience *) audience_codec_setop(AUDIENCE_BYTES(st->inter), AUDIENCE_NBYTES(st->inter),
											 bytes, len, AUDIENCE_OP_AND,
											 ResultAlloc, NULL, VARHDRSZ, &rlen);
	MemoryContextSwitchTo(old);
	SET_VARSIZE(next, VARHDRSZ + rlen);
	pfree(st->inter);
	st->inter = next;
}

/* intersect_agg transition: the first input seeds the state, then AND. */
PG_FUNCTION_INFO_V1(audience_intersect_trans);
Datum
audience_intersect_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = AggContext(fcinfo, "audience_intersect_trans");
	AggState   *st = PG_ARGISNULL(0) ? NULL : (AggState *) PG_GETARG_POINTER(0);
	Audience   *in;

	if (PG_ARGISNULL(1))
		return KeepState(fcinfo, st);
	if (st == NULL)
		st = NewAggState(aggctx);
	in = PG_GETARG_AUDIENCE_P(1);
	IntersectInto(st, AUDIENCE_BYTES(in), AUDIENCE_NBYTES(in));
	PG_FREE_IF_COPY(in, 1);
	PG_RETURN_POINTER(st);
}

/* Adds every member of the union-type state src to st. */
static void
MergeInto(AggState *st, AggState *src)
{
	int			i;

	if (src->chunks != NULL)
	{
		FlushBatch(src);
		SwitchToChunks(st);
		id_chunks_merge(st->chunks, src->chunks);
	}
	else
		for (i = 0; i < src->npending; i++)
			AddId(st, src->pending[i]);
	st->seeded = st->seeded || src->seeded;
}

/* Combines two partial states with OR (audience_agg, union_agg) or AND. */
static Datum
CombineStates(FunctionCallInfo fcinfo, bool intersect)
{
	MemoryContext aggctx = AggContext(fcinfo, "audience combine function");
	AggState   *a = PG_ARGISNULL(0) ? NULL : (AggState *) PG_GETARG_POINTER(0);
	AggState   *b = PG_ARGISNULL(1) ? NULL : (AggState *) PG_GETARG_POINTER(1);

	if (a != NULL)
		Flush(a);
	if (b == NULL)
		return KeepState(fcinfo, a);
	Flush(b);
	/* the result must live in the aggregate context, not in b's */
	if (a == NULL)
		a = NewAggState(aggctx);
	if (!intersect)
		MergeInto(a, b);
	else if (b->seeded)
		IntersectInto(a, AUDIENCE_BYTES(b->inter), AUDIENCE_NBYTES(b->inter));
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
 * Serialized partial state: one flag byte (seeded, intersect) followed by
 * the stored form of the members, sent from parallel workers or shards to
 * the leader.
 */
PG_FUNCTION_INFO_V1(audience_state_serialize);
Datum
audience_state_serialize(PG_FUNCTION_ARGS)
{
	AggState   *st = (AggState *) PG_GETARG_POINTER(0);
	bytea	   *out;
	size_t		len;

	(void) AggContext(fcinfo, "audience_state_serialize");
	if (st->inter != NULL)
	{
		len = AUDIENCE_NBYTES(st->inter);
		out = palloc(VARHDRSZ + 1 + len);
		memcpy(VARDATA(out) + 1, AUDIENCE_BYTES(st->inter), len);
		VARDATA(out)[0] = STATE_SEEDED | STATE_INTERSECT;
	}
	else
	{
		out = (bytea *) BuildBytes(st, VARHDRSZ + 1, &len);
		VARDATA(out)[0] = st->seeded ? STATE_SEEDED : 0;
	}
	SET_VARSIZE(out, VARHDRSZ + 1 + len);
	PG_RETURN_BYTEA_P(out);
}

PG_FUNCTION_INFO_V1(audience_state_deserialize);
Datum
audience_state_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = AggContext(fcinfo, "audience_state_deserialize");
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const uint8 *data = (const uint8 *) VARDATA_ANY(in);
	size_t		len = VARSIZE_ANY_EXHDR(in);
	AggState   *st;

	if (len < 1 || !audience_codec_check(data + 1, len - 1, NULL, 0))
		elog(ERROR, "invalid serialized audience aggregate state");
	st = NewAggState(aggctx);
	if (data[0] & STATE_INTERSECT)
	{
		st->inter = CopyAudience(aggctx, data + 1, len - 1);
		st->seeded = true;
	}
	else
	{
		AddBytes(st, data + 1, len - 1);
		st->seeded = (data[0] & STATE_SEEDED) != 0;
	}
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
	if (st->inter != NULL)
		PG_RETURN_AUDIENCE_P(CopyAudience(CurrentMemoryContext, AUDIENCE_BYTES(st->inter),
										  AUDIENCE_NBYTES(st->inter)));
	PG_RETURN_AUDIENCE_P(audience_agg_state_result(st));
}

/*
 * The state for aggregates of other files (audience_agg.h): they add ids
 * in bulk and share this file's combine, serialize and deserialize
 * functions.
 */
AudienceAggState *
audience_agg_state_new(MemoryContext aggctx)
{
	return NewAggState(aggctx);
}

void
audience_agg_state_add(AudienceAggState *st, const uint32 *ids, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		AddId(st, ids[i]);
}

void
audience_agg_state_set_flush(AudienceAggState *st, AudienceAggFlush flush, void *arg)
{
	st->flush = flush;
	st->flush_arg = arg;
}

void *
audience_agg_state_flush_arg(AudienceAggState *st)
{
	return st->flush_arg;
}

/*
 * The members in stored form with reserve bytes free in front, leaving out
 * what the owner still buffers (no flush).
 */
uint8 *
audience_agg_state_bytes(AudienceAggState *st, size_t reserve, size_t *len)
{
	AudienceAggFlush flush = st->flush;
	uint8	   *out;

	st->flush = NULL;
	out = BuildBytes(st, reserve, len);
	st->flush = flush;
	return out;
}

/* The members as an audience, in the current memory context. */
Audience *
audience_agg_state_result(AudienceAggState *st)
{
	size_t		len;
	Audience   *result = (Audience *) BuildBytes(st, VARHDRSZ, &len);

	SET_VARSIZE(result, VARHDRSZ + len);
	return result;
}

/* Adds every member of stored bytes (validated or our own). */
void
audience_agg_state_add_bytes(AudienceAggState *st, const uint8 *bytes, size_t len)
{
	AddBytes(st, bytes, len);
}

/* Whether no id was ever added (after a flush). */
bool
audience_agg_state_empty(AudienceAggState *st)
{
	Flush(st);
	return st->chunks == NULL && st->npending == 0 && st->inter == NULL;
}
