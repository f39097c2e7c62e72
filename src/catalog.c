/*
 * catalog.c
 *		The catalog snapshot: registry and sources read with index scans,
 *		cached per backend, invalidated by one relcache callback; the
 *		tenant, the registered zone, and relation facts from the syscache.
 *
 * The cache is built with the latest snapshot (as PostgreSQL reads its own
 * catalogs), not the transaction's: a snapshot built in a repeatable-read
 * transaction would otherwise outlive it without the rows committed since,
 * whose invalidations were already consumed.  The transaction's own
 * uncommitted changes are seen (their statement triggers invalidate the
 * cache at the next command, and again at abort).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_statistic.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog_int.h"
#include "key_dictionary.h"
#include "segment.h"

/* The extension's tables whose changes make the snapshot stale. */
static const char *const watched_catalogs[] = {
	"customer_registry", "sources", "watches", "tag_groups", "tags", "tag_group_errors",
	"tenant_settings"
};

static CatalogSnapshot *current = NULL;
static MemoryContext current_cxt = NULL;
static bool current_stale = false;
static List *watched = NIL;		/* in current_cxt */
static uint64 generation = 1;
static bool callback_registered = false;

/* The registered zone of one tenant, under one generation. */
static char *zone_tenant = NULL;
static char *zone_value = NULL;
static uint64 zone_generation = 0;

static void
Invalidate(Datum arg, Oid relid)
{
	if (current == NULL || current_stale)
		return;
	if (!OidIsValid(relid) || list_member_oid(watched, relid))
	{
		current_stale = true;
		generation++;
	}
}

uint64
catalog_generation(void)
{
	return generation;
}

Oid
catalog_relid(const char *name)
{
	Oid			nsp = get_namespace_oid("segment", true);

	return OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
}

/* Scan helpers (catalog_int.h) */

Relation
catalog_open(const char *name, bool missing_ok)
{
	Oid			relid = catalog_relid(name);

	if (!OidIsValid(relid))
	{
		if (missing_ok)
			return NULL;
		elog(ERROR, "relation segment.%s does not exist", name);
	}
	return table_open(relid, AccessShareLock);
}

void
catalog_check_select(Relation rel)
{
	AclResult	acl = pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT);

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(rel));
}

/* The same by name, without opening the table. */
void
catalog_check_select_name(const char *name)
{
	Oid			relid = catalog_relid(name);
	AclResult	acl;

	if (!OidIsValid(relid))
		return;
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, name);
}

/* What a query of the caller would see. */
static Snapshot
QuerySnapshot(void)
{
	return ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
}

static SysScanDesc
ScanWith(Relation rel, const char *index, int nkeys, ScanKey keys, Snapshot snapshot)
{
	Oid			indexid = index ? get_relname_relid(index, RelationGetNamespace(rel)) : InvalidOid;

	return systable_beginscan(rel, indexid, OidIsValid(indexid), snapshot, nkeys, keys);
}

SysScanDesc
catalog_scan(Relation rel, const char *index, int nkeys, ScanKey keys)
{
	return ScanWith(rel, index, nkeys, keys, QuerySnapshot());
}

static AttrNumber
ColumnNumber(Relation rel, const char *column)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), column) == 0)
			return i + 1;
	elog(ERROR, "column \"%s\" of %s is missing", column, RelationGetRelationName(rel));
	return InvalidAttrNumber;
}

/* text keys compare in the column's (default) collation, as its index sorts */
void
catalog_text_key(ScanKey key, Relation rel, const char *column, const char *value)
{
	ScanKeyEntryInitialize(key, 0, ColumnNumber(rel, column), BTEqualStrategyNumber, InvalidOid,
						   DEFAULT_COLLATION_OID, F_TEXTEQ, CStringGetTextDatum(value));
}

void
catalog_int4_key(ScanKey key, Relation rel, const char *column, int32 value)
{
	ScanKeyEntryInitialize(key, 0, ColumnNumber(rel, column), BTEqualStrategyNumber, InvalidOid,
						   InvalidOid, F_INT4EQ, Int32GetDatum(value));
}

Datum
catalog_value(HeapTuple tup, Relation rel, const char *column, bool *isnull)
{
	return heap_getattr(tup, ColumnNumber(rel, column), RelationGetDescr(rel), isnull);
}

/* A text or name column as a C string, NULL for NULL. */
char *
catalog_text(HeapTuple tup, Relation rel, const char *column)
{
	AttrNumber	att = ColumnNumber(rel, column);
	bool		isnull;
	Datum		d = heap_getattr(tup, att, RelationGetDescr(rel), &isnull);

	if (isnull)
		return NULL;
	if (TupleDescAttr(RelationGetDescr(rel), att - 1)->atttypid == NAMEOID)
		return pstrdup(NameStr(*DatumGetName(d)));
	return TextDatumGetCString(d);
}

/* Building the snapshot */

static void
ReadRegistry(CatalogRegistry *reg, Snapshot snapshot)
{
	Relation	rel = catalog_open("customer_registry", true);
	SysScanDesc scan;
	HeapTuple	tup;
	bool		isnull;

	if (rel == NULL)
		return;
	scan = ScanWith(rel, NULL, 0, NULL, snapshot);
	if ((tup = systable_getnext(scan)) != NULL)
	{
		reg->registered = true;
		reg->rel = DatumGetObjectId(catalog_value(tup, rel, "rel", &isnull));
		reg->key_column = catalog_text(tup, rel, "key_column");
		reg->key_type = DatumGetObjectId(catalog_value(tup, rel, "key_type", &isnull));
		reg->dictionary = strcmp(catalog_text(tup, rel, "ordinal_mode"), "dictionary") == 0;
		reg->tenant_column = catalog_text(tup, rel, "tenant_column");
		reg->time_zone = catalog_text(tup, rel, "time_zone");
		reg->relkind = get_rel_relkind(reg->rel);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* Whether int2[] array a is exactly {att}. */
static bool
SingleKey(Datum a, AttrNumber att)
{
	ArrayType  *arr = DatumGetArrayTypeP(a);

	return ARR_NDIM(arr) == 1 && ARR_DIMS(arr)[0] == 1 && !ARR_HASNULL(arr) &&
		((int16 *) ARR_DATA_PTR(arr))[0] == att;
}

/* A validated foreign key from rel.col to the customer table's key. */
static bool
ReferencesCustomers(Oid rel, const char *col, const CatalogRegistry *reg)
{
	AttrNumber	att = get_attnum(rel, col);
	AttrNumber	key = reg->registered ? get_attnum(reg->rel, reg->key_column) : InvalidAttrNumber;
	Relation	conrel;
	SysScanDesc scan;
	ScanKeyData skey;
	HeapTuple	tup;
	bool		found = false;

	if (att == InvalidAttrNumber || key == InvalidAttrNumber)
		return false;
	conrel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyInit(&skey, Anum_pg_constraint_conrelid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(rel));
	scan = systable_beginscan(conrel, ConstraintRelidTypidNameIndexId, true, NULL, 1, &skey);
	while (!found && (tup = systable_getnext(scan)) != NULL)
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);
		bool		n1,
					n2;
		Datum		conkey,
					confkey;

		if (con->contype != CONSTRAINT_FOREIGN || !con->convalidated || con->confrelid != reg->rel)
			continue;
		conkey = heap_getattr(tup, Anum_pg_constraint_conkey, RelationGetDescr(conrel), &n1);
		confkey = heap_getattr(tup, Anum_pg_constraint_confkey, RelationGetDescr(conrel), &n2);
		found = !n1 && !n2 && SingleKey(conkey, att) && SingleKey(confkey, key);
	}
	systable_endscan(scan);
	table_close(conrel, AccessShareLock);
	return found;
}

static void
ReadSources(CatalogSnapshot *snap, Snapshot snapshot)
{
	Relation	rel = catalog_open("sources", true);
	SysScanDesc scan;
	HeapTuple	tup;
	int			size = 8;

	snap->sources = palloc0(sizeof(CatalogSource) * size);
	if (rel == NULL)
		return;
	scan = ScanWith(rel, "sources_pkey", 0, NULL, snapshot);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		CatalogSource *s;
		bool		isnull;
		AttrNumber	tatt;

		if (snap->nsources == size)
			snap->sources = repalloc(snap->sources, sizeof(CatalogSource) * (size *= 2));
		s = &snap->sources[snap->nsources++];
		s->name = catalog_text(tup, rel, "name");
		s->rel = DatumGetObjectId(catalog_value(tup, rel, "rel", &isnull));
		s->customer_column = catalog_text(tup, rel, "customer_column");
		s->time_column = catalog_text(tup, rel, "time_column");
		tatt = get_attnum(s->rel, s->time_column);
		s->time_type = tatt == InvalidAttrNumber ? InvalidOid : get_atttype(s->rel, tatt);
		s->references_customers = ReferencesCustomers(s->rel, s->customer_column, &snap->reg);
		watched = lappend_oid(watched, s->rel);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* The base tables standing in for view sources (segment.watch). */
static void
ReadWatches(CatalogSnapshot *snap, Snapshot snapshot)
{
	Relation	rel = catalog_open("watches", true);
	SysScanDesc scan;
	HeapTuple	tup;
	int			size = 4;

	snap->watches = palloc(sizeof(CatalogWatch) * size);
	if (rel == NULL)
		return;
	scan = ScanWith(rel, NULL, 0, NULL, snapshot);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		CatalogWatch *w;
		bool		isnull;

		if (snap->nwatches == size)
			snap->watches = repalloc(snap->watches, sizeof(CatalogWatch) * (size *= 2));
		w = &snap->watches[snap->nwatches++];
		w->source = catalog_text(tup, rel, "source");
		w->base_table = DatumGetObjectId(catalog_value(tup, rel, "base_table", &isnull));
		w->customer_column = catalog_text(tup, rel, "customer_column");
		watched = lappend_oid(watched, w->base_table);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

static CatalogSnapshot *
Build(void)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "segment catalog snapshot",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	/* a parallel worker (resolve_window() is parallel safe) takes no snapshot of its own */
	Snapshot	snapshot = RegisterSnapshot(IsInParallelMode() ? GetActiveSnapshot() : GetLatestSnapshot());
	CatalogSnapshot *snap = palloc0(sizeof(CatalogSnapshot));
	int			i;

	watched = NIL;
	for (i = 0; i < lengthof(watched_catalogs); i++)
		watched = lappend_oid(watched, catalog_relid(watched_catalogs[i]));
	ReadRegistry(&snap->reg, snapshot);
	if (snap->reg.registered)
		watched = lappend_oid(watched, snap->reg.rel);
	ReadSources(snap, snapshot);
	ReadWatches(snap, snapshot);
	UnregisterSnapshot(snapshot);
	MemoryContextSwitchTo(old);
	/* kept past an error only once complete */
	MemoryContextSetParent(cxt, CacheMemoryContext);
	current_cxt = cxt;
	snap->generation = generation;
	return snap;
}

const CatalogSnapshot *
catalog_snapshot(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(Invalidate, (Datum) 0);
		callback_registered = true;
	}
	AcceptInvalidationMessages();
	if (current != NULL && current_stale)
	{
		/* whoever holds the old one may use it until the transaction ends */
		MemoryContextSetParent(current_cxt, TopTransactionContext);
		current = NULL;
		current_cxt = NULL;
		watched = NIL;
	}
	if (current == NULL)
	{
		current = Build();
		current_stale = false;
	}
	return current;
}

/* Adds feed (with its customer column) to feeds unless there. */
static void
AddFeed(CatalogFeed *feeds, int *n, char *feed, const char *column)
{
	int			i;

	for (i = 0; i < *n; i++)
		if (strcmp(feeds[i].feed, feed) == 0 && strcmp(feeds[i].customer_column, column) == 0)
			return;
	feeds[*n].feed = feed;
	feeds[(*n)++].customer_column = pstrdup(column);
}

int
catalog_table_feeds(const CatalogSnapshot *snap, Oid rel, CatalogFeed **feeds)
{
	int			n = 0,
				i;

	*feeds = palloc(sizeof(CatalogFeed) * (snap->nsources + snap->nwatches + 1));
	for (i = 0; i < snap->nsources; i++)
		if (snap->sources[i].rel == rel)
			AddFeed(*feeds, &n, psprintf("source:%s", snap->sources[i].name), snap->sources[i].customer_column);
	for (i = 0; i < snap->nwatches; i++)
		if (snap->watches[i].base_table == rel)
			AddFeed(*feeds, &n, psprintf("source:%s", snap->watches[i].source), snap->watches[i].customer_column);
	if (snap->reg.registered && snap->reg.rel == rel)
		AddFeed(*feeds, &n, pstrdup("customer"), snap->reg.key_column);
	return n;
}

/* The tenant, the zone */

char *
catalog_tenant(void)
{
	List	   *name;
	Oid			fn;
	AclResult	acl;
	Datum		d;

	/*
	 * Without a tenant column and with segment.tenant empty, _tenant() is
	 * '' and its PL/pgSQL call (with a query of its own) is skipped: it was
	 * a fifth of compiling a small rule, called twice per evaluate()
	 */
	if ((segment_tenant == NULL || segment_tenant[0] == '\0') && catalog_snapshot()->reg.tenant_column == NULL)
		return pstrdup("");
	name = list_make2(makeString("segment"), makeString("_tenant"));
	fn = LookupFuncName(name, 0, NULL, false);
	acl = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FUNCTION, get_func_name(fn));
	d = OidFunctionCall0(fn);
	return TextDatumGetCString(d);
}

/* The zone in tenant_settings for tenant, or NULL. */
static char *
TenantZone(const char *tenant)
{
	Relation	rel = catalog_open("tenant_settings", true);
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	char	   *zone = NULL;

	if (rel == NULL || tenant[0] == '\0')
	{
		if (rel)
			table_close(rel, AccessShareLock);
		return NULL;
	}
	catalog_text_key(&key, rel, "tenant", tenant);
	scan = catalog_scan(rel, "tenant_settings_pkey", 1, &key);
	if ((tup = systable_getnext(scan)) != NULL)
		zone = catalog_text(tup, rel, "time_zone");
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return zone;
}

/*
 * As segment.registered_time_zone(), which runs as the owner: a zone is no
 * secret, so no privilege is checked.  Cached per tenant.
 */
const char *
catalog_registered_zone(void)
{
	const CatalogSnapshot *snap = catalog_snapshot();
	const char *tenant = segment_tenant ? segment_tenant : "";
	char	   *zone;

	if (zone_generation == snap->generation && zone_tenant && strcmp(zone_tenant, tenant) == 0)
		return zone_value;
	zone = TenantZone(tenant);
	if (zone == NULL)
		zone = snap->reg.time_zone;
	if (zone_tenant)
		pfree(zone_tenant);
	if (zone_value)
		pfree(zone_value);
	zone_tenant = MemoryContextStrdup(TopMemoryContext, tenant);
	zone_value = zone ? MemoryContextStrdup(TopMemoryContext, zone) : NULL;
	zone_generation = snap->generation;
	return zone_value;
}

/* Relation facts */

/* The planner's idea of a relation's rows (at least 1). */
double
catalog_rel_tuples(Oid rel)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(rel));
	double		n = 1;

	if (HeapTupleIsValid(tup))
	{
		n = Max(((Form_pg_class) GETSTRUCT(tup))->reltuples, 1);
		ReleaseSysCache(tup);
	}
	return n;
}

/*
 * The planner's correlation between a column's values and the physical
 * order of a plain table's rows (pg_stats.correlation, -1 to 1), or 0 when
 * ANALYZE has not computed one: partitioned tables (whose statistics are
 * of the union, not of any one heap) and tables without statistics.
 */
double
catalog_column_correlation(Oid relid, const char *column)
{
	AttrNumber	att = get_attnum(relid, column);
	HeapTuple	tup;
	AttStatsSlot sslot;
	double		corr = 0;

	if (att == InvalidAttrNumber || get_rel_relkind(relid) != RELKIND_RELATION)
		return 0;
	tup = SearchSysCache3(STATRELATTINH, ObjectIdGetDatum(relid), Int16GetDatum(att), BoolGetDatum(false));
	if (!HeapTupleIsValid(tup))
		return 0;
	if (get_attstatsslot(&sslot, tup, STATISTIC_KIND_CORRELATION, InvalidOid, ATTSTATSSLOT_NUMBERS))
	{
		if (sslot.nnumbers == 1)
			corr = sslot.numbers[0];
		free_attstatsslot(&sslot);
	}
	ReleaseSysCache(tup);
	return corr;
}

/*
 * rel.column's collation as SQL ("pg_catalog.\"default\""), when the column
 * is text, varchar or char under a deterministic collation other than C;
 * else NULL.  Such values are equal exactly when their bytes are (bpchar:
 * after its trailing blanks), so sorting them under COLLATE "C" for
 * grouping or counting distinct gives the same groups, with memcmp and
 * abbreviated keys instead of strcoll (PostgreSQL 15 uses no abbreviated
 * keys under other collations): count_distinct over a year of text-keyed
 * orders took 1.6 s so, 2.3 s under C.UTF-8.  The collation returned puts
 * a grouped key back under its own, for the comparisons after grouping.
 * Other collatable types are left alone (citext lowers its values under the
 * collation).
 */
char *
catalog_column_c_sortable(Oid relid, const char *column)
{
	AttrNumber	att = get_attnum(relid, column);
	Oid			type;
	int32		typmod;
	Oid			coll;

	if (att == InvalidAttrNumber || att < 0)
		return NULL;
	get_atttypetypmodcoll(relid, att, &type, &typmod, &coll);
	type = getBaseType(type);
	if (type != TEXTOID && type != VARCHAROID && type != BPCHAROID)
		return NULL;
	if (!OidIsValid(coll) || lc_collate_is_c(coll) || !get_collation_isdeterministic(coll))
		return NULL;
	return generate_collation_name(coll);
}

/* Whether a valid plain index (no predicate, no expression) leads with column. */
bool
catalog_key_indexed(Oid relid, const char *column)
{
	AttrNumber	att = get_attnum(relid, column);
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	bool		found = false;

	if (att == InvalidAttrNumber)
		return false;
	rel = relation_open(relid, AccessShareLock);
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;

		if (!HeapTupleIsValid(tup))
			continue;
		index = (Form_pg_index) GETSTRUCT(tup);
		found = index->indnatts > 0 && index->indkey.values[0] == att && index->indisvalid &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL) &&
			heap_attisnull(tup, Anum_pg_index_indexprs, NULL);
		ReleaseSysCache(tup);
		if (found)
			break;
	}
	list_free(indexes);
	relation_close(rel, NoLock);
	return found;
}

/*
 * Whether the dictionary fits in the backend's cache (segment.
 * dictionary_cache_size), by the planner's size of it.
 */
bool
catalog_dictionary_cached(void)
{
	Oid			relid = key_dictionary_relid();
	HeapTuple	tup;
	double		n;

	if (!OidIsValid(relid))
		return false;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return false;
	n = Max(Max(((Form_pg_class) GETSTRUCT(tup))->reltuples,
				((Form_pg_class) GETSTRUCT(tup))->relpages * 100.0), 1);
	ReleaseSysCache(tup);
	return key_dictionary_cache_fits(n, get_typlen(get_atttype(relid, 2)));
}
