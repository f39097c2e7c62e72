/*
 * autotag_decide.c
 *		Which customers get or lose which value of a group, from its rules'
 *		audiences and the current holders; applying and logging that.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "catalog.h"

#include "autotag_int.h"

AudienceSet *
AutotagCopy(const AudienceSet *a)
{
	return audience_set_adopt(roaring_bitmap_copy(a->bm));
}

/* Removes (APPLY_REMOVE) or adds (APPLY_ADD) one value's automatic tags, logged. */
void
AutotagApply(SPIPlanPtr plan, int32 tag_id, const char *tenant, const char *group, const char *value,
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
void
AutotagDecideGroup(AutoCatalog *cat, const AutoGroup *g, AudienceSet **helds, AudienceSet **autos,
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
		AutotagApply(AutotagStatementPlan(cat, APPLY_REMOVE), g->values[k].id, g->tenant, g->name, g->values[k].value,
			  rems[k]);
		roaring_bitmap_or_inplace(res->changed->bm, rems[k]->bm);
		res->removed += roaring_bitmap_get_cardinality(rems[k]->bm);
	}
	for (k = 0; k < g->nvalues; k++)
	{
		if (!g->values[k].has_rule)
			continue;
		AutotagApply(AutotagStatementPlan(cat, APPLY_ADD), g->values[k].id, g->tenant, g->name, g->values[k].value,
			  wins[k]);
		roaring_bitmap_or_inplace(res->changed->bm, wins[k]->bm);
		res->added += roaring_bitmap_get_cardinality(wins[k]->bm);
	}
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
	AutotagApply(AutotagStatementPlan(&cat, APPLY_REMOVE), tag_id, tenant, group, value, removed);
	AutotagApply(AutotagStatementPlan(&cat, APPLY_ADD), tag_id, tenant, group, value, added);
	SPI_finish();
	PG_RETURN_VOID();
}
