/*
 * tag_store.c
 *		Integrity of segment.tag_members: its tag_id must name a row of
 *		segment.tags, checked once per statement.
 *
 * A foreign key would run one lookup query per inserted row, and
 * re-tagging inserts tens of thousands of members in one statement; this
 * trigger reads the statement's new rows once and looks up their distinct
 * tag ids in one query with a kept plan.  Deleting tags removes their
 * members (a statement trigger on segment.tags, in SQL).
 *
 * Like a foreign key's check, the lookup locks the tag rows FOR KEY SHARE,
 * as the owner of segment.tags and without row-level security: a
 * concurrent DELETE of the tag then waits for this transaction, and its
 * member cleanup sees the new rows, instead of leaving orphan members.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include <stdlib.h>

#include "catalog.h"

/* Existing tags among some ids; kept for the backend (names resolve again on replanning). */
static SPIPlanPtr existing_tags_plan = NULL;

static int
CompareInt32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

/* The distinct tag ids of the statement's new rows, sorted; *n of them. */
static int32 *
NewTagIds(TriggerData *td, int *n)
{
	Tuplestorestate *ts = td->tg_newtable;
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	AttrNumber	att = get_attnum(RelationGetRelid(td->tg_relation), "tag_id");
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int			ptr = tuplestore_alloc_read_pointer(ts, EXEC_FLAG_REWIND);
	int			cap = 16,
				count = 0,
				i,
				distinct = 0;
	int32	   *ids = palloc(sizeof(int32) * cap);

	if (att == InvalidAttrNumber)
		elog(ERROR, "segment.tag_members has no column tag_id");
	tuplestore_select_read_pointer(ts, ptr);
	tuplestore_rescan(ts);
	while (tuplestore_gettupleslot(ts, true, false, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, att, &isnull);

		if (isnull)
			continue;			/* NOT NULL reports it */
		/* most statements write one tag: skip runs of the same id */
		if (count > 0 && ids[count - 1] == DatumGetInt32(d))
			continue;
		if (count == cap)
			ids = repalloc(ids, sizeof(int32) * (cap *= 2));
		ids[count++] = DatumGetInt32(d);
	}
	tuplestore_select_read_pointer(ts, 0);
	ExecDropSingleTupleTableSlot(slot);
	qsort(ids, count, sizeof(int32), CompareInt32);
	for (i = 0; i < count; i++)
		if (distinct == 0 || ids[distinct - 1] != ids[i])
			ids[distinct++] = ids[i];
	*n = distinct;
	return ids;
}

/*
 * Runs the lookup of the tags among ids (an int4[] Datum), locking them
 * FOR KEY SHARE, as the owner of segment.tags with row-level security
 * off, as ri_triggers.c runs a foreign key's check: the inserting role
 * needs no privilege to lock the tags, and sees every tenant's.
 */
static void
LockedTags(Datum param)
{
	Oid			type = INT4ARRAYOID;
	Oid			save_userid;
	int			save_sec_context;
	Oid			tags = catalog_relid("tags");
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(tags));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", tags);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_NOFORCE_RLS);
	if (existing_tags_plan == NULL)
	{
		/* index lookups whatever the ids: the generic plan, never replanned */
		SPIPlanPtr	plan = SPI_prepare_cursor("SELECT t.id FROM segment.tags t WHERE t.id = ANY ($1) "
											  "ORDER BY 1 FOR KEY SHARE OF t",
											  1, &type, CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the tag check");
		existing_tags_plan = plan;
	}
	/* not read-only: the row locks are writes */
	if (SPI_execute_plan(existing_tags_plan, &param, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not check the tags of segment.tag_members");
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * _tag_members_check(): AFTER INSERT / UPDATE FOR EACH STATEMENT with the
 * new rows as a transition table.
 */
PG_FUNCTION_INFO_V1(segment_tag_members_check);
Datum
segment_tag_members_check(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	int32	   *ids;
	Datum	   *elems;
	int			n,
				i;
	Datum		param;
	uint64		row;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) ||
		td->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("segment._tag_members_check() must be fired FOR EACH STATEMENT with a NEW TABLE")));
	ids = NewTagIds(td, &n);
	if (n == 0)
		return PointerGetDatum(NULL);
	elems = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		elems[i] = Int32GetDatum(ids[i]);
	param = PointerGetDatum(construct_array(elems, n, INT4OID, 4, true, TYPALIGN_INT));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	LockedTags(param);
	/* both sorted: the first id without its tag is the one to report */
	for (i = 0, row = 0; i < n; i++, row++)
	{
		bool		isnull;

		if (row < SPI_processed &&
			DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &isnull)) == ids[i])
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("tag %d does not exist", ids[i]),
				 errdetail("Every row of segment.tag_members must name a row of segment.tags.")));
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}
