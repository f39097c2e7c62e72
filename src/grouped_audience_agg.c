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
 * count_distinct, mode and active_days/weeks/months need each customer's
 * distinct values, not one partial value: a second table holds the
 * distinct (customer, value) pairs, hashed with the value type's hash
 * function and equal by its btree comparison (count(DISTINCT) and mode()'s
 * equality), and for mode how often each pair occurs.  The first insert of
 * a pair counts one more distinct value for its customer; mode's final
 * pass keeps per customer the most frequent value, ties to the smallest,
 * as mode() WITHIN GROUP (ORDER BY value) keeps the first of its sorted
 * runs.  active_* pairs a customer with the number of the local day, week
 * (from Monday, date_trunc('week')) or month of each time value.  The
 * local time of a timestamptz needs the rule's zone, which arrives as the
 * "time" argument, a bytea constant of the zone's name: postgres_fdw ships
 * neither AT TIME ZONE nor a text constant that no column's collation
 * covers, but a bytea has no collation.  The zone is resolved as AT TIME
 * ZONE resolves its text (an abbreviation first, then a zone name), so the
 * days are those of the single node's (e.time AT TIME ZONE 'zone')::date.
 *
 * Memory: the table holds one 40-byte entry per distinct customer seen (in
 * an open-addressing table that doubles when full: 40 to 100 bytes per
 * customer), plus the kept value of a varlena type or a numeric sum's
 * accumulator, in the aggregate's context; count_distinct, mode and
 * active_* add a 32-byte entry per distinct pair (32 to 80 bytes with the
 * table's slack) plus a copy of a varlena value.  It does not spill at
 * work_mem, so it is bounded by the customers (and their distinct values)
 * of the scanned relation, one shard's.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "nodes/primnodes.h"
#include "parser/scansup.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "audience_agg.h"
#include "grouped_audience_agg.h"
#include "grouped_audience_hash.h"

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
	int64		count;			/* non-NULL values; count_distinct, active_*:
								 * distinct values; mode: the kept value's
								 * frequency */
	int64		isum;			/* integer sum while it fits */
	int64		t;				/* first/last: the kept row's time */
	Datum		v;				/* min/max/first/last value; a numeric sum's
								 * NumericAggState (numeric_avg_accum's); mode:
								 * the value of a pair (not owned) */
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

/*
 * A distinct (customer, value) pair of count_distinct and mode, or
 * (customer, period number) of active_*.
 */
typedef struct PairKey
{
	uint32		customer;
	union
	{
		Datum		value;		/* in the aggregate's context */
		int64		period;		/* active_*: a day, week or month number */
	}			u;
} PairKey;

typedef struct PairEntry
{
	PairKey		key;
	uint32		hash;			/* kept: rehashing a value calls its type's
								 * hash function */
	char		status;
	int64		count;			/* rows with the pair (mode) */
} PairEntry;

typedef struct GroupState GroupState;

static uint32 PairHash(GroupState *st, PairKey k);
static bool PairEqual(GroupState *st, PairKey a, PairKey b);

/* (customer, value) -> entry, hashed and compared through the state */
#define SH_PREFIX pairs
#define SH_ELEMENT_TYPE PairEntry
#define SH_KEY_TYPE PairKey
#define SH_KEY key
#define SH_HASH_KEY(tb, k) PairHash((GroupState *) (tb)->private_data, k)
#define SH_EQUAL(tb, a, b) PairEqual((GroupState *) (tb)->private_data, a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * active_* of timestamptz values: the zone, resolved as timestamptz_zone()
 * (AT TIME ZONE) resolves its text.
 */
typedef struct LocalZone
{
	int			type;			/* TZ or DTZ (a fixed offset), DYNTZ (an
								 * abbreviation of a zone), else a zone */
	int			offset;			/* TZ, DTZ: seconds east of UTC */
	pg_tz	   *tz;				/* DYNTZ and zone names */
	char		name[TZ_STRLEN_MAX + 1];
} LocalZone;

struct GroupState
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
	FmgrInfo   *vcmp;			/* the value type's (min, max, first, last,
								 * count_distinct, mode) */
	FmgrInfo   *vhash;			/* count_distinct, mode: its hash function */
	pairs_hash *pairs;			/* count_distinct, mode, active_* */
	bool		modes_kept;		/* mode: the entries hold their values */
	LocalZone	zone;			/* active_* of timestamptz values */
	int			nargs;
	Datum	   *args;
	bool	   *argnulls;
};

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

/* active_days, active_weeks, active_months */
static bool
IsPeriodKind(GaKind kind)
{
	return kind == GA_KIND_ACTIVE_DAYS || kind == GA_KIND_ACTIVE_WEEKS || kind == GA_KIND_ACTIVE_MONTHS;
}

/* Whether a kind keeps the distinct (customer, value) pairs. */
static bool
IsPairKind(GaKind kind)
{
	return kind == GA_KIND_COUNT_DISTINCT || kind == GA_KIND_MODE || IsPeriodKind(kind);
}

/* The type an aggregate kind produces from values of type vtype. */
static Oid
ResultType(GaKind kind, Oid vtype)
{
	if (kind == GA_KIND_COUNT || kind == GA_KIND_COUNT_DISTINCT || IsPeriodKind(kind))
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

/*
 * active_* of timestamptz values: the zone named by the "time" argument,
 * a bytea constant (see the file's comment), looked up as
 * timestamptz_zone() looks up its text: a time zone abbreviation first
 * (fixed or dynamic), else a zone name.
 */
static void
ReadZone(FunctionCallInfo fcinfo, LocalZone *z)
{
	bytea	   *b;
	int			len;
	char	   *low;

	if (!ArgIsStable(fcinfo, ARG_TIME) || get_fn_expr_argtype(fcinfo->flinfo, ARG_TIME) != BYTEAOID ||
		PG_ARGISNULL(ARG_TIME))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grouped_audience_agg() needs the time zone of active_days, active_weeks and active_months of timestamptz values as a constant bytea"),
				 errhint("Pass the zone name's bytes as time, e.g. 'Asia/Shanghai'::bytea.")));
	b = PG_GETARG_BYTEA_PP(ARG_TIME);
	len = VARSIZE_ANY_EXHDR(b);
	if (len == 0 || len > TZ_STRLEN_MAX || memchr(VARDATA_ANY(b), '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grouped_audience_agg() time zone name is not valid"),
				 errdetail("It must have 1 to %d bytes and no zero byte.", TZ_STRLEN_MAX)));
	memcpy(z->name, VARDATA_ANY(b), len);
	z->name[len] = '\0';
	low = downcase_truncate_identifier(z->name, len, false);
	z->type = DecodeTimezoneAbbrev(0, low, &z->offset, &z->tz);
	if (z->type == TZ || z->type == DTZ || z->type == DYNTZ)
		return;
	z->tz = pg_tzset(z->name);
	if (z->tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", z->name)));
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
	if (kind < GA_KIND_COUNT || kind > GA_KIND_ACTIVE_MONTHS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grouped_audience_agg() kind %d is not valid", kind),
				 errhint("Kinds: 0 count, 1 sum, 2 avg, 3 min, 4 max, 5 first, 6 last, 7 count_distinct, 8 mode, "
						 "9 active_days, 10 active_weeks, 11 active_months.")));
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
	if (IsPeriodKind(st->kind))
	{
		if (!IsTimeType(st->vtype))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("grouped_audience_agg() counts the days, weeks and months of a date or timestamp, not %s",
							format_type_be(st->vtype))));
		if (st->vtype == TIMESTAMPTZOID)
			ReadZone(fcinfo, &st->zone);
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

/*
 * The hash function of a type's values that count_distinct and mode can
 * keep: the one of the hash opclass whose equality is the btree one
 * (count(DISTINCT) and mode()'s equality); NULL when there is none.
 */
FmgrInfo *
ga_value_hash(Oid type)
{
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_EQ_OPR | TYPECACHE_HASH_PROC_FINFO);
	RegProcedure hash;

	if (!OidIsValid(tc->hash_proc_finfo.fn_oid) || !OidIsValid(tc->eq_opr) ||
		!get_op_hash_functions(tc->eq_opr, &hash, NULL) || hash != tc->hash_proc_finfo.fn_oid)
		return NULL;
	return &tc->hash_proc_finfo;
}

/*
 * The value type's comparison, for the kinds that compare values (min,
 * max, first and last's ties, mode, count_distinct), and its hash function
 * for those that keep distinct values (ga_value_hash).
 */
static void
ReadValueSupport(GroupState *st)
{
	if (st->kind == GA_KIND_COUNT || st->kind == GA_KIND_SUM || st->kind == GA_KIND_AVG || IsPeriodKind(st->kind))
		return;
	st->vcmp = ComparisonOf(st->vtype);
	if (!IsPairKind(st->kind))
		return;
	st->vhash = ga_value_hash(st->vtype);
	if (st->vhash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify a hash function for type %s", format_type_be(st->vtype)),
				 errdetail("count_distinct and mode keep the distinct values of a type that can be hashed.")));
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
	ReadValueSupport(st);
	st->groups = groups_create(aggctx, 1024, NULL);
	if (IsPairKind(st->kind))
		st->pairs = pairs_create(aggctx, 1024, st);
	MemoryContextSwitchTo(old);
	return st;
}

static int
Compare(GroupState *st, FmgrInfo *cmp, Datum a, Datum b)
{
	return DatumGetInt32(FunctionCall2Coll(cmp, st->collation, a, b));
}

static uint32
PairHash(GroupState *st, PairKey k)
{
	uint32		h;

	if (IsPeriodKind(st->kind))
		h = murmurhash32((uint32) k.u.period ^ (uint32) ((uint64) k.u.period >> 32));
	else
		h = DatumGetUInt32(FunctionCall1Coll(st->vhash, st->collation, k.u.value));
	return hash_combine(murmurhash32(k.customer), h);
}

static bool
PairEqual(GroupState *st, PairKey a, PairKey b)
{
	if (a.customer != b.customer)
		return false;
	if (IsPeriodKind(st->kind))
		return a.u.period == b.u.period;
	return Compare(st, st->vcmp, a.u.value, b.u.value) == 0;
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
	return e->vnull || Compare(st, st->vcmp, v, e->v) < 0;
}

/*
 * Adds a row's pair to the pair table: a new pair is one more distinct
 * value of its customer (count_distinct, active_*), and every row of it
 * one more occurrence (mode).  Returns the pair; *fresh: whether it is new.
 */
static PairEntry *
AddPair(GroupState *st, GroupEntry *e, PairKey k, bool *fresh)
{
	bool		found;
	PairEntry  *p = pairs_insert(st->pairs, k, &found);

	*fresh = !found;
	if (!found)
	{
		p->count = 0;
		if (st->kind != GA_KIND_MODE)
			e->count++;
	}
	p->count++;
	return p;
}

/*
 * count_distinct, mode: a non-NULL value's pair; a new pair keeps a copy
 * of the value (detoasted, so that comparing it later reads it once).
 */
static void
AddValuePair(GroupState *st, GroupEntry *e, Datum v)
{
	PairEntry  *p;
	bool		fresh;

	if (st->vlen == -1)
		v = PointerGetDatum(PG_DETOAST_DATUM_PACKED(v));
	p = AddPair(st, e, (PairKey) {.customer = e->customer, .u.value = v}, &fresh);
	if (fresh && !st->vbyval)
	{
		MemoryContext old = MemoryContextSwitchTo(st->ctx);

		p->key.u.value = datumCopy(v, false, st->vlen);
		MemoryContextSwitchTo(old);
	}
}

/*
 * A timestamptz's local time in the zone, as timestamptz_zone() computes
 * it (the same errors out of range); infinities stay.
 */
static Timestamp
LocalTime(LocalZone *z, TimestampTz t)
{
	Timestamp	local;
	int			tz;

	if (TIMESTAMP_NOT_FINITE(t))
		return t;
	if (z->type == TZ || z->type == DTZ)
		tz = -z->offset;
	else if (z->type == DYNTZ)
	{
		int			isdst;

		tz = DetermineTimeZoneAbbrevOffsetTS(t, z->name, z->tz, &isdst);
	}
	else
	{
		struct pg_tm tm;
		fsec_t		fsec;

		if (timestamp2tm(t, &tz, &tm, &fsec, NULL, z->tz) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
	}
	local = t - (int64) tz * USECS_PER_SEC;
	if (!IS_VALID_TIMESTAMP(local))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return local;
}

/*
 * The number of a time value's period, as the single node's
 * count(DISTINCT ...) sees it: the day of (t AT TIME ZONE zone)::date (a
 * date its own day, a timestamp local already), the Monday of
 * date_trunc('week', ...), the year * 12 + month of date_trunc('month',
 * ...).  Infinite values are a period each, after and before every other.
 */
static int64
Period(GroupState *st, Datum v)
{
	int64		day;
	int			y,
				m,
				d;

	if (st->vtype == DATEOID)
	{
		DateADT		date = DatumGetDateADT(v);

		if (DATE_NOT_FINITE(date))
			return DATE_IS_NOBEGIN(date) ? PG_INT64_MIN : PG_INT64_MAX;
		/* weeks and months truncate date::timestamp, which has a smaller range */
		if (st->kind != GA_KIND_ACTIVE_DAYS && date >= (TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("date out of range for timestamp")));
		day = date;
	}
	else
	{
		Timestamp	t = DatumGetTimestamp(v);

		if (st->vtype == TIMESTAMPTZOID)
			t = LocalTime(&st->zone, t);
		if (TIMESTAMP_NOT_FINITE(t))
			return TIMESTAMP_IS_NOBEGIN(t) ? PG_INT64_MIN : PG_INT64_MAX;
		day = t / USECS_PER_DAY - (t % USECS_PER_DAY < 0 ? 1 : 0);
	}
	switch (st->kind)
	{
		case GA_KIND_ACTIVE_WEEKS:
			/* day 0, 2000-01-01, is a Saturday: 5 days after a Monday */
			return day - (((day + 5) % 7) + 7) % 7;
		case GA_KIND_ACTIVE_MONTHS:
			j2date((int) (day + POSTGRES_EPOCH_JDATE), &y, &m, &d);
			return (int64) y * 12 + m - 1;
		default:
			return day;
	}
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
			if (!vnull && (e->vnull || (st->kind == GA_KIND_MIN ? Compare(st, st->vcmp, v, e->v) < 0 :
										Compare(st, st->vcmp, v, e->v) > 0)))
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
		case GA_KIND_COUNT_DISTINCT:
		case GA_KIND_MODE:
			if (!vnull)
				AddValuePair(st, e, v);
			break;
		case GA_KIND_ACTIVE_DAYS:
		case GA_KIND_ACTIVE_WEEKS:
		case GA_KIND_ACTIVE_MONTHS:
			if (!vnull)
			{
				bool		fresh;

				AddPair(st, e, (PairKey) {.customer = e->customer, .u.period = Period(st, v)}, &fresh);
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
		case GA_KIND_COUNT_DISTINCT:
		case GA_KIND_ACTIVE_DAYS:
		case GA_KIND_ACTIVE_WEEKS:
		case GA_KIND_ACTIVE_MONTHS:
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

	return Compare(cc->st, cc->st->cmp, cc->value, cc->st->args[i]);
}

/*
 * mode: each customer's most frequent value into its entry (v, count),
 * ties to the smallest value; a customer with only NULL values keeps none.
 * Once: the final function may run more than once on one state.
 */
static void
KeepModes(GroupState *st)
{
	pairs_iterator it;
	PairEntry  *p;

	if (st->modes_kept)
		return;
	pairs_start_iterate(st->pairs, &it);
	while ((p = pairs_iterate(st->pairs, &it)) != NULL)
	{
		GroupEntry *e = groups_lookup(st->groups, p->key.customer);

		if (e == NULL)
			elog(ERROR, "grouped_audience_agg() pair without its customer");
		if (e->vnull || p->count > e->count ||
			(p->count == e->count && Compare(st, st->vcmp, p->key.u.value, e->v) < 0))
		{
			e->v = p->key.u.value;
			e->count = p->count;
			e->vnull = false;
		}
	}
	st->modes_kept = true;
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
	if (st->kind == GA_KIND_MODE)
		KeepModes(st);
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
