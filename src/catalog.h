/*
 * catalog.h
 *		The one catalog layer: what the extension's catalogs say about the
 *		customer table, the sources, tag groups, tags and segments, for
 *		every C consumer (compiler, evaluation, auto-tagging, sharing).
 *
 * The registry and the sources are read from segment.customer_registry
 * and segment.sources with index scans (no SPI), cached per backend, and
 * dropped by one relcache callback when a catalog they come from changes
 * (the catalogs' statement triggers send a relcache invalidation, see
 * 51_autotag.sql), or when the customer table or a source's relation
 * changes.  Consumers that cache things of their own compare
 * catalog_generation() with the one they built them under.
 *
 * Tag groups, tags and segments are per tenant and read per look-up
 * through their unique indexes (refresh() writes segments all the time:
 * caching them would be dropped at every refresh).
 *
 * Every "does not exist" / "is not registered" error of these objects is
 * raised here (catalog_lookup.c), with the names that do exist as a hint.
 */
#ifndef CATALOG_H
#define CATALOG_H

#include "postgres.h"

/* An event source (segment.sources), with what the compiler needs of it. */
typedef struct CatalogSource
{
	char	   *name;
	Oid			rel;
	char	   *customer_column;
	char	   *time_column;
	Oid			time_type;		/* InvalidOid: the column is gone */
	bool		references_customers;	/* a validated foreign key to the
										 * customer table's key: every row's
										 * customer is registered */
} CatalogSource;

/* The customer registration (segment.customer_registry). */
typedef struct CatalogRegistry
{
	bool		registered;
	Oid			rel;
	char	   *key_column;
	Oid			key_type;
	bool		dictionary;		/* ordinal_mode = 'dictionary' */
	char	   *tenant_column;	/* NULL: no tenants */
	char	   *time_zone;
	char		relkind;
} CatalogRegistry;

/* A base table standing in for a view source (segment.watches). */
typedef struct CatalogWatch
{
	char	   *source;
	Oid			base_table;
	char	   *customer_column;
} CatalogWatch;

/* What a table's rows feed ("customer", "source:x") and the column naming customers. */
typedef struct CatalogFeed
{
	char	   *feed;
	char	   *customer_column;
} CatalogFeed;

/*
 * A snapshot of the global catalogs, valid until the end of the
 * transaction that got it (a newer one may replace it meanwhile: the old
 * one is then freed at transaction end, so pointers stay valid).
 */
typedef struct CatalogSnapshot
{
	CatalogRegistry reg;
	int			nsources;
	CatalogSource *sources;		/* by name, in the primary key's order */
	int			nwatches;
	CatalogWatch *watches;
	uint64		generation;
} CatalogSnapshot;

extern const CatalogSnapshot *catalog_snapshot(void);

/* The feeds of table rel, distinct, as segment._table_feeds(rel); returns how many. */
extern int	catalog_table_feeds(const CatalogSnapshot *snap, Oid rel, CatalogFeed **feeds);

/* Bumped by every invalidation of the snapshot. */
extern uint64 catalog_generation(void);

/* The oid of segment.<name> (InvalidOid when missing). */
extern Oid	catalog_relid(const char *name);

/* segment._tenant(): the current tenant, checked ('' without tenants). */
extern char *catalog_tenant(void);

/* registered_time_zone(): the tenant's zone, else the registration's, or NULL. */
extern const char *catalog_registered_zone(void);

/* Column facts through the syscache and relcache. */
extern double catalog_rel_tuples(Oid rel);
extern bool catalog_key_indexed(Oid rel, const char *column);
extern double catalog_column_correlation(Oid rel, const char *column);
extern char *catalog_column_c_sortable(Oid rel, const char *column);
extern bool catalog_dictionary_cached(void);

/* A tag value (segment.tags); rule detoasted, NULL without one. */
typedef struct CatalogTag
{
	int32		id;
	char	   *value;
	bool		enabled;
	bool		auto_remove;
	int32		position;
	struct varlena *rule;
} CatalogTag;

/* A tag group (segment.tag_groups) with its tags by position (then id). */
typedef struct CatalogGroup
{
	int32		id;
	char	   *name;
	char	   *tenant;
	bool		exclusive;
	bool		allow_auto;
	bool		enabled;
	Oid			rule_owner;		/* InvalidOid: no rule set yet */
	bool		stale;			/* in segment.tag_group_errors */
	int			ntags;
	CatalogTag *tags;
} CatalogGroup;

/*
 * Every tenant's tag groups, by id, read now into the current memory
 * context (catalog_tags.c; for the engine, which runs as the owner).
 */
extern CatalogGroup *catalog_tag_groups(int *ngroups);
extern bool catalog_tag_by_id(int32 id, int32 *group_id, char **value);
extern bool catalog_group_by_id(int32 id, char **tenant, char **name);

/* Look-ups, or the one error for a missing object (catalog_lookup.c). */
extern const CatalogRegistry *catalog_customers(const CatalogSnapshot *snap, const char *hint_note);
extern const CatalogSource *catalog_source(const CatalogSnapshot *snap, const char *name);
extern int32 catalog_group_id(const char *name);
extern int64 catalog_segment_id(const char *name);
extern int64 catalog_snapshot_id(const char *label);
extern Oid	catalog_column_type(Oid rel, const char *relname, const char *column);

#endif							/* CATALOG_H */
