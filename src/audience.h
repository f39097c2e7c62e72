/*
 * audience.h
 *		The audience type: a set of 32-bit customer ordinals stored as
 *		CRoaring's portable serialization inside a varlena.
 *
 * Values written by this extension are canonical (run-optimized), so two
 * equal sets have equal bytes; bytes from clients are validated and
 * re-canonicalized before they are stored.
 */
#ifndef AUDIENCE_H
#define AUDIENCE_H

#include "postgres.h"
#include "fmgr.h"

#include <roaring/roaring.h>
#include "audience_roaring.h"

typedef struct Audience
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	char		data[FLEXIBLE_ARRAY_MEMBER];	/* portable roaring bytes */
} Audience;

/* Reads never need a private copy, so short headers are accepted as is. */
#define DatumGetAudienceP(X)		((Audience *) PG_DETOAST_DATUM_PACKED(X))
#define PG_GETARG_AUDIENCE_P(n)		DatumGetAudienceP(PG_GETARG_DATUM(n))
#define PG_RETURN_AUDIENCE_P(x)		PG_RETURN_POINTER(x)
#define AUDIENCE_BYTES(a)			((const uint8 *) VARDATA_ANY(a))
#define AUDIENCE_NBYTES(a)			VARSIZE_ANY_EXHDR(a)

/*
 * A CRoaring bitmap owned by a memory context (audience_bitmap.c).  The
 * bitmap is freed when the context is reset or deleted, so an ERROR thrown
 * mid-operation cannot leak CRoaring's malloc'ed memory; audience_set_free
 * releases it earlier.
 */
typedef struct AudienceSet
{
	roaring_bitmap_t *bm;		/* NULL once freed */
	MemoryContextCallback cb;
} AudienceSet;

extern AudienceSet *audience_set_adopt(roaring_bitmap_t *bm);
extern AudienceSet *audience_set_new(void);
extern void audience_set_free(AudienceSet *set);
extern AudienceSet *audience_set_from(const Audience *a);
extern Audience *audience_set_serialize(AudienceSet *set);
extern Audience *audience_set_serialize_free(AudienceSet *set);
extern Audience *audience_from_untrusted(const char *bytes, size_t len);
extern void audience_check_allocated(const void *p);

/* to_bigint_array(audience), the members ascending (audience_io.c) */
extern Datum audience_to_int8_array(PG_FUNCTION_ARGS);

#endif							/* AUDIENCE_H */
