/*
 * autotag_cache.c
 *		The auto-tagging engine's catalog: the groups that tag
 *		automatically with their decoded rules, read through the catalog
 *		layer (src/catalog.c), and the trigger's copy of it cached per
 *		backend, dropped when the layer's generation moves on.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "rule_pg.h"

#include "autotag_int.h"

/* The trigger's catalog; NULL until first needed. */
static AutoCatalog *cached_catalog = NULL;

int			autotag_engine_depth = 0;

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
AutoCatalog *
AutotagLoadCatalog(MemoryContext parent, bool watch)
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

/* Whatever the cache held may be half-built after an error: read it again. */
void
AutotagMarkStale(void)
{
	if (cached_catalog != NULL)
		cached_catalog->stale = true;
}

/*
 * The trigger's catalog, read again when stale or read by another role;
 * never dropped while an engine call is using it.
 */
AutoCatalog *
AutotagCachedCatalog(void)
{
	(void) catalog_snapshot();	/* takes in the invalidations that arrived */
	if (cached_catalog != NULL && autotag_engine_depth == 1 &&
		(cached_catalog->stale || cached_catalog->generation != catalog_generation() ||
		 cached_catalog->userid != GetUserId()))
	{
		FreeCatalog(cached_catalog);
		cached_catalog = NULL;
	}
	if (cached_catalog == NULL)
	{
		/* read under the current context (an error frees it), then kept */
		cached_catalog = AutotagLoadCatalog(CurrentMemoryContext, true);
		MemoryContextSetParent(cached_catalog->cxt, CacheMemoryContext);
		cached_catalog->cached = true;
	}
	return cached_catalog;
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
