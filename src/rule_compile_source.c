/*
 * rule_compile_source.c
 *		Scans of a source: FROM (with the dictionary join), WHERE (filter,
 *		window, key range, candidates), grouping on the customer, and the
 *		EXISTS predicate, one scan without grouping.
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
#include "rule_pg.h"
#include "rule_print.h"
#include "rule_rewrite.h"
#include "rule_share.h"
#include "segment.h"

/*
 * Restricts a scan to the candidates in $1.  Candidates from the customer
 * table (customer-first evaluation, fresh statistics) join as a semi-join
 * with CTE r, which the planner turns into index lookups or a hash join.
 * Candidates of the tagging triggers come with tables just written, whose
 * statistics may be stale, so no join is left to estimates: a few are an
 * "= ANY (array)" (index lookups), many a bitmap probe per row.
 */
void
RcAppendAmong(Compiler *c, const char *key)
{
	if (!c->among)
		return;
	if (c->among_keys)
		appendStringInfo(&c->sql, " AND $1 OPERATOR(segment.@>) %s::bigint", key);
	else
	if (c->among_customers)
		appendStringInfo(&c->sql, " AND %s IN (SELECT r.id FROM r)", key);
	else if (c->among_count <= RULE_AMONG_LIST_MAX)
		appendStringInfo(&c->sql, " AND %s = ANY ($1::bigint[])", key);
	else
		appendStringInfo(&c->sql, " AND $1 OPERATOR(segment.@>) %s::bigint", key);
}

/*
 * The same for a scan whose rows carry the customer key itself (native,
 * e.g. "e.buyer_id"): with the candidates' keys at hand, "native = ANY
 * ($2)" lets the planner probe an index on it for each candidate.
 */
void
RcAppendAmongKey(Compiler *c, const char *native, const char *ordinal)
{
	if (c->among && c->among_keys)
		appendStringInfo(&c->sql, " AND %s = ANY ($2)", native);
	else
		RcAppendAmong(c, ordinal);
}

/*
 * The FROM clause of a source scan (alias e).  Dictionary keys are mapped
 * to ordinals in the scan only among candidates (whose restriction is on
 * ordinals); otherwise grouped scans group on the source's own key, in its
 * own type, so that an index on it gives the order, and join the
 * dictionary once per customer afterwards (RcInnerKey, RcOuterKey).
 */
void
RcAppendSourceFrom(Compiler *c, const Source *s)
{
	appendStringInfo(&c->sql, " FROM %s e", s->relname);
	if (c->reg.dictionary && !c->post_join)
		appendStringInfoString(&c->sql, RcDictJoin(&c->reg, "e", s->customer));
}

/* The ordinal of a source row, when the scan maps keys itself. */
const char *
RcSourceOrdinal(Compiler *c, const Source *s)
{
	return c->reg.dictionary ? RcDictOrdinal(&c->reg, "e", s->customer) : psprintf("e.%s::bigint", s->customer);
}

/* The audience of the source rows a scan selects, when it maps keys itself. */
const char *
RcSourceAudience(Compiler *c, const Source *s)
{
	return c->reg.dictionary ? RcDictAudience(&c->reg, "e", s->customer)
		: psprintf("segment.audience_agg(e.%s::bigint)", s->customer);
}

/* What a grouped scan groups on: the source's key, or the ordinal. */
const char *
RcInnerKey(Compiler *c, const Source *s)
{
	return c->reg.dictionary && !c->post_join ? RcDictOrdinal(&c->reg, "e", s->customer) : psprintf("e.%s", s->customer);
}

/*
 * A sorted scan's key under COLLATE "C", when its rows are sorted by a key
 * of their own (dictionary keys grouped before they are mapped) whose
 * collation sorts alike under "C" (RcColumnCSortable), and not
 * walked in customer order by an index (whose order is the column's own
 * collation); else NULL.  The grouped key is put back under the column's
 * collation (RcSortedKeyOutput) for what compares it afterwards.
 */
const char *
RcSortedKey(Compiler *c, const Source *s)
{
	if (!c->post_join || s->key_collation == NULL || s->customer_ordered)
		return NULL;
	return psprintf("e.%s COLLATE \"C\"", s->customer);
}

/* expr, a key sorted under "C" (RcSortedKey), under the column's collation */
const char *
RcSortedKeyOutput(const Source *s, const char *expr)
{
	return psprintf("%s COLLATE %s", expr, s->key_collation);
}

/* The ordinal of a grouped row (alias g), and the dictionary join after it. */
const char *
RcOuterKey(Compiler *c)
{
	return c->post_join ? RcDictOrdinal(&c->reg, "g", "k") : c->reg.dictionary ? "g.k" : "g.k::bigint";
}

/*
 * The audience of grouped rows (alias g) selected by what follows it (a
 * FILTER): with dictionary keys grouped on the key, the keys are mapped in
 * batches (audience_agg_keys), not one customer_ordinal() per group.
 */
const char *
RcOuterAudience(Compiler *c)
{
	if (c->post_join)
		return RcDictAudience(&c->reg, "g", "k");
	return psprintf("segment.audience_agg(%s)", RcOuterKey(c));
}

static const char *
OuterJoin(Compiler *c)
{
	return c->post_join ? RcDictJoin(&c->reg, "g", "k") : "";
}

/*
 * Dictionary keys: c->sql holds "SELECT <list> FROM (<grouped>) g JOIN
 * segment.customer_ordinals o ..." with the list ending at list_end.
 * Rewritten as "WITH g AS MATERIALIZED (<grouped>) SELECT <list> FROM g
 * JOIN ...": joined as a subquery, the planner put a parallel scan of the
 * dictionary outside and ran the whole grouped scan once in every worker
 * to build its hash table (22 s instead of 7); a CTE is scanned by the
 * leader only, while its own plan stays parallel.  where, when not NULL,
 * keeps only the groups some audience of the list needs, so that only they
 * are looked up in the dictionary (14.7k of 101k groups for "avg(...) <
 * 2.5").
 */
void
RcFenceGrouped(Compiler *c, int list_end, const char *where)
{
	const char *from = " FROM (";
	const char *tail = ") g JOIN segment.customer_ordinals o ON o.key = g.k";
	int			inner_start = list_end + strlen(from);
	int			inner_len = c->sql.len - strlen(tail) - inner_start;
	StringInfoData out;

	if (!c->post_join || c->reg.cached)
		return;
	if (inner_len <= 0 || strncmp(c->sql.data + list_end, from, strlen(from)) != 0 ||
		strcmp(c->sql.data + c->sql.len - strlen(tail), tail) != 0)
		elog(ERROR, "unexpected grouped scan text");
	initStringInfo(&out);
	appendStringInfo(&out, "WITH g AS MATERIALIZED (%.*s) %.*s FROM g%s%s%s",
					 inner_len, c->sql.data + inner_start, list_end, c->sql.data, OuterJoin(c),
					 where ? " WHERE " : "", where ? where : "");
	pfree(c->sql.data);
	c->sql = out;
}

/* Text written by fn into a fresh buffer (the compiler appends to c->sql). */
static char *
Capture(Compiler *c, void (*fn) (Compiler *c, const void *arg, const Source *s, const char *name),
		const void *arg, const Source *s, const char *name)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	fn(c, arg, s, name);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

static void
FilterWriter(Compiler *c, const void *filter, const Source *s, const char *name)
{
	RcAppendFilter(c, (const RuleNode *) filter, s, name);
}

static void
WindowWriter(Compiler *c, const void *window, const Source *s, const char *name)
{
	RcAppendWindowCond(c, psprintf("e.%s", s->time), s->time_type, (const RuleWindow *) window);
}

/* A predicate's filter and window as conditions on a source row (NULL: none). */
char *
RcFilterText(Compiler *c, const Source *s, const char *name, const RuleNode *filter)
{
	return filter ? Capture(c, FilterWriter, filter, s, name) : NULL;
}

char *
RcWindowText(Compiler *c, const Source *s, const RuleWindow *window)
{
	return window ? Capture(c, WindowWriter, window, s, NULL) : NULL;
}

/* a AND b, either possibly NULL (true) */
char *
RcConjoin(const char *a, const char *b)
{
	if (a && b)
		return psprintf("(%s AND %s)", a, b);
	return pstrdup(a ? a : b ? b : "true");
}

/* The filter AND window of a predicate as a condition on a source row. */
char *
RcLeafCondition(Compiler *c, const Source *s, const char *name, const RuleNode *filter,
			  const RuleWindow *window)
{
	return RcConjoin(RcFilterText(c, s, name, filter), RcWindowText(c, s, window));
}

/*
 * Integer customer columns of sources without a foreign key may hold ids no
 * customer can have (negative, above 2^32-1): such rows are skipped, not an
 * error in audience_agg.
 */
static bool
NeedsKeyRange(Compiler *c, const Source *s)
{
	return !c->reg.dictionary && !s->references_customers;
}

void
RcAppendKeyRange(Compiler *c, const Source *s)
{
	if (NeedsKeyRange(c, s))
		appendStringInfo(&c->sql, " AND e.%s BETWEEN 0 AND 4294967295", s->customer);
}

/*
 * The end of a grouped scan (alias g).  Its key range is checked once per
 * customer after grouping, not on every row (which costs a scan of 4.7M
 * orders 60% more), behind OFFSET 0 so that the planner does not push the
 * condition back down to the rows.
 */
void
RcAppendGroupEnd(Compiler *c, const Source *s)
{
	RcAppendGroupEndBy(c, s, "1");
}

/* The same, grouped by what (a key sorted under "C": RcSortedKey). */
void
RcAppendGroupEndBy(Compiler *c, const Source *s, const char *what)
{
	if (NeedsKeyRange(c, s))
		appendStringInfo(&c->sql, " GROUP BY %s OFFSET 0) g WHERE g.k BETWEEN 0 AND 4294967295", what);
	else
		appendStringInfo(&c->sql, " GROUP BY %s) g%s", what, OuterJoin(c));
}

/*
 * WHERE clause of a source scan: filter and window (and the candidates);
 * the key range on every row unless the scan is grouped (RcAppendGroupEnd).
 */
static void
AppendWhere(Compiler *c, const Source *s, const char *cond, bool grouped)
{
	appendStringInfo(&c->sql, " WHERE %s", cond);
	if (!grouped)
		RcAppendKeyRange(c, s);
	RcAppendAmongKey(c, psprintf("e.%s", s->customer),
				   c->reg.dictionary ? RcDictOrdinal(&c->reg, "e", s->customer) : psprintf("e.%s", s->customer));
}

void
RcAppendSourceWhere(Compiler *c, const Source *s, const char *name, const RuleNode *filter,
				  const RuleWindow *window, bool grouped)
{
	AppendWhere(c, s, RcLeafCondition(c, s, name, filter, window), grouped);
}

/*
 * The customers with a row of a source satisfying cond (on alias e): one
 * scan, no grouping needed.  EXISTS, and sequences from their first step.
 */
void
RcCompileSourceSet(Compiler *c, const Source *s, const char *cond)
{
	c->unchecked |= !s->references_customers;
	/*
	 * Among candidates, a semi-join from the candidates stops at each one's
	 * first matching row instead of reading all of its rows.
	 */
	if (c->among_customers && !c->reg.dictionary)
	{
		appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(r.id), '{}') AS yes FROM r "
						 "WHERE EXISTS (SELECT FROM %s e WHERE e.%s = r.id AND %s)",
						 s->relname, s->customer, cond);
		return;
	}
	if (c->among_keys)
	{
		const char *ordinal = !c->reg.dictionary ? "k.k::bigint"
			: c->reg.cached ? RcDictOrdinal(&c->reg, "k", "k")
			: "(SELECT o.ordinal FROM segment.customer_ordinals o WHERE o.key = k.k)";

		appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(%s), '{}') AS yes FROM unnest($2) AS k(k) "
						 "WHERE EXISTS (SELECT FROM %s e WHERE e.%s = k.k AND %s)",
						 ordinal, s->relname, s->customer, cond);
		return;
	}
	/*
	 * Dictionary keys: with the cache, audience_agg_keys() maps every
	 * matching row's key in batches (about 0.1 us a key), cheaper than
	 * grouping the rows first: a year of orders at 1M customers (1.9M
	 * rows, 0.5M buyers) took 0.45 to 0.87 s so against 1.5 to 1.6 s
	 * grouped at the default work_mem (the hash aggregate spilled, its
	 * distinct keys underestimated 2.4 times over the monthly partitions).
	 * Grouped first when each key is checked against the customer table
	 * (key_check) or looked up by a join (no cache).
	 */
	if (c->post_join && (c->key_check || !c->reg.cached))
	{
		/*
		 * distinct keys of the matching rows, each looked up once (a CTE:
		 * see RcFenceGrouped)
		 */
		appendStringInfo(&c->sql, "WITH g AS MATERIALIZED (SELECT e.%s AS k", s->customer);
		RcAppendSourceFrom(c, s);
		AppendWhere(c, s, cond, false);
		appendStringInfo(&c->sql, " GROUP BY 1) SELECT coalesce(%s, '{}') AS yes "
						 "FROM g%s", RcDictAudience(&c->reg, "g", "k"), OuterJoin(c));
		if (c->key_check)
			appendStringInfo(&c->sql, " WHERE %s", RcKeyRegistered(c, "g.k"));
		return;
	}
	appendStringInfo(&c->sql, "SELECT coalesce(%s, '{}') AS yes", RcSourceAudience(c, s));
	RcAppendSourceFrom(c, s);
	AppendWhere(c, s, cond, false);
}

/* EXISTS source [WHERE ...] [DURING ...] */
void
RcCompileExists(Compiler *c, const RuleNode *n)
{
	Source		s;
	bool		saved = c->key_check;

	RcLoadSource(c, n->name, &s);
	c->key_check = c->key_checked == n;
	RcCompileSourceSet(c, &s, RcLeafCondition(c, &s, n->name, n->filter, n->window));
	c->key_check = saved;
}
