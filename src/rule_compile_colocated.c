/*
 * rule_compile_colocated.c
 *		Partitions of two sharded tables that live on the same shard, and
 *		whether a query over them is sent to the shard whole.
 *
 * Two tables sharded on their customer column by the same scheme, where
 * each partition of the first has a partition of the second with the same
 * bound on the same server, keep a customer's rows of both on one shard:
 * a join of the two per pair of partitions is one remote query
 * (doc/scale-out.md).  Used by two-step sequences
 * (rule_compile_shard_seq.c) and by customer conditions with EXISTS or
 * NOT EXISTS (rule_compile_shard_join.c).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "nodes/plannodes.h"
#include "utils/builtins.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "rule_compile_int.h"
#include "rule_compile_shard.h"
#include "rule_compile_colocated.h"

/* A partition's bound as a node (equal() ignores parse locations). */
static Node *
PartitionBound(Oid part)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(part));
	Datum		d;
	bool		isnull;
	Node	   *bound = NULL;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", part);
	d = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relpartbound, &isnull);
	if (!isnull)
		bound = stringToNode(TextDatumGetCString(d));
	ReleaseSysCache(tup);
	return bound;
}

/*
 * Whether two partitioned tables route a key value alike: one key column
 * each, the same strategy, type, operator family and collation.
 */
static bool
SameScheme(Oid a, Oid b)
{
	Relation	ra = table_open(a, AccessShareLock);
	Relation	rb = table_open(b, AccessShareLock);
	PartitionKey ka = RelationGetPartitionKey(ra);
	PartitionKey kb = RelationGetPartitionKey(rb);
	bool		same = ka != NULL && kb != NULL && ka->partnatts == 1 && kb->partnatts == 1 &&
		ka->strategy == kb->strategy && ka->parttypid[0] == kb->parttypid[0] &&
		ka->partopfamily[0] == kb->partopfamily[0] && ka->partcollation[0] == kb->partcollation[0];

	table_close(rb, AccessShareLock);
	table_close(ra, AccessShareLock);
	return same;
}

/* A foreign table's use_remote_estimate: its own option, else its server's. */
static bool
RemoteEstimate(Oid part)
{
	ForeignTable *ft = GetForeignTable(part);
	List	   *levels = list_make2(ft->options, GetForeignServer(ft->serverid)->options);
	ListCell   *l;
	ListCell   *lc;

	foreach(l, levels)
		foreach(lc, (List *) lfirst(l))
		{
			DefElem    *d = (DefElem *) lfirst(lc);

			if (strcmp(d->defname, "use_remote_estimate") == 0)
				return defGetBoolean(d);
		}
	return false;
}

/*
 * The partition of b's partitions (parts) with part's bound on part's
 * server, InvalidOid if none.  The same server means the same user
 * mapping: both are read by the same user in one query.
 */
static Oid
Partner(Oid part, List *parts)
{
	Node	   *bound = PartitionBound(part);
	Oid			server = GetForeignTable(part)->serverid;
	ListCell   *lc;

	foreach(lc, parts)
	{
		Oid			other = lfirst_oid(lc);

		if (GetForeignTable(other)->serverid == server && equal(PartitionBound(other), bound))
			return other;
	}
	return InvalidOid;
}

/*
 * The co-located partitions of tables a and b (each sharded on its
 * customer column, unquoted in key_a, key_b; NULL for the customer
 * table's key), one ShardPair for each partition of a; NIL unless every
 * partition of each has its partner.
 */
List *
rc_colocated_pairs(Oid a, const char *key_a, Oid b, const char *key_b)
{
	const char *why;
	List	   *pa;
	List	   *pb;
	List	   *pairs = NIL;
	ListCell   *lc;

	if (rc_shard_partitions(a, key_a, &why) == NIL || rc_shard_partitions(b, key_b, &why) == NIL ||
		!SameScheme(a, b))
		return NIL;
	pa = find_inheritance_children(a, AccessShareLock);
	pb = find_inheritance_children(b, AccessShareLock);
	if (list_length(pa) != list_length(pb))
		return NIL;
	foreach(lc, pa)
	{
		Oid			part = lfirst_oid(lc);
		Oid			partner = Partner(part, pb);
		ShardPair  *p;

		/*
		 * Without remote estimates postgres_fdw 15 costs a shipped join as
		 * the cross product of its inputs, and the planner joins the rows
		 * on the coordinator instead: worse than the nested EXISTS
		 */
		if (!OidIsValid(partner) || !(RemoteEstimate(part) || RemoteEstimate(partner)))
			return NIL;
		p = palloc(sizeof(ShardPair));
		p->first = rc_qualified_name(part);
		p->second = rc_qualified_name(partner);
		pairs = lappend(pairs, p);
	}
	return pairs;
}

/*
 * Whether postgres_fdw sends a branch whole: its plan is one foreign scan.
 * It does not when a condition is not shippable (a zone conversion by the
 * zone's name, a text constant whose collation postgres_fdw does not
 * trust; a STABLE function), or costs say otherwise.  *cost (if not
 * NULL): the branch's estimated total cost.
 */
bool
rc_shipped(const char *branch, double *cost)
{
	NodeTag		top;

	RcPlanEstimate(branch, cost, NULL, &top);
	return top == T_ForeignScan;
}

/*
 * The audiences of the branches (each "SELECT ... AS yes", one row of
 * bytea) united on the coordinator: the query of a rule run per shard.
 */
char *
rc_union_branches(List *branches)
{
	StringInfoData sql;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT coalesce(segment.union_agg(q.yes::segment.audience), '{}') AS yes FROM (");
	foreach(lc, branches)
		appendStringInfo(&sql, "%s(%s)", i++ > 0 ? " UNION ALL " : "", (const char *) lfirst(lc));
	appendStringInfoString(&sql, ") q");
	return sql.data;
}
