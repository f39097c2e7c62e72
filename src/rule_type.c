/*
 * rule_type.c
 *		The segment_rule type (text and binary I/O) and resolve_window().
 *
 * Parsing, printing, serialization and window arithmetic live in the
 * pure-C rule_*.c core; this file only moves bytes between it and
 * PostgreSQL and turns its errors into ereports.
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "pgtime.h"
#include "catalog/pg_type.h"
#include "utils/memutils.h"
#include "utils/array.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/rangetypes.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "catalog.h"
#include "rule_parser.h"
#include "rule_pg.h"
#include "rule_print.h"
#include "rule_serial.h"
#include "segment.h"

static void *
PallocBlock(void *ctx, size_t size)
{
	return MemoryContextAllocExtended((MemoryContext) ctx, size, MCXT_ALLOC_NO_OOM);
}

/* An arena whose blocks live in the current memory context. */
void
rule_pg_arena(RuleArena *arena)
{
	rule_arena_init(arena, PallocBlock, NULL, CurrentMemoryContext);
}

static int
ErrcodeOf(int kind)
{
	switch (kind)
	{
		case RULE_ERR_SYNTAX:
			return ERRCODE_SYNTAX_ERROR;
		case RULE_ERR_INVALID_LITERAL:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case RULE_ERR_LIMIT:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		case RULE_ERR_ENCODING:
			return ERRCODE_CHARACTER_NOT_IN_REPERTOIRE;
		case RULE_ERR_OUT_OF_MEMORY:
			return ERRCODE_OUT_OF_MEMORY;
		default:
			return ERRCODE_DATA_CORRUPTED;
	}
}

/* Raises a core error; the position is within the rule text. */
void
rule_pg_report(const RuleError *err, const char *rule_text)
{
	ereport(ERROR,
			(errcode(ErrcodeOf(err->kind)),
			 errmsg("%s", err->message),
			 err->detail[0] ? errdetail("%s", err->detail) :
			 (err->position > 0 ? errdetail("At character %d of the rule.", err->position) : 0),
			 err->hint[0] ? errhint("%s", err->hint) : 0));
	pg_unreachable();
}

RuleNode *
rule_pg_decode(const SegmentRule *r, RuleArena *arena)
{
	RuleError	err;
	RuleNode   *rule;

	rule_error_clear(&err);
	rule = rule_deserialize((const uint8 *) VARDATA_ANY(r), VARSIZE_ANY_EXHDR(r), arena, &err);
	if (rule == NULL)
		rule_pg_report(&err, NULL);
	return rule;
}

SegmentRule *
rule_pg_encode(const RuleNode *rule)
{
	size_t		len = rule_serialized_size(rule);
	SegmentRule *r = palloc(VARHDRSZ + len);

	SET_VARSIZE(r, VARHDRSZ + len);
	rule_serialize_to(rule, r->data);
	return r;
}

/* Parses rule text into a stored rule. */
static SegmentRule *
RuleFromText(const char *text, size_t len)
{
	RuleArena	arena;
	RuleError	err;
	RuleNode   *rule;
	SegmentRule *result;

	rule_pg_arena(&arena);
	rule_error_clear(&err);
	rule = rule_parse(text, len, &arena, &err);
	if (rule == NULL)
		rule_pg_report(&err, text);
	result = rule_pg_encode(rule);
	rule_arena_destroy(&arena);
	return result;
}

static char *
RuleToText(const SegmentRule *r)
{
	RuleArena	arena;
	RuleNode   *rule;
	size_t		len;
	char	   *text;

	rule_pg_arena(&arena);
	rule = rule_pg_decode(r, &arena);
	text = rule_print(rule, &arena, &len);
	if (text == NULL)
		elog(ERROR, "could not print segment_rule");
	return pnstrdup(text, len);
}

PG_FUNCTION_INFO_V1(segment_rule_in);
Datum
segment_rule_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);

	PG_RETURN_POINTER(RuleFromText(text, strlen(text)));
}

PG_FUNCTION_INFO_V1(segment_rule_out);
Datum
segment_rule_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(RuleToText(PG_GETARG_SEGMENT_RULE_P(0)));
}

/* Binary I/O carries the canonical text, stable across format versions. */
PG_FUNCTION_INFO_V1(segment_rule_recv);
Datum
segment_rule_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			nbytes;
	char	   *text = pq_getmsgtext(buf, buf->len - buf->cursor, &nbytes);

	PG_RETURN_POINTER(RuleFromText(text, nbytes));
}

PG_FUNCTION_INFO_V1(segment_rule_send);
Datum
segment_rule_send(PG_FUNCTION_ARGS)
{
	char	   *text = RuleToText(PG_GETARG_SEGMENT_RULE_P(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendtext(&buf, text, strlen(text));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * The registered time zone (segment.registered_time_zone(): the tenant's, else
 * the customer registration's), from the catalog layer's cache.
 */
static const char *
RegisteredZone(void)
{
	return catalog_registered_zone();
}

/*
 * The zone of calendar days: the one named, else segment.timezone (an
 * explicit override), else the registered zone, else the session's.
 */
pg_tz *
rule_pg_zone(const char *name)
{
	pg_tz	   *tz;

	if (name == NULL || name[0] == '\0')
		name = segment_timezone;
	if (name == NULL || name[0] == '\0')
		name = RegisteredZone();
	if (name == NULL || name[0] == '\0')
		return session_timezone;
	tz = pg_tzset(name);
	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name)));
	return tz;
}

/* The as-of instant as local civil time in tz, and as Unix microseconds. */
void
rule_pg_as_of(TimestampTz as_of, pg_tz *tz, RuleCivilTime *local, int64 *epoch_usec)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("as_of must be a finite timestamp")));
	if (timestamp2tm(as_of, &tzoff, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	local->year = tm.tm_year;
	local->month = tm.tm_mon;
	local->day = tm.tm_mday;
	local->hour = tm.tm_hour;
	local->minute = tm.tm_min;
	local->second = tm.tm_sec;
	local->microsecond = fsec;
	*epoch_usec = as_of + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

/* A resolved bound as timestamptz; local times use tz's rules (DST). */
TimestampTz
rule_pg_bound(const RuleBound *b, pg_tz *tz)
{
	struct pg_tm tm;
	TimestampTz result;
	int			tzoff;

	switch (b->kind)
	{
		case RULE_BOUND_NEG_INFINITY:
			TIMESTAMP_NOBEGIN(result);
			return result;
		case RULE_BOUND_POS_INFINITY:
			TIMESTAMP_NOEND(result);
			return result;
		case RULE_BOUND_ABSOLUTE:
			return b->epoch_usec - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
		default:
			break;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = b->civil.year;
	tm.tm_mon = b->civil.month;
	tm.tm_mday = b->civil.day;
	tm.tm_hour = b->civil.hour;
	tm.tm_min = b->civil.minute;
	tm.tm_sec = b->civil.second;
	tzoff = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, b->civil.microsecond, &tzoff, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("window bound out of range")));
	return result;
}

/*
 * resolve_window(window text, as_of timestamptz, time_zone text): the
 * half-open range a window covers at as_of.
 */
PG_FUNCTION_INFO_V1(segment_resolve_window);
Datum
segment_resolve_window(PG_FUNCTION_ARGS)
{
	text	   *wtext;
	char	   *w;
	TimestampTz as_of;
	pg_tz	   *tz;
	RuleArena	arena;
	RuleError	err;
	RuleWindow *window;
	RuleCivilTime local;
	int64		epoch;
	RuleBound	lo,
				hi;
	RangeBound	lower,
				upper;
	TypeCacheEntry *typcache;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	wtext = PG_GETARG_TEXT_PP(0);
	w = text_to_cstring(wtext);
	as_of = PG_GETARG_TIMESTAMPTZ(1);
	tz = rule_pg_zone(PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)));

	rule_pg_arena(&arena);
	rule_error_clear(&err);
	window = rule_parse_window(w, strlen(w), &arena, &err);
	if (window == NULL)
		rule_pg_report(&err, w);
	rule_pg_as_of(as_of, tz, &local, &epoch);
	if (!rule_resolve_window(window, &local, epoch, &lo, &hi))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("window \"%s\" is out of range at this as-of time", w)));

	typcache = lookup_type_cache(get_fn_expr_rettype(fcinfo->flinfo), TYPECACHE_RANGE_INFO);
	if (typcache->rngelemtype == NULL)
		elog(ERROR, "resolve_window must return a range type");
	lower.val = TimestampTzGetDatum(rule_pg_bound(&lo, tz));
	lower.infinite = lo.kind == RULE_BOUND_NEG_INFINITY;
	lower.inclusive = true;
	lower.lower = true;
	upper.val = TimestampTzGetDatum(rule_pg_bound(&hi, tz));
	upper.infinite = hi.kind == RULE_BOUND_POS_INFINITY;
	upper.inclusive = false;
	upper.lower = false;
	/* SINCE a moment after today: a window holding nothing, as rules read it */
	if (!lower.infinite && !upper.infinite &&
		DatumGetTimestampTz(lower.val) > DatumGetTimestampTz(upper.val))
		PG_RETURN_RANGE_P(make_empty_range(typcache));
	PG_RETURN_RANGE_P(make_range(typcache, &lower, &upper, false));
}

/* Names of one kind of reference, each once, in the order first named. */
typedef struct NameWalk
{
	RuleRefKind kind;
	List	   *names;
} NameWalk;

static bool
CollectName(const RuleRef *ref, void *ctx)
{
	NameWalk   *w = (NameWalk *) ctx;
	ListCell   *lc;

	if (ref->kind != w->kind)
		return true;
	foreach(lc, w->names)
		if (strcmp((char *) lfirst(lc), ref->name) == 0)
			return true;
	w->names = lappend(w->names, pstrdup(ref->name));
	return true;
}

/* Appends "customer", "source:x", "tag:g" or "segment:s" once each. */
static bool
CollectRef(const RuleRef *ref, void *ctx)
{
	List	  **refs = (List **) ctx;
	char	   *item;
	ListCell   *lc;

	switch (ref->kind)
	{
		case RULE_REF_CUSTOMER_COLUMN:
			item = pstrdup("customer");
			break;
		case RULE_REF_SOURCE:
			item = psprintf("source:%s", ref->source);
			break;
		case RULE_REF_TAG_GROUP:
			item = psprintf("tag:%s", ref->name);
			break;
		case RULE_REF_SEGMENT:
			item = psprintf("segment:%s", ref->name);
			break;
		default:
			return true;
	}
	foreach(lc, *refs)
		if (strcmp((char *) lfirst(lc), item) == 0)
			return true;
	*refs = lappend(*refs, item);
	return true;
}

/* Appends what a rule reads to refs (palloc'd strings), each once. */
List *
rule_pg_refs(const RuleNode *rule, List *refs)
{
	(void) rule_collect_refs(rule, CollectRef, &refs);
	/* a rule that may complement reads the customer table (the universe) */
	if (rule_may_complement(rule))
	{
		RuleRef		universe = {.kind = RULE_REF_CUSTOMER_COLUMN};

		(void) CollectRef(&universe, &refs);
	}
	return refs;
}

/*
 * rule_refs(rule): what a rule reads ("customer", "source:orders",
 * "tag:tier", "segment:vip"), so that auto-tagging knows which tables'
 * changes can change a tag.  "customer" also when the rule may complement
 * (NOT, count(...) < 3): its audience depends on who is in the customer
 * table.
 */
PG_FUNCTION_INFO_V1(segment_rule_refs);
Datum
segment_rule_refs(PG_FUNCTION_ARGS)
{
	RuleArena	arena;
	RuleNode   *rule;
	List	   *refs = NIL;
	ArrayBuildState *astate = NULL;
	ListCell   *lc;

	rule_pg_arena(&arena);
	rule = rule_pg_decode(PG_GETARG_SEGMENT_RULE_P(0), &arena);
	refs = rule_pg_refs(rule, NIL);
	foreach(lc, refs)
		astate = accumArrayResult(astate, CStringGetTextDatum((char *) lfirst(lc)), false,
								  TEXTOID, CurrentMemoryContext);
	if (astate == NULL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}

/*
 * rule_segments(rule): the segments a rule reads with IN SEGMENT, so that
 * saved segments can reject cycles and refresh in dependency order.
 */
PG_FUNCTION_INFO_V1(segment_rule_segments);
Datum
segment_rule_segments(PG_FUNCTION_ARGS)
{
	RuleArena	arena;
	RuleNode   *rule;
	NameWalk	w = {.kind = RULE_REF_SEGMENT, .names = NIL};
	ArrayBuildState *astate = NULL;
	ListCell   *lc;

	rule_pg_arena(&arena);
	rule = rule_pg_decode(PG_GETARG_SEGMENT_RULE_P(0), &arena);
	(void) rule_collect_refs(rule, CollectName, &w);
	foreach(lc, w.names)
		astate = accumArrayResult(astate, CStringGetTextDatum((char *) lfirst(lc)), false,
								  TEXTOID, CurrentMemoryContext);
	if (astate == NULL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}

/*
 * rule_snapshots(rule): the snapshot labels a rule reads with IN SNAPSHOT,
 * so that drop_snapshot() can refuse while a saved rule reads one.
 */
PG_FUNCTION_INFO_V1(segment_rule_snapshots);
Datum
segment_rule_snapshots(PG_FUNCTION_ARGS)
{
	RuleArena	arena;
	RuleNode   *rule;
	NameWalk	w = {.kind = RULE_REF_SNAPSHOT, .names = NIL};
	ArrayBuildState *astate = NULL;
	ListCell   *lc;

	rule_pg_arena(&arena);
	rule = rule_pg_decode(PG_GETARG_SEGMENT_RULE_P(0), &arena);
	(void) rule_collect_refs(rule, CollectName, &w);
	foreach(lc, w.names)
		astate = accumArrayResult(astate, CStringGetTextDatum((char *) lfirst(lc)), false,
								  TEXTOID, CurrentMemoryContext);
	if (astate == NULL)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));
	PG_RETURN_DATUM(makeArrayResult(astate, CurrentMemoryContext));
}
