/*
 * catalog_lookup.c
 *		Look-up-or-error: the customer registration, a source, a tag group,
 *		a tag, a segment, a snapshot, a column.  Each "does not exist" / "not
 *		registered" error is raised by one function here, with what does
 *		exist as a hint, for the C consumers and for the SQL helpers
 *		_customers(), _source(), _group(), _tag(), _segment() and
 *		_snapshot() alike.
 *
 * Rows of tenants (tag groups, their tags, segments) are those of the
 * current tenant (_tenant()), as the row-level security policies would
 * filter them; the SELECT privilege a query would need is checked.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "catalog_int.h"

static void NoCustomers(const char *note) pg_attribute_noreturn();
static void NoSource(const char *name) pg_attribute_noreturn();
static void NoGroup(Relation rel, const char *tenant, const char *name) pg_attribute_noreturn();
static void NoTag(Relation rel, int32 group_id, const char *group, const char *value) pg_attribute_noreturn();
static void NoSegment(Relation rel, const char *tenant, const char *name) pg_attribute_noreturn();
static void NoSnapshot(Relation rel, const char *tenant, const char *label) pg_attribute_noreturn();

/* The errors */

static void
NoCustomers(const char *note)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("no customer table is registered"),
			 note ? errhint("Call segment.register_customers() first; %s.", note)
			 : errhint("Call segment.register_customers() first.")));
}

/*
 * A NULL name is a caller's mistake, not a missing object: say so instead of
 * listing the objects that do exist.
 */
static void
RefuseNullName(const char *name, const char *what)
{
	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
}

static void
NoSource(const char *name)
{
	Relation	rel;
	SysScanDesc scan;
	StringInfoData names;
	HeapTuple	tup;

	RefuseNullName(name, "source name");
	rel = catalog_open("sources", false);
	scan = catalog_scan(rel, "sources_pkey", 0, NULL);
	initStringInfo(&names);
	while ((tup = systable_getnext(scan)) != NULL)
		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "", catalog_text(tup, rel, "name"));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("source \"%s\" does not exist", name),
			 names.len > 0 ? errhint("Registered sources: %s.", names.data)
			 : errhint("No source is registered; use segment.register_source().")));
}

/* A name and a position, to list names in their position order. */
typedef struct Positioned
{
	int32		position;
	char	   *name;
} Positioned;

static int
ByPosition(const void *a, const void *b)
{
	int32		x = ((const Positioned *) a)->position;
	int32		y = ((const Positioned *) b)->position;

	return x < y ? -1 : x > y;
}

/* 'a', 'b', ... of the rows matching key, by position; "" for none. */
static char *
QuotedByPosition(Relation rel, const char *index, ScanKey key, const char *column)
{
	SysScanDesc scan = catalog_scan(rel, index, 1, key);
	Positioned *rows = palloc(sizeof(Positioned) * 16);
	int			n = 0,
				size = 16,
				i;
	HeapTuple	tup;
	StringInfoData out;

	while ((tup = systable_getnext(scan)) != NULL)
	{
		bool		isnull;

		if (n == size)
			rows = repalloc(rows, sizeof(Positioned) * (size *= 2));
		rows[n].position = DatumGetInt32(catalog_value(tup, rel, "position", &isnull));
		rows[n++].name = catalog_text(tup, rel, column);
	}
	systable_endscan(scan);
	qsort(rows, n, sizeof(Positioned), ByPosition);
	initStringInfo(&out);
	for (i = 0; i < n; i++)
		appendStringInfo(&out, "%s%s", i > 0 ? ", " : "", quote_literal_cstr(rows[i].name));
	return out.data;
}

static void
NoGroup(Relation rel, const char *tenant, const char *name)
{
	ScanKeyData key;
	char	   *names;

	RefuseNullName(name, "tag group name");
	catalog_text_key(&key, rel, "tenant", tenant);
	names = QuotedByPosition(rel, "tag_groups_tenant_name_key", &key, "name");
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("tag group \"%s\" does not exist", name),
			 names[0] ? errhint("Tag groups: %s.", names)
			 : errhint("No tag group exists yet; create one with segment.create_tag_group().")));
}

static void
NoTag(Relation rel, int32 group_id, const char *group, const char *value)
{
	ScanKeyData key;
	char	   *names;

	RefuseNullName(value, "tag name");
	catalog_int4_key(&key, rel, "group_id", group_id);
	names = QuotedByPosition(rel, "tags_group_id_value_key", &key, "value");
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("tag \"%s\" does not exist in group \"%s\"", value, group),
			 names[0] ? errhint("Values of \"%s\": %s.", group, names)
			 : errhint("The group has no values yet; add one with segment.add_tag().")));
}

/*
 * 'a', 'b', ... of column of the tenant's rows of rel, in the order of
 * index (a unique index on (tenant, column)); "" for none or no rel.
 */
static char *
QuotedOfTenant(Relation rel, const char *index, const char *tenant, const char *column)
{
	StringInfoData names;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	initStringInfo(&names);
	if (rel == NULL)
		return names.data;
	catalog_text_key(&key, rel, "tenant", tenant);
	scan = catalog_scan(rel, index, 1, &key);
	while ((tup = systable_getnext(scan)) != NULL)
		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
						 quote_literal_cstr(catalog_text(tup, rel, column)));
	systable_endscan(scan);
	return names.data;
}

static void
NoSegment(Relation rel, const char *tenant, const char *name)
{
	char	   *names;

	RefuseNullName(name, "segment name");
	names = QuotedOfTenant(rel, "segments_tenant_name_key", tenant, "name");
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("segment \"%s\" does not exist", name),
			 names[0] ? errhint("Segments: %s.", names)
			 : errhint("No segment exists yet; create one with segment.create_segment().")));
}

static void
NoSnapshot(Relation rel, const char *tenant, const char *label)
{
	char	   *labels;

	RefuseNullName(label, "snapshot label");
	labels = QuotedOfTenant(rel, "snapshots_tenant_label_key", tenant, "label");
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("snapshot \"%s\" does not exist", label),
			 labels[0] ? errhint("Snapshots: %s.", labels)
			 : errhint("No snapshot exists yet; freeze a segment's members with segment.snapshot_segment().")));
}

/* The look-ups */

/* The first row of rel matching nkeys keys, copied; NULL for none. */
static HeapTuple
FindRow(Relation rel, const char *index, int nkeys, ScanKey keys)
{
	SysScanDesc scan = catalog_scan(rel, index, nkeys, keys);
	HeapTuple	tup = systable_getnext(scan);

	if (tup != NULL)
		tup = heap_copytuple(tup);
	systable_endscan(scan);
	return tup;
}

/* The tenant's row of a table keyed by (tenant, name); NULL for none. */
static HeapTuple
FindNamed(Relation rel, const char *index, const char *tenant, const char *name)
{
	ScanKeyData keys[2];

	if (name == NULL)
		return NULL;
	catalog_text_key(&keys[0], rel, "tenant", tenant);
	catalog_text_key(&keys[1], rel, "name", name);
	return FindRow(rel, index, 2, keys);
}

const CatalogRegistry *
catalog_customers(const CatalogSnapshot *snap, const char *hint_note)
{
	catalog_check_select_name("customer_registry");
	if (!snap->reg.registered)
		NoCustomers(hint_note);
	return &snap->reg;
}

const CatalogSource *
catalog_source(const CatalogSnapshot *snap, const char *name)
{
	int			i;

	catalog_check_select_name("sources");
	/* a source whose time column is gone (renamed) cannot be read, as before */
	for (i = 0; i < snap->nsources; i++)
		if (strcmp(snap->sources[i].name, name) == 0 && OidIsValid(snap->sources[i].time_type))
			return &snap->sources[i];
	NoSource(name);
}

/* The tenant's tag group named name, or the error. */
static HeapTuple
GroupRow(Relation rel, const char *name)
{
	char	   *tenant;
	HeapTuple	tup;

	catalog_check_select(rel);
	tenant = catalog_tenant();
	tup = FindNamed(rel, "tag_groups_tenant_name_key", tenant, name);
	if (tup == NULL)
		NoGroup(rel, tenant, name);
	return tup;
}

int32
catalog_group_id(const char *name)
{
	Relation	rel = catalog_open("tag_groups", false);
	HeapTuple	tup = GroupRow(rel, name);
	bool		isnull;
	int32		id = DatumGetInt32(catalog_value(tup, rel, "id", &isnull));

	table_close(rel, AccessShareLock);
	return id;
}

/* The tenant's segment named name, or the error (rel NULL: no catalog yet). */
static HeapTuple
SegmentRow(Relation rel, const char *name)
{
	char	   *tenant;
	HeapTuple	tup = NULL;

	if (rel != NULL)
		catalog_check_select(rel);
	tenant = catalog_tenant();
	if (rel != NULL)
		tup = FindNamed(rel, "segments_tenant_name_key", tenant, name);
	if (tup == NULL)
		NoSegment(rel, tenant, name);
	return tup;
}

int64
catalog_segment_id(const char *name)
{
	Relation	rel = catalog_open("segments", true);
	HeapTuple	tup = SegmentRow(rel, name);
	bool		isnull;
	int64		id = DatumGetInt64(catalog_value(tup, rel, "id", &isnull));

	table_close(rel, AccessShareLock);
	return id;
}

/* The tenant's snapshot labelled label, or the error (rel NULL: no catalog yet). */
static HeapTuple
SnapshotRow(Relation rel, const char *label)
{
	char	   *tenant;
	HeapTuple	tup = NULL;

	if (rel != NULL)
		catalog_check_select(rel);
	tenant = catalog_tenant();
	if (rel != NULL && label != NULL)
	{
		ScanKeyData keys[2];

		catalog_text_key(&keys[0], rel, "tenant", tenant);
		catalog_text_key(&keys[1], rel, "label", label);
		tup = FindRow(rel, "snapshots_tenant_label_key", 2, keys);
	}
	if (tup == NULL)
		NoSnapshot(rel, tenant, label);
	return tup;
}

int64
catalog_snapshot_id(const char *label)
{
	Relation	rel = catalog_open("snapshots", true);
	HeapTuple	tup = SnapshotRow(rel, label);
	bool		isnull;
	int64		id = DatumGetInt64(catalog_value(tup, rel, "id", &isnull));

	table_close(rel, AccessShareLock);
	return id;
}

/* The type of rel.column, or an error with the columns that exist. */
Oid
catalog_column_type(Oid relid, const char *relname, const char *column)
{
	AttrNumber	att = get_attnum(relid, column);
	Relation	rel;
	TupleDesc	desc;
	StringInfoData cols;
	int			i;

	if (att != InvalidAttrNumber && att > 0)
		return get_atttype(relid, att);
	rel = relation_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);
	initStringInfo(&cols);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!a->attisdropped)
			appendStringInfo(&cols, "%s%s %s", cols.len > 0 ? ", " : "", quote_identifier(NameStr(a->attname)),
							 format_type_with_typemod(a->atttypid, a->atttypmod));
	}
	relation_close(rel, NoLock);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column \"%s\" does not exist in %s", column, relname),
			 errhint("Columns of %s: %s.", relname, cols.len > 0 ? cols.data : "(none)")));
}

/* The SQL helpers: the same look-ups, returning the catalog's row */

static char *
TextArg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static Datum
RowDatum(Relation rel, HeapTuple tup)
{
	Datum		d = heap_copy_tuple_as_datum(tup, RelationGetDescr(rel));

	table_close(rel, AccessShareLock);
	return d;
}

/* _customers(note text DEFAULT NULL): the registration, or the error. */
PG_FUNCTION_INFO_V1(segment_catalog_customers);
Datum
segment_catalog_customers(PG_FUNCTION_ARGS)
{
	char	   *note = TextArg(fcinfo, 0);
	Relation	rel = catalog_open("customer_registry", false);
	HeapTuple	tup;

	catalog_check_select(rel);
	if ((tup = FindRow(rel, NULL, 0, NULL)) == NULL)
		NoCustomers(note);
	PG_RETURN_DATUM(RowDatum(rel, tup));
}

/*
 * _column_type(rel, col, what): the type of a column named in a
 * registration, or the error listing the columns (what names the
 * parameter for a NULL column).
 */
PG_FUNCTION_INFO_V1(segment_catalog_column_type);
Datum
segment_catalog_column_type(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	char	   *what = TextArg(fcinfo, 2);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation must not be NULL")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what ? what : "column")));
	PG_RETURN_OID(catalog_column_type(relid,
									  DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(relid))),
									  NameStr(*PG_GETARG_NAME(1))));
}

/* _source(name): a registered source, or the error naming the sources. */
PG_FUNCTION_INFO_V1(segment_catalog_source);
Datum
segment_catalog_source(PG_FUNCTION_ARGS)
{
	char	   *name = TextArg(fcinfo, 0);
	Relation	rel = catalog_open("sources", false);
	ScanKeyData key;
	HeapTuple	tup = NULL;

	catalog_check_select(rel);
	if (name != NULL)
	{
		catalog_text_key(&key, rel, "name", name);
		tup = FindRow(rel, "sources_pkey", 1, &key);
	}
	if (tup == NULL)
		NoSource(name);
	PG_RETURN_DATUM(RowDatum(rel, tup));
}

/* _group(name): the tenant's tag group, or the error naming its groups. */
PG_FUNCTION_INFO_V1(segment_catalog_group);
Datum
segment_catalog_group(PG_FUNCTION_ARGS)
{
	Relation	rel = catalog_open("tag_groups", false);
	HeapTuple	tup = GroupRow(rel, TextArg(fcinfo, 0));

	PG_RETURN_DATUM(RowDatum(rel, tup));
}

/* _tag(group, value): a value of the tenant's group, or the error naming its values. */
PG_FUNCTION_INFO_V1(segment_catalog_tag);
Datum
segment_catalog_tag(PG_FUNCTION_ARGS)
{
	char	   *group = TextArg(fcinfo, 0);
	char	   *value = TextArg(fcinfo, 1);
	int32		group_id = catalog_group_id(group);
	Relation	rel = catalog_open("tags", false);
	ScanKeyData keys[2];
	HeapTuple	tup = NULL;

	catalog_check_select(rel);
	if (value != NULL)
	{
		catalog_int4_key(&keys[0], rel, "group_id", group_id);
		catalog_text_key(&keys[1], rel, "value", value);
		tup = FindRow(rel, "tags_group_id_value_key", 2, keys);
	}
	if (tup == NULL)
		NoTag(rel, group_id, group, value);
	PG_RETURN_DATUM(RowDatum(rel, tup));
}

/* _segment(name): the tenant's segment, or the error naming its segments. */
PG_FUNCTION_INFO_V1(segment_catalog_segment);
Datum
segment_catalog_segment(PG_FUNCTION_ARGS)
{
	Relation	rel = catalog_open("segments", false);
	HeapTuple	tup = SegmentRow(rel, TextArg(fcinfo, 0));

	PG_RETURN_DATUM(RowDatum(rel, tup));
}

/* _snapshot(label): the tenant's snapshot, or the error naming its snapshots. */
PG_FUNCTION_INFO_V1(segment_catalog_snapshot);
Datum
segment_catalog_snapshot(PG_FUNCTION_ARGS)
{
	Relation	rel = catalog_open("snapshots", false);
	HeapTuple	tup = SnapshotRow(rel, TextArg(fcinfo, 0));

	PG_RETURN_DATUM(RowDatum(rel, tup));
}
