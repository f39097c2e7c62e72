/*
 * autotag_sql.c
 *		The engine's queries: one per layer of groups (compiled with
 *		rule_compile_many, prepared and kept per local date), the fixed
 *		statements reading holders and applying tags, and reading their
 *		results.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "rule_compile.h"
#include "rule_pg.h"

#include "autotag_int.h"

char *
AutotagText(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

bool
AutotagBool(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

int32
AutotagInt32(int row, int col)
{
	bool		isnull;

	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &isnull));
}

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
SPIPlanPtr
AutotagStatementPlan(AutoCatalog *cat, Statement which)
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
SPIPlanPtr
AutotagLayerPlan(AutoCatalog *cat, bool cache, AmongMode mode, const int *layer, int n,
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

AudienceSet *
AutotagResultSet(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	if (isnull)
		elog(ERROR, "auto-tagging query returned NULL");
	return audience_set_from(DatumGetAudienceP(d));
}

/*
 * The automatic and the other holders of every value of the layer's
 * groups, among the candidates, as arrays by group and value.
 */
void
AutotagLayerHolders(AutoCatalog *cat, AmongMode mode, const int *layer, int n, Datum cand,
			 AudienceSet ***autos, AudienceSet ***others)
{
	SPIPlanPtr	plan = AutotagStatementPlan(cat, (Statement) mode);
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
		int32		id = AutotagInt32(row, 1);
		bool		isauto = AutotagBool(row, 2);
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
