/*
 * audience_campaign.c
 *		Campaign operators on audiences: sampling, A/B split, priority
 *		dedupe, funnels and overlap.
 *
 * Per-customer decisions (sample_fraction, split) hash the customer's
 * ordinal with the seed, so a customer keeps its decision when the audience
 * around it grows or shrinks.  sample(n) needs exactly n members, so it uses
 * sequential selection sampling over the ascending members instead.
 */
#include "postgres.h"

#include <math.h>

#include "audience.h"
#include "campaign_hash.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#define BATCH 4096

/* Members of one set are streamed in ascending batches. */
typedef void (*MemberVisitor) (const uint32 *ids, uint32 n, void *arg);

static void
VisitMembers(AudienceSet *set, MemberVisitor visit, void *arg)
{
	roaring_uint32_iterator_t it;
	uint32		buf[BATCH];
	uint32		n;

	roaring_init_iterator(set->bm, &it);
	while ((n = roaring_read_uint32_iterator(&it, buf, BATCH)) > 0)
	{
		visit(buf, n, arg);
		CHECK_FOR_INTERRUPTS();
	}
}

typedef struct SampleState
{
	CampaignRng rng;
	uint64		needed;			/* members still to pick */
	uint64		left;			/* members not yet visited */
	roaring_bitmap_t *out;
	uint32		picked[BATCH];
} SampleState;

/* Selection sampling (Knuth's Algorithm S): exactly n, uniformly. */
static void
SampleVisit(const uint32 *ids, uint32 n, void *arg)
{
	SampleState *st = (SampleState *) arg;
	uint32		npicked = 0;
	uint32		i;

	for (i = 0; i < n && st->needed > 0; i++)
	{
		double		u = campaign_unit(campaign_rng_next(&st->rng));

		if (u * (double) st->left < (double) st->needed)
		{
			st->picked[npicked++] = ids[i];
			st->needed--;
		}
		st->left--;
	}
	st->left -= n - i;
	roaring_bitmap_add_many(st->out, npicked, st->picked);
}

PG_FUNCTION_INFO_V1(audience_sample);
Datum
audience_sample(PG_FUNCTION_ARGS)
{
	Audience   *a = PG_GETARG_AUDIENCE_P(0);
	int64		n = PG_GETARG_INT64(1);
	int32		seed = PG_GETARG_INT32(2);
	AudienceSet *set;
	AudienceSet *out;
	SampleState *st;
	uint64		card;

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample size must not be negative: " INT64_FORMAT, n)));
	set = audience_set_from(a);
	card = roaring_bitmap_get_cardinality(set->bm);
	if ((uint64) n >= card)
		PG_RETURN_AUDIENCE_P(audience_set_serialize_free(set));
	out = audience_set_new();
	st = palloc(sizeof(SampleState));
	campaign_rng_seed(&st->rng, seed);
	st->needed = (uint64) n;
	st->left = card;
	st->out = out->bm;
	VisitMembers(set, SampleVisit, st);
	audience_set_free(set);
	pfree(st);
	PG_RETURN_AUDIENCE_P(audience_set_serialize_free(out));
}

typedef struct FractionState
{
	uint64		threshold;		/* keep members whose hash is below */
	bool		all;
	int32		seed;
	roaring_bitmap_t *out;
	uint32		kept[BATCH];
} FractionState;

static void
FractionVisit(const uint32 *ids, uint32 n, void *arg)
{
	FractionState *st = (FractionState *) arg;
	uint32		nkept = 0;
	uint32		i;

	for (i = 0; i < n; i++)
		if (st->all || campaign_hash(ids[i], st->seed) < st->threshold)
			st->kept[nkept++] = ids[i];
	roaring_bitmap_add_many(st->out, nkept, st->kept);
}

PG_FUNCTION_INFO_V1(audience_sample_fraction);
Datum
audience_sample_fraction(PG_FUNCTION_ARGS)
{
	Audience   *a = PG_GETARG_AUDIENCE_P(0);
	float8		fraction = PG_GETARG_FLOAT8(1);
	AudienceSet *set;
	AudienceSet *out;
	FractionState *st;

	if (isnan(fraction) || fraction < 0.0 || fraction > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample fraction must be between 0 and 1, not %g", fraction)));
	set = audience_set_from(a);
	st = palloc(sizeof(FractionState));
	st->seed = PG_GETARG_INT32(2);
	st->all = fraction >= 1.0;
	st->threshold = (uint64) ldexp(fraction, 64);
	out = audience_set_new();
	st->out = out->bm;
	VisitMembers(set, FractionVisit, st);
	audience_set_free(set);
	pfree(st);
	PG_RETURN_AUDIENCE_P(audience_set_serialize_free(out));
}

typedef struct SplitState
{
	int			narms;
	double	   *cumulative;
	int32		seed;
	AudienceSet **arms;
	uint32	  **pending;		/* per-arm batches */
	uint32	   *npending;
} SplitState;

static void
SplitVisit(const uint32 *ids, uint32 n, void *arg)
{
	SplitState *st = (SplitState *) arg;
	uint32		i;
	int			k;

	for (i = 0; i < n; i++)
	{
		int			arm = campaign_pick_arm(st->cumulative, st->narms,
											campaign_unit(campaign_hash(ids[i], st->seed)));

		st->pending[arm][st->npending[arm]++] = ids[i];
	}
	for (k = 0; k < st->narms; k++)
	{
		roaring_bitmap_add_many(st->arms[k]->bm, st->npending[k], st->pending[k]);
		st->npending[k] = 0;
	}
}

/* Reads a float8[] of weights; NULL elements are an error. */
static double *
ReadWeights(ArrayType *arr, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	double	   *w;
	int			i;

	deconstruct_array(arr, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, n);
	if (*n > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many arms: %d", *n),
				 errdetail("A split has at most 1000 arms.")));
	w = palloc(Max(*n, 1) * sizeof(double));
	for (i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("split weights must not be NULL")));
		w[i] = DatumGetFloat8(elems[i]);
	}
	return w;
}

/* Builds a one-dimensional audience[] (the type is found from the result). */
static ArrayType *
AudienceArray(FunctionCallInfo fcinfo, Datum *items, bool *isnull, int n)
{
	Oid			arraytype = get_fn_expr_rettype(fcinfo->flinfo);
	Oid			elemtype = get_element_type(arraytype);
	int			dims[1] = {n};
	int			lbs[1] = {1};

	if (!OidIsValid(elemtype))
		elog(ERROR, "could not determine the audience array type");
	return construct_md_array(items, isnull, 1, dims, lbs, elemtype, -1, false, TYPALIGN_INT);
}

PG_FUNCTION_INFO_V1(audience_split);
Datum
audience_split(PG_FUNCTION_ARGS)
{
	Audience   *a = PG_GETARG_AUDIENCE_P(0);
	int			n;
	double	   *weights = ReadWeights(PG_GETARG_ARRAYTYPE_P(1), &n);
	const char *why;
	SplitState *st = palloc(sizeof(SplitState));
	AudienceSet *set;
	Datum	   *items;
	bool	   *isnull;
	int			k;

	st->cumulative = palloc(Max(n, 1) * sizeof(double));
	why = campaign_cumulative_weights(weights, n, st->cumulative);
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid split weights: %s", why),
				 errhint("Give one non-negative weight per arm, e.g. ARRAY[50, 50] or ARRAY[0.1, 0.9].")));
	st->narms = n;
	st->seed = PG_GETARG_INT32(2);
	st->arms = palloc(n * sizeof(AudienceSet *));
	st->pending = palloc(n * sizeof(uint32 *));
	st->npending = palloc0(n * sizeof(uint32));
	for (k = 0; k < n; k++)
	{
		st->arms[k] = audience_set_new();
		st->pending[k] = palloc(BATCH * sizeof(uint32));
	}
	set = audience_set_from(a);
	VisitMembers(set, SplitVisit, st);
	audience_set_free(set);
	items = palloc(n * sizeof(Datum));
	isnull = palloc0(n * sizeof(bool));
	for (k = 0; k < n; k++)
		items[k] = PointerGetDatum(audience_set_serialize_free(st->arms[k]));
	PG_RETURN_ARRAYTYPE_P(AudienceArray(fcinfo, items, isnull, n));
}

/* dedupe(audience[]): each customer only in the first audience holding it. */
PG_FUNCTION_INFO_V1(audience_dedupe);
Datum
audience_dedupe(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	AudienceSet *seen = audience_set_new();
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("dedupe expects a one-dimensional array of audiences")));
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		AudienceSet *cur;

		if (nulls[i])
			continue;			/* a NULL audience holds nobody */
		cur = audience_set_from(DatumGetAudienceP(elems[i]));
		roaring_bitmap_andnot_inplace(cur->bm, seen->bm);
		roaring_bitmap_or_inplace(seen->bm, cur->bm);
		elems[i] = PointerGetDatum(audience_set_serialize_free(cur));
	}
	audience_set_free(seen);
	{
		int			dims[1] = {n};
		int			lbs[1] = {1};

		PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, nulls, n > 0 ? 1 : 0, dims, lbs,
												 ARR_ELEMTYPE(arr), typlen, typbyval, typalign));
	}
}
