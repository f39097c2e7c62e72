/*
 * rule_compile_shard.c
 *		Scans of tables sharded over postgres_fdw (doc/scale-out.md).
 *
 * A table is sharded when it is partitioned and every partition is a
 * postgres_fdw foreign table on a server whose "extensions" option names
 * segment.  A predicate's scan of such a table (one row of audiences) is
 * then run once per partition, each branch "... FROM ONLY partition e ...",
 * and the branches' audiences are united on the coordinator:
 *
 *	 SELECT segment.union_agg(q.yes) AS yes FROM ((branch 1) UNION ALL ...) q
 *
 * PostgreSQL 15's postgres_fdw pushes an aggregate down only as the whole
 * aggregation of one foreign relation, so a branch whose scan is a plain
 * audience_agg (EXISTS, customer conditions, the universe) runs entirely on
 * its shard, which sends back one audience; an Append over async-capable
 * foreign scans runs the shards at the same time.  Aggregates become such
 * plain aggregates too, grouping inside grouped_audience_agg() (below);
 * those it cannot answer keep a branch grouped on the customer, which
 * pushes its GROUP BY down and receives one row per customer.  United per
 * partition is the same as over the whole table
 * because every customer's rows are in one partition: the source must be
 * partitioned on its customer column (anything else is scanned as
 * before).  Scans among candidates (the tagging triggers) keep the
 * row-pulling form: their parameters and CTEs are the coordinator's.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/varlena.h"

#include "grouped_audience_agg.h"
#include "grouped_audience_hash.h"
#include "rule_compile_int.h"
#include "rule_compile_shard.h"
#include "rule_rewrite.h"
#include "segment.h"

/* Whether a server's "extensions" option (a comma-separated list) names segment. */
static bool
ServerHasSegment(const ForeignServer *server)
{
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);
		List	   *names = NIL;
		ListCell   *n;

		if (strcmp(d->defname, "extensions") != 0)
			continue;
		/* as postgres_fdw reads it: identifiers, unquoted ones folded */
		if (!SplitIdentifierString(pstrdup(defGetString(d)), ',', &names))
			return false;
		foreach(n, names)
			if (strcmp((const char *) lfirst(n), "segment") == 0)
				return true;
	}
	return false;
}

/* Why a partition is not a shard of segment's (NULL: it is one). */
static const char *
NotShardReason(Oid part)
{
	ForeignTable *ft;
	ForeignServer *server;
	ForeignDataWrapper *fdw;

	if (get_rel_relkind(part) != RELKIND_FOREIGN_TABLE)
		return "a partition is not a foreign table";
	ft = GetForeignTable(part);
	server = GetForeignServer(ft->serverid);
	fdw = GetForeignDataWrapper(server->fdwid);
	if (strcmp(fdw->fdwname, "postgres_fdw") != 0)
		return "a partition is not a postgres_fdw foreign table";
	if (!ServerHasSegment(server))
		return "a partition's server has no extensions 'segment' option";
	return NULL;
}

/* Whether rel is partitioned on exactly the column named key. */
static bool
PartitionedOn(Oid rel, const char *key)
{
	Relation	r = table_open(rel, AccessShareLock);
	PartitionKey pk = RelationGetPartitionKey(r);
	AttrNumber	att = get_attnum(rel, key);
	bool		ok = pk != NULL && pk->partnatts == 1 && att != InvalidAttrNumber &&
		pk->partattrs[0] == att;

	table_close(r, AccessShareLock);
	return ok;
}

/* A relation's schema-qualified, quoted name (a shard's branch names it). */
char *
rc_qualified_name(Oid rel)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(rel)), get_rel_name(rel));
}

/*
 * The shards of rel: its partitions' qualified names, or NIL with *why set.
 * key (unquoted), when not NULL, must be the partition key.
 */
List *
rc_shard_partitions(Oid rel, const char *key, const char **why)
{
	List	   *children;
	List	   *parts = NIL;
	ListCell   *lc;

	*why = NULL;
	if (get_rel_relkind(rel) != RELKIND_PARTITIONED_TABLE)
	{
		*why = "not a partitioned table";
		return NIL;
	}
	if (key && !PartitionedOn(rel, key))
	{
		*why = "not partitioned on its customer column";
		return NIL;
	}
	children = find_inheritance_children(rel, AccessShareLock);
	if (children == NIL)
		*why = "no partitions";
	foreach(lc, children)
	{
		Oid			part = lfirst_oid(lc);

		if ((*why = NotShardReason(part)) != NULL)
			return NIL;
		parts = lappend(parts, rc_qualified_name(part));
	}
	return parts;
}

/* Whether a partitioned table has a foreign partition (no key-check trigger). */
bool
rc_has_foreign_partitions(Oid rel)
{
	ListCell   *lc;

	if (get_rel_relkind(rel) != RELKIND_PARTITIONED_TABLE)
		return false;
	foreach(lc, find_inheritance_children(rel, AccessShareLock))
		if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_FOREIGN_TABLE)
			return true;
	return false;
}

/*
 * The result columns of a one-row query, when they are all audiences
 * (quoted names), else NIL.
 */
static List *
AudienceColumns(const char *sql)
{
	Oid			audience = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("audience"),
										   ObjectIdGetDatum(get_namespace_oid("segment", false)));
	SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);
	CachedPlanSource *src;
	List	   *cols = NIL;
	int			i;

	if (plan == NULL || list_length(SPI_plan_get_plan_sources(plan)) != 1)
		elog(ERROR, "could not prepare %s", sql);
	src = linitial(SPI_plan_get_plan_sources(plan));
	for (i = 0; src->resultDesc && i < src->resultDesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(src->resultDesc, i);

		if (att->atttypid != audience)
		{
			list_free(cols);
			cols = NIL;
			break;
		}
		cols = lappend(cols, pstrdup(quote_identifier(NameStr(att->attname))));
	}
	SPI_freeplan(plan);
	return cols;
}

/*
 * The text of sql before the scan at "at", with its audiences sent as
 * bytea: postgres_fdw reads results in text form, and an audience's text
 * (its members, as ranges) is several times the bytes of its roaring form
 * in hex.  Each column "coalesce(segment.audience_agg(...)..., '{}') AS
 * name" becomes "(segment.audience_agg(...)...)::bytea AS name", which
 * postgres_fdw sends to the shard whole (it ships no COALESCE; the union
 * on the coordinator supplies the '{}').  Only where the scan is the
 * query's own FROM (no subquery or CTE before it) and every column has
 * that form; otherwise unchanged.
 */
static char *
AsBytea(const char *sql, const char *at, List *cols)
{
	const char *open = "coalesce(segment.audience_agg(";
	const char *close = ", '{}')";
	char	   *orig = pnstrdup(sql, at - sql);
	char	   *head = orig;
	ListCell   *lc;

	if (strncmp(head, "SELECT ", 7) != 0 || strstr(head, " FROM ") != NULL)
		return orig;
	foreach(lc, cols)
	{
		const char *as = psprintf(" AS %s", (const char *) lfirst(lc));
		char	   *p = strstr(head, as);
		char	   *item = NULL;
		char	   *q;
		char		next;

		if (p == NULL || p - head < (ptrdiff_t) strlen(close) ||
			strncmp(p - strlen(close), close, strlen(close)) != 0)
			return orig;
		next = p[strlen(as)];
		if ((next != ',' && next != '\0') || strstr(p + strlen(as), as) != NULL)
			return orig;
		for (q = strstr(head, open); q != NULL && q < p; q = strstr(q + 1, open))
			item = q;
		if (item == NULL)
			return orig;
		head = psprintf("%.*s(%.*s)::bytea%s", (int) (item - head), head,
						(int) (p - strlen(close) - (item + strlen("coalesce("))), item + strlen("coalesce("), p);
	}
	return head;
}

/*
 * sql with its one scan " FROM relname alias" run per partition and united
 * (see the file's comment); sql itself when the table is not sharded, the
 * scan is not found exactly once, or the result is not all audiences.
 */
static char *
ShardScan(Compiler *c, const char *sql, Oid rel, const char *relname, const char *alias,
		  const char *key)
{
	const char *pattern = psprintf(" FROM %s %s", relname, alias);
	size_t		plen = strlen(pattern);
	const char *at = strstr(sql, pattern);
	const char *rest;
	const char *why;
	List	   *parts;
	List	   *cols;
	ListCell   *lc;
	StringInfoData out;
	char	   *head;
	int			i = 0;

	if (c->among || at == NULL)
		return (char *) sql;
	rest = at + plen;
	if ((*rest != ' ' && *rest != ')' && *rest != '\0') || strstr(rest, pattern) != NULL)
		return (char *) sql;
	if ((parts = rc_shard_partitions(rel, key, &why)) == NIL)
		return (char *) sql;
	if ((cols = AudienceColumns(sql)) == NIL)
		return (char *) sql;

	head = AsBytea(sql, at, cols);
	initStringInfo(&out);
	appendStringInfoString(&out, "SELECT ");
	foreach(lc, cols)
		appendStringInfo(&out, "%scoalesce(segment.union_agg(q.%s::segment.audience), '{}') AS %s", i++ > 0 ? ", " : "",
						 (const char *) lfirst(lc), (const char *) lfirst(lc));
	appendStringInfoString(&out, " FROM (");
	i = 0;
	foreach(lc, parts)
		appendStringInfo(&out, "%s(%s FROM ONLY %s %s%s)", i++ > 0 ? " UNION ALL " : "",
						 head, (const char *) lfirst(lc), alias, rest);
	appendStringInfoString(&out, ") q");
	return out.data;
}

/* A scan of a source (alias e) as a union over its shards, if sharded. */
char *
RcShardSource(Compiler *c, const char *source, const char *sql)
{
	Source		s;

	RcLoadSource(c, source, &s);
	return ShardScan(c, sql, s.rel, s.relname, "e", catalog_source(c->catalog, source)->customer_column);
}

/* A scan of the customer table (alias cu) as a union over its shards. */
char *
RcShardCustomers(Compiler *c, const char *sql)
{
	return ShardScan(c, sql, c->reg.rel, c->reg.relname, "cu", NULL);
}

/* Whether the customer table is sharded (and this compilation may use it). */
bool
RcShardedCustomers(Compiler *c)
{
	const char *why;

	return !c->among && rc_shard_partitions(c->reg.rel, NULL, &why) != NIL;
}

/*
 * Aggregates answered by each shard with one audience: the grouping, the
 * aggregate and its comparison in one grouped_audience_agg() call per
 * partition (src/grouped_audience_agg.c), which postgres_fdw ships whole:
 *
 *	 SELECT (segment.grouped_audience_agg(e.customer_id, e.amount, NULL::date,
 *			  1, 5, '{100}'::numeric[], true))::bytea AS x
 *	 FROM ONLY orders_s1 e WHERE <filter and window>
 *
 * A condition that holds over no rows (count = 0, sum < 100) asks each
 * shard for the customers whose value does NOT satisfy it (satisfying
 * false) as the column "seen", and an empty "yes": the predicate's
 * "yes | (universe - seen)" (RcAppendAggExpr) is then universe minus those;
 * covered by a predicate that implies rows, it is "yes" alone, and the
 * shards send the customers that satisfy it.  count_distinct and mode need
 * a value type the aggregate can hash; active_days/weeks/months pass the
 * source's time as the value and the rule's zone as "time", a bytea
 * constant (ZoneBytea), so that the local days are the single node's
 * (e.time AT TIME ZONE 'zone')::date without a text constant to ship.
 * Only integer keys (a shard cannot map dictionary keys), and only the
 * aggregates and comparisons below; anything else keeps the grouped scan,
 * one row per customer (doc/scale-out.md).
 */

/* segment.shard_aggregates: off keeps the grouped scan (for comparison) */
bool		segment_shard_aggregates = true;

/* The aggregate's kind for grouped_audience_agg(), or -1. */
static int
GroupedKind(RuleAggKind agg)
{
	switch (agg)
	{
		case RULE_AGG_COUNT:
			return GA_KIND_COUNT;
		case RULE_AGG_SUM:
			return GA_KIND_SUM;
		case RULE_AGG_AVG:
			return GA_KIND_AVG;
		case RULE_AGG_MIN:
			return GA_KIND_MIN;
		case RULE_AGG_MAX:
			return GA_KIND_MAX;
		case RULE_AGG_FIRST:
			return GA_KIND_FIRST;
		case RULE_AGG_LAST:
			return GA_KIND_LAST;
		case RULE_AGG_COUNT_DISTINCT:
			return GA_KIND_COUNT_DISTINCT;
		case RULE_AGG_MODE:
			return GA_KIND_MODE;
		case RULE_AGG_ACTIVE_DAYS:
			return GA_KIND_ACTIVE_DAYS;
		case RULE_AGG_ACTIVE_WEEKS:
			return GA_KIND_ACTIVE_WEEKS;
		case RULE_AGG_ACTIVE_MONTHS:
			return GA_KIND_ACTIVE_MONTHS;
		default:
			return -1;
	}
}

/* The comparison for grouped_audience_agg(), or -1. */
static int
GroupedOp(const RuleNode *n)
{
	switch (n->kind)
	{
		case RULE_CMP:
			if (n->args[0].kind == RULE_LIT_PREV)
				return -1;
			StaticAssertStmt(GA_OP_EQ == (int) RULE_OP_EQ && GA_OP_GE == (int) RULE_OP_GE,
							 "comparison codes of grouped_audience_agg() follow RuleOp");
			return (int) n->op;
		case RULE_IN:
			return n->negated ? GA_OP_NOT_IN : GA_OP_IN;
		case RULE_BETWEEN:
			return n->negated ? GA_OP_NOT_BETWEEN : GA_OP_BETWEEN;
		case RULE_IS_NULL:
			return n->negated ? GA_OP_IS_NOT_NULL : GA_OP_IS_NULL;
		default:
			return -1;
	}
}

/* Whether values of a type compare in grouped_audience_agg() as in SQL. */
static bool
Comparable(Oid type)
{
	TypeCacheEntry *tc;

	if (get_typtype(type) != TYPTYPE_BASE && get_typtype(type) != TYPTYPE_ENUM)
		return false;
	tc = lookup_type_cache(type, TYPECACHE_CMP_PROC);
	return OidIsValid(tc->cmp_proc);
}

/*
 * Whether grouped_audience_agg() can keep distinct values of a type
 * (count_distinct, mode): the aggregate's own test (ga_value_hash).
 */
static bool
Hashable(Oid type)
{
	return Comparable(type) && ga_value_hash(type) != NULL;
}

/*
 * The rule's zone as a bytea constant of its name, the "time" argument of
 * active_*: postgres_fdw ships no AT TIME ZONE 'zone' (a text constant
 * whose collation no column gives), and a bytea has no collation.  The
 * escape form keeps it readable here; the Remote SQL shows it in hex.
 */
static char *
ZoneBytea(Compiler *c)
{
	const char *name = pg_get_timezone_name(c->tz);
	StringInfoData esc;

	initStringInfo(&esc);
	for (; *name; name++)
	{
		if (*name == '\\')
			appendStringInfoChar(&esc, '\\');
		appendStringInfoChar(&esc, *name);
	}
	return psprintf("%s::bytea", quote_literal_cstr(esc.data));
}

/*
 * The value argument, its time, the kind and the type of the compared
 * literals of an aggregate; false when grouped_audience_agg() cannot
 * answer it.
 */
static bool
GroupedValue(Compiler *c, const RuleValue *v, const Source *s, const AggInfo *a,
			 const char **value, const char **time, int *kind, Oid *ltype)
{
	Oid			argtype = v->column ? RcColumnType(s->rel, s->relname, v->column) : InvalidOid;

	*kind = GroupedKind(v->agg);
	*time = "NULL::date";
	*value = a->arg;
	*ltype = a->vtype;
	if (*kind < 0)
		return false;
	if (*kind == GA_KIND_COUNT)
	{
		if (a->arg == NULL)
			*value = "1";		/* count(source): every row */
		return true;
	}
	if (*kind == GA_KIND_SUM || *kind == GA_KIND_AVG)
		return argtype == INT2OID || argtype == INT4OID || argtype == INT8OID || argtype == NUMERICOID;
	if (*kind == GA_KIND_ACTIVE_DAYS || *kind == GA_KIND_ACTIVE_WEEKS || *kind == GA_KIND_ACTIVE_MONTHS)
	{
		/* the source's time (RcCheckAggregate refused other types), in the zone */
		*value = a->time;
		*time = ZoneBytea(c);
		return RcIsTimeType(s->time_type);
	}
	if (*kind == GA_KIND_COUNT_DISTINCT)
		return a->arg != NULL && Hashable(argtype);	/* compared as bigint */
	if ((*kind == GA_KIND_FIRST || *kind == GA_KIND_LAST) && strcmp(a->arg, a->time) == 0)
		*kind = *kind == GA_KIND_FIRST ? GA_KIND_MIN : GA_KIND_MAX;	/* of the time itself */
	else if (*kind == GA_KIND_FIRST || *kind == GA_KIND_LAST)
	{
		if (!RcIsTimeType(s->time_type))
			return false;
		*time = a->time;
	}
	if (argtype == DATEOID)
	{
		/* compared with instants as timestamps (RcAppendCondition's literals) */
		*value = psprintf("(%s)::timestamp", a->arg);
		*ltype = TIMESTAMPOID;
	}
	if (*kind == GA_KIND_MODE)
		return a->arg != NULL && Hashable(argtype == DATEOID ? TIMESTAMPOID : argtype);
	return Comparable(argtype);
}

/* The literals of a comparison as an array of ltype (NULL for IS NULL). */
static char *
GroupedArgs(Compiler *c, const RuleNode *n, const AggInfo *a, Oid ltype)
{
	StringInfoData saved = c->sql;
	char	   *text;
	int			i;

	if (n->kind == RULE_IS_NULL)
		return psprintf("NULL::%s[]", format_type_be(ltype));
	initStringInfo(&c->sql);
	appendStringInfoString(&c->sql, "ARRAY[");
	for (i = 0; i < (n->kind == RULE_CMP ? 1 : n->nargs); i++)
	{
		if (i > 0)
			appendStringInfoString(&c->sql, ", ");
		/* typed as the plain form types them (a date's as timestamps) */
		RcAppendLiteral(c, &n->args[i], a->vtype, a->what);
	}
	appendStringInfo(&c->sql, "]::%s[]", format_type_be(ltype));
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/*
 * The grouped_audience_agg() calls of an aggregate predicate over alias e:
 * the customers that satisfy it (yes) and those that do not (no), and
 * whether it holds over no rows; false when it cannot be answered so.
 */
bool
RcGroupedCalls(Compiler *c, const RuleNode *n, const Source *s, char **yes, char **no, bool *holds)
{
	const RuleValue *v = n->value;
	AggInfo		a;
	const char *value;
	const char *time;
	char	   *args;
	char	   *head;
	Oid			ltype;
	int			kind;
	int			op = GroupedOp(n);

	if (op < 0)
		return false;
	RcCheckAggregate(c, v, s, &a);
	if (!GroupedValue(c, v, s, &a, &value, &time, &kind, &ltype))
		return false;
	args = GroupedArgs(c, n, &a, ltype);
	*holds = RcEmptyHolds(c, n, &a);
	head = psprintf("segment.grouped_audience_agg(e.%s, %s, %s, %d, %d, %s, ", s->customer, value, time, kind, op, args);
	*yes = psprintf("%strue)", head);
	*no = psprintf("%sfalse)", head);
	return true;
}

/*
 * The columns of a scan answered per shard: each one an audience computed
 * on every shard (sent as bytea, united with union_agg on the
 * coordinator) or, without an expression, empty.
 */
typedef struct ShardColumns
{
	StringInfoData branch;		/* the select list of a partition's branch */
	StringInfoData outer;		/* the select list over their union */
} ShardColumns;

static void
AddColumn(ShardColumns *cols, const char *name, const char *expr, const char *filter)
{
	if (expr == NULL)
	{
		appendStringInfo(&cols->outer, "%s'{}'::segment.audience AS %s", cols->outer.len > 0 ? ", " : "", name);
		return;
	}
	appendStringInfo(&cols->branch, "%s(%s%s)::bytea AS %s", cols->branch.len > 0 ? ", " : "", expr,
					 filter && strcmp(filter, "true") != 0 ? psprintf(" FILTER (WHERE %s)", filter) : "", name);
	appendStringInfo(&cols->outer, "%scoalesce(segment.union_agg(q.%s::segment.audience), '{}') AS %s",
					 cols->outer.len > 0 ? ", " : "", name, name);
}

/* The union over the partitions of the branches "SELECT ... FROM ONLY part e WHERE where". */
static char *
ShardUnion(const ShardColumns *cols, List *parts, const Source *s, const char *where)
{
	StringInfoData out;
	ListCell   *lc;
	/* keys no customer can have are skipped, as the grouped scan does */
	const char *range = s->references_customers ? "" : psprintf(" AND e.%s BETWEEN 0 AND 4294967295", s->customer);
	int			i = 0;

	initStringInfo(&out);
	appendStringInfo(&out, "SELECT %s FROM (", cols->outer.data);
	foreach(lc, parts)
		appendStringInfo(&out, "%s(SELECT %s FROM ONLY %s e WHERE %s%s)", i++ > 0 ? " UNION ALL " : "",
						 cols->branch.data, (const char *) lfirst(lc), where, range);
	appendStringInfoString(&out, ") q");
	return out.data;
}

/* The shards of a source scanned per customer (integer keys), or NIL. */
static List *
AggregateShards(Compiler *c, const char *source, Source *s)
{
	const char *why;

	if (!segment_shard_aggregates || c->among || c->reg.dictionary || c->post_join)
		return NIL;
	RcLoadSource(c, source, s);
	return rc_shard_partitions(s->rel, catalog_source(c->catalog, source)->customer_column, &why);
}

/*
 * Whether a source's aggregates are answered per shard (AggregateShards):
 * then a merged scan of it is not folded (rule_compile_merge.c), since
 * each shard's audiences per predicate ship less than its groups.
 */
bool
RcShardAggregates(Compiler *c, const char *source)
{
	Source		s;

	return AggregateShards(c, source, &s) != NIL;
}

/*
 * An aggregate predicate as one grouped_audience_agg() per shard (see
 * above), into c->sql; false (c->sql untouched) when it cannot be.
 * complement: the predicate's expression will be yes | (universe - seen)
 * (not covered by another predicate that implies rows): then only the
 * customers that fail are needed, as seen.
 */
static bool
ShardAggregate(Compiler *c, const RuleNode *n, bool complement)
{
	const RuleValue *v = n->value;
	Source		s;
	List	   *parts;
	ShardColumns cols;
	char	   *yes;
	char	   *no;
	bool		holds;

	if (c->key_checked == n || (parts = AggregateShards(c, v->source, &s)) == NIL ||
		!RcGroupedCalls(c, n, &s, &yes, &no, &holds))
		return false;
	initStringInfo(&cols.branch);
	initStringInfo(&cols.outer);
	if (holds && complement)
	{
		AddColumn(&cols, "yes", NULL, NULL);
		AddColumn(&cols, "seen", no, NULL);
	}
	else
		AddColumn(&cols, "yes", yes, NULL);
	resetStringInfo(&c->sql);
	appendStringInfoString(&c->sql, ShardUnion(&cols, parts, &s, RcLeafCondition(c, &s, v->source, v->filter, v->window)));
	return true;
}

/*
 * A grouped merged scan (rule_compile_merge.c: several predicates of one
 * source, columns yesJ and seenJ) answered per shard: each EXISTS an
 * audience_agg and each aggregate a grouped_audience_agg, FILTERed by its
 * own condition, over the rows any of them needs; a zero-inclusive
 * aggregate sends its yes and, as seen, every customer with rows (an
 * audience_agg, cheaper than a second grouped_audience_agg): whether the
 * expression is yes or yes | (universe - seen) is decided after the merged
 * scans (an AND's covered predicates).  Sets m->holds; NULL when some predicate
 * cannot be answered so (or the scan is folded: RcFoldedScan).
 */
char *
RcShardMerged(Compiler *c, Merged *m)
{
	Source		s;
	List	   *parts;
	ShardColumns cols;
	StringInfoData where;
	int			j;

	if (!m->grouped || m->fold || (parts = AggregateShards(c, m->source, &s)) == NIL)
		return NULL;
	initStringInfo(&cols.branch);
	initStringInfo(&cols.outer);
	initStringInfo(&where);
	for (j = 0; j < m->nleaves; j++)
	{
		const RuleNode *n = m->leaves[j];
		bool		exists = n->kind == RULE_EXISTS;
		char	   *cond = RcLeafCondition(c, &s, exists ? n->name : n->value->source,
										   exists ? n->filter : n->value->filter,
										   exists ? n->window : n->value->window);
		char	   *yes;
		char	   *no;
		bool		holds = false;

		if (c->key_checked == n)
			return NULL;
		if (exists)
			yes = psprintf("segment.audience_agg(e.%s::bigint)", s.customer);
		else if (!RcGroupedCalls(c, n, &s, &yes, &no, &holds))
			return NULL;
		m->holds[j] = holds;
		AddColumn(&cols, psprintf("yes%d", j + 1), yes, cond);
		if (holds)				/* every customer with rows, as the grouped scan */
			AddColumn(&cols, psprintf("seen%d", j + 1), psprintf("segment.audience_agg(e.%s::bigint)", s.customer), cond);
		appendStringInfo(&where, "%s%s", j > 0 ? " OR " : "", cond);
	}
	c->unchecked |= !s.references_customers;
	return ShardUnion(&cols, parts, &s, psprintf("(%s)", where.data));
}

/*
 * A predicate's subquery in c->sql as a union over the shards of the table
 * it scans: customer conditions, EXISTS and aggregates (sequences and
 * ranks read several rows of a customer across scans: kept as they are).
 */
bool
RcShardLeaf(Compiler *c, const RuleNode *n, bool complement)
{
	const char *source = NULL;
	char	   *sql;

	if (rule_is_customer_only(n))
		source = NULL;
	else
		switch (n->kind)
		{
			case RULE_EXISTS:
				source = n->name;
				break;
			case RULE_TAG_IN:
			case RULE_TAG_EMPTY:
			case RULE_IN_SEGMENT:
			case RULE_IN_SNAPSHOT:
			case RULE_SEQUENCE:
			case RULE_RANK:
			case RULE_AND:
			case RULE_OR:
			case RULE_NOT:
				return false;
			default:
				if (n->value != NULL && n->value->kind == RULE_VALUE_AGG)
				{
					if (ShardAggregate(c, n, complement))
						return true;
					source = n->value->source;
				}
		}
	sql = source ? RcShardSource(c, source, c->sql.data) : RcShardCustomers(c, c->sql.data);
	if (sql == c->sql.data)
		return false;
	resetStringInfo(&c->sql);
	appendStringInfoString(&c->sql, sql);
	return true;
}

PG_FUNCTION_INFO_V1(segment_shard_reason);

/*
 * shard_reason(relation, customer_column): NULL when the compiler scans the
 * relation shard by shard, else why not (segment.sharding() lists them).
 */
Datum
segment_shard_reason(PG_FUNCTION_ARGS)
{
	Oid			rel;
	const char *key = NULL;
	const char *why;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation must not be NULL")));
	rel = PG_GETARG_OID(0);
	if (get_rel_relkind(rel) == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", rel)));
	if (!PG_ARGISNULL(1))
	{
		key = NameStr(*PG_GETARG_NAME(1));
		if (get_attnum(rel, key) == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist", key, get_rel_name(rel))));
	}
	if (rc_shard_partitions(rel, key, &why) != NIL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(why));
}
