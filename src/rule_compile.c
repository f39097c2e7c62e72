/*
 * rule_compile.c
 *		Rule -> SQL.
 *
 * Strategy (doc/segments.md, "Evaluating a rule"): every predicate becomes
 * one scalar subquery that builds an audience with audience_agg over ONE
 * scan of a table (the customer table, a source, or the tag store), and the
 * boolean structure becomes audience algebra: AND is &, OR is |, NOT is
 * universe -.
 * Aggregate predicates scan their source once, grouped by customer; when
 * the predicate also holds for customers without any matching row
 * (count(...) = 0, sum(...) < 300), those are added as universe minus the
 * customers seen.  The whole rule is one ordinary SQL statement: the
 * planner picks index scans, hash aggregates and parallel workers for each
 * subquery.
 *
 * Everything from the rule reaches SQL through quote_identifier() or
 * quote_literal_cstr() with an explicit cast to the column's type, after
 * the literal was checked by that type's input function.  Relative windows
 * are resolved against as_of here, so the SQL is self-contained.
 *
 * The compiler is a function of a rule and a catalog snapshot
 * (src/catalog.h): RcPrepare takes the registry from the snapshot, and
 * sources come from it; the planner's estimates (RcPlanCost) and the
 * literals' input functions are its only other inputs.  This file holds
 * the compiler's state, literals and conditions, source scans, the boolean
 * structure and the entry points; rule_compile_int.h lists the others.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"

#include "catalog/pg_class.h"

#include "catalog/pg_type.h"

#include "executor/spi.h"

#include "lib/stringinfo.h"

#include "miscadmin.h"

#include "nodes/plannodes.h"

#include "parser/parse_coerce.h"

#include "utils/builtins.h"

#include "utils/lsyscache.h"

#include "utils/memutils.h"

#include "utils/plancache.h"

#include "utils/syscache.h"

#include "utils/timestamp.h"

#include "key_dictionary.h"

#include "rule_compile_int.h"

#include "rule_compile_shard.h"

#include "rule_pg.h"

#include "rule_print.h"

#include "rule_rewrite.h"

#include "rule_share.h"

#include "segment.h"

/* A relation's and a type's names as regclass and regtype print them. */
static char *
RelText(Oid rel)
{
	return DatumGetCString(DirectFunctionCall1(regclassout, ObjectIdGetDatum(rel)));
}

static char *
TypeText(Oid type)
{
	return DatumGetCString(DirectFunctionCall1(regtypeout, ObjectIdGetDatum(type)));
}

/* The registration through the catalog layer, then the checked tenant. */
static void
LoadRegistry(Registry *reg, const CatalogSnapshot *catalog)
{
	const CatalogRegistry *r = catalog_customers(catalog, NULL);

	reg->rel = r->rel;
	reg->relname = RelText(r->rel);
	reg->key_column = pstrdup(r->key_column);
	reg->key = pstrdup(quote_identifier(r->key_column));
	reg->key_ordinal = psprintf("cu.%s", reg->key);
	reg->dictionary = r->dictionary;
	reg->tenant = r->tenant_column ? pstrdup(quote_identifier(r->tenant_column)) : NULL;
	reg->key_type = TypeText(r->key_type);
	reg->unguarded = !reg->dictionary && r->relkind != RELKIND_RELATION &&
		r->relkind != RELKIND_PARTITIONED_TABLE;
	reg->unguarded |= !reg->dictionary && rc_has_foreign_partitions(r->rel);	/* scale-out: no key trigger */
	/* segment._tenant() checks the setting and the role's grant of the tenant */
	reg->tenant_value = catalog_tenant();
	if (reg->dictionary)
		reg->cached = catalog_dictionary_cached();
}

/*
 * Dictionary keys: the ordinal of alias.col, through the backend's cache
 * of the dictionary (segment.customer_ordinal(), src/key_dictionary.c) when
 * it fits in segment.dictionary_cache_size, else from a join with the
 * dictionary (RcDictJoin) as "o.ordinal".  The join hashes the whole
 * dictionary for every query; the cache is read once per backend.
 */
const char *
RcDictOrdinal(const Registry *reg, const char *alias, const char *col)
{
	if (!reg->cached)
		return "o.ordinal";
	return psprintf("segment.customer_ordinal(%s.%s::%s)", alias, col, reg->key_type);
}

/*
 * The audience of the ordinals of dictionary keys alias.col, for scans that
 * aggregate them: audience_agg_keys() maps the keys many at a time, in the
 * order of the cache's slots (src/key_dictionary_agg.c), where
 * audience_agg(customer_ordinal()) paid a cache miss per row.  Without the
 * cache, the ordinals of the join (RcDictJoin).
 */
const char *
RcDictAudience(const Registry *reg, const char *alias, const char *col)
{
	if (!reg->cached)
		return "segment.audience_agg(o.ordinal)";
	return psprintf("segment.audience_agg_keys(%s.%s::%s)", alias, col, reg->key_type);
}

const char *
RcDictJoin(const Registry *reg, const char *alias, const char *col)
{
	if (reg->cached)
		return "";
	return psprintf(" JOIN segment.customer_ordinals o ON o.key = %s.%s", alias, col);
}

static void
ReadSource(const CatalogSnapshot *catalog, const char *name, Source *s)
{
	const CatalogSource *cs = catalog_source(catalog, name);

	s->rel = cs->rel;
	s->relname = RelText(cs->rel);
	s->customer = pstrdup(quote_identifier(cs->customer_column));
	s->time = pstrdup(quote_identifier(cs->time_column));
	s->time_type = cs->time_type;
	s->references_customers = cs->references_customers;
	s->customer_ordered = RcCustomerOrdered(cs->rel, cs->customer_column);
	s->key_collation = RcColumnCSortable(cs->rel, cs->customer_column);
}

/*
 * Whether a source's rows lie largely in customer order (ANALYZE's
 * correlation of the customer column at least 0.5 either way).  Then an
 * index scan on the customer column reads the heap mostly in order, and
 * the planner's GroupAggregate over it is the hand-written plan: the
 * OFFSET 0 fences of mode(), count_distinct and first/last in merged scans
 * (RcSortedInput), which keep the planner from walking an uncorrelated
 * customer index (correlation near 0 on the generalization shop, whose
 * events are inserted in time order: 46 s against 4.2 s), are left out.
 * On the sample CRM (orders inserted in runs of customers, correlation
 * 0.52), "mode(orders.channel) = 'online'" sorted 4.8M fenced rows on disk
 * in 4.3 s where the index walk took 2.9 s.  Partitioned tables have no
 * correlation of their own (catalog_column_correlation): fenced.
 */
bool
RcCustomerOrdered(Oid rel, const char *customer_column)
{
	return fabs(catalog_column_correlation(rel, customer_column)) >= 0.5;
}

/*
 * The source, read from the catalogs the first time a compilation asks
 * for it: planning alternatives compiles each predicate several times, and
 * each would otherwise run the same catalog query again.
 */
void
RcLoadSource(Compiler *c, const char *name, Source *s)
{
	int			i;

	for (i = 0; i < c->nsources; i++)
		if (strcmp(c->sources[i].name, name) == 0)
		{
			*s = c->sources[i].source;
			return;
		}
	ReadSource(c->catalog, name, s);
	if (c->nsources % 8 == 0)
		c->sources = c->sources ? repalloc(c->sources, sizeof(CachedSource) * (c->nsources + 8))
			: palloc(sizeof(CachedSource) * 8);
	c->sources[c->nsources].name = pstrdup(name);
	c->sources[c->nsources].source = *s;
	c->nsources++;
}

/*
 * rel.column's own collation when its values sort alike under COLLATE "C"
 * (catalog_column_c_sortable) and the rows are local; else NULL.  Rows read
 * through postgres_fdw (a foreign table or partition) keep their collation:
 * COLLATE "C" would keep the aggregate from being shipped to the shard.
 */
char *
RcColumnCSortable(Oid rel, const char *column)
{
	char	   *collation = catalog_column_c_sortable(rel, column);

	if (collation != NULL &&
		(get_rel_relkind(rel) == RELKIND_FOREIGN_TABLE || rc_has_foreign_partitions(rel)))
		return NULL;
	return collation;
}

/* The type of rel.column, or the error naming the columns that exist. */
Oid
RcColumnType(Oid rel, const char *relname, const char *column)
{
	return catalog_column_type(rel, relname, column);
}

/*
 * TAG 'group' [NOT] IN (...) / IS [NOT] EMPTY over the tag store; returns
 * true when the predicate is the universe minus the holders found.
 */
/* The id of the tenant's tag group, or the error naming the groups. */
char *
RcTagGroupId(const char *name)
{
	return psprintf("%d", catalog_group_id(name));
}

/* " AND t.value IN (...)" of TAG ... IN, nothing for IS EMPTY. */
void
RcAppendTagValues(Compiler *c, const RuleNode *n)
{
	int			i;

	if (n->kind != RULE_TAG_IN)
		return;
	appendStringInfoString(&c->sql, " AND t.value IN (");
	for (i = 0; i < n->nargs; i++)
		appendStringInfo(&c->sql, "%s%s", i > 0 ? ", " : "", quote_literal_cstr(n->args[i].text));
	appendStringInfoChar(&c->sql, ')');
}

static bool
CompileTag(Compiler *c, const RuleNode *n)
{
	char	   *gid = RcTagGroupId(n->name);
	bool		complement = n->negated;

	if (n->kind == RULE_TAG_EMPTY)
		complement = !n->negated;	/* IS EMPTY = universe minus holders */
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(m.ordinal), '{}') AS yes FROM segment.tag_members m "
					 "JOIN segment.tags t ON t.id = m.tag_id WHERE t.group_id = %s", gid);
	RcAppendTagValues(c, n);
	RcAppendAmong(c, "m.ordinal");
	return complement;
}

/* IN SEGMENT 'name': the segment's last refreshed members. */
/* The id of the tenant's segment, or the error naming the segments. */
char *
RcSegmentId(const char *name)
{
	return psprintf(INT64_FORMAT, catalog_segment_id(name));
}

/* The snapshot's id, or the error naming the tenant's snapshots. */
char *
RcSnapshotId(const char *label)
{
	return psprintf(INT64_FORMAT, catalog_snapshot_id(label));
}

/*
 * IN SEGMENT reads the segment's stored members; IN SNAPSHOT the frozen
 * members of a snapshot, by id (its label was checked now).
 */
static void
CompileInSegment(Compiler *c, const RuleNode *n)
{
	bool		snapshot = n->kind == RULE_IN_SNAPSHOT;
	char	   *id = snapshot ? RcSnapshotId(n->name) : RcSegmentId(n->name);

	appendStringInfo(&c->sql, "SELECT coalesce(members%s, '{}') AS yes FROM segment.%s WHERE id = %s",
					 c->among ? " OPERATOR(segment.&) $1" : "", snapshot ? "snapshots" : "segments", id);
}

/*
 * Sharing: the one-row result of a subquery (from the cache, or computed
 * now) as parameters of the final query; returns the select list
 * "$i AS col, ..." that stands for the subquery.
 */
static char *
SharedParams(Compiler *c, const char *subquery)
{
	RuleQuery  *q = c->query;
	bool		hit;
	const RuleShared *r = rule_share_get(subquery, &hit);
	StringInfoData list;
	int			i;

	initStringInfo(&list);
	q->types = repalloc(q->types, sizeof(Oid) * (q->nparams + r->ncols));
	q->values = repalloc(q->values, sizeof(Datum) * (q->nparams + r->ncols));
	q->nulls = repalloc(q->nulls, q->nparams + r->ncols);
	for (i = 0; i < r->ncols; i++)
	{
		q->types[q->nparams] = r->types[i];
		q->values[q->nparams] = r->values[i];
		q->nulls[q->nparams] = r->nulls[i] ? 'n' : ' ';
		q->nparams++;
		appendStringInfo(&list, "%s$%d AS %s", i > 0 ? ", " : "", q->nparams,
						 quote_identifier(r->names[i]));
	}
	return list.data;
}

static bool
IsCovered(Compiler *c, const RuleNode *n)
{
	int			i;

	for (i = 0; i < c->ncovered; i++)
		if (c->covered[i] == n)
			return true;
	return false;
}

static bool
IsAggregateLeaf(const RuleNode *n)
{
	return n->kind != RULE_AND && n->kind != RULE_OR && n->kind != RULE_NOT &&
		n->kind != RULE_RANK && n->value != NULL && n->value->kind == RULE_VALUE_AGG;
}

/* Whether an aggregate predicate holds for customers without rows. */
bool
RcAggregateHolds(Compiler *c, const RuleNode *n)
{
	Source		s;
	AggInfo		a;

	RcLoadSource(c, n->value->source, &s);
	RcCheckAggregate(c, n->value, &s, &a);
	return RcEmptyHolds(c, n, &a);
}

/*
 * Whether a positive sibling of leaf in the AND (an EXISTS, or an aggregate
 * false over no rows) has the leaf's source, filter and window: then every
 * customer of the AND has rows where the leaf aggregates, and its value
 * over no rows never matters.
 */
bool
RcCoveredInAnd(Compiler *c, const RuleNode *and, const RuleNode *leaf)
{
	int			i;

	for (i = 0; i < and->nchildren; i++)
	{
		const RuleNode *p = and->children[i];

		if (p != leaf && p->kind != RULE_NOT && rule_same_scope(leaf, p) &&
			(p->kind == RULE_EXISTS || !RcAggregateHolds(c, p)))
			return true;
	}
	return false;
}

/*
 * In "P AND agg(...) < x" where P is an EXISTS, or an aggregate false over
 * no rows, with the same source, filter and window as the aggregate, every
 * customer of P has rows there: the customers without rows that the
 * aggregate admits (universe - seen) cannot survive the AND, so they are
 * not computed (13's "sum >= 300 AND sum < 2000" needs no universe).
 */
static void
MarkCovered(Compiler *c, const RuleNode *and)
{
	int			i;

	for (i = 0; i < and->nchildren; i++)
	{
		const RuleNode *a = and->children[i];

		if (!IsAggregateLeaf(a) || IsCovered(c, a) || !RcCoveredInAnd(c, and, a))
			continue;
		if (c->covered == NULL)
			c->covered = palloc(sizeof(RuleNode *) * RULE_MAX_TREE_LEVELS);
		if (c->ncovered < RULE_MAX_TREE_LEVELS)
			c->covered[c->ncovered++] = a;
	}
}
/*
 * A predicate: its subquery goes into the FROM list as pN (one row), and
 * the expression refers to pN's columns.
 */
static void
CompileLeaf(Compiler *c, const RuleNode *n)
{
	StringInfoData expr = c->sql;
	int			id = ++c->npred;
	bool		complement = false;
	bool		aggregate = false;
	int			alias,
				column;

	bool		holds = false;
	bool		one_pass = false;
	const Merged *m = RcFindMerged(c, n, &alias, &column);

	if (m)
	{
		c->npred--;
		RcAppendAggExpr(c, psprintf("s%d", alias), psprintf("%d", column),
					  m->holds[column - 1] && !IsCovered(c, n));
		return;
	}
	initStringInfo(&c->sql);
	switch (rule_is_customer_only(n) ? RULE_AND : n->kind)
	{
		case RULE_AND:			/* customer conditions, any shape */
			RcCompileCustomer(c, n);
			break;
		case RULE_EXISTS:
			RcCompileExists(c, n);
			break;
		case RULE_TAG_IN:
		case RULE_TAG_EMPTY:
			/* tags and stored members may outlive their customers */
			complement = CompileTag(c, n);
			c->unchecked = true;
			break;
		case RULE_IN_SEGMENT:
		case RULE_IN_SNAPSHOT:
			CompileInSegment(c, n);
			c->unchecked = true;
			break;
		case RULE_SEQUENCE:
			RcCompileSequence(c, n);
			break;
		case RULE_RANK:
			RcCompileRank(c, n);
			break;
		default:
			aggregate = n->value->kind == RULE_VALUE_AGG;
			/* a lone aggregate in one pass, else its grouped scan */
			if (aggregate)
				one_pass = RcLocalGroupedAggregate(c, n, IsCovered(c, n), &holds);
			if (aggregate && !one_pass)
				holds = RcCompileAggregate(c, n);
			else if (!aggregate)
				RcCompileCustomer(c, n);
	}
	/* scale-out: per shard (rule_compile_shard.c) */
	if (!one_pass)
		RcShardLeaf(c, n, aggregate && holds && !IsCovered(c, n));
	/*
	 * IN SEGMENT (and a rank AMONG SEGMENT) is never shared: refresh_all()
	 * changes segments as it goes; IN SNAPSHOT is one cheap row read
	 */
	if (c->share && n->kind != RULE_IN_SEGMENT && n->kind != RULE_IN_SNAPSHOT &&
		!(n->kind == RULE_RANK && n->name != NULL))
		appendStringInfo(&c->from, ",\n  (SELECT %s) p%d", SharedParams(c, c->sql.data), id);
	else
		appendStringInfo(&c->from, ",\n  (%s) p%d", c->sql.data, id);
	pfree(c->sql.data);
	c->sql = expr;
	if (complement)
	{
		appendStringInfo(&c->sql, "(u.a OPERATOR(segment.-) p%d.yes)", id);
		c->uses_universe = true;
	}
	else
		RcAppendAggExpr(c, psprintf("p%d", id), "", aggregate && holds && !IsCovered(c, n));
}

/*
 * x AND NOT y is x - y: the NOT children of an AND are subtracted from the
 * AND of the others, so "bought ... AND NOT EXISTS ..." needs no universe.
 * Only an AND of nothing but NOTs complements the universe.
 */
static bool
Subtracted(const RuleNode *n)
{
	/* a NOT of customer conditions is one scan with the negated condition */
	return n->kind == RULE_NOT && !rule_is_customer_only(n);
}

static void
CompileAnd(Compiler *c, const RuleNode *n)
{
	int			i;
	int			npositive = 0;

	if (RcFoldedScan(c, n, &i))
	{
		appendStringInfo(&c->sql, "s%d.fold", i);
		return;
	}
	MarkCovered(c, n);
	appendStringInfoChar(&c->sql, '(');
	for (i = 0; i < n->nchildren; i++)
		if (!Subtracted(n->children[i]))
		{
			if (npositive++ > 0)
				appendStringInfoString(&c->sql, " OPERATOR(segment.&) ");
			RcCompileNode(c, n->children[i]);
		}
	for (i = 0; i < n->nchildren; i++)
		if (Subtracted(n->children[i]))
		{
			if (npositive == 0)
			{
				appendStringInfoString(&c->sql, "u.a");
				c->uses_universe = true;
				npositive = 1;
			}
			appendStringInfoString(&c->sql, " OPERATOR(segment.-) ");
			RcCompileNode(c, n->children[i]->children[0]);
		}
	appendStringInfoChar(&c->sql, ')');
}

void
RcCompileNode(Compiler *c, const RuleNode *n)
{
	int			i;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (rule_is_customer_only(n))
	{
		CompileLeaf(c, n);
		return;
	}
	switch (n->kind)
	{
		case RULE_AND:
			CompileAnd(c, n);
			break;
		case RULE_OR:
			appendStringInfoChar(&c->sql, '(');
			for (i = 0; i < n->nchildren; i++)
			{
				if (i > 0)
					appendStringInfo(&c->sql, " OPERATOR(segment.%s) ", n->kind == RULE_AND ? "&" : "|");
				RcCompileNode(c, n->children[i]);
			}
			appendStringInfoChar(&c->sql, ')');
			break;
		case RULE_NOT:
			c->uses_universe = true;
			appendStringInfoString(&c->sql, "(u.a OPERATOR(segment.-) ");
			RcCompileNode(c, n->children[0]);
			appendStringInfoChar(&c->sql, ')');
			break;
		default:
			CompileLeaf(c, n);
	}
}

/* The universe: registered customers of the current tenant (restricted). */
static char *
UniverseSql(Compiler *c)
{
	StringInfoData u;

	initStringInfo(&u);
	appendStringInfo(&u, "SELECT coalesce(%s, '{}') AS a FROM %s cu",
					 RcCustomerAudience(c), c->reg.relname);
	if (c->reg.dictionary)
		appendStringInfoString(&u, RcDictJoin(&c->reg, "cu", c->reg.key));
	appendStringInfoString(&u, " WHERE true");
	if (c->reg.unguarded)
		appendStringInfo(&u, " AND cu.%s BETWEEN 0 AND 4294967295", c->reg.key);
	if (c->reg.tenant)
		appendStringInfo(&u, " AND cu.%s::text = %s", c->reg.tenant, quote_literal_cstr(c->reg.tenant_value));
	if (c->among)
	{
		StringInfoData saved = c->sql;

		c->sql = u;
		RcAppendAmongKey(c, psprintf("cu.%s", c->reg.key),
					   c->reg.dictionary ? RcCustomerOrdinal(c) : psprintf("cu.%s", c->reg.key));
		u = c->sql;
		c->sql = saved;
	}
	return RcShardCustomers(c, u.data); /* scale-out: per shard */
}

/* The ordinal of a customer-table row (alias cu) and its join, if any. */
const char *
RcCustomerOrdinal(Compiler *c)
{
	return c->reg.dictionary ? RcDictOrdinal(&c->reg, "cu", c->reg.key) : psprintf("cu.%s::bigint", c->reg.key);
}

/* The audience of the customer-table rows (alias cu) a scan selects. */
const char *
RcCustomerAudience(Compiler *c)
{
	return c->reg.dictionary ? RcDictAudience(&c->reg, "cu", c->reg.key)
		: psprintf("segment.audience_agg(cu.%s::bigint)", c->reg.key);
}

/* Reads the registry and the clock; sets the modes that follow from them. */
void
RcPrepare(Compiler *c, TimestampTz as_of)
{
	c->catalog = catalog_snapshot();
	LoadRegistry(&c->reg, c->catalog);
	c->as_of = as_of;
	c->tz = rule_pg_zone(NULL);
	rule_pg_as_of(as_of, c->tz, &c->local, &c->epoch);
	c->post_join = c->reg.dictionary && !c->among;
	c->choose = !c->among && !c->share;
	initStringInfo(&c->from);
	initStringInfo(&c->sql);
	initStringInfo(&c->notes);
}

/* For the rewrites: whether source.column is a date or timestamp. */
static bool
IsTimeColumn(void *arg, const char *source, const char *column)
{
	Compiler   *c = (Compiler *) arg;
	Source		s;

	RcLoadSource(c, source, &s);
	return RcIsTimeType(RcColumnType(s.rel, s.relname, column));
}

/* The rule rewritten for evaluation at the compiler's as-of (rule_rewrite.h). */
const RuleNode *
RcRewrite(Compiler *c, const RuleNode *rule)
{
	RuleArena	arena;
	RuleNode   *out;
	RuleRewriteClock clock;

	clock.local = c->local;
	clock.epoch_usec = c->epoch;
	clock.is_time_column = IsTimeColumn;
	clock.arg = c;
	rule_pg_arena(&arena);
	if ((out = rule_rewrite_at(rule, &arena, &clock)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return out;
}

/*
 * The query around the rule's expression, among candidates and while
 * refresh_all() shares predicates.  When the expression never
 * complements (no NOT, no zero-inclusive aggregate, no TAG NOT IN / IS
 * EMPTY), the universe need not be built: the expression's customers are
 * checked against the customer table instead (index lookups for a few,
 * a hash semi-join for many), which keeps selective rules cheap.
 */
void
RcCompile(Compiler *c, const RuleNode *rule, TimestampTz as_of)
{
	StringInfoData expr;

	RcPrepare(c, as_of);
	rule = RcRewrite(c, rule);
	if (c->choose)
	{
		RcCompilePlain(c, rule);
		return;
	}
	RcCompileMergedScans(c, rule);
	RcCompileNode(c, rule);
	expr = c->sql;

	initStringInfo(&c->sql);
	appendStringInfoString(&c->sql, "WITH ");
	if (c->among_customers)
		appendStringInfoString(&c->sql, "r AS MATERIALIZED (SELECT id FROM segment.ids_bigint($1) id),\n");
	/*
	 * While refresh_all() shares predicates, the universe is computed once
	 * per run, so it is also the cheapest registered-customer check.
	 */
	if (c->share && c->unchecked)
		c->uses_universe = true;
	if ((c->unchecked || c->reg.tenant || c->reg.dictionary) && RcShardedCustomers(c))
		c->uses_universe = true;	/* scale-out: the check is one audience per shard */
	if (c->uses_universe)
	{
		char	   *universe = UniverseSql(c);

		if (c->share)
			appendStringInfo(&c->sql, "u AS (SELECT %s)", SharedParams(c, universe));
		else if (c->among_customers)
			appendStringInfoString(&c->sql, "u AS (SELECT $1 AS a)");
		else
			appendStringInfo(&c->sql, "u AS MATERIALIZED (%s)", universe);
		appendStringInfo(&c->sql, "\nSELECT u.a OPERATOR(segment.&) %s\nFROM u%s", expr.data, c->from.data);
		return;
	}
	/*
	 * Every customer found comes from the customer table or from sources
	 * whose foreign key guarantees it is there, or is one of candidates
	 * taken from the customer table, or the rule is (an AND with) customer
	 * conditions, whose scan of the tenant's customers is the check (the
	 * rest of a reduced rule, "count(orders DURING TODAY) >= 1 AND
	 * customer.city IS NOT NULL", scanned the candidates' customer rows a
	 * second time for it): no check needed.
	 */
	if ((!c->unchecked && !c->reg.tenant && !c->reg.dictionary) || c->among_customers || c->driver ||
		rule_is_customer_only(rule) || RcHasCustomerConjunct(rule))
	{
		resetStringInfo(&c->sql);
		if (c->among_customers)
			appendStringInfoString(&c->sql, "WITH r AS MATERIALIZED (SELECT id FROM segment.ids_bigint($1) id)\n");
		appendStringInfo(&c->sql, "SELECT %s\nFROM%s", expr.data, c->from.data + 1);
		return;
	}
	appendStringInfo(&c->sql, "x AS MATERIALIZED (SELECT %s AS a\nFROM%s)\n", expr.data, c->from.data + 1);
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(%s), '{}') FROM %s cu",
					 RcCustomerOrdinal(c), c->reg.relname);
	if (c->reg.dictionary)
		appendStringInfoString(&c->sql, RcDictJoin(&c->reg, "cu", c->reg.key));
	appendStringInfo(&c->sql, " WHERE %s IN (SELECT segment.ids_bigint(x.a) FROM x)",
					 c->reg.dictionary ? RcCustomerOrdinal(c) : psprintf("cu.%s", c->reg.key));
	/* among keys, only the candidates' rows are read (their key index) */
	if (c->among_keys)
		appendStringInfo(&c->sql, " AND cu.%s = ANY ($2)", c->reg.key);
	if (c->reg.tenant)
		appendStringInfo(&c->sql, " AND cu.%s::text = %s", c->reg.tenant, quote_literal_cstr(c->reg.tenant_value));
}

char *
rule_compile_sql(const RuleNode *rule, TimestampTz as_of, RuleAmong among, int64 among_count)
{
	Compiler	c;

	memset(&c, 0, sizeof(c));
	c.among = among != RULE_AMONG_NONE;
	c.among_customers = among == RULE_AMONG_CUSTOMERS;
	c.among_keys = among == RULE_AMONG_KEYS;
	c.among_count = among_count;
	RcCompile(&c, rule, as_of);
	return c.sql.data;
}

void
rule_compile_shared(const RuleNode *rule, TimestampTz as_of, RuleQuery *query)
{
	Compiler	c;

	memset(&c, 0, sizeof(c));
	memset(query, 0, sizeof(*query));
	query->types = palloc(sizeof(Oid));
	query->values = palloc(sizeof(Datum));
	query->nulls = palloc(1);
	c.share = true;
	c.query = query;
	RcCompile(&c, rule, as_of);
	query->sql = c.sql.data;
}

/*
 * Several rules at once (the values of a tag group): one query returning
 * one audience per rule, whose predicates over the same source share one
 * grouped scan across all the rules (the tiers' three "sum(orders.amount
 * WHERE status = 'paid')" are one column of one scan).  Intersects with
 * the universe (restricted to the candidates, if any) unless, as for one
 * rule, nothing complements and every customer found is registered.
 */
char *
rule_compile_many(const RuleNode **rules, int n, TimestampTz as_of, RuleAmong among, int64 among_count)
{
	Compiler	c;
	RuleNode	all;
	StringInfoData select;
	RuleNode  **rewritten;
	char	  **exprs;
	int			i;

	memset(&c, 0, sizeof(c));
	c.among = among != RULE_AMONG_NONE;
	c.among_customers = among == RULE_AMONG_CUSTOMERS;
	c.among_count = among_count;
	RcPrepare(&c, as_of);
	initStringInfo(&select);
	rewritten = palloc(sizeof(RuleNode *) * Max(n, 1));
	for (i = 0; i < n; i++)
		rewritten[i] = (RuleNode *) RcRewrite(&c, rules[i]);
	rules = (const RuleNode **) rewritten;

	/* a root over all rules, so that leaf collection sees them together */
	memset(&all, 0, sizeof(all));
	all.kind = RULE_OR;
	all.nchildren = n;
	all.children = (RuleNode **) rules;
	RcCompileMergedScans(&c, &all);
	exprs = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		resetStringInfo(&c.sql);
		RcCompileNode(&c, rules[i]);
		exprs[i] = pstrdup(c.sql.data);
	}

	/*
	 * Like a single rule, no universe is needed when nothing complements and
	 * every customer found is known to be registered (and of the tenant).
	 */
	if (!c.uses_universe && !c.unchecked && !c.reg.tenant && !c.reg.dictionary &&
		!c.among_customers && c.from.len > 0)
	{
		for (i = 0; i < n; i++)
			appendStringInfo(&select, "%s%s AS r%d", i > 0 ? ",\n  " : "", exprs[i], i + 1);
		resetStringInfo(&c.sql);
		appendStringInfo(&c.sql, "SELECT %s\nFROM%s", select.data, c.from.data + 1);
		return c.sql.data;
	}
	for (i = 0; i < n; i++)
		appendStringInfo(&select, "%su.a OPERATOR(segment.&) %s AS r%d", i > 0 ? ",\n  " : "", exprs[i], i + 1);
	resetStringInfo(&c.sql);
	appendStringInfoString(&c.sql, "WITH ");
	if (c.among_customers)
		appendStringInfoString(&c.sql, "r AS MATERIALIZED (SELECT id FROM segment.ids_bigint($1) id),\n");
	appendStringInfo(&c.sql, "u AS MATERIALIZED (%s)\nSELECT %s\nFROM u%s", UniverseSql(&c), select.data, c.from.data);
	return c.sql.data;
}


