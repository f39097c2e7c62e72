/*
 * audience_bitmap.c
 *		CRoaring bitmaps whose lifetime is tied to a PostgreSQL memory context.
 *
 * CRoaring 0.2.66 allocates with malloc and has no allocator hook, so an
 * ERROR thrown between creating a bitmap and freeing it would leak it.  Every
 * bitmap we hold is wrapped in an AudienceSet registered with a reset
 * callback of the memory context current at creation: the callback frees
 * whatever is still alive when the context goes away.
 */
#include "postgres.h"

#include "audience.h"
#include "audience_codec.h"
#include "utils/memutils.h"

/* Frees a bitmap still owned when its memory context is reset or deleted. */
static void
AudienceSetRelease(void *arg)
{
	AudienceSet *set = (AudienceSet *) arg;

	if (set->bm != NULL)
		roaring_bitmap_free(set->bm);
	set->bm = NULL;
}

/* Raises out-of-memory for a NULL result of a CRoaring allocation. */
void
audience_check_allocated(const void *p)
{
	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("The roaring bitmap library could not allocate memory.")));
}

/* Puts a freshly malloc'ed bitmap under the current memory context. */
AudienceSet *
audience_set_adopt(roaring_bitmap_t *bm)
{
	AudienceSet *set;

	audience_check_allocated(bm);
	set = MemoryContextAllocExtended(CurrentMemoryContext, sizeof(AudienceSet),
									 MCXT_ALLOC_NO_OOM);
	if (set == NULL)
	{
		roaring_bitmap_free(bm);
		audience_check_allocated(NULL);
	}
	set->bm = bm;
	set->cb.func = AudienceSetRelease;
	set->cb.arg = set;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &set->cb);
	return set;
}

/* An empty owned bitmap. */
AudienceSet *
audience_set_new(void)
{
	return audience_set_adopt(roaring_bitmap_create());
}

/* Frees the bitmap now rather than at context reset (large sets in loops). */
void
audience_set_free(AudienceSet *set)
{
	AudienceSetRelease(set);
}

/* Decodes stored bytes, which this extension wrote and validated. */
AudienceSet *
audience_set_from(const Audience *a)
{
	roaring_bitmap_t *bm;

	bm = roaring_bitmap_portable_deserialize_safe((const char *) AUDIENCE_BYTES(a),
												  AUDIENCE_NBYTES(a));
	if (bm == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid audience: stored value cannot be decoded")));
	return audience_set_adopt(bm);
}

/*
 * Serializes in canonical form (run-optimized), so that equal sets have
 * equal bytes and equality and hashing can work on the bytes alone.
 */
Audience *
audience_set_serialize(AudienceSet *set)
{
	size_t		nbytes;
	Audience   *result;

	roaring_bitmap_run_optimize(set->bm);
	nbytes = roaring_bitmap_portable_size_in_bytes(set->bm);
	if (nbytes > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("audience is too large to store"),
				 errdetail("Its serialization needs %zu bytes.", nbytes)));
	result = (Audience *) palloc(VARHDRSZ + nbytes);
	SET_VARSIZE(result, VARHDRSZ + nbytes);
	roaring_bitmap_portable_serialize(set->bm, result->data);
	return result;
}

/* Serializes and frees: the usual last step of an operator. */
Audience *
audience_set_serialize_free(AudienceSet *set)
{
	Audience   *result = audience_set_serialize(set);

	audience_set_free(set);
	return result;
}

/*
 * Validates bytes from outside (binary input, bytea casts) and returns them
 * re-serialized in canonical form, so stored values are always canonical.
 */
Audience *
audience_from_untrusted(const char *bytes, size_t len)
{
	char		why[256];

	if (!audience_codec_check((const uint8_t *) bytes, len, why, sizeof(why)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid audience: %s", why),
				 errhint("An audience is CRoaring's portable serialization of a 32-bit roaring bitmap.")));
	return audience_set_serialize_free(
		audience_set_adopt(roaring_bitmap_portable_deserialize_safe(bytes, len)));
}
