/*
 * grouped_audience_agg.c
 *		grouped_audience_agg(customer, value, time, kind, op, args, satisfying):
 *		the customers whose per-customer aggregate satisfies a comparison,
 *		as one audience (doc/scale-out.md, "What runs where").
 *
 * A rule's "count(orders WHERE ...) >= 3" is a GROUP BY of the customer,
 * a comparison of each group's value, and an audience of the groups that
 * pass.  PostgreSQL 15's postgres_fdw pushes down either the GROUP BY (and
 * then ships one row per customer) or one aggregate over the whole foreign
 * relation, never both.  This aggregate does the grouping itself, in a
 * hash table customer -> partial value, and applies the comparison when it
 * finishes, so that one pushed-down call per shard sends back one
 * audience.
 *
 * The aggregate kind, the comparison and its literals are arguments of
 * their own: integer constants and an array of the value's type (text
 * arguments built from constants carry a collation, and postgres_fdw
 * refuses to ship an aggregate whose input collation is not a column's).
 * Values compare with their type's btree comparison under the call's
 * collation, as the SQL operators of the compiler's plain form do, and a
 * comparison is true, false or unknown (NULL) as in SQL; satisfying = false
 * returns the customers whose comparison is not true (false or unknown),
 * which the compiler needs for conditions that hold over no rows ("universe
 * minus" those).
 *
 * Memory: the table holds one 40-byte entry per distinct customer seen (in
 * an open-addressing table that doubles when full: 40 to 100 bytes per
 * customer), plus the kept value of a varlena type or a numeric sum's
 * accumulator, in the aggregate's context; it does not spill at work_mem,
 * so it is bounded by the customers of the scanned relation (one shard's).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "fmgr.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#include "audience_agg.h"
#include "grouped_audience_agg.h"

/* Argument positions of the transition function (0 is the state). */
#define ARG_CUSTOMER 1
#define ARG_VALUE 2
#define ARG_TIME 3
#define ARG_KIND 4
#define ARG_OP 5
#define ARG_ARGS 6
#define ARG_SATISFYING 7

typedef struct GroupEntry
{
	uint32		customer;		/* hash key */
	char		status;			/* simplehash's */
	bool		vnull;			/* no value yet (or only NULL values) */
	bool		bigsum;			/* an integer sum overflowed int64: in v as
								 * numeric */
	bool		have_time;		/* first/last: a row with a time was seen */
	int64		count;			/* non-NULL values */
	int64		isum;			/* integer sum while it fits */
	int64		t;				/* first/last: the kept row's time */
	Datum		v;				/* min/max/first/last value; a numeric sum's
								 * NumericAggState (numeric_avg_accum's) */
} GroupEntry;

/* customer -> entry: PostgreSQL's open-addressing hash table (simplehash.h) */
#define SH_PREFIX groups
#define SH_ELEMENT_TYPE GroupEntry
#define SH_KEY_TYPE uint32
#define SH_KEY customer
#define SH_HASH_KEY(tb, key) murmurhash32(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct GroupState
{
	MemoryContext ctx;
	groups_hash *groups;
	GaKind		kind;
	GaOp		op;
	bool		satisfying;
	Oid			vtype;			/* the value argument's type */
	int16		vlen;
	bool		vbyval;
	bool		integer_sum;	/* sum/avg of int2/int4/int8 values */
	FmgrInfo	accum;			/* numeric_avg_accum, for numeric values */
	Oid			ttype;			/* first/last: the time's type */
	Oid			collation;
	FmgrInfo   *cmp;			/* the compared type's btree comparison */
	int			nargs;
	Datum	   *args;
	bool	   *argnulls;
} GroupState;

/* How many literals an operator takes (-1: one or more; IS NULL: any). */
static int
OpArity(GaOp op)
{
	switch (op)
	{
		case GA_OP_IN:
		case GA_OP_NOT_IN:
			return -1;
		case GA_OP_BETWEEN:
		case GA_OP_NOT_BETWEEN:
			return 2;
		case GA_OP_IS_NULL:
		case GA_OP_IS_NOT_NULL:
			return 0;
		default:
			return 1;
	}
}

/* The type an aggregate kind produces from values of type vtype. */
static Oid
ResultType(GaKind kind, Oid vtype)
{
	if (kind == GA_KIND_COUNT)
		return INT8OID;
	if (kind == GA_KIND_SUM || kind == GA_KIND_AVG)
		return NUMERICOID;
	return vtype;
}

static bool
IsIntegerType(Oid t)
{
	return t == INT2OID || t == INT4OID || t == INT8OID;
}

static bool
IsTimeType(Oid t)
{
	return t == DATEOID || t == TIMESTAMPOID || t == TIMESTAMPTZOID;
}

/*
 * Whether an argument is the same for every row: a constant or a query
 * parameter.  The transition function's own expression has placeholders
 * for its arguments, so the call's Aggref is read.
 */
static bool
ArgIsStable(FunctionCallInfo fcinfo, int arg)
{
	Aggref	   *agg = AggGetAggref(fcinfo);
	Node	   *expr;

	if (agg == NULL || list_length(agg->args) < arg)
		return false;
	expr = (Node *) ((TargetEntry *) list_nth(agg->args, arg - 1))->expr;
	return IsA(expr, Const) || (IsA(expr, Param) && ((Param *) expr)->paramkind == PARAM_EXTERN);
}

/* A constant argument's value; kind, op, args and satisfying must not vary. */
static void
CheckConstant(FunctionCallInfo fcinfo, int arg, const char *name)
{
	if (!ArgIsStable(fcinfo, arg))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grouped_audience_agg() needs a constant %s", name),
				 errdetail("The aggregate kind, the comparison, its values and satisfying are the same for every row.")));
	if (PG_ARGISNULL(arg) && arg != ARG_ARGS)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("grouped_audience_agg() %s must not be NULL", name)));
}

/* The kind and comparison, checked against the types of the call. */
static void
ReadShape(FunctionCallInfo fcinfo, GroupState *st)
{
	int32		kind,
				op;

	CheckConstant(fcinfo, ARG_KIND, "kind");
	CheckConstant(fcinfo, ARG_OP, "op");
	CheckConstant(fcinfo, ARG_ARGS, "args");
	CheckConstant(fcinfo, ARG_SATISFYING, "satisfying");
	kind = PG_GETARG_INT32(ARG_KIND);
	op = PG_GETARG_INT32(ARG_OP);
	if (kind < GA_KIND_COUNT || kind > GA_KIND_LAST)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grouped_audience_agg() kind %d is not valid", kind),
				 errhint("Kinds: 0 count, 1 sum, 2 avg, 3 min, 4 max, 5 first, 6 last.")));
	if (op < GA_OP_EQ || op > GA_OP_IS_NOT_NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grouped_audience_agg() op %d is not valid", op),
				 errhint("Comparisons: 0 =, 1 <>, 2 <, 3 <=, 4 >, 5 >=, 6 IN, 7 NOT IN, 8 BETWEEN, 9 NOT BETWEEN, 10 IS NULL, 11 IS NOT NULL.")));
	st->kind = (GaKind) kind;
	st->op = (GaOp) op;
	st->satisfying = PG_GETARG_BOOL(ARG_SATISFYING);
	st->vtype = get_fn_expr_argtype(fcinfo->flinfo, ARG_VALUE);
	get_typlenbyval(st->vtype, &st->vlen, &st->vbyval);
	if ((st->kind == GA_KIND_SUM || st->kind == GA_KIND_AVG) &&
		!IsIntegerType(st->vtype) && st->vtype != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("grouped_audience_agg() sums smallint, integer, bigint or numeric values, not %s",
						format_type_be(st->vtype))));
	st->integer_sum = IsIntegerType(st->vtype);
	if ((st->kind == GA_KIND_SUM || st->kind == GA_KIND_AVG) && !st->integer_sum)
		fmgr_info_cxt(F_NUMERIC_AVG_ACCUM, &st->accum, CurrentMemoryContext);
	if (st->kind == GA_KIND_FIRST || st->kind == GA_KIND_LAST)
	{
		st->ttype = get_fn_expr_argtype(fcinfo->flinfo, ARG_TIME);
		if (!IsTimeType(st->ttype))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("grouped_audience_agg() orders first and last by a date or timestamp, not %s",
							format_type_be(st->ttype))));
	}
}

/* A type's btree comparison function. */
static FmgrInfo *
ComparisonOf(Oid type)
{
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_CMP_PROC_FINFO);

	if (!OidIsValid(tc->cmp_proc_finfo.fn_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify a comparison function for type %s", format_type_be(type))));
	return &tc->cmp_proc_finfo;
}

/* The comparison's literals, of the type the kind produces. */
static void
ReadArgs(FunctionCallInfo fcinfo, GroupState *st)
{
	Oid			rtype = ResultType(st->kind, st->vtype);
	int			arity = OpArity(st->op);
	ArrayType  *arr;
	int16		len;
	bool		byval;
	char		align;

	st->nargs = 0;
	if (arity == 0)
		return;
	if (PG_ARGISNULL(ARG_ARGS))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("grouped_audience_agg() args must not be NULL for this comparison")));
	arr = PG_GETARG_ARRAYTYPE_P(ARG_ARGS);
	if (ARR_ELEMTYPE(arr) != rtype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("grouped_audience_agg() compares values of type %s, but args has type %s",
						format_type_be(rtype), format_type_be(get_array_type(ARR_ELEMTYPE(arr)))),
				 errhint("Cast args to %s[].", format_type_be(rtype))));
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("grouped_audience_agg() args must be a one-dimensional array")));
	get_typlenbyvalalign(rtype, &len, &byval, &align);
	deconstruct_array(arr, rtype, len, byval, align, &st->args, &st->argnulls, &st->nargs);
	if ((arity == -1 && st->nargs < 1) || (arity > 0 && st->nargs != arity))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grouped_audience_agg() comparison %d takes %s, not %d", (int) st->op,
						arity == -1 ? "one or more values" : arity == 1 ? "one value" : "two values", st->nargs)));
	st->cmp = ComparisonOf(rtype);
}

static GroupState *
NewState(FunctionCallInfo fcinfo, MemoryContext aggctx)
{
	MemoryContext old = MemoryContextSwitchTo(aggctx);
	GroupState *st = palloc0(sizeof(GroupState));

	st->ctx = aggctx;
	st->collation = PG_GET_COLLATION();
	ReadShape(fcinfo, st);
	ReadArgs(fcinfo, st);
	/* min, max, first and last compare values even under IS NULL */
	if (st->cmp == NULL && st->kind != GA_KIND_COUNT && st->kind != GA_KIND_SUM && st->kind != GA_KIND_AVG)
		st->cmp = ComparisonOf(st->vtype);
	st->groups = groups_create(aggctx, 1024, NULL);
	MemoryContextSwitchTo(old);
	return st;
}

static int
Compare(GroupState *st, Datum a, Datum b)
{
	return DatumGetInt32(FunctionCall2Coll(st->cmp, st->collation, a, b));
}

/* Replaces an entry's kept value by a copy of v in the aggregate context. */
static void
Keep(GroupState *st, GroupEntry *e, Datum v, bool byval, int16 len)
{
	MemoryContext old = MemoryContextSwitchTo(st->ctx);

	if (!e->vnull && !byval)
		pfree(DatumGetPointer(e->v));
	e->v = datumCopy(v, byval, len);
	e->vnull = false;
	MemoryContextSwitchTo(old);
}

/*
 * Adds a numeric value to an entry's sum with avg(numeric)'s own
 * transition function: its accumulator adds in place (no allocation per
 * row, where numeric_add makes a new value each time) and its sum and avg
 * are then exactly sum() and avg()'s.  It allocates its state in the
 * aggregate's context, found through the call's Agg node.
 */
static void
AccumNumeric(FunctionCallInfo fcinfo, GroupState *st, GroupEntry *e, Datum v)
{
	LOCAL_FCINFO(acc, 2);

	InitFunctionCallInfoData(*acc, &st->accum, 2, InvalidOid, fcinfo->context, NULL);
	acc->args[0].value = e->vnull ? (Datum) 0 : e->v;
	acc->args[0].isnull = e->vnull;
	acc->args[1].value = v;
	acc->args[1].isnull = false;
	e->v = FunctionCallInvoke(acc);
	e->vnull = false;
}

/* Adds a sum/avg value: integers in int64 while they fit, numeric after. */
static void
AddToSum(FunctionCallInfo fcinfo, GroupState *st, GroupEntry *e, Datum v)
{
	int64		x;
	int64		r;

	if (!st->integer_sum)
	{
		AccumNumeric(fcinfo, st, e, v);
		return;
	}
	x = st->vtype == INT2OID ? DatumGetInt16(v) : st->vtype == INT4OID ? DatumGetInt32(v) : DatumGetInt64(v);
	if (!e->bigsum && !pg_add_s64_overflow(e->isum, x, &r))
	{
		e->isum = r;
		return;
	}
	if (!e->bigsum)
	{
		/* the int64 sum so far moves to numeric */
		e->bigsum = true;
		e->vnull = true;
		Keep(st, e, NumericGetDatum(int64_to_numeric(e->isum)), false, -1);
	}
	Keep(st, e, DirectFunctionCall2(numeric_add, e->v, NumericGetDatum(int64_to_numeric(x))), false, -1);
}

/* A date or timestamp as an integer that orders like it. */
static int64
TimeValue(Oid type, Datum d)
{
	return type == DATEOID ? (int64) DatumGetDateADT(d) : DatumGetInt64(d);
}

/* first/last: whether a row at time t with value v replaces the kept one. */
static bool
Replaces(GroupState *st, GroupEntry *e, int64 t, Datum v, bool vnull)
{
	if (!e->have_time)
		return true;
	if (t != e->t)
		return st->kind == GA_KIND_LAST ? t > e->t : t < e->t;
	/* a tie: the smaller value, NULL values last */
	if (vnull)
		return false;
	return e->vnull || Compare(st, v, e->v) < 0;
}

/* Adds one row's value to its customer's entry. */
static void
AddRow(FunctionCallInfo fcinfo, GroupState *st, GroupEntry *e)
{
	bool		vnull = PG_ARGISNULL(ARG_VALUE);
	Datum		v = vnull ? (Datum) 0 : PG_GETARG_DATUM(ARG_VALUE);

	switch (st->kind)
	{
		case GA_KIND_COUNT:
			e->count += vnull ? 0 : 1;
			break;
		case GA_KIND_SUM:
		case GA_KIND_AVG:
			if (!vnull)
			{
				e->count++;
				AddToSum(fcinfo, st, e, v);
			}
			break;
		case GA_KIND_MIN:
		case GA_KIND_MAX:
			if (!vnull && (e->vnull || (st->kind == GA_KIND_MIN ? Compare(st, v, e->v) < 0 :
										Compare(st, v, e->v) > 0)))
				Keep(st, e, v, st->vbyval, st->vlen);
			break;
		case GA_KIND_FIRST:
		case GA_KIND_LAST:
			{
				int64		t = TimeValue(st->ttype, PG_GETARG_DATUM(ARG_TIME));

				if (!Replaces(st, e, t, v, vnull))
					break;
				if (vnull)
				{
					if (!e->vnull && !st->vbyval)
						pfree(DatumGetPointer(e->v));
					e->vnull = true;
				}
				else
					Keep(st, e, v, st->vbyval, st->vlen);
				e->t = t;
				e->have_time = true;
			}
			break;
	}
}

PG_FUNCTION_INFO_V1(segment_grouped_audience_trans);

Datum
segment_grouped_audience_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	GroupState *st;
	GroupEntry *e;
	int64		customer;
	uint32		key;
	bool		found;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "grouped_audience_trans called in a non-aggregate context");
	/* a window's frames would call the final function on a growing state */
	if (AggGetAggref(fcinfo) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("grouped_audience_agg() cannot be used as a window function")));
	st = PG_ARGISNULL(0) ? NewState(fcinfo, aggctx) : (GroupState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(ARG_CUSTOMER))
		PG_RETURN_POINTER(st);
	/* first/last: a row without a time takes no part (first_by(), last_by()) */
	if ((st->kind == GA_KIND_FIRST || st->kind == GA_KIND_LAST) && PG_ARGISNULL(ARG_TIME))
		PG_RETURN_POINTER(st);
	customer = PG_GETARG_INT64(ARG_CUSTOMER);
	if (customer < 0 || customer > PG_UINT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("audience member is out of range: " INT64_FORMAT, customer),
				 errhint("Customer ordinals are between 0 and 4294967295.")));
	key = (uint32) customer;
	e = groups_insert(st->groups, key, &found);
	if (!found)
	{
		/* everything after the key and status */
		memset(&e->vnull, 0, sizeof(GroupEntry) - offsetof(GroupEntry, vnull));
		e->vnull = true;
	}
	AddRow(fcinfo, st, e);
	PG_RETURN_POINTER(st);
}

/* An entry's aggregate value (*isnull when it has none). */
static Datum
FinalValue(GroupState *st, GroupEntry *e, bool *isnull)
{
	*isnull = false;
	switch (st->kind)
	{
		case GA_KIND_COUNT:
			return Int64GetDatum(e->count);
		case GA_KIND_SUM:
		case GA_KIND_AVG:
			if (!st->integer_sum)
			{
				/* sum over no values is 0, as the compiler's coalesce(sum, 0) */
				if (e->vnull)
				{
					if (st->kind == GA_KIND_SUM)
						return NumericGetDatum(int64_to_numeric(0));
					break;
				}
				return DirectFunctionCall1(st->kind == GA_KIND_SUM ? numeric_sum : numeric_avg, e->v);
			}
			else
			{
				Datum		sum = e->bigsum ? e->v : NumericGetDatum(int64_to_numeric(e->isum));

				if (st->kind == GA_KIND_SUM)
					return sum;
				if (e->count == 0)
					break;
				/* as avg() of integers computes it: the sum divided by the count */
				return DirectFunctionCall2(numeric_div, sum, NumericGetDatum(int64_to_numeric(e->count)));
			}
		default:
			if (!e->vnull)
				return e->v;
	}
	*isnull = true;
	return (Datum) 0;
}

typedef struct CompareContext
{
	GroupState *st;
	Datum		value;
} CompareContext;

static int
CompareWithArg(void *ctx, int i)
{
	CompareContext *cc = (CompareContext *) ctx;

	return Compare(cc->st, cc->value, cc->st->args[i]);
}

PG_FUNCTION_INFO_V1(segment_grouped_audience_final);

/*
 * The customers whose comparison is true (satisfying) or not true, added
 * to audience_agg's accumulator (unsorted, in the table's order).
 */
Datum
segment_grouped_audience_final(PG_FUNCTION_ARGS)
{
	GroupState *st = PG_ARGISNULL(0) ? NULL : (GroupState *) PG_GETARG_POINTER(0);
	AudienceAggState *members = audience_agg_state_new(CurrentMemoryContext);
	MemoryContext tmp;
	MemoryContext old;
	groups_iterator it;
	GroupEntry *e;

	if (st == NULL)
		PG_RETURN_AUDIENCE_P(audience_agg_state_result(members));
	/* values computed per entry (numeric averages) are freed as we go */
	tmp = AllocSetContextCreate(CurrentMemoryContext, "grouped_audience_final", ALLOCSET_SMALL_SIZES);
	groups_start_iterate(st->groups, &it);
	while ((e = groups_iterate(st->groups, &it)) != NULL)
	{
		CompareContext cc;
		bool		isnull;
		GaTruth		truth;

		old = MemoryContextSwitchTo(tmp);
		cc.st = st;
		cc.value = FinalValue(st, e, &isnull);
		truth = ga_compare(st->op, isnull, st->nargs, st->argnulls, CompareWithArg, &cc);
		MemoryContextSwitchTo(old);
		MemoryContextReset(tmp);
		if ((truth == GA_TRUE) == st->satisfying)
			audience_agg_state_add(members, &e->customer, 1);
	}
	MemoryContextDelete(tmp);
	PG_RETURN_AUDIENCE_P(audience_agg_state_result(members));
}
