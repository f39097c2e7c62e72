/*
 * autotag_int.h
 *		Internals of the auto-tagging engine, split by concern as
 *		pgvector's hnsw*.c files are:
 *
 *	autotag_cache.c		the engine's catalog (groups, rules) and its cache
 *	autotag_sql.c		layer queries, fixed statements, their plan cache
 *	autotag_decide.c	deciding a group's tags, applying them
 *	autotag_layers.c	layer scheduling and the cascade; retag()
 *	autotag_trigger.c	the statement trigger: customers, tenants,
 *						subtransactions, stale groups
 *
 * A trigger has to cost little next to the statement that fires it (a
 * one-row INSERT takes about 0.1 ms), so each backend keeps what would
 * otherwise be looked up per statement: the auto groups with their decoded
 * rules, which tables feed which groups, and one prepared query per set of
 * groups evaluated together, returning every rule's audience and every
 * value's current holders in one round trip.  The cache is dropped when a
 * catalog it was read from changes (the catalog layer's invalidation,
 * src/catalog.c) and a prepared query is compiled again when the local
 * date changes, or each time for rules that read the clock (minute and
 * hour windows, now).  retag() shares the code but reads the catalogs
 * afresh.
 *
 * A failure never fails the application's statement: the trigger's work
 * runs in a subtransaction, and when it fails each group is tried alone,
 * so that the groups that can still be evaluated are, and the others are
 * rolled back, recorded as stale in segment.tag_group_errors (with a
 * WARNING) and skipped by the trigger until retag() repairs them.
 * Cancellation, lack of resources and transaction rollbacks (deadlock,
 * serialization failure) still end the statement, as they must.
 *
 * Groups are evaluated in layers: the pending groups none of whose pending
 * peers they read through TAG conditions, all in one query; the customers
 * whose tags changed then make the groups reading them pending, until
 * nothing changes (the rule graph is acyclic, checked when rules are set).
 */
#ifndef AUTOTAG_INT_H
#define AUTOTAG_INT_H

#include "postgres.h"

#include "executor/spi.h"
#include "funcapi.h"
#include "nodes/pg_list.h"
#include "pgtime.h"
#include "utils/tuplestore.h"

#include "audience.h"
#include "audience_codec.h"
#include "rule_ast.h"

/* A value of a tag group, in the group's order. */
typedef struct AutoValue
{
	int32		id;
	char	   *value;
	bool		has_rule;		/* enabled, with a rule */
	bool		auto_remove;
	int			rule;			/* index into the group's rules, if has_rule */
} AutoValue;

/* A tag group that tags automatically (enabled, allow_auto, some rule). */
typedef struct AutoGroup
{
	int32		id;
	char	   *name;
	char	   *tag_ref;		/* "tag:<name>", as readers' refs name it */
	char	   *tenant;
	bool		exclusive;
	Oid			owner;			/* the rules' author, who they run as */
	bool		clock;			/* some rule reads the time of day */
	int			nvalues;
	AutoValue  *values;
	int			nrules;
	const RuleNode **rules;
	List	   *refs;			/* "customer", "source:x", "tag:g", "segment:s" */
} AutoGroup;

/* What a table's rows feed, and the columns naming their customers. */
typedef struct TableFeeds
{
	Oid			rel;
	List	   *feeds;			/* "customer" or "source:x" */
	int			ncols;
	AttrNumber *cols;
} TableFeeds;

/* A prepared query evaluating a layer, valid on one local date. */
typedef struct LayerPlan
{
	char	   *key;
	SPIPlanPtr	plan;
	pg_tz	   *tz;
	int			year,
				month,
				day;
} LayerPlan;

/*
 * What the engine knows of the catalogs: the trigger's is cached per
 * backend (autotag_cache.c), retag() reads its own.
 */
typedef struct AutoCatalog
{
	MemoryContext cxt;
	Oid			userid;			/* whose view of the catalogs (RLS) */
	bool		stale;
	bool		registered;		/* a customer table is registered */
	bool		dictionary;		/* customer keys map to ordinals */
	Oid			audience_type;
	char	   *tenant_sql;		/* splits candidates by tenant, or NULL */
	int			ngroups;
	AutoGroup  *groups;
	uint64		generation;		/* of the catalog layer it was read under */
	List	   *tables;			/* TableFeeds */
	List	   *plans;			/* LayerPlan */
	bool		cached;			/* the trigger's: plans are kept */
	SPIPlanPtr	statements[5];	/* by Statement, prepared when first run */
} AutoCatalog;

/* What one group's evaluation changed. */
typedef struct GroupResult
{
	AudienceSet *changed;
	int64		added;
	int64		removed;
} GroupResult;

/* Collects result rows of retag (NULL for the trigger). */
typedef struct Report
{
	Tuplestorestate *store;
	TupleDesc	desc;
} Report;

/* How a layer's candidates are passed: none, a list, a bitmap. */
typedef enum AmongMode
{
	AMONG_ALL,					/* every customer */
	AMONG_LIST,					/* a few candidates */
	AMONG_BITMAP				/* many candidates */
} AmongMode;

/*
 * The engine's fixed statements.  Holders: current holders of some tags
 * ($1, or $2 among candidates $1), automatic and not, one row per tag and
 * kind.  Apply: automatic tags of tag $1 removed from or added to the
 * customers in $2, logged with tenant $3, group $4, value $5, actor $6; log
 * rows in ordinal order (members are added in that order, removals sort).
 */
typedef enum Statement
{
	HOLDERS_ALL = AMONG_ALL,
	HOLDERS_LIST = AMONG_LIST,
	HOLDERS_BITMAP = AMONG_BITMAP,
	APPLY_REMOVE,
	APPLY_ADD
} Statement;

/* autotag_cache.c */

/* Nesting of engine calls: a stale cache is dropped only when none runs. */
extern int	autotag_engine_depth;

extern AutoCatalog *AutotagLoadCatalog(MemoryContext parent, bool watch);
extern AutoCatalog *AutotagCachedCatalog(void);
extern void AutotagMarkStale(void);

/* autotag_sql.c */

extern char *AutotagText(int row, int col);
extern bool AutotagBool(int row, int col);
extern int32 AutotagInt32(int row, int col);
extern SPIPlanPtr AutotagStatementPlan(AutoCatalog *cat, Statement which);
extern SPIPlanPtr AutotagLayerPlan(AutoCatalog *cat, bool cache, AmongMode mode, const int *layer, int n,
								   TimestampTz as_of, Oid audience_type, bool *temporary);
extern AudienceSet *AutotagResultSet(int col);
extern void AutotagLayerHolders(AutoCatalog *cat, AmongMode mode, const int *layer, int n, Datum cand,
								AudienceSet ***autos, AudienceSet ***others);

/* autotag_decide.c */

extern AudienceSet *AutotagCopy(const AudienceSet *a);
extern void AutotagApply(SPIPlanPtr plan, int32 tag_id, const char *tenant, const char *group,
						 const char *value, AudienceSet *who);
extern void AutotagDecideGroup(AutoCatalog *cat, const AutoGroup *g, AudienceSet **helds,
							   AudienceSet **autos, AudienceSet **others, GroupResult *res);

/* autotag_layers.c */

extern bool AutotagReadsGroup(const AutoGroup *a, const AutoGroup *b);
extern bool AutotagReadsAny(const AutoGroup *g, List *feeds);
extern void AutotagCascade(AutoCatalog *cat, bool cache, const int *start, int nstart, AudienceSet *cand,
						   Oid audience_type, Report *report);

#endif							/* AUTOTAG_INT_H */
