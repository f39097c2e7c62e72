/*
 * rule_compile_rank.c
 *		value [NOT] IN (TOP | BOTTOM) n [PERCENT] [AMONG SEGMENT 'name']:
 *		one scan of the population (the tenant's customers, or those of
 *		them among the segment's stored members) with each customer's
 *		value, ranked by a window function.
 *
 * A customer's value is its customer column, or the aggregate over its
 * rows (a grouped scan of the source, LEFT JOINed: 0 for count, sum and
 * active_* over no rows; joined for the others, NULL over no rows, whose
 * customers without rows cannot rank: PopulationSql).  NULL values never qualify;
 * rank() <= n keeps every tie at the boundary; n PERCENT is ceil(size * n
 * / 100) with size every customer of the population, NULL values
 * included.  Among candidates (auto-tagging) the ranking still covers the
 * whole population, and only the selection is restricted.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "rule_compile_int.h"

/* Refuses values without an order (TOP needs "largest"). */
static void
CheckOrdered(Oid type, const char *what, const RuleNode *n)
{
	TypeCacheEntry *t = lookup_type_cache(type, TYPECACHE_LT_OPR);

	if (!OidIsValid(t->lt_opr))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s has type %s, which has no order for IN %s", what, format_type_be(type),
						n->rank->top ? "TOP" : "BOTTOM")));
}

/*
 * Whether the population's rows carry the customer's key, mapped to its
 * ordinal only for the selection: with a cached dictionary, mapping every
 * customer of 1M to rank 1000 of them cost a dictionary probe each.  Among
 * candidates (restricted by ordinal) and with direct keys, rows carry the
 * ordinal.
 */
static bool
LateMapping(Compiler *c, const RuleNode *n)
{
	return c->post_join && c->reg.cached && n->name == NULL;
}

/*
 * The population's rows as a FROM list (alias cu for the customer row)
 * and its WHERE clause (*where), and its ordinal or key (*key).  AMONG
 * SEGMENT starts from the segment's members, each looked up by ordinal
 * (the members of 'big_spenders' are 157k of 1M customers; a scan of every
 * customer testing membership took 3.1 s of 5.1).
 */
static char *
PopulationFrom(Compiler *c, const RuleNode *n, char **where, const char **key)
{
	StringInfoData saved = c->sql;
	char	   *from;
	int			at;

	*key = LateMapping(c, n) ? psprintf("cu.%s", c->reg.key) : RcCustomerOrdinal(c);
	if (n->name)
	{
		const char *members = psprintf("segment.ids_bigint((SELECT coalesce(members, '{}') FROM segment.segments "
									   "WHERE id = %s)) m(ordinal)", RcSegmentId(n->name));

		*key = "m.ordinal";
		*where = c->reg.tenant ? psprintf(" WHERE cu.%s::text = %s AND true", c->reg.tenant,
										  quote_literal_cstr(c->reg.tenant_value)) : " WHERE true";
		if (c->reg.dictionary)
			return psprintf(" FROM %s JOIN segment.customer_ordinals o ON o.ordinal = m.ordinal "
							"JOIN %s cu ON cu.%s = o.key", members, c->reg.relname, c->reg.key);
		return psprintf(" FROM %s JOIN %s cu ON cu.%s = m.ordinal", members, c->reg.relname, c->reg.key);
	}
	/* RcAppendCustomerFrom's FROM list, then its WHERE clause */
	at = strlen(psprintf(" FROM %s cu%s", c->reg.relname,
						 c->reg.dictionary ? RcDictJoin(&c->reg, "cu", c->reg.key) : ""));
	initStringInfo(&c->sql);
	RcAppendCustomerFrom(c);
	appendStringInfoString(&c->sql, "true");
	from = pnstrdup(c->sql.data, at);
	*where = pstrdup(c->sql.data + at);
	pfree(c->sql.data);
	c->sql = saved;
	return from;
}

/*
 * The population's rows: ordinal (or key: LateMapping) k and value v, one
 * per customer, and the population's size when it is counted apart (*total,
 * for PERCENT; NULL: count(*) OVER () of the rows).  For an
 * aggregate NULL over no rows (max, min, avg, first, last, mode) only
 * customers with rows can have a value, and customers without one never
 * rank nor change a rank (NULLS LAST): the grouped scan is joined, not
 * LEFT JOINed, so that only its customers are ranked (at 1M customers,
 * "max(orders.total) IN TOP 1000" ranks the 529k buyers); the size is
 * then counted apart.  count, sum and active_*() are 0 over no rows: every
 * customer of the population ranks.
 */
static char *
PopulationSql(Compiler *c, const RuleNode *n, const char **total)
{
	const RuleValue *v = n->value;
	char	   *value;
	char	   *join = "";
	char	   *where;
	const char *key;
	char	   *from = PopulationFrom(c, n, &where, &key);
	Oid			type;
	const char *what;
	bool		null_empty = false; /* only the source's customers rank */

	if (v->kind == RULE_VALUE_CUSTOMER)
	{
		value = psprintf("cu.%s", quote_identifier(v->column));
		type = RcColumnType(c->reg.rel, c->reg.relname, v->column);
		what = psprintf("customer.%s", v->column);
	}
	else
	{
		Source		s;
		AggInfo		a;

		RcLoadSource(c, v->source, &s);
		RcCheckAggregate(c, v, &s, &a);
		type = a.vtype;
		what = a.what;
		null_empty = strncmp(a.empty, "NULL::", 6) == 0;
		join = psprintf(" %sJOIN (SELECT e.%s AS k, %s AS v FROM %s e WHERE %s GROUP BY 1) g ON g.k = cu.%s",
						null_empty ? "" : "LEFT ", s.customer, RcAggSql(&a, v->agg, NULL), s.relname,
						RcLeafCondition(c, &s, v->source, v->filter, v->window), c->reg.key);
		value = null_empty ? pstrdup("g.v") : psprintf("coalesce(g.v, %s)", a.empty);
	}
	CheckOrdered(type, what, n);

	/*
	 * the customer table counted apart (an index-only count, as a hand
	 * query writes it): the size is then an initplan, and rank() <= size
	 * the window's run condition (rule 14 of bench/generalize_behaviour_rules.sql,
	 * the top 5% of 1M, stops after 50k rows); a segment's members are
	 * counted by the window, their second lookup would cost more, unless
	 * only those with rows rank (null_empty)
	 */
	*total = n->name && !null_empty ? NULL : psprintf("(SELECT count(*)%s%s)", from, where);
	return psprintf("SELECT %s AS k, %s AS v%s%s%s", key, value, from, join, where);
}

/* The selection's audience as a one-column query (column yes). */
char *
RcRankSql(Compiler *c, const RuleNode *n)
{
	const RuleRank *r = n->rank;
	StringInfoData saved = c->sql;
	char	   *size;
	char	   *text;
	char	   *population;
	const char *total;

	if (rule_rank_size_check(r->n, r->percent) != RULE_RANK_SIZE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s size \"%s\"", r->top ? "TOP" : "BOTTOM", r->n)));
	/*
	 * bigint like rank(): "rank() <= constant" becomes the WindowAgg's run
	 * condition, which stops at the boundary instead of ranking every row
	 * (rule_rank_size_check bounds n); so does a size from a total counted
	 * apart (an initplan), not one from count(*) OVER ().
	 */
	population = PopulationSql(c, n, &total);
	size = !r->percent ? psprintf("%s::bigint", quote_literal_cstr(r->n))
		: total == NULL ? psprintf("ceil(q.total * %s::numeric / 100)", quote_literal_cstr(r->n))
		: psprintf("ceil(%s * %s::numeric / 100)::bigint", total, quote_literal_cstr(r->n));
	initStringInfo(&c->sql);
	appendStringInfo(&c->sql, "SELECT coalesce(%s, '{}') AS yes FROM "
					 "(SELECT p.k, p.v, rank() OVER (ORDER BY p.v %s NULLS LAST) AS r%s FROM (%s) p) q "
					 "WHERE q.v IS NOT NULL AND q.r %s %s",
					 LateMapping(c, n) ? RcDictAudience(&c->reg, "q", "k") : "segment.audience_agg(q.k)",
					 r->top ? "DESC" : "ASC",
					 r->percent && total == NULL ? ", count(*) OVER () AS total" : "",
					 population, n->negated ? ">" : "<=", size);
	RcAppendAmong(c, "q.k");
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/* A rank predicate of set algebra: its selection, from registered customers. */
void
RcCompileRank(Compiler *c, const RuleNode *n)
{
	appendStringInfo(&c->notes, "-- %s: rank() over one scan of the %s\n",
					 n->rank->top ? "IN TOP" : "IN BOTTOM",
					 n->name ? "segment's members" : "customers");
	appendStringInfoString(&c->sql, RcRankSql(c, n));
}
