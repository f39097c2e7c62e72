/*
 * rule_compile_shard_seq.c
 *		Two-step sequences over co-located shards (doc/scale-out.md).
 *
 * A sequence reads several rows of a customer, from two sources.  When
 * both sources are sharded on their customer column by the same scheme,
 * and each partition of the first has a partition of the second with the
 * same bound on the same server, a customer's rows of both are on one
 * shard.  With postgres_fdw's use_remote_estimate on (see CoLocatedPairs),
 * the sequence is run per pair of partitions, each branch one
 * query that postgres_fdw sends whole:
 *
 *	 a THEN EXISTS b:	  SELECT audience_agg(e.key) FROM ONLY pa e
 *						  JOIN ONLY pb e2 ON <b follows e> WHERE <e's own>
 *	 a THEN NOT EXISTS b: ... LEFT JOIN ONLY pb e2 ON <b follows e>
 *						  with audience_agg(...) FILTER (WHERE e2.time IS NULL)
 *
 * and the branches' audiences are united on the coordinator, as in
 * rule_compile_shard.c.  Joins, not EXISTS: PostgreSQL 15's postgres_fdw
 * ships inner and left joins of foreign tables of one server, and an
 * aggregate over them, but no semi- or anti-join (a "WHERE e2.x IS NULL"
 * would become one); the join's duplicate rows of a customer are one
 * member of the audience.  FILTER keeps the anti-join's meaning: an event
 * of a with no b after it leaves one row whose e2 columns are NULL (e2's
 * time is never NULL in a match: the join requires it to be later).
 *
 * The conditions must be ones postgres_fdw ships: WITHIN is written
 * without the zone's name where it can be (WithinEnd, FixedOffset), and
 * a planned branch must be one foreign scan (Shipped).  Everything else
 * keeps the nested EXISTS of rule_compile_sequence.c, whose steps' rows
 * travel: longer chains, sources not co-located, conditions that convert
 * through the zone's name, dictionary keys (a shard cannot map keys to
 * ordinals), and scans among candidates (their parameters and CTEs are
 * the coordinator's).
 */
#include "postgres.h"

#include <stdlib.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "nodes/plannodes.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "rule_compile_int.h"
#include "rule_compile_shard.h"
#include "rule_pg.h"
#include "rule_compile_shard_seq.h"

/* A partition of the first source and its partner of the second. */
typedef struct ShardPair
{
	char	   *first;			/* qualified, quoted */
	char	   *second;
} ShardPair;

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
 * The co-located partitions of sources a and b (each sharded on its
 * customer column, unquoted in key_a, key_b), one ShardPair for each
 * partition of a; NIL unless every partition of each has its partner.
 */
static List *
CoLocatedPairs(Oid a, const char *key_a, Oid b, const char *key_b)
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

/* The key range condition of a scan of s ("" when none is needed). */
static char *
KeyRange(Compiler *c, const Source *s)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	RcAppendKeyRange(c, s);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/*
 * The rule zone's UTC offset as an interval literal, when it is the same
 * at every instant the sequence's WITHIN span (in days or longer) can
 * reach from its first step's window, a day of margin on either side;
 * else "" (the zone's name, which postgres_fdw does not ship).  An offset
 * without DST (Asia/Shanghai) or a window between two DST changes lets a
 * WITHIN days between timestamptz columns run on the shards.
 */
static const char *
FixedOffset(Compiler *c, const RuleNode *n)
{
	const RuleWindow *w = n->children[0]->window;
	const RuleDuration *d = n->within;
	RuleBound	lo;
	RuleBound	hi;
	int64		reach;
	pg_time_t	from;
	pg_time_t	to;
	pg_time_t	boundary;
	long int	before;
	long int	after;
	int			before_dst;
	int			after_dst;
	int			found;

	if (d == NULL || w == NULL || d->unit == RULE_UNIT_MINUTE || d->unit == RULE_UNIT_HOUR ||
		!rule_resolve_window(w, &c->local, c->epoch, &lo, &hi) ||
		lo.kind == RULE_BOUND_NEG_INFINITY || lo.kind == RULE_BOUND_POS_INFINITY ||
		hi.kind == RULE_BOUND_NEG_INFINITY || hi.kind == RULE_BOUND_POS_INFINITY)
		return "";
	/* days the span can last: a month is at most 31, a year 366 */
	reach = (int64) d->n * (d->unit == RULE_UNIT_DAY ? 1 : d->unit == RULE_UNIT_WEEK ? 7 :
							d->unit == RULE_UNIT_MONTH ? 31 : 366) + 1;
	from = timestamptz_to_time_t(rule_pg_bound(&lo, c->tz)) - SECS_PER_DAY;
	to = timestamptz_to_time_t(rule_pg_bound(&hi, c->tz)) + reach * SECS_PER_DAY;
	found = pg_next_dst_boundary(&from, &before, &before_dst, &boundary, &after, &after_dst, c->tz);
	if (found < 0 || (found == 1 && boundary <= to))
		return "";
	/* an interval zone is east of UTC, as the offset is */
	return psprintf("'%s%02ld:%02ld:%02ld'::interval", before < 0 ? "-" : "",
					labs(before) / 3600, labs(before) % 3600 / 60, labs(before) % 60);
}

/*
 * Whether postgres_fdw sends a branch whole: its plan is one foreign scan.
 * It does not when a condition is not shippable (a zone conversion by the
 * zone's name, a text constant whose collation postgres_fdw does not
 * trust; a STABLE function), or costs say otherwise.
 */
static bool
Shipped(const char *branch)
{
	NodeTag		top;

	RcPlanEstimate(branch, NULL, NULL, &top);
	return top == T_ForeignScan;
}

/*
 * A two-step sequence as a union of joins per pair of co-located shards
 * in c->sql (see the file's comment); false, with nothing written, when
 * it cannot be one.
 */
bool
RcShardSequence(Compiler *c, const RuleNode *n)
{
	const RuleNode *second;
	Source		a;
	Source		b;
	List	   *pairs;
	char	   *head;
	char	   *follows;
	char	   *agg;
	char	   *range;
	List	   *branches = NIL;
	ListCell   *lc;
	int			i = 0;

	if (c->among || c->reg.dictionary || n->nchildren != 2)
		return false;
	second = n->children[1];
	RcLoadSource(c, n->children[0]->name, &a);
	RcLoadSource(c, second->name, &b);
	pairs = CoLocatedPairs(a.rel, catalog_source(c->catalog, n->children[0]->name)->customer_column,
						   b.rel, catalog_source(c->catalog, second->name)->customer_column);
	if (pairs == NIL)
		return false;

	head = RcSequenceHead(c, n, &a);
	follows = RcAnchoredCondition(c, n, 1, 0, &a, "e", &b, FixedOffset(c, n));
	range = KeyRange(c, &a);
	/* bytea: the audience's roaring bytes travel, not its text (rule_compile_shard.c) */
	agg = psprintf("(segment.audience_agg(%s)%s)::bytea AS yes", RcSourceOrdinal(c, &a),
				   second->negated ? psprintf(" FILTER (WHERE e2.%s IS NULL)", b.time) : "");
	foreach(lc, pairs)
	{
		ShardPair  *p = lfirst(lc);

		branches = lappend(branches, psprintf("SELECT %s FROM ONLY %s e %s ONLY %s e2 ON %s WHERE %s%s",
											  agg, p->first, second->negated ? "LEFT JOIN" : "JOIN",
											  p->second, follows, head, range));
	}
	/* the branches differ only in their tables: one plan tells */
	if (!Shipped(linitial(branches)))
		return false;

	c->unchecked |= !a.references_customers;
	appendStringInfoString(&c->sql, "SELECT coalesce(segment.union_agg(q.yes::segment.audience), '{}') AS yes FROM (");
	foreach(lc, branches)
		appendStringInfo(&c->sql, "%s(%s)", i++ > 0 ? " UNION ALL " : "", (const char *) lfirst(lc));
	appendStringInfoString(&c->sql, ") q");
	appendStringInfo(&c->notes, "-- sequence of 2 steps from %s on %d co-located shards: a %s join per shard, "
					 "its audience computed there\n", n->children[0]->name, list_length(pairs),
					 second->negated ? "left" : "inner");
	return true;
}
