/*
 * catalog_tags.c
 *		Tag groups and their tags as the auto-tagging engine reads them:
 *		every tenant's (the engine runs as the extension owner, whom
 *		row-level security does not filter), by id, with index scans.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "fmgr.h"
#include "utils/rel.h"

#include "catalog_int.h"

static int
ById(const void *a, const void *b)
{
	int32		x = ((const CatalogGroup *) a)->id;
	int32		y = ((const CatalogGroup *) b)->id;

	return x < y ? -1 : x > y;
}

static int
TagOrder(const void *a, const void *b)
{
	const CatalogTag *x = (const CatalogTag *) a;
	const CatalogTag *y = (const CatalogTag *) b;

	if (x->position != y->position)
		return x->position < y->position ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static CatalogGroup *
GroupById(CatalogGroup *groups, int n, int32 id)
{
	CatalogGroup key;

	key.id = id;
	return bsearch(&key, groups, n, sizeof(CatalogGroup), ById);
}

static bool
Bool(HeapTuple tup, Relation rel, const char *column)
{
	bool		isnull;
	Datum		d = catalog_value(tup, rel, column, &isnull);

	return !isnull && DatumGetBool(d);
}

static int32
Int4(HeapTuple tup, Relation rel, const char *column)
{
	bool		isnull;

	return DatumGetInt32(catalog_value(tup, rel, column, &isnull));
}

static CatalogGroup *
ReadGroups(int *ngroups)
{
	Relation	rel = catalog_open("tag_groups", false);
	SysScanDesc scan;
	HeapTuple	tup;
	int			size = 16;
	CatalogGroup *groups = palloc0(sizeof(CatalogGroup) * size);

	catalog_check_select(rel);
	*ngroups = 0;
	scan = catalog_scan(rel, "tag_groups_pkey", 0, NULL);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		CatalogGroup *g;
		bool		isnull;
		Datum		owner;

		if (*ngroups == size)
			groups = repalloc(groups, sizeof(CatalogGroup) * (size *= 2));
		g = &groups[(*ngroups)++];
		memset(g, 0, sizeof(*g));
		g->id = Int4(tup, rel, "id");
		g->name = catalog_text(tup, rel, "name");
		g->tenant = catalog_text(tup, rel, "tenant");
		g->exclusive = Bool(tup, rel, "exclusive");
		g->allow_auto = Bool(tup, rel, "allow_auto");
		g->enabled = Bool(tup, rel, "enabled");
		owner = catalog_value(tup, rel, "rule_owner", &isnull);
		g->rule_owner = isnull ? InvalidOid : DatumGetObjectId(owner);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	/* in id order already through the primary key; sorted for a heap scan */
	qsort(groups, *ngroups, sizeof(CatalogGroup), ById);
	return groups;
}

static void
ReadTags(CatalogGroup *groups, int ngroups)
{
	Relation	rel = catalog_open("tags", false);
	SysScanDesc scan;
	HeapTuple	tup;
	int			i;

	catalog_check_select(rel);
	scan = catalog_scan(rel, NULL, 0, NULL);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		CatalogGroup *g = GroupById(groups, ngroups, Int4(tup, rel, "group_id"));
		CatalogTag *t;
		bool		isnull;
		Datum		rule;

		if (g == NULL)
			continue;
		if (g->ntags % 8 == 0)
			g->tags = g->tags ? repalloc(g->tags, sizeof(CatalogTag) * (g->ntags + 8))
				: palloc(sizeof(CatalogTag) * 8);
		t = &g->tags[g->ntags++];
		t->id = Int4(tup, rel, "id");
		t->value = catalog_text(tup, rel, "value");
		t->enabled = Bool(tup, rel, "enabled");
		t->auto_remove = Bool(tup, rel, "auto_remove");
		t->position = Int4(tup, rel, "position");
		rule = catalog_value(tup, rel, "rule", &isnull);
		t->rule = isnull ? NULL : PG_DETOAST_DATUM_COPY(rule);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	for (i = 0; i < ngroups; i++)
		if (groups[i].ntags > 1)
			qsort(groups[i].tags, groups[i].ntags, sizeof(CatalogTag), TagOrder);
}

static void
ReadErrors(CatalogGroup *groups, int ngroups)
{
	Relation	rel = catalog_open("tag_group_errors", true);
	SysScanDesc scan;
	HeapTuple	tup;

	if (rel == NULL)
		return;
	catalog_check_select(rel);
	scan = catalog_scan(rel, NULL, 0, NULL);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		CatalogGroup *g = GroupById(groups, ngroups, Int4(tup, rel, "group_id"));

		if (g != NULL)
			g->stale = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

CatalogGroup *
catalog_tag_groups(int *ngroups)
{
	CatalogGroup *groups = ReadGroups(ngroups);

	ReadTags(groups, *ngroups);
	ReadErrors(groups, *ngroups);
	return groups;
}

/*
 * The row of table with primary key id (copied: it outlives the scan), or
 * NULL; the table is left open in *rel for the caller to read the row.
 */
static HeapTuple
RowById(const char *table, const char *pkey, int32 id, Relation *rel)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	*rel = catalog_open(table, false);
	catalog_check_select(*rel);
	catalog_int4_key(&key, *rel, "id", id);
	scan = catalog_scan(*rel, pkey, 1, &key);
	tup = systable_getnext(scan);
	if (tup != NULL)
		tup = heap_copytuple(tup);
	systable_endscan(scan);
	return tup;
}

/* The value of the tag with id and its group's id; false when there is none. */
bool
catalog_tag_by_id(int32 id, int32 *group_id, char **value)
{
	Relation	rel;
	HeapTuple	tup = RowById("tags", "tags_pkey", id, &rel);

	if (tup != NULL)
	{
		*group_id = Int4(tup, rel, "group_id");
		*value = catalog_text(tup, rel, "value");
	}
	table_close(rel, AccessShareLock);
	return tup != NULL;
}

/* The tenant and name of the tag group with id; false when there is none. */
bool
catalog_group_by_id(int32 id, char **tenant, char **name)
{
	Relation	rel;
	HeapTuple	tup = RowById("tag_groups", "tag_groups_pkey", id, &rel);

	if (tup != NULL)
	{
		*tenant = catalog_text(tup, rel, "tenant");
		*name = catalog_text(tup, rel, "name");
	}
	table_close(rel, AccessShareLock);
	return tup != NULL;
}
