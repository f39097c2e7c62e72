/*
 * autotag_trigger.c
 *		The statement trigger: the customers a statement wrote, split by
 *		tenant and locked; the engine run in a subtransaction, group by
 *		group after a failure, and the groups that fail marked stale.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "catalog.h"
#include "rule_compile.h"
#include "segment.h"

#include "autotag_int.h"

/* Table feeds: what the table's rows feed and the columns naming customers. */
static TableFeeds *
TableFeedsOf(AutoCatalog *cat, Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	ListCell   *lc;
	TableFeeds *tf;
	MemoryContext old;
	CatalogFeed *feeds;
	int			nfeeds,
				f;

	foreach(lc, cat->tables)
		if (((TableFeeds *) lfirst(lc))->rel == relid)
			return (TableFeeds *) lfirst(lc);
	old = MemoryContextSwitchTo(cat->cxt);
	nfeeds = catalog_table_feeds(catalog_snapshot(), relid, &feeds);
	tf = palloc0(sizeof(TableFeeds));
	tf->rel = relid;
	tf->cols = palloc(sizeof(AttrNumber) * Max(nfeeds, 1));
	for (f = 0; f < nfeeds; f++)
	{
		AttrNumber	att = get_attnum(relid, feeds[f].customer_column);
		int			i;

		tf->feeds = lappend(tf->feeds, feeds[f].feed);
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
			AutotagReadsAny(&cat->groups[i], feeds))
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
		AutotagCascade(cat, true, groups, n, NULL, cat->audience_type, NULL);
	}
	if (cat->tenant_sql != NULL)
		SetTenant(before);
}

/* Re-tags the statement's customers, tenant by tenant. */
static void
TagStatement(TriggerData *td)
{
	AutoCatalog *cat = AutotagCachedCatalog();
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
		AutotagCascade(cat, true, groups, GroupsReading(cat, "", tf->feeds, groups), keys,
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
			AutotagCascade(cat, true, groups, n, cand, cat->audience_type, NULL);
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
		AutotagMarkStale();
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
	AutoCatalog *cat = AutotagCachedCatalog();
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
		char	   *name = AutotagText(row, 1);

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
	autotag_engine_depth++;
	PG_TRY();
	{
		SafeTagStatement(td);
	}
	PG_FINALLY();
	{
		autotag_engine_depth--;
	}
	PG_END_TRY();
	SPI_finish();
	return PointerGetDatum(NULL);
}
