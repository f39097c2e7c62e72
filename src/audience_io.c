/*
 * audience_io.c
 *		Text and binary I/O of the audience type and its conversions to and
 *		from arrays, bytea and sets of rows.
 */
#include "postgres.h"

#include "audience.h"
#include "audience_codec.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "parser/scansup.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* ids are buffered and added in batches: CRoaring's add_many is much faster */
#define ID_BATCH 4096

/* Raises the input syntax error for text input. */
static void
ReportSyntax(const char *input, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type audience: \"%s\"", input),
			 errdetail("%s", detail)));
}

/* Parses an unsigned 32-bit member, advancing *p past it. */
static uint32
ParseMember(const char *input, const char **p)
{
	const char *s = *p;
	uint64		v = 0;

	if (*s == '-' || *s == '+')
		ReportSyntax(input, "Members must be unsigned integers between 0 and 4294967295.");
	if (!isdigit((unsigned char) *s))
		ReportSyntax(input, psprintf("Expected a number at character %d.",
									 (int) (s - input) + 1));
	while (isdigit((unsigned char) *s))
	{
		v = v * 10 + (*s - '0');
		if (v > PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("audience member is out of range: \"%s\"", input),
					 errdetail("Members must be between 0 and 4294967295.")));
		s++;
	}
	*p = s;
	return (uint32) v;
}

static void
SkipSpace(const char **p)
{
	while (scanner_isspace(**p))
		(*p)++;
}

/* Adds the buffered ids to the set and empties the buffer. */
static void
FlushIds(AudienceSet *set, uint32 *buf, int *n)
{
	if (*n > 0)
		roaring_bitmap_add_many(set->bm, *n, buf);
	*n = 0;
}

/*
 * Text input: '{}' or '{1,2,5-9}', members in any order, duplicates and
 * spaces allowed, ranges inclusive.
 */
PG_FUNCTION_INFO_V1(audience_in);
Datum
audience_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	const char *p = input;
	AudienceSet *set = audience_set_new();
	uint32	   *buf = palloc(ID_BATCH * sizeof(uint32));
	int			n = 0;

	SkipSpace(&p);
	if (*p != '{')
		ReportSyntax(input, "An audience starts with \"{\".");
	p++;
	SkipSpace(&p);
	if (*p != '}')
	{
		for (;;)
		{
			uint32		lo,
						hi;

			SkipSpace(&p);
			lo = ParseMember(input, &p);
			SkipSpace(&p);
			if (*p == '-')
			{
				p++;
				SkipSpace(&p);
				hi = ParseMember(input, &p);
				SkipSpace(&p);
				if (hi < lo)
					ReportSyntax(input, psprintf("Range %u-%u is empty: its start exceeds its end.", lo, hi));
				roaring_bitmap_add_range_closed(set->bm, lo, hi);
			}
			else
			{
				buf[n++] = lo;
				if (n == ID_BATCH)
					FlushIds(set, buf, &n);
			}
			if (*p == ',')
			{
				p++;
				continue;
			}
			if (*p == '}')
				break;
			ReportSyntax(input, *p == '\0' ? "Missing \"}\" at end of input." :
						 psprintf("Unexpected character \"%c\" at character %d.",
								  *p, (int) (p - input) + 1));
		}
	}
	p++;
	SkipSpace(&p);
	if (*p != '\0')
		ReportSyntax(input, psprintf("Junk after closing \"}\" at character %d.",
									 (int) (p - input) + 1));
	FlushIds(set, buf, &n);
	pfree(buf);
	PG_RETURN_AUDIENCE_P(audience_set_serialize_free(set));
}

/* Appends one folded run: "a", "a,b" or "a-b" (runs of three or more fold). */
static void
AppendRun(StringInfo out, uint32 lo, uint32 hi, bool *first)
{
	if (!*first)
		appendStringInfoChar(out, ',');
	*first = false;
	if (lo == hi)
		appendStringInfo(out, "%u", lo);
	else if (hi == lo + 1)
		appendStringInfo(out, "%u,%u", lo, hi);
	else
		appendStringInfo(out, "%u-%u", lo, hi);
}

/* Text output with consecutive runs folded into ranges. */
/*
 * The last member of the run of consecutive members that contains from:
 * galloping, then halving, with range counts (each costs the containers it
 * spans), so that a run of four billion members takes some 60 counts
 * instead of four billion iterator steps.
 */
static uint32
RunEnd(const roaring_bitmap_t *bm, uint32 from)
{
	const uint64 limit = (uint64) PG_UINT32_MAX + 1;
	uint64		end = (uint64) from + 1;	/* [from, end) are members */
	uint64		step = 1;

	while (end + step <= limit && roaring_bitmap_range_cardinality(bm, end, end + step) == step)
	{
		end += step;
		step *= 2;
	}
	for (step /= 2; step > 0; step /= 2)
		if (end + step <= limit && roaring_bitmap_range_cardinality(bm, end, end + step) == step)
			end += step;
	return (uint32) (end - 1);
}

PG_FUNCTION_INFO_V1(audience_out);
Datum
audience_out(PG_FUNCTION_ARGS)
{
	Audience   *a = PG_GETARG_AUDIENCE_P(0);
	AudienceSet *set = audience_set_from(a);
	StringInfoData out;
	roaring_uint32_iterator_t it;
	uint32		buf[ID_BATCH];
	uint32		n;
	bool		have = false;
	bool		first = true;
	uint32		lo = 0,
				hi = 0;

	initStringInfo(&out);
	appendStringInfoChar(&out, '{');
	roaring_init_iterator(set->bm, &it);
	while ((n = roaring_read_uint32_iterator(&it, buf, ID_BATCH)) > 0)
	{
		uint32		i;

		for (i = 0; i < n; i++)
		{
			if (have && buf[i] == hi + 1)
			{
				hi = buf[i];
				continue;
			}
			if (have)
				AppendRun(&out, lo, hi, &first);
			lo = hi = buf[i];
			have = true;
		}
		/* a whole batch inside one run: jump to its end */
		if (n == ID_BATCH && hi - lo >= ID_BATCH)
		{
			hi = RunEnd(set->bm, hi);
			if (hi == PG_UINT32_MAX || !roaring_move_uint32_iterator_equalorlarger(&it, hi + 1))
				break;
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (have)
		AppendRun(&out, lo, hi, &first);
	appendStringInfoChar(&out, '}');
	audience_set_free(set);
	PG_RETURN_CSTRING(out.data);
}

/* Binary output: the stored portable bytes as they are. */
PG_FUNCTION_INFO_V1(audience_send);
Datum
audience_send(PG_FUNCTION_ARGS)
{
	Audience   *a = PG_GETARG_AUDIENCE_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, (const char *) AUDIENCE_BYTES(a), AUDIENCE_NBYTES(a));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Binary input: CRoaring portable bytes, validated before use. */
PG_FUNCTION_INFO_V1(audience_recv);
Datum
audience_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	const char *bytes = buf->data + buf->cursor;
	int			len = buf->len - buf->cursor;

	buf->cursor = buf->len;
	PG_RETURN_AUDIENCE_P(audience_from_untrusted(bytes, len));
}

/* Cast from bytea: the same validation as binary input. */
PG_FUNCTION_INFO_V1(audience_from_bytea);
Datum
audience_from_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);

	PG_RETURN_AUDIENCE_P(audience_from_untrusted(VARDATA_ANY(b),
												 VARSIZE_ANY_EXHDR(b)));
}

/* Checks an int4 destined to be a member: ordinals are never negative. */
static inline uint32
MemberFromInt4(int32 v)
{
	if (v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("audience member must not be negative: %d", v),
				 errhint("Customer ordinals are between 0 and 4294967295.")));
	return (uint32) v;
}

/* Returns a member as int4, refusing ordinals beyond its range. */
static inline int32
MemberToInt4(uint32 v)
{
	if (v > (uint32) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("audience member %u is out of range for type integer", v),
				 errhint("Use segment.to_bigint_array() or segment.ids_bigint() for ordinals above 2147483647.")));
	return (int32) v;
}

/* audience(int4[]): NULL elements are skipped, like aggregates skip NULLs. */
PG_FUNCTION_INFO_V1(audience_from_int4_array);
Datum
audience_from_int4_array(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;
	int			n = 0;
	uint32	   *buf;
	AudienceSet *set;

	deconstruct_array(arr, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &nelems);
	buf = palloc(Max(nelems, 1) * sizeof(uint32));
	for (i = 0; i < nelems; i++)
		if (!nulls[i])
			buf[n++] = MemberFromInt4(DatumGetInt32(elems[i]));
	set = audience_set_new();
	roaring_bitmap_add_many(set->bm, n, buf);
	PG_RETURN_AUDIENCE_P(audience_set_serialize_free(set));
}

/* audience(int8[]): the full ordinal range 0..4294967295. */
PG_FUNCTION_INFO_V1(audience_from_int8_array);
Datum
audience_from_int8_array(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;
	int			n = 0;
	uint32	   *buf;
	AudienceSet *set;

	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &nelems);
	buf = palloc(Max(nelems, 1) * sizeof(uint32));
	for (i = 0; i < nelems; i++)
	{
		int64		v;

		if (nulls[i])
			continue;
		v = DatumGetInt64(elems[i]);
		if (v < 0 || v > PG_UINT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("audience member is out of range: " INT64_FORMAT, v),
					 errhint("Customer ordinals are between 0 and 4294967295.")));
		buf[n++] = (uint32) v;
	}
	set = audience_set_new();
	roaring_bitmap_add_many(set->bm, n, buf);
	PG_RETURN_AUDIENCE_P(audience_set_serialize_free(set));
}

/* Copies all members out in ascending order into a palloc'ed array. */
static uint32 *
AudienceMembers(Audience *a, uint64 *count)
{
	AudienceSet *set = audience_set_from(a);
	uint64		card = roaring_bitmap_get_cardinality(set->bm);
	uint32	   *out;

	if (card > MaxAllocHugeSize / sizeof(uint32))
		elog(ERROR, "audience too large to list");
	out = palloc_extended(Max(card, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	roaring_bitmap_to_uint32_array(set->bm, out);
	audience_set_free(set);
	*count = card;
	return out;
}

/* Builds a 1-D array of an integer type from the members. */
static ArrayType *
MembersToArray(Audience *a, bool bigint)
{
	uint64		count;
	uint32	   *m = AudienceMembers(a, &count);
	Datum	   *d;
	uint64		i;

	if (count > MaxArraySize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("audience has too many members for an array: " UINT64_FORMAT, count),
				 errhint("Use segment.ids() to read the members as rows.")));
	d = palloc_extended(Max(count, 1) * sizeof(Datum), MCXT_ALLOC_HUGE);
	for (i = 0; i < count; i++)
		d[i] = bigint ? Int64GetDatum((int64) m[i]) : Int32GetDatum(MemberToInt4(m[i]));
	pfree(m);
	if (bigint)
		return construct_array(d, count, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	return construct_array(d, count, INT4OID, 4, true, TYPALIGN_INT);
}

PG_FUNCTION_INFO_V1(audience_to_int4_array);
Datum
audience_to_int4_array(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(MembersToArray(PG_GETARG_AUDIENCE_P(0), false));
}

PG_FUNCTION_INFO_V1(audience_to_int8_array);
Datum
audience_to_int8_array(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(MembersToArray(PG_GETARG_AUDIENCE_P(0), true));
}

/*
 * ids(audience) and ids_bigint(audience): members as rows.  The members are
 * read in batches from an iterator so a huge audience streams in constant
 * memory (value-per-call SRF).
 */
typedef struct IdsState
{
	AudienceSet *set;
	roaring_uint32_iterator_t it;
} IdsState;

static Datum
AudienceIds(FunctionCallInfo fcinfo, bool bigint)
{
	FuncCallContext *funcctx;
	IdsState   *st;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		st = palloc(sizeof(IdsState));
		st->set = audience_set_from(PG_GETARG_AUDIENCE_P(0));
		roaring_init_iterator(st->set->bm, &st->it);
		funcctx->user_fctx = st;
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	st = (IdsState *) funcctx->user_fctx;
	if (st->it.has_value)
	{
		uint32		v = st->it.current_value;

		roaring_advance_uint32_iterator(&st->it);
		if (bigint)
			SRF_RETURN_NEXT(funcctx, Int64GetDatum((int64) v));
		SRF_RETURN_NEXT(funcctx, Int32GetDatum(MemberToInt4(v)));
	}
	audience_set_free(st->set);
	SRF_RETURN_DONE(funcctx);
}

PG_FUNCTION_INFO_V1(audience_ids);
Datum
audience_ids(PG_FUNCTION_ARGS)
{
	return AudienceIds(fcinfo, false);
}

PG_FUNCTION_INFO_V1(audience_ids_bigint);
Datum
audience_ids_bigint(PG_FUNCTION_ARGS)
{
	return AudienceIds(fcinfo, true);
}
