/*
 * autotag_layers.c
 *		Layer scheduling: which pending groups are evaluated together, one
 *		layer's evaluation, and the cascade to the groups reading the tags
 *		that changed; retag()'s entry point.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "rule_compile.h"
#include "rule_privilege.h"

#include "autotag_int.h"

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
bool
AutotagReadsGroup(const AutoGroup *a, const AutoGroup *b)
{
	return strcmp(a->tenant, b->tenant) == 0 && Reads(a, b->tag_ref);
}

bool
AutotagReadsAny(const AutoGroup *g, List *feeds)
{
	ListCell   *lc;

	foreach(lc, feeds)
		if (Reads(g, (const char *) lfirst(lc)))
			return true;
	return false;
}

/* A group pending evaluation, among candidates (NULL: every customer). */
typedef struct Pending
{
	int			group;
	AudienceSet *cand;
} Pending;

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
	plan = AutotagLayerPlan(cat, cache, mode, layer, n, GetCurrentTimestamp(), audience_type, &temporary);
	if (cand != NULL)
		param = PointerGetDatum(audience_set_serialize(cand));
	/*
	 * Not read-only: a fresh snapshot sees the tags earlier layers applied.
	 * As the rules' author (a layer has one, see AutotagCascade): a rule reads no
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
			helds[i][k] = AutotagResultSet(col++);
	}
	if (temporary)
		SPI_freeplan(plan);
	AutotagLayerHolders(cat, mode, layer, n, param, autos, others);
	for (i = 0; i < n; i++)
		AutotagDecideGroup(cat, &cat->groups[layer[i]], helds[i], autos[i], others[i], &results[i]);
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
void
AutotagCascade(AutoCatalog *cat, bool cache, const int *start, int nstart, AudienceSet *cand,
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
				blocked = j != i && AutotagReadsGroup(&cat->groups[pending[i].group],
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

				if (!AutotagReadsGroup(&cat->groups[j], &cat->groups[layer[i]]))
					continue;
				for (p = 0; p < npending && pending[p].group != j; p++)
					;
				if (p == npending)
				{
					pending[npending].group = j;
					pending[npending++].cand = AutotagCopy(results[i].changed);
				}
				else if (pending[p].cand != NULL)
					roaring_bitmap_or_inplace(pending[p].cand->bm, results[i].changed->bm);
			}
		}
	}
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
	autotag_engine_depth++;
	PG_TRY();
	{
		cat = AutotagLoadCatalog(CurrentMemoryContext, false);
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
			AutotagCascade(cat, false, start, nstart, cand, cat->audience_type, &report);
	}
	PG_FINALLY();
	{
		autotag_engine_depth--;
	}
	PG_END_TRY();
	SPI_finish();
	return (Datum) 0;
}
