/*
 * audience_ops.c
 *		Set operators and scalar functions of the audience type.
 *
 * Questions that only need the headers or one container (cardinality,
 * membership of one id, min, max, emptiness) are answered from the stored
 * bytes by audience_codec.c without decoding the set, which is what makes
 * them cheap on multi-megabyte audiences.
 */
#include "postgres.h"

#include "audience.h"
#include "audience_codec.h"
#include "access/detoast.h"
#include "access/table.h"
#include "access/tableam.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/*
 * Membership tests like "a @> c.id" over many rows receive the same
 * out-of-line audience on every call; detoasting megabytes per row would
 * dominate.  The detoasted value is kept in fn_extra for the rest of the
 * query, keyed by its TOAST pointer (TOAST values are immutable, and the
 * query's snapshot keeps the pointed-to value from being removed).
 */
typedef struct DetoastCache
{
	bool		valid;
	struct varatt_external ptr;
	Audience   *value;
	bool		seen;			/* MemberOf: probed once by slices */
	struct varatt_external seen_ptr;
} DetoastCache;

static Audience *
CachedAudienceArg(FunctionCallInfo fcinfo, int argno)
{
	struct varlena *raw = (struct varlena *) PG_GETARG_POINTER(argno);
	DetoastCache *cache;
	struct varatt_external ptr;
	MemoryContext old;

	if (!VARATT_IS_EXTERNAL_ONDISK(raw))
		return DatumGetAudienceP(PointerGetDatum(raw));
	cache = (DetoastCache *) fcinfo->flinfo->fn_extra;
	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(DetoastCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	VARATT_EXTERNAL_GET_POINTER(ptr, raw);
	if (cache->valid && memcmp(&cache->ptr, &ptr, sizeof(ptr)) == 0)
		return cache->value;
	if (cache->value != NULL)
		pfree(cache->value);
	cache->valid = false;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	cache->value = (Audience *) detoast_attr(raw);
	MemoryContextSwitchTo(old);
	cache->ptr = ptr;
	cache->valid = true;
	return cache->value;
}

/* palloc for the codec's results (the context's owner frees them). */
static void *
CodecAlloc(void *ctx, size_t size)
{
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("audience is too large to store"),
				 errdetail("Its serialization needs %zu bytes.", size - VARHDRSZ)));
	return palloc(size);
}

/*
 * Arguments of the two-set operations.  A large stored audience (TOASTed
 * out of line, uncompressed) is not detoasted: the codec reads it in 64 kB
 * slices straight from the TOAST table.  Detoasting copies megabytes into
 * freshly allocated memory, and touching fresh memory is what costs most
 * here (shared/PERF-NOTES.md); the slices reuse a small buffer.
 */
#define STREAM_MIN_BYTES (256 * 1024)

typedef struct AudienceArg
{
	AudienceInput in;
	Relation	toastrel;		/* streamed: the open TOAST table */
	Oid			valueid;
	int32		extsize;
	Audience   *detoasted;		/* otherwise: the whole value */
} AudienceArg;

/* Copies bytes [off, off + n) of a TOASTed value into dst. */
static bool
ToastRead(void *ctx, size_t off, size_t n, uint8_t *dst)
{
	AudienceArg *arg = (AudienceArg *) ctx;
	struct varlena *slice = (struct varlena *) (dst - VARHDRSZ);

	/* StreamAlloc left room for the varlena header the TOAST reader fills */
	SET_VARSIZE(slice, VARHDRSZ + n);
	table_relation_fetch_toast_slice(arg->toastrel, arg->valueid, arg->extsize,
									 (int32) off, (int32) n, slice);
	return true;
}

static void *
StreamAlloc(void *mem, size_t size)
{
	return (char *) palloc(VARHDRSZ + size) + VARHDRSZ;
}

static void
StreamFree(void *mem, void *p)
{
	pfree((char *) p - VARHDRSZ);
}

/* Prepares argument argno: streamed when large and stored out of line. */
static void
OpenArg(FunctionCallInfo fcinfo, int argno, AudienceArg *arg)
{
	struct varlena *raw = (struct varlena *) PG_GETARG_POINTER(argno);

	memset(arg, 0, sizeof(*arg));
	if (VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		struct varatt_external ptr;

		VARATT_EXTERNAL_GET_POINTER(ptr, raw);
		if (!VARATT_EXTERNAL_IS_COMPRESSED(ptr) &&
			VARATT_EXTERNAL_GET_EXTSIZE(ptr) >= STREAM_MIN_BYTES)
		{
			arg->toastrel = table_open(ptr.va_toastrelid, AccessShareLock);
			arg->valueid = ptr.va_valueid;
			arg->extsize = VARATT_EXTERNAL_GET_EXTSIZE(ptr);
			arg->in.len = (size_t) arg->extsize;
			arg->in.read = ToastRead;
			arg->in.ctx = arg;
			arg->in.alloc = StreamAlloc;
			arg->in.free = StreamFree;
			return;
		}
	}
	arg->detoasted = DatumGetAudienceP(PointerGetDatum(raw));
	arg->in.buf = AUDIENCE_BYTES(arg->detoasted);
	arg->in.len = AUDIENCE_NBYTES(arg->detoasted);
}

/* Closes the TOAST table or frees the detoasted copy. */
static void
CloseArg(FunctionCallInfo fcinfo, int argno, AudienceArg *arg)
{
	if (arg->toastrel != NULL)
		table_close(arg->toastrel, AccessShareLock);
	else if ((Pointer) arg->detoasted != PG_GETARG_POINTER(argno))
		pfree(arg->detoasted);
}

/*
 * A binary set operation computed on the two stored forms directly
 * (audience_setops.c): no decoding, and the result is written once, into
 * the varlena that is returned.
 */
static Datum
SetOp(FunctionCallInfo fcinfo, AudienceSetOp op)
{
	AudienceArg a,
				b;
	size_t		len;
	Audience   *result;

	OpenArg(fcinfo, 0, &a);
	OpenArg(fcinfo, 1, &b);
	result = (Audience *) audience_codec_setop_input(&a.in, &b.in, op, CodecAlloc, NULL,
													 VARHDRSZ, &len);
	SET_VARSIZE(result, VARHDRSZ + len);
	CloseArg(fcinfo, 0, &a);
	CloseArg(fcinfo, 1, &b);
	PG_RETURN_AUDIENCE_P(result);
}

PG_FUNCTION_INFO_V1(audience_union);
Datum
audience_union(PG_FUNCTION_ARGS)
{
	return SetOp(fcinfo, AUDIENCE_OP_OR);
}

PG_FUNCTION_INFO_V1(audience_intersect);
Datum
audience_intersect(PG_FUNCTION_ARGS)
{
	return SetOp(fcinfo, AUDIENCE_OP_AND);
}

PG_FUNCTION_INFO_V1(audience_except);
Datum
audience_except(PG_FUNCTION_ARGS)
{
	return SetOp(fcinfo, AUDIENCE_OP_ANDNOT);
}

PG_FUNCTION_INFO_V1(audience_xor);
Datum
audience_xor(PG_FUNCTION_ARGS)
{
	return SetOp(fcinfo, AUDIENCE_OP_XOR);
}

/* The bytes of both arguments, for the codec's two-set questions. */
#define ARGS2(a, b) \
	AUDIENCE_BYTES(a), AUDIENCE_NBYTES(a), AUDIENCE_BYTES(b), AUDIENCE_NBYTES(b)

/* The two-set predicates: subset either way, overlap. */
typedef enum SetPredicate
{
	PRED_A_IN_B,
	PRED_B_IN_A,
	PRED_OVERLAP
} SetPredicate;

static Datum
Predicate(FunctionCallInfo fcinfo, SetPredicate pred)
{
	AudienceArg a,
				b;
	bool		r;

	OpenArg(fcinfo, 0, &a);
	OpenArg(fcinfo, 1, &b);
	if (pred == PRED_A_IN_B)
		r = audience_codec_is_subset_input(&a.in, &b.in);
	else if (pred == PRED_B_IN_A)
		r = audience_codec_is_subset_input(&b.in, &a.in);
	else
		r = audience_codec_intersects_input(&a.in, &b.in);
	CloseArg(fcinfo, 0, &a);
	CloseArg(fcinfo, 1, &b);
	PG_RETURN_BOOL(r);
}

PG_FUNCTION_INFO_V1(audience_contains_audience);
Datum
audience_contains_audience(PG_FUNCTION_ARGS)
{
	return Predicate(fcinfo, PRED_B_IN_A);
}

PG_FUNCTION_INFO_V1(audience_contained_by);
Datum
audience_contained_by(PG_FUNCTION_ARGS)
{
	return Predicate(fcinfo, PRED_A_IN_B);
}

/* a && b stops at the first shared member. */
PG_FUNCTION_INFO_V1(audience_overlaps);
Datum
audience_overlaps(PG_FUNCTION_ARGS)
{
	return Predicate(fcinfo, PRED_OVERLAP);
}

/*
 * Set equality.  Equal bytes are the common case; otherwise the same set
 * can still be encoded differently (CRoaring keeps a run container that is
 * exactly as small as an array), so differing bytes are compared as sets,
 * on the stored forms.
 */
static bool
AudienceBytesEqual(Audience *a, Audience *b)
{
	if (AUDIENCE_NBYTES(a) == AUDIENCE_NBYTES(b) &&
		memcmp(AUDIENCE_BYTES(a), AUDIENCE_BYTES(b), AUDIENCE_NBYTES(a)) == 0)
		return true;
	return audience_codec_equal_sets(ARGS2(a, b));
}

PG_FUNCTION_INFO_V1(audience_eq);
Datum
audience_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(AudienceBytesEqual(PG_GETARG_AUDIENCE_P(0), PG_GETARG_AUDIENCE_P(1)));
}

PG_FUNCTION_INFO_V1(audience_ne);
Datum
audience_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!AudienceBytesEqual(PG_GETARG_AUDIENCE_P(0), PG_GETARG_AUDIENCE_P(1)));
}

/* Hash support for GROUP BY / DISTINCT / hash joins: encoding-independent. */
PG_FUNCTION_INFO_V1(audience_hash);
Datum
audience_hash(PG_FUNCTION_ARGS)
{
	Audience   *a = PG_GETARG_AUDIENCE_P(0);

	PG_RETURN_INT32((int32) audience_codec_set_hash(AUDIENCE_BYTES(a), AUDIENCE_NBYTES(a)));
}

/*
 * Membership of id in argument argno.  The first probe of a large stored
 * value reads only its header and one container from TOAST (a single
 * "a @> x" needs no more); a second probe of the same value detoasts it
 * once and keeps it for the rest of the query (CachedAudienceArg).
 */
static bool
MemberOf(FunctionCallInfo fcinfo, int argno, uint32 id)
{
	struct varlena *raw = (struct varlena *) PG_GETARG_POINTER(argno);
	DetoastCache *cache = (DetoastCache *) fcinfo->flinfo->fn_extra;
	Audience   *a;

	if (VARATT_IS_EXTERNAL_ONDISK(raw))
	{
		struct varatt_external ptr;

		VARATT_EXTERNAL_GET_POINTER(ptr, raw);
		if (!VARATT_EXTERNAL_IS_COMPRESSED(ptr) &&
			VARATT_EXTERNAL_GET_EXTSIZE(ptr) >= STREAM_MIN_BYTES &&
			(cache == NULL || !cache->valid || memcmp(&cache->ptr, &ptr, sizeof(ptr)) != 0) &&
			(cache == NULL || !cache->seen || memcmp(&cache->seen_ptr, &ptr, sizeof(ptr)) != 0))
		{
			AudienceArg arg;
			bool		r;

			if (cache == NULL)
			{
				cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(DetoastCache));
				fcinfo->flinfo->fn_extra = cache;
			}
			cache->seen = true;
			cache->seen_ptr = ptr;
			OpenArg(fcinfo, argno, &arg);
			r = audience_codec_contains_input(&arg.in, id);
			CloseArg(fcinfo, argno, &arg);
			return r;
		}
	}
	a = CachedAudienceArg(fcinfo, argno);
	return audience_codec_contains(AUDIENCE_BYTES(a), AUDIENCE_NBYTES(a), id);
}

/* a @> id, answered from the stored bytes. */
PG_FUNCTION_INFO_V1(audience_contains_int4);
Datum
audience_contains_int4(PG_FUNCTION_ARGS)
{
	int32		id = PG_GETARG_INT32(1);

	if (id < 0)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(MemberOf(fcinfo, 0, (uint32) id));
}

/* id <@ a, the commutator of a @> id. */
PG_FUNCTION_INFO_V1(audience_int4_contained_by);
Datum
audience_int4_contained_by(PG_FUNCTION_ARGS)
{
	int32		id = PG_GETARG_INT32(0);

	if (id < 0)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(MemberOf(fcinfo, 1, (uint32) id));
}

PG_FUNCTION_INFO_V1(audience_contains_int8);
Datum
audience_contains_int8(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(1);

	if (id < 0 || id > PG_UINT32_MAX)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(MemberOf(fcinfo, 0, (uint32) id));
}

/* Members from the header alone: a large stored value is not detoasted. */
static uint64
HeaderCardinality(FunctionCallInfo fcinfo)
{
	AudienceArg a;
	uint64		r;

	OpenArg(fcinfo, 0, &a);
	r = audience_codec_input_cardinality(&a.in);
	CloseArg(fcinfo, 0, &a);
	return r;
}

PG_FUNCTION_INFO_V1(audience_cardinality);
Datum
audience_cardinality(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) HeaderCardinality(fcinfo));
}

PG_FUNCTION_INFO_V1(audience_is_empty);
Datum
audience_is_empty(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(HeaderCardinality(fcinfo) == 0);
}

/* min(audience): NULL for the empty audience, like min() over no rows. */
PG_FUNCTION_INFO_V1(audience_min);
Datum
audience_min(PG_FUNCTION_ARGS)
{
	Audience   *a = PG_GETARG_AUDIENCE_P(0);
	uint32		v;

	if (!audience_codec_min(AUDIENCE_BYTES(a), AUDIENCE_NBYTES(a), &v))
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) v);
}

PG_FUNCTION_INFO_V1(audience_max);
Datum
audience_max(PG_FUNCTION_ARGS)
{
	Audience   *a = PG_GETARG_AUDIENCE_P(0);
	uint32		v;

	if (!audience_codec_max(AUDIENCE_BYTES(a), AUDIENCE_NBYTES(a), &v))
		PG_RETURN_NULL();
	PG_RETURN_INT64((int64) v);
}

/* range(a, lo, hi): the members between lo and hi inclusive, like BETWEEN. */
PG_FUNCTION_INFO_V1(audience_range);
Datum
audience_range(PG_FUNCTION_ARGS)
{
	int64		lo = PG_GETARG_INT64(1);
	int64		hi = PG_GETARG_INT64(2);
	AudienceSet *set;
	AudienceSet *window;

	lo = Max(lo, 0);
	hi = Min(hi, (int64) PG_UINT32_MAX);
	if (lo > hi)
		PG_RETURN_AUDIENCE_P(audience_set_serialize_free(audience_set_new()));
	set = audience_set_from(PG_GETARG_AUDIENCE_P(0));
	window = audience_set_adopt(roaring_bitmap_from_range((uint64) lo, (uint64) hi + 1, 1));
	roaring_bitmap_and_inplace(set->bm, window->bm);
	audience_set_free(window);
	PG_RETURN_AUDIENCE_P(audience_set_serialize_free(set));
}

/*
 * jaccard(a, b) = |a & b| / |a | b|, computed without building either set.
 * Two empty audiences are identical, so their similarity is 1.
 */
PG_FUNCTION_INFO_V1(audience_jaccard);
Datum
audience_jaccard(PG_FUNCTION_ARGS)
{
	Audience   *a = PG_GETARG_AUDIENCE_P(0);
	Audience   *b = PG_GETARG_AUDIENCE_P(1);
	uint64		inter = audience_codec_and_cardinality(ARGS2(a, b));
	uint64		uni = audience_codec_cardinality(AUDIENCE_BYTES(a), AUDIENCE_NBYTES(a)) +
		audience_codec_cardinality(AUDIENCE_BYTES(b), AUDIENCE_NBYTES(b)) - inter;

	PG_RETURN_FLOAT8(uni == 0 ? 1.0 : (double) inter / (double) uni);
}

/* |a OP b| from the stored forms, without building a OP b. */
static Datum
SetOpCardinality(FunctionCallInfo fcinfo, AudienceSetOp op)
{
	AudienceArg a,
				b;
	uint64		r;

	OpenArg(fcinfo, 0, &a);
	OpenArg(fcinfo, 1, &b);
	r = audience_codec_setop_cardinality_input(&a.in, &b.in, op);
	CloseArg(fcinfo, 0, &a);
	CloseArg(fcinfo, 1, &b);
	PG_RETURN_INT64((int64) r);
}

PG_FUNCTION_INFO_V1(audience_intersect_cardinality);
Datum
audience_intersect_cardinality(PG_FUNCTION_ARGS)
{
	return SetOpCardinality(fcinfo, AUDIENCE_OP_AND);
}

PG_FUNCTION_INFO_V1(audience_union_cardinality);
Datum
audience_union_cardinality(PG_FUNCTION_ARGS)
{
	return SetOpCardinality(fcinfo, AUDIENCE_OP_OR);
}

PG_FUNCTION_INFO_V1(audience_except_cardinality);
Datum
audience_except_cardinality(PG_FUNCTION_ARGS)
{
	return SetOpCardinality(fcinfo, AUDIENCE_OP_ANDNOT);
}

PG_FUNCTION_INFO_V1(audience_xor_cardinality);
Datum
audience_xor_cardinality(PG_FUNCTION_ARGS)
{
	return SetOpCardinality(fcinfo, AUDIENCE_OP_XOR);
}

/* add(a, id) and remove(a, id): single-member edits. */
static Datum
EditMember(FunctionCallInfo fcinfo, bool add)
{
	int64		id = PG_GETARG_INT64(1);
	AudienceSet *set;

	if (id < 0 || id > PG_UINT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("audience member is out of range: " INT64_FORMAT, id),
				 errhint("Customer ordinals are between 0 and 4294967295.")));
	set = audience_set_from(PG_GETARG_AUDIENCE_P(0));
	if (add)
		roaring_bitmap_add(set->bm, (uint32) id);
	else
		roaring_bitmap_remove(set->bm, (uint32) id);
	PG_RETURN_AUDIENCE_P(audience_set_serialize_free(set));
}

PG_FUNCTION_INFO_V1(audience_add);
Datum
audience_add(PG_FUNCTION_ARGS)
{
	return EditMember(fcinfo, true);
}

PG_FUNCTION_INFO_V1(audience_remove);
Datum
audience_remove(PG_FUNCTION_ARGS)
{
	return EditMember(fcinfo, false);
}
