/*
 * audience_paging.c
 *		Positions in an audience: rank(), slice() and page(), for exporters
 *		that hand a large audience to another system page by page.
 *
 * Members are in ascending order, so a page is a contiguous range of
 * member values.  Each function finds that range's bounds with CRoaring's
 * rank/select (container cardinalities, not a walk over the members) and
 * intersects the audience with it, so a page costs the same wherever it
 * starts and however long it is.
 */
#include "postgres.h"

#include "audience.h"
#include "utils/builtins.h"

/* The members of set between lo and hi (inclusive), as a new audience. */
static Audience *
MembersBetween(AudienceSet *set, uint32 lo, uint32 hi)
{
	AudienceSet *window = audience_set_adopt(roaring_bitmap_from_range((uint64) lo, (uint64) hi + 1, 1));

	roaring_bitmap_and_inplace(set->bm, window->bm);
	audience_set_free(window);
	return audience_set_serialize_free(set);
}

static Audience *
EmptyAudience(void)
{
	return audience_set_serialize_free(audience_set_new());
}

/* The member at 0-based position pos (pos < cardinality). */
static uint32
MemberAt(const AudienceSet *set, uint64 pos)
{
	uint32		v = 0;

	if (!roaring_bitmap_select(set->bm, (uint32) pos, &v))
		elog(ERROR, "audience has no member at position " UINT64_FORMAT, pos);
	return v;
}

static void
CheckNonNegative(int64 v, const char *what, const char *fn)
{
	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what),
				 errdetail("%s() was called with %s " INT64_FORMAT ".", fn, what, v),
				 errhint("Positions count from 0; a page of 0 members is empty.")));
}

/* rank(a, x): how many members are <= x (rb_rank's meaning). */
PG_FUNCTION_INFO_V1(audience_rank);
Datum
audience_rank(PG_FUNCTION_ARGS)
{
	int64		x = PG_GETARG_INT64(1);
	AudienceSet *set;
	uint64		r;

	if (x < 0)
		PG_RETURN_INT64(0);
	set = audience_set_from(PG_GETARG_AUDIENCE_P(0));
	r = x >= (int64) PG_UINT32_MAX ? roaring_bitmap_get_cardinality(set->bm)
		: roaring_bitmap_rank(set->bm, (uint32) x);
	audience_set_free(set);
	PG_RETURN_INT64((int64) r);
}

/*
 * slice(a, offset, limit): the members at 0-based positions offset ..
 * offset + limit - 1 (rb_select's meaning); fewer at the end, none past it.
 */
PG_FUNCTION_INFO_V1(audience_slice);
Datum
audience_slice(PG_FUNCTION_ARGS)
{
	int64		offset = PG_GETARG_INT64(1);
	int64		limit = PG_GETARG_INT64(2);
	AudienceSet *set;
	uint64		card;
	uint64		last;

	CheckNonNegative(offset, "offset", "slice");
	CheckNonNegative(limit, "limit", "slice");
	set = audience_set_from(PG_GETARG_AUDIENCE_P(0));
	card = roaring_bitmap_get_cardinality(set->bm);
	if (limit == 0 || (uint64) offset >= card)
	{
		audience_set_free(set);
		PG_RETURN_AUDIENCE_P(EmptyAudience());
	}
	last = Min((uint64) offset + (uint64) limit, card) - 1;
	PG_RETURN_AUDIENCE_P(MembersBetween(set, MemberAt(set, (uint64) offset), MemberAt(set, last)));
}

/*
 * page(a, after, limit): the first limit members greater than after; the
 * next page starts after the last member of this one (keyset paging).
 * after = -1 (or any negative value) gives the first page.
 */
PG_FUNCTION_INFO_V1(audience_page);
Datum
audience_page(PG_FUNCTION_ARGS)
{
	int64		after = PG_GETARG_INT64(1);
	int32		limit = PG_GETARG_INT32(2);
	AudienceSet *set;
	uint64		card;
	uint64		before;
	uint64		n;

	CheckNonNegative(limit, "limit", "page");
	if (limit == 0 || after >= (int64) PG_UINT32_MAX)
		PG_RETURN_AUDIENCE_P(EmptyAudience());
	set = audience_set_from(PG_GETARG_AUDIENCE_P(0));
	card = roaring_bitmap_get_cardinality(set->bm);
	before = after < 0 ? 0 : roaring_bitmap_rank(set->bm, (uint32) after);
	n = Min((uint64) limit, card - before);
	if (n == 0)
	{
		audience_set_free(set);
		PG_RETURN_AUDIENCE_P(EmptyAudience());
	}
	PG_RETURN_AUDIENCE_P(MembersBetween(set, after < 0 ? 0 : (uint32) after + 1, MemberAt(set, before + n - 1)));
}
