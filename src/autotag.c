/*
 * autotag.c
 *		The auto-tagging engine: re-evaluates the auto rules of tag groups
 *		among candidate customers and applies the difference; behind
 *		retag() and the statement-level triggers on the application's tables.
 *
 * A trigger has to cost little next to the statement that fires it (a
 * one-row INSERT takes about 0.1 ms), so each backend keeps what would
 * otherwise be looked up per statement: the auto groups with their decoded
 * rules, which tables feed which groups, and one prepared query per set of
 * groups evaluated together, returning every rule's audience and every
 * value's current holders in one round trip.  The cache is dropped when a
 * catalog it was read from changes (statement triggers on the extension's
 * tables send a relcache invalidation, which every backend receives at
 * commit) and a prepared query is compiled again when the local date
 * changes, or each time for rules that read the clock (minute and hour
 * windows, now).  retag() shares the code but reads the catalogs afresh,
 * as the calling role sees them.
 *
 * A failure never fails the application's statement: the trigger's work
 * runs in a subtransaction, and when it fails each group is tried alone,
 * so that the groups that can still be evaluated are, and the others are
 * rolled back, recorded as stale in segment.tag_group_errors (with a
 * WARNING) and skipped by the trigger until retag() repairs them.
 * Cancellation, lack of resources and transaction rollbacks (deadlock,
 * serialization failure) still end the statement, as they must.
 *
 * Groups are evaluated in layers: the pending groups none of whose pending
 * peers they read through TAG conditions, all in one query; the customers
 * whose tags changed then make the groups reading them pending, until
 * nothing changes (the rule graph is acyclic, checked when rules are set).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "audience.h"
#include "audience_codec.h"
#include "catalog.h"
#include "rule_compile.h"
#include "rule_pg.h"
#include "rule_privilege.h"
#include "segment.h"

/* A value of a tag group, in the group's order. */
typedef struct AutoValue
{
	int32		id;
	char	   *value;
	bool		has_rule;		/* enabled, with a rule */
	bool		auto_remove;
	int			rule;			/* index into the group's rules, if has_rule */
} AutoValue;

/* A tag group that tags automatically (enabled, allow_auto, some rule). */
typedef struct AutoGroup
{
	int32		id;
	char	   *name;
	char	   *tag_ref;		/* "tag:<name>", as readers' refs name it */
	char	   *tenant;
	bool		exclusive;
	Oid			owner;			/* the rules' author, who they run as */
	bool		clock;			/* some rule reads the time of day */
	int			nvalues;
	AutoValue  *values;
	int			nrules;
	const RuleNode **rules;
	List	   *refs;			/* "customer", "source:x", "tag:g", "segment:s" */
} AutoGroup;

/* What a table's rows feed, and the columns naming their customers. */
typedef struct TableFeeds
{
	Oid			rel;
	List	   *feeds;			/* "customer" or "source:x" */
	int			ncols;
	AttrNumber *cols;
} TableFeeds;

/* A prepared query evaluating a layer, valid on one local date. */
typedef struct LayerPlan
{
	char	   *key;
	SPIPlanPtr	plan;
	pg_tz	   *tz;
	int			year,
				month,
				day;
} LayerPlan;

typedef struct AutoCatalog
{
	MemoryContext cxt;
	Oid			userid;			/* whose view of the catalogs (RLS) */
	bool		stale;
	bool		registered;		/* a customer table is registered */
	bool		dictionary;		/* customer keys map to ordinals */
	Oid			audience_type;
	char	   *tenant_sql;		/* splits candidates by tenant, or NULL */
	int			ngroups;
	AutoGroup  *groups;
	uint64		generation;		/* of the catalog layer it was read under */
	List	   *tables;			/* TableFeeds */
	List	   *plans;			/* LayerPlan */
	bool		cached;			/* the trigger's: plans are kept */
	SPIPlanPtr	statements[5];	/* by Statement, prepared when first run */
} AutoCatalog;

/* The trigger's catalog; NULL until first needed. */
static AutoCatalog *cached_catalog = NULL;

/* Nesting of engine calls: a stale cache is dropped only when none runs. */
static int	engine_depth = 0;

/* A group pending evaluation, among candidates (NULL: every customer). */
typedef struct Pending
{
	int			group;
	AudienceSet *cand;
} Pending;

/* What one group's evaluation changed. */
typedef struct GroupResult
{
	AudienceSet *changed;
	int64		added;
	int64		removed;
} GroupResult;

/* Collects result rows of retag (NULL for the trigger). */
typedef struct Report
{
	Tuplestorestate *store;
	TupleDesc	desc;
} Report;

/* Catalog loading */

static void
FreeCatalog(AutoCatalog *cat)
{
	ListCell   *lc;
	int			i;

	foreach(lc, cat->plans)
		if (((LayerPlan *) lfirst(lc))->plan != NULL)
			SPI_freeplan(((LayerPlan *) lfirst(lc))->plan);
	for (i = 0; i < lengthof(cat->statements); i++)
		if (cat->statements[i] != NULL)
			SPI_freeplan(cat->statements[i]);
	MemoryContextDelete(cat->cxt);
}

static char *
GetText(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

static bool
GetBool(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

static int32
GetInt32(int row, int col)
{
	bool		isnull;

	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull));
}

/* The customer registry: ordinal mode, and how to split candidates by tenant. */
static void
LoadRegistry(AutoCatalog *cat, const CatalogRegistry *reg)
{
	char	   *rel,
			   *key,
			   *tenant;

	if (!reg->registered)
		return;
	cat->registered = true;
	cat->dictionary = reg->dictionary;
	if (reg->tenant_column == NULL)
		return;
	rel = DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(reg->rel)));
	key = pstrdup(quote_identifier(reg->key_column));
	tenant = pstrdup(quote_identifier(reg->tenant_column));
	if (cat->dictionary)
		cat->tenant_sql = psprintf("SELECT c.%s::text, segment.audience_agg(o.ordinal) FROM %s c "
								   "JOIN segment.customer_ordinals o ON o.key = c.%s "
								   "WHERE o.ordinal IN (SELECT segment.ids_bigint($1)) GROUP BY 1",
								   tenant, rel, key);
	else
		cat->tenant_sql = psprintf("SELECT c.%s::text, segment.audience_agg(c.%s::bigint) FROM %s c "
								   "WHERE c.%s IN (SELECT segment.ids_bigint($1)) GROUP BY 1",
								   tenant, key, rel, key);
}

/* Enabled, allowed to tag automatically, with an enabled rule (and not stale). */
static bool
TagsAutomatically(const CatalogGroup *g, bool skip_stale)
{
	int			k;

	if (!g->enabled || !g->allow_auto || (skip_stale && g->stale))
		return false;
	for (k = 0; k < g->ntags; k++)
		if (g->tags[k].enabled && g->tags[k].rule != NULL)
			return true;
	return false;
}

/* A group with all its values, and the decoded rules of the enabled ones. */
static void
LoadGroup(AutoGroup *g, const CatalogGroup *cg, RuleArena *arena)
{
	int			k;

	g->id = cg->id;
	g->name = cg->name;
	g->tag_ref = psprintf("tag:%s", g->name);
	g->tenant = cg->tenant;
	g->exclusive = cg->exclusive;
	g->owner = cg->rule_owner;
	g->values = palloc0(sizeof(AutoValue) * Max(cg->ntags, 1));
	g->rules = palloc0(sizeof(RuleNode *) * Max(cg->ntags, 1));
	for (k = 0; k < cg->ntags; k++)
	{
		const CatalogTag *t = &cg->tags[k];
		AutoValue  *v = &g->values[g->nvalues++];

		v->id = t->id;
		v->value = t->value;
		v->has_rule = t->enabled && t->rule != NULL;
		v->auto_remove = t->auto_remove;
		if (v->has_rule)
		{
			const RuleNode *rule = rule_pg_decode((SegmentRule *) t->rule, arena);

			v->rule = g->nrules;
			g->rules[g->nrules++] = rule;
			g->refs = rule_pg_refs(rule, g->refs);
			g->clock |= rule_uses_clock(rule);
		}
	}
}

/*
 * The groups that tag automatically, each with all its values in order
 * (values without an enabled rule matter to exclusive groups) and the
 * decoded rules of the others.
 */
static void
LoadGroups(AutoCatalog *cat, bool skip_stale)
{
	int			ngroups,
				i;
	CatalogGroup *groups = catalog_tag_groups(&ngroups);
	RuleArena	arena;

	rule_pg_arena(&arena);
	cat->groups = palloc0(sizeof(AutoGroup) * Max(ngroups, 1));
	for (i = 0; i < ngroups; i++)
		if (TagsAutomatically(&groups[i], skip_stale))
			LoadGroup(&cat->groups[cat->ngroups++], &groups[i], &arena);
}

/* Reads the catalogs (inside SPI) into a new context under parent. */
static AutoCatalog *
LoadCatalog(MemoryContext parent, bool watch)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "segment auto-tagging catalog",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	AutoCatalog *cat = palloc0(sizeof(AutoCatalog));

	cat->cxt = cxt;
	cat->userid = GetUserId();
	cat->audience_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("audience"),
									   ObjectIdGetDatum(get_namespace_oid("segment", false)));
	{
		const CatalogSnapshot *snap = catalog_snapshot();

		cat->generation = snap->generation;
		LoadRegistry(cat, &snap->reg);
	}
	/* the trigger skips stale groups; retag() evaluates them to repair them */
	LoadGroups(cat, watch);
	MemoryContextSwitchTo(old);
	return cat;
}

/*
 * The trigger's catalog, read again when stale or read by another role;
 * never dropped while an engine call is using it.
 */
static AutoCatalog *
CachedCatalog(void)
{
	(void) catalog_snapshot();	/* takes in the invalidations that arrived */
	if (cached_catalog != NULL && engine_depth == 1 &&
		(cached_catalog->stale || cached_catalog->generation != catalog_generation() ||
		 cached_catalog->userid != GetUserId()))
	{
		FreeCatalog(cached_catalog);
		cached_catalog = NULL;
	}
	if (cached_catalog == NULL)
	{
		/* read under the current context (an error frees it), then kept */
		cached_catalog = LoadCatalog(CurrentMemoryContext, true);
		MemoryContextSetParent(cached_catalog->cxt, CacheMemoryContext);
		cached_catalog->cached = true;
	}
	return cached_catalog;
}

/* Group relations */

static bool
Reads(const AutoGroup *g, const char *ref)
{
	ListCell   *lc;

	foreach(lc, g->refs)
		if (strcmp((const char *) lfirst(lc), ref) == 0)
			return true;
	return false;
}

/* Whether group a's rules read group b's tags (TAG 'b'). */
static bool
ReadsGroup(const AutoGroup *a, const AutoGroup *b)
{
	return strcmp(a->tenant, b->tenant) == 0 && Reads(a, b->tag_ref);
}

static bool
ReadsAny(const AutoGroup *g, List *feeds)
{
	ListCell   *lc;

	foreach(lc, feeds)
		if (Reads(g, (const char *) lfirst(lc)))
			return true;
	return false;
}

/* Evaluating a layer of groups */

typedef enum AmongMode
{
	AMONG_ALL,					/* every customer */
	AMONG_LIST,					/* a few candidates */
	AMONG_BITMAP				/* many candidates */
} AmongMode;

static const char *
LayerKey(AutoCatalog *cat, AmongMode mode, const int *layer, int n)
{
	StringInfoData key;
	int			i;

	initStringInfo(&key);
	appendStringInfo(&key, "%s|%d", cat->groups[layer[0]].tenant, (int) mode);
	for (i = 0; i < n; i++)
		appendStringInfo(&key, ",%d", cat->groups[layer[i]].id);
	return key.data;
}

/* One query for a layer: the audience of every rule of its groups, scans shared. */
static char *
LayerSql(AutoCatalog *cat, AmongMode mode, const int *layer, int n, TimestampTz as_of)
{
	const RuleNode **rules;
	int			nrules = 0,
				i,
				k;

	for (i = 0; i < n; i++)
		nrules += cat->groups[layer[i]].nrules;
	rules = palloc(sizeof(RuleNode *) * nrules);
	nrules = 0;
	for (i = 0; i < n; i++)
		for (k = 0; k < cat->groups[layer[i]].nrules; k++)
			rules[nrules++] = cat->groups[layer[i]].rules[k];
	return rule_compile_many(rules, nrules, as_of,
							 mode == AMONG_ALL ? RULE_AMONG_NONE : RULE_AMONG_CANDIDATES,
							 mode == AMONG_LIST ? 1 : RULE_AMONG_LIST_MAX + 1);
}

/*
 * The engine's fixed statements.  Holders: current holders of some tags
 * ($1, or $2 among candidates $1), automatic and not, one row per tag and
 * kind.  Apply: automatic tags of tag $1 removed from or added to the
 * customers in $2, logged with tenant $3, group $4, value $5, actor $6; log
 * rows in ordinal order (members are added in that order, removals sort).
 */
typedef enum Statement
{
	HOLDERS_ALL = AMONG_ALL,
	HOLDERS_LIST = AMONG_LIST,
	HOLDERS_BITMAP = AMONG_BITMAP,
	APPLY_REMOVE,
	APPLY_ADD
} Statement;

static const char *const statement_sql[] = {
	[HOLDERS_ALL] = "SELECT m.tag_id, m.source = 'auto', segment.audience_agg(m.ordinal) "
	"FROM segment.tag_members m WHERE m.tag_id = ANY ($1) GROUP BY 1, 2",
	[HOLDERS_LIST] = "SELECT m.tag_id, m.source = 'auto', segment.audience_agg(m.ordinal) "
	"FROM segment.tag_members m WHERE m.tag_id = ANY ($2) AND m.ordinal = ANY ($1::bigint[]) GROUP BY 1, 2",
	[HOLDERS_BITMAP] = "SELECT m.tag_id, m.source = 'auto', segment.audience_agg(m.ordinal) "
	"FROM segment.tag_members m WHERE m.tag_id = ANY ($2) AND $1 OPERATOR(segment.@>) m.ordinal GROUP BY 1, 2",
	[APPLY_REMOVE] = "WITH gone AS (DELETE FROM segment.tag_members m WHERE m.tag_id = $1 AND m.source = 'auto' "
	"AND m.ordinal = ANY ($2::bigint[]) RETURNING m.ordinal) "
	"INSERT INTO segment.tag_log (tenant, group_name, value, ordinal, action, source, actor) "
	"SELECT $3, $4, $5, gone.ordinal, 'remove', 'auto', $6 FROM gone ORDER BY gone.ordinal",
	[APPLY_ADD] = "WITH fresh AS (INSERT INTO segment.tag_members (tag_id, ordinal, source) "
	"SELECT $1, i, 'auto' FROM segment.ids_bigint($2) i ON CONFLICT (tag_id, ordinal) DO NOTHING "
	"RETURNING ordinal) "
	"INSERT INTO segment.tag_log (tenant, group_name, value, ordinal, action, source, actor) "
	"SELECT $3, $4, $5, fresh.ordinal, 'add', 'auto', $6 FROM fresh"
};

/*
 * A fixed statement, prepared on first use and kept with the catalog (for
 * the trigger's, across statements).  Where the best plan is the same for
 * any parameters (few candidates: index lookups), the generic plan saves
 * planning each time.
 */
static SPIPlanPtr
StatementPlan(AutoCatalog *cat, Statement which)
{
	Oid			types[6] = {cat->audience_type, INT4ARRAYOID};
	int			nargs = 2;
	int			options = 0;
	SPIPlanPtr	plan;

	if (cat->statements[which] != NULL)
		return cat->statements[which];
	switch (which)
	{
		case HOLDERS_ALL:
			types[0] = INT4ARRAYOID;
			nargs = 1;
			break;
		case HOLDERS_LIST:
			options = CURSOR_OPT_GENERIC_PLAN;
			break;
		case HOLDERS_BITMAP:
			break;
		case APPLY_REMOVE:
		case APPLY_ADD:
			/* the plan does not depend on how many: no planning per call */
			options = CURSOR_OPT_GENERIC_PLAN;
			types[0] = INT4OID;
			types[1] = cat->audience_type;
			types[2] = types[3] = types[4] = types[5] = TEXTOID;
			nargs = 6;
			break;
	}
	plan = SPI_prepare_cursor(statement_sql[which], nargs, types, options);
	if (plan == NULL)
		elog(ERROR, "could not prepare an auto-tagging statement: %s", SPI_result_code_string(SPI_result));
	if (cat->cached && SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep an auto-tagging statement");
	cat->statements[which] = plan;
	return plan;
}

/*
 * The prepared query of a layer: from the cache when allowed and still
 * valid for the as-of date, otherwise compiled now (*temporary: the caller
 * frees it).  A few candidates always get the generic plan: index lookups,
 * and no planning per statement.
 */
static SPIPlanPtr
LayerPlanFor(AutoCatalog *cat, bool cache, AmongMode mode, const int *layer, int n,
			 TimestampTz as_of, Oid audience_type, bool *temporary)
{
	pg_tz	   *tz = rule_pg_zone(NULL);
	RuleCivilTime local;
	int64		epoch;
	const char *key = NULL;
	ListCell   *lc;
	LayerPlan  *lp = NULL;
	SPIPlanPtr	plan;
	int			i;
	char	   *sql;

	for (i = 0; i < n && cache; i++)
		cache = !cat->groups[layer[i]].clock;
	rule_pg_as_of(as_of, tz, &local, &epoch);
	if (cache)
	{
		key = LayerKey(cat, mode, layer, n);
		foreach(lc, cat->plans)
		{
			LayerPlan  *p = (LayerPlan *) lfirst(lc);

			if (strcmp(p->key, key) != 0)
				continue;
			if (p->plan != NULL && p->tz == tz && p->year == local.year && p->month == local.month &&
				p->day == local.day)
			{
				*temporary = false;
				return p->plan;
			}
			/* another day (or a compilation that failed): compile again */
			lp = p;
			if (p->plan != NULL)
				SPI_freeplan(p->plan);
			p->plan = NULL;
			break;
		}
	}
	sql = LayerSql(cat, mode, layer, n, as_of);
	plan = SPI_prepare_cursor(sql, mode == AMONG_ALL ? 0 : 1, &audience_type,
							  mode == AMONG_LIST ? CURSOR_OPT_GENERIC_PLAN : 0);
	if (plan == NULL)
		elog(ERROR, "could not prepare the auto-tagging query: %s", SPI_result_code_string(SPI_result));
	*temporary = !cache;
	if (!cache)
		return plan;
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the auto-tagging query");
	if (lp == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(cat->cxt);

		lp = palloc0(sizeof(LayerPlan));
		lp->key = pstrdup(key);
		cat->plans = lappend(cat->plans, lp);
		MemoryContextSwitchTo(old);
	}
	lp->plan = plan;
	lp->tz = tz;
	lp->year = local.year;
	lp->month = local.month;
	lp->day = local.day;
	return plan;
}

static AudienceSet *
ResultSet(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	if (isnull)
		elog(ERROR, "auto-tagging query returned NULL");
	return audience_set_from(DatumGetAudienceP(d));
}

static AudienceSet *
Copy(const AudienceSet *a)
{
	return audience_set_adopt(roaring_bitmap_copy(a->bm));
}

/* Removes (APPLY_REMOVE) or adds (APPLY_ADD) one value's automatic tags, logged. */
static void
Apply(SPIPlanPtr plan, int32 tag_id, const char *tenant, const char *group, const char *value,
	  AudienceSet *who)
{
	Datum		values[6];

	if (roaring_bitmap_is_empty(who->bm))
		return;
	values[0] = Int32GetDatum(tag_id);
	values[1] = PointerGetDatum(audience_set_serialize(who));
	values[2] = CStringGetTextDatum(tenant);
	values[3] = CStringGetTextDatum(group);
	values[4] = CStringGetTextDatum(value);
	values[5] = CStringGetTextDatum(psprintf("rule %s-%s", group, value));
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not apply automatic tags");
}

/*
 * Decides one group from its rules' audiences (helds, by rule) and its
 * values' holders, and applies the difference.  Exclusive groups give
 * each customer the first value (by position) whose rule holds; customers
 * with a manual or imported value in the group, or an automatic value that
 * is disabled or has lost its rule, keep it.  Manual and imported tags are
 * never removed; automatic tags of a value with auto_remove off go only
 * when another value of an exclusive group takes over.  Every removal
 * comes before any addition, so the tag log reads as swaps.
 */
static void
DecideGroup(AutoCatalog *cat, const AutoGroup *g, AudienceSet **helds, AudienceSet **autos,
			AudienceSet **others, GroupResult *res)
{
	AudienceSet *taken = audience_set_new();
	AudienceSet **wins = palloc(sizeof(AudienceSet *) * g->nvalues);
	AudienceSet **rems = palloc(sizeof(AudienceSet *) * g->nvalues);
	int			k;

	res->changed = audience_set_new();
	res->added = res->removed = 0;
	if (g->exclusive)
	{
		for (k = 0; k < g->nvalues; k++)
		{
			roaring_bitmap_or_inplace(taken->bm, others[k]->bm);
			if (!g->values[k].has_rule)
				roaring_bitmap_or_inplace(taken->bm, autos[k]->bm);
		}
	}
	for (k = 0; k < g->nvalues; k++)
	{
		if (!g->values[k].has_rule)
			continue;
		wins[k] = audience_set_adopt(roaring_bitmap_andnot(helds[g->values[k].rule]->bm,
														   g->exclusive ? taken->bm : others[k]->bm));
		if (g->exclusive)
			roaring_bitmap_or_inplace(taken->bm, wins[k]->bm);
	}
	for (k = 0; k < g->nvalues; k++)
	{
		if (!g->values[k].has_rule)
			continue;
		rems[k] = audience_set_adopt(roaring_bitmap_andnot(autos[k]->bm, wins[k]->bm));
		if (!g->values[k].auto_remove)
		{
			/* kept unless another value of an exclusive group won them */
			if (g->exclusive)
			{
				AudienceSet *elsewhere = audience_set_adopt(roaring_bitmap_andnot(taken->bm, wins[k]->bm));

				roaring_bitmap_and_inplace(rems[k]->bm, elsewhere->bm);
				audience_set_free(elsewhere);
			}
			else
				roaring_bitmap_clear(rems[k]->bm);
		}
		roaring_bitmap_andnot_inplace(wins[k]->bm, autos[k]->bm);
		Apply(StatementPlan(cat, APPLY_REMOVE), g->values[k].id, g->tenant, g->name, g->values[k].value,
			  rems[k]);
		roaring_bitmap_or_inplace(res->changed->bm, rems[k]->bm);
		res->removed += roaring_bitmap_get_cardinality(rems[k]->bm);
	}
	for (k = 0; k < g->nvalues; k++)
	{
		if (!g->values[k].has_rule)
			continue;
		Apply(StatementPlan(cat, APPLY_ADD), g->values[k].id, g->tenant, g->name, g->values[k].value,
			  wins[k]);
		roaring_bitmap_or_inplace(res->changed->bm, wins[k]->bm);
		res->added += roaring_bitmap_get_cardinality(wins[k]->bm);
	}
}

/*
 * The automatic and the other holders of every value of the layer's
 * groups, among the candidates, as arrays by group and value.
 */
static void
LayerHolders(AutoCatalog *cat, AmongMode mode, const int *layer, int n, Datum cand,
			 AudienceSet ***autos, AudienceSet ***others)
{
	SPIPlanPtr	plan = StatementPlan(cat, (Statement) mode);
	Datum	   *ids;
	int			nids = 0,
				i,
				k;
	Datum		params[2];
	uint64		row;

	for (i = 0; i < n; i++)
		nids += cat->groups[layer[i]].nvalues;
	ids = palloc(sizeof(Datum) * nids);
	nids = 0;
	for (i = 0; i < n; i++)
	{
		const AutoGroup *g = &cat->groups[layer[i]];

		autos[i] = palloc(sizeof(AudienceSet *) * g->nvalues);
		others[i] = palloc(sizeof(AudienceSet *) * g->nvalues);
		for (k = 0; k < g->nvalues; k++)
		{
			ids[nids++] = Int32GetDatum(g->values[k].id);
			autos[i][k] = audience_set_new();
			others[i][k] = audience_set_new();
		}
	}
	params[0] = cand;
	params[1] = PointerGetDatum(construct_array(ids, nids, INT4OID, 4, true, TYPALIGN_INT));
	if (mode == AMONG_ALL)
		params[0] = params[1];
	if (SPI_execute_plan(plan, params, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the tag holders");
	for (row = 0; row < SPI_processed; row++)
	{
		int32		id = GetInt32(row, 1);
		bool		isauto = GetBool(row, 2);
		bool		isnull;
		Audience   *a = DatumGetAudienceP(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 3, &isnull));

		/* one row per tag and kind (GROUP BY): it replaces the empty set */
		for (i = 0; i < n; i++)
		{
			const AutoGroup *g = &cat->groups[layer[i]];

			for (k = 0; k < g->nvalues; k++)
				if (g->values[k].id == id)
				{
					AudienceSet **slot = isauto ? &autos[i][k] : &others[i][k];

					audience_set_free(*slot);
					*slot = audience_set_from(a);
				}
		}
	}
}

/* Evaluates a layer of groups of one tenant among cand (NULL: all). */
static void
EvaluateLayer(AutoCatalog *cat, bool cache, const int *layer, int n, AudienceSet *cand,
			  Oid audience_type, GroupResult *results)
{
	uint64		count = cand ? roaring_bitmap_get_cardinality(cand->bm) : 0;
	AmongMode	mode = cand == NULL ? AMONG_ALL : count <= RULE_AMONG_LIST_MAX ? AMONG_LIST : AMONG_BITMAP;
	bool		temporary;
	SPIPlanPtr	plan;
	Datum		param = (Datum) 0;
	AudienceSet ***helds = palloc(sizeof(AudienceSet **) * n);
	AudienceSet ***autos = palloc(sizeof(AudienceSet **) * n);
	AudienceSet ***others = palloc(sizeof(AudienceSet **) * n);
	int			col = 1,
				i,
				k;

	/*
	 * As of the moment the engine runs, not the transaction start: rows the
	 * statement stamped with now() are then inside "last n hours" (whose
	 * end, now, is excluded).
	 */
	plan = LayerPlanFor(cat, cache, mode, layer, n, GetCurrentTimestamp(), audience_type, &temporary);
	if (cand != NULL)
		param = PointerGetDatum(audience_set_serialize(cand));
	/*
	 * Not read-only: a fresh snapshot sees the tags earlier layers applied.
	 * As the rules' author (a layer has one, see Cascade): a rule reads no
	 * more than its author could, though the trigger runs as the owner.
	 */
	{
		Oid			owner = cat->groups[layer[0]].owner;
		SegmentUserSwitch sw;
		int			rc;

		if (OidIsValid(owner))
			segment_become(owner, owner, true, &sw);
		PG_TRY();
		{
			rc = SPI_execute_plan(plan, &param, NULL, false, 1);
		}
		PG_FINALLY();
		{
			if (OidIsValid(owner))
				segment_restore(&sw);
		}
		PG_END_TRY();
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "auto-tagging query returned no row");
	}
	for (i = 0; i < n; i++)
	{
		const AutoGroup *g = &cat->groups[layer[i]];

		helds[i] = palloc(sizeof(AudienceSet *) * Max(g->nrules, 1));
		for (k = 0; k < g->nrules; k++)
			helds[i][k] = ResultSet(col++);
	}
	if (temporary)
		SPI_freeplan(plan);
	LayerHolders(cat, mode, layer, n, param, autos, others);
	for (i = 0; i < n; i++)
		DecideGroup(cat, &cat->groups[layer[i]], helds[i], autos[i], others[i], &results[i]);
}

static void
ReportRow(Report *report, const AutoGroup *g, const GroupResult *r)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (report == NULL)
		return;
	values[0] = CStringGetTextDatum(g->name);
	values[1] = Int64GetDatum(r->added);
	values[2] = Int64GetDatum(r->removed);
	tuplestore_putvalues(report->store, report->desc, values, nulls);
}

/*
 * Re-tags the start groups among cand (NULL: all customers) and then,
 * with the customers that changed, the groups reading them, layer by layer.
 */
static void
Cascade(AutoCatalog *cat, bool cache, const int *start, int nstart, AudienceSet *cand,
		Oid audience_type, Report *report)
{
	Pending    *pending = palloc(sizeof(Pending) * Max(cat->ngroups, 1));
	int		   *layer = palloc(sizeof(int) * Max(cat->ngroups, 1));
	GroupResult *results = palloc(sizeof(GroupResult) * Max(cat->ngroups, 1));
	int			npending = 0,
				i,
				j,
				rounds = 0;

	for (i = 0; i < nstart; i++)
	{
		pending[npending].group = start[i];
		pending[npending++].cand = cand;
	}
	while (npending > 0)
	{
		AudienceSet *lcand = audience_set_new();
		bool		all = false;
		int			n = 0,
					kept = 0;

		CHECK_FOR_INTERRUPTS();
		if (++rounds > 10000)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("auto-tagging did not settle")));
		/* the layer: pending groups reading no other pending group */
		for (i = 0; i < npending; i++)
		{
			bool		blocked = false;

			for (j = 0; j < npending && !blocked; j++)
				blocked = j != i && ReadsGroup(&cat->groups[pending[i].group],
											   &cat->groups[pending[j].group]);
			/* one query runs as one role: a layer holds one author's groups */
			blocked |= n > 0 && cat->groups[layer[0]].owner != cat->groups[pending[i].group].owner;
			if (blocked)
			{
				pending[kept++] = pending[i];
				continue;
			}
			layer[n++] = pending[i].group;
			if (pending[i].cand == NULL)
				all = true;
			else
				roaring_bitmap_or_inplace(lcand->bm, pending[i].cand->bm);
		}
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_RECURSION),
					 errmsg("tag groups depend on each other through TAG conditions")));
		npending = kept;
		EvaluateLayer(cat, cache, layer, n, all ? NULL : lcand, audience_type, results);
		for (i = 0; i < n; i++)
		{
			ReportRow(report, &cat->groups[layer[i]], &results[i]);
			if (roaring_bitmap_is_empty(results[i].changed->bm))
				continue;
			/* the groups reading this one, for the customers that changed */
			for (j = 0; j < cat->ngroups; j++)
			{
				int			p;

				if (!ReadsGroup(&cat->groups[j], &cat->groups[layer[i]]))
					continue;
				for (p = 0; p < npending && pending[p].group != j; p++)
					;
				if (p == npending)
				{
					pending[npending].group = j;
					pending[npending++].cand = Copy(results[i].changed);
				}
				else if (pending[p].cand != NULL)
					roaring_bitmap_or_inplace(pending[p].cand->bm, results[i].changed->bm);
			}
		}
	}
}


/* The statement trigger */

/* Table feeds: what the table's rows feed and the columns naming customers. */
static TableFeeds *
TableFeedsOf(AutoCatalog *cat, Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	ListCell   *lc;
	TableFeeds *tf;
	MemoryContext old;
	uint64		row;

	foreach(lc, cat->tables)
		if (((TableFeeds *) lfirst(lc))->rel == relid)
			return (TableFeeds *) lfirst(lc);
	if (SPI_execute_with_args("SELECT feed, customer_column::text FROM segment._table_feeds($1)",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read what table %u feeds", relid);
	old = MemoryContextSwitchTo(cat->cxt);
	tf = palloc0(sizeof(TableFeeds));
	tf->rel = relid;
	tf->cols = palloc(sizeof(AttrNumber) * Max(SPI_processed, 1));
	for (row = 0; row < SPI_processed; row++)
	{
		AttrNumber	att = get_attnum(relid, GetText(row, 2));
		int			i;

		tf->feeds = lappend(tf->feeds, GetText(row, 1));
		if (att == InvalidAttrNumber)
			continue;
		for (i = 0; i < tf->ncols && tf->cols[i] != att; i++)
			;
		if (i == tf->ncols)
			tf->cols[tf->ncols++] = att;
	}
	cat->tables = lappend(cat->tables, tf);
	MemoryContextSwitchTo(old);
	return tf;
}

static bool
IntegerType(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

/* Adds the ordinals in integer columns of a transition table (direct mode). */
static void
AddDirectKeys(Tuplestorestate *ts, TupleDesc desc, const TableFeeds *tf, roaring_bitmap_t *bm)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int			ptr = tuplestore_alloc_read_pointer(ts, EXEC_FLAG_REWIND);

	/* a read pointer of our own: other triggers may be reading this store */
	tuplestore_select_read_pointer(ts, ptr);
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		int			i;

		for (i = 0; i < tf->ncols; i++)
		{
			bool		isnull;
			Datum		d = slot_getattr(slot, tf->cols[i], &isnull);
			Oid			type = TupleDescAttr(desc, tf->cols[i] - 1)->atttypid;
			int64		v;

			if (isnull)
				continue;
			v = type == INT8OID ? DatumGetInt64(d) : type == INT4OID ? DatumGetInt32(d) : DatumGetInt16(d);
			/* rows naming impossible customers are nobody's: skipped */
			if (v >= 0 && v <= (int64) PG_UINT32_MAX)
				roaring_bitmap_add(bm, (uint32) v);
		}
	}
	tuplestore_select_read_pointer(ts, 0);
	ExecDropSingleTupleTableSlot(slot);
}

/* The same through SQL over the transition tables (dictionary keys, other types). */
static void
AddKeysBySql(AutoCatalog *cat, TriggerData *td, const TableFeeds *tf, roaring_bitmap_t *bm)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	const char *tables[2] = {td->tg_newtable ? "segment_new_rows" : NULL,
	td->tg_oldtable ? "segment_old_rows" : NULL};
	int			i,
				t;

	if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition tables");
	for (i = 0; i < tf->ncols; i++)
	{
		const char *col = quote_identifier(NameStr(TupleDescAttr(desc, tf->cols[i] - 1)->attname));

		for (t = 0; t < 2; t++)
		{
			char	   *sql;
			bool		isnull;
			Datum		d;

			if (tables[t] == NULL)
				continue;
			if (cat->dictionary)
				sql = psprintf("SELECT segment.audience_agg(o.ordinal) FROM %s n "
							   "JOIN segment.customer_ordinals o ON o.key = n.%s", tables[t], col);
			else
				sql = psprintf("SELECT segment.audience_agg(n.%s::bigint) FROM %s n "
							   "WHERE n.%s BETWEEN 0 AND 4294967295", col, tables[t], col);
			if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "could not read the transition table");
			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			if (!isnull)
				roaring_bitmap_or_inplace(bm, audience_set_from(DatumGetAudienceP(d))->bm);
		}
	}
}

/* The ordinals of the customers whose rows the statement wrote. */
static AudienceSet *
StatementCustomers(AutoCatalog *cat, TriggerData *td, const TableFeeds *tf)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	AudienceSet *keys = audience_set_new();
	bool		direct = !cat->dictionary;
	int			i;

	for (i = 0; i < tf->ncols && direct; i++)
		direct = IntegerType(TupleDescAttr(desc, tf->cols[i] - 1)->atttypid);
	if (!direct)
		AddKeysBySql(cat, td, tf, keys->bm);
	else
	{
		if (td->tg_newtable)
			AddDirectKeys(td->tg_newtable, desc, tf, keys->bm);
		if (td->tg_oldtable)
			AddDirectKeys(td->tg_oldtable, desc, tf, keys->bm);
	}
	return keys;
}

static bool
BucketOf(uint32 value, void *arg)
{
	((bool *) arg)[value % 256] = true;
	return true;
}

/*
 * Serializes re-tagging of the same customers across transactions: one of
 * 256 advisory locks per customer ordinal, taken in order (no deadlock),
 * so the second transaction evaluates after the first committed and sees
 * its rows (a fresh snapshot per query).  retag() takes all 256
 * (segment._lock_customers).
 */
static void
LockCustomers(const AudienceSet *keys)
{
	bool		buckets[256] = {false};
	int32		space = DatumGetInt32(DirectFunctionCall1Coll(hashtext, DEFAULT_COLLATION_OID,
														   CStringGetTextDatum("segment.tags")));
	int			b;

	if (roaring_bitmap_get_cardinality(keys->bm) >= 256 * 16)
		memset(buckets, true, sizeof(buckets));
	else
		roaring_iterate(keys->bm, BucketOf, buckets);
	for (b = 0; b < 256; b++)
		if (buckets[b])
			DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(space), Int32GetDatum(b));
}

/*
 * While the trigger retries group by group after a failure, the one group
 * it evaluates (its id); 0 otherwise.
 */
static int32 only_group = 0;

/* The groups of a tenant whose rules read what the table feeds. */
static int
GroupsReading(AutoCatalog *cat, const char *tenant, List *feeds, int *out)
{
	int			i,
				n = 0;

	for (i = 0; i < cat->ngroups; i++)
		if ((tenant == NULL || strcmp(cat->groups[i].tenant, tenant) == 0) &&
			(only_group == 0 || cat->groups[i].id == only_group) &&
			ReadsAny(&cat->groups[i], feeds))
			out[n++] = i;
	return n;
}

static void
SetTenant(const char *tenant)
{
	(void) set_config_option("segment.tenant", tenant, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * TRUNCATE leaves no rows to read customers from: every group reading the
 * table is evaluated for everyone, tenant by tenant, as retag() would.
 */
static void
TagTruncate(AutoCatalog *cat, TableFeeds *tf, int *groups)
{
	char	   *before = pstrdup(segment_tenant ? segment_tenant : "");
	AudienceSet *all = audience_set_new();
	int			i;

	roaring_bitmap_add_range_closed(all->bm, 0, 255);
	LockCustomers(all);
	for (i = 0; i < cat->ngroups; i++)
	{
		const char *tenant = cat->groups[i].tenant;
		int			j,
					n;

		/* once per tenant: at its first group reading the table */
		for (j = 0; j < i && strcmp(cat->groups[j].tenant, tenant) != 0; j++)
			;
		if (j < i || (n = GroupsReading(cat, tenant, tf->feeds, groups)) == 0)
			continue;
		if (cat->tenant_sql != NULL)
			SetTenant(tenant);
		Cascade(cat, true, groups, n, NULL, cat->audience_type, NULL);
	}
	if (cat->tenant_sql != NULL)
		SetTenant(before);
}

/* Re-tags the statement's customers, tenant by tenant. */
static void
TagStatement(TriggerData *td)
{
	AutoCatalog *cat = CachedCatalog();
	TableFeeds *tf;
	AudienceSet *keys;
	int		   *groups;
	uint64		row;

	if (!cat->registered)
		return;
	tf = TableFeedsOf(cat, td->tg_relation);
	groups = palloc(sizeof(int) * Max(cat->ngroups, 1));
	if (GroupsReading(cat, NULL, tf->feeds, groups) == 0)
		return;
	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		TagTruncate(cat, tf, groups);
		return;
	}
	keys = StatementCustomers(cat, td, tf);
	if (roaring_bitmap_is_empty(keys->bm))
		return;
	LockCustomers(keys);
	if (cat->tenant_sql == NULL)
	{
		Cascade(cat, true, groups, GroupsReading(cat, "", tf->feeds, groups), keys,
				cat->audience_type, NULL);
		return;
	}
	{
		Datum		param = PointerGetDatum(audience_set_serialize(keys));
		char	   *before = pstrdup(segment_tenant ? segment_tenant : "");
		SPITupleTable *split;

		if (SPI_execute_with_args(cat->tenant_sql, 1, &cat->audience_type, &param, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not split customers by tenant");
		split = SPI_tuptable;
		for (row = 0; row < split->numvals; row++)
		{
			bool		isnull;
			char	   *tenant = SPI_getvalue(split->vals[row], split->tupdesc, 1);
			AudienceSet *cand = audience_set_from(DatumGetAudienceP(SPI_getbinval(split->vals[row],
																				 split->tupdesc, 2, &isnull)));
			int			n;

			if (tenant == NULL)
				continue;		/* customers of no tenant have no tags */
			n = GroupsReading(cat, tenant, tf->feeds, groups);
			if (n == 0)
				continue;
			SetTenant(tenant);
			Cascade(cat, true, groups, n, cand, cat->audience_type, NULL);
		}
		SetTenant(before);
	}
}

/* Errors the trigger must not absorb: the statement has to end. */
static bool
MustPropagate(const ErrorData *err)
{
	int			category = ERRCODE_TO_CATEGORY(err->sqlerrcode);

	return category == ERRCODE_TRANSACTION_ROLLBACK ||
		category == ERRCODE_INSUFFICIENT_RESOURCES ||
		category == ERRCODE_OPERATOR_INTERVENTION ||
		category == ERRCODE_SYSTEM_ERROR;
}

/*
 * Runs fn(arg) in a subtransaction, as PL/pgSQL runs a block with an
 * EXCEPTION clause: NULL when it succeeded; otherwise its work is rolled
 * back and the error is returned (errors that must end the statement are
 * thrown again).
 */
static ErrorData *
InSubtransaction(void (*fn) (void *), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *err = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		err = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		/* whatever the cache held may be half-built: read it again */
		if (cached_catalog != NULL)
			cached_catalog->stale = true;
		if (MustPropagate(err))
			ReThrowError(err);
	}
	PG_END_TRY();
	return err;
}

static void
TagStatementFn(void *arg)
{
	TagStatement((TriggerData *) arg);
}

/* The ids of the groups reading the trigger's table, after a failure. */
typedef struct RetryGroups
{
	TriggerData *td;
	int			n;
	int32	   *ids;
} RetryGroups;

static void
RetryGroupsFn(void *arg)
{
	RetryGroups *r = (RetryGroups *) arg;
	AutoCatalog *cat = CachedCatalog();
	TableFeeds *tf = TableFeedsOf(cat, r->td->tg_relation);
	int		   *groups = palloc(sizeof(int) * Max(cat->ngroups, 1));
	int			i;

	r->n = GroupsReading(cat, NULL, tf->feeds, groups);
	r->ids = palloc(sizeof(int32) * Max(r->n, 1));
	for (i = 0; i < r->n; i++)
		r->ids[i] = cat->groups[groups[i]].id;
}

/*
 * Records groups as stale (segment.stale_tag_groups) and warns: the group
 * with id group_id, or (0) every auto group reading the table.
 */
static void
MarkStale(Relation rel, int32 group_id, const ErrorData *err)
{
	Oid			types[4] = {OIDOID, INT4OID, TEXTOID, TEXTOID};
	Datum		values[4];
	const char *message = err->message ? err->message : "unknown error";
	uint64		row;

	values[0] = ObjectIdGetDatum(RelationGetRelid(rel));
	values[1] = Int32GetDatum(group_id);
	values[2] = CStringGetTextDatum(quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
															   RelationGetRelationName(rel)));
	values[3] = CStringGetTextDatum(message);
	if (SPI_execute_with_args("INSERT INTO segment.tag_group_errors AS e (group_id, relation, error) "
							  "SELECT DISTINCT a.group_id, $3, $4 FROM segment._auto_rules() a "
							  "WHERE CASE WHEN $2 = 0 THEN a.refs && segment._feeds_of($1) ELSE a.group_id = $2 END "
							  "ON CONFLICT (group_id) DO UPDATE "
							  "SET failed_at = clock_timestamp(), relation = excluded.relation, error = excluded.error "
							  "RETURNING (SELECT g.name FROM segment.tag_groups g WHERE g.id = e.group_id)",
							  4, types, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not record the auto-tagging failure");
	for (row = 0; row < SPI_processed; row++)
	{
		char	   *name = GetText(row, 1);

		ereport(WARNING,
				(errcode(err->sqlerrcode),
				 errmsg("auto-tagging of tag group \"%s\" failed; its tags are stale", name),
				 errdetail("%s", message),
				 errhint("The statement on %s went through. Fix the cause, then run segment.retag(%s); "
						 "segment.stale_tag_groups lists the stale groups.",
						 RelationGetRelationName(rel), quote_literal_cstr(name))));
	}
}

/*
 * Never fails the application's statement.  Every group in one
 * subtransaction first (the common case costs one); after a failure each
 * group alone, so that one bad rule leaves the other groups' tags current,
 * and the groups that fail alone are marked stale.
 */
static void
SafeTagStatement(TriggerData *td)
{
	ErrorData  *err = InSubtransaction(TagStatementFn, td);
	RetryGroups retry = {td, 0, NULL};
	int			i;

	if (err == NULL)
		return;
	/* the groups to retry, read afresh; if even that fails, all are stale */
	if (InSubtransaction(RetryGroupsFn, &retry) != NULL)
		retry.n = 0;
	if (retry.n <= 1)
	{
		MarkStale(td->tg_relation, retry.n == 1 ? retry.ids[0] : 0, err);
		return;
	}
	for (i = 0; i < retry.n; i++)
	{
		ErrorData  *one;

		only_group = retry.ids[i];
		PG_TRY();
		{
			one = InSubtransaction(TagStatementFn, td);
		}
		PG_FINALLY();
		{
			only_group = 0;
		}
		PG_END_TRY();
		if (one != NULL)
			MarkStale(td->tg_relation, retry.ids[i], one);
	}
}

/*
 * _autotag_trigger(): AFTER INSERT / UPDATE / DELETE FOR EACH STATEMENT
 * with transition tables (segment_new_rows, segment_old_rows), and AFTER
 * TRUNCATE, installed by segment._sync_triggers() on the tables auto
 * rules read.
 */
PG_FUNCTION_INFO_V1(segment_autotag_trigger);
Datum
segment_autotag_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("segment._autotag_trigger() must be fired AFTER ... FOR EACH STATEMENT")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	engine_depth++;
	PG_TRY();
	{
		SafeTagStatement(td);
	}
	PG_FINALLY();
	{
		engine_depth--;
	}
	PG_END_TRY();
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * _autotag_catalog_changed(): statement trigger on the catalogs the
 * engine caches; every backend drops its cache when this commits.
 */
PG_FUNCTION_INFO_V1(segment_autotag_catalog_changed);
Datum
segment_autotag_catalog_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("segment._autotag_catalog_changed() must be fired as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
	return PointerGetDatum(NULL);
}

/*
 * _retag_cascade(start integer[], cand audience): re-tags the groups with
 * those ids among cand (NULL: every customer) and the groups reading them;
 * one row (tag_group, added, removed) per group evaluation.  Groups that
 * do not tag automatically (disabled, no rules) report no change.
 */
PG_FUNCTION_INFO_V1(segment_retag_cascade);
Datum
segment_retag_cascade(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *ids;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i,
				nstart = 0;
	int		   *start;
	AutoCatalog *cat;
	AudienceSet *cand = NULL;
	Report		report;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	ids = PG_GETARG_ARRAYTYPE_P(0);
	deconstruct_array(ids, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &n);
	if (!PG_ARGISNULL(1))
		cand = audience_set_from(PG_GETARG_AUDIENCE_P(1));
	report.store = rsinfo->setResult;
	report.desc = rsinfo->setDesc;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	engine_depth++;
	PG_TRY();
	{
		cat = LoadCatalog(CurrentMemoryContext, false);
		start = palloc(sizeof(int) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			int			g;
			GroupResult none = {NULL, 0, 0};

			if (nulls[i])
				continue;
			for (g = 0; g < cat->ngroups && cat->groups[g].id != DatumGetInt32(elems[i]); g++)
				;
			if (g < cat->ngroups)
				start[nstart++] = g;
			else if (cat->registered)
			{
				AutoGroup	idle;
				char	   *tenant;

				if (!catalog_group_by_id(DatumGetInt32(elems[i]), &tenant, &idle.name))
					continue;
				ReportRow(&report, &idle, &none);
			}
		}
		if (nstart > 0)
			Cascade(cat, false, start, nstart, cand, cat->audience_type, &report);
	}
	PG_FINALLY();
	{
		engine_depth--;
	}
	PG_END_TRY();
	SPI_finish();
	return (Datum) 0;
}

/*
 * _apply_auto(tag integer, added audience, removed audience): removes then
 * adds automatic tags of one value, logged as the rule's; what the engine
 * does for each value, for RFM re-scoring (63_rfm.sql).
 */
PG_FUNCTION_INFO_V1(segment_apply_auto);
Datum
segment_apply_auto(PG_FUNCTION_ARGS)
{
	int32		tag_id = PG_GETARG_INT32(0);
	AudienceSet *added = audience_set_from(PG_GETARG_AUDIENCE_P(1));
	AudienceSet *removed = audience_set_from(PG_GETARG_AUDIENCE_P(2));
	AutoCatalog cat;
	int32		group_id;
	char	   *tenant,
			   *group,
			   *value;

	if (!catalog_tag_by_id(tag_id, &group_id, &value) ||
		!catalog_group_by_id(group_id, &tenant, &group))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("tag %d does not exist", tag_id)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	memset(&cat, 0, sizeof(cat));
	cat.audience_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
	Apply(StatementPlan(&cat, APPLY_REMOVE), tag_id, tenant, group, value, removed);
	Apply(StatementPlan(&cat, APPLY_ADD), tag_id, tenant, group, value, added);
	SPI_finish();
	PG_RETURN_VOID();
}
