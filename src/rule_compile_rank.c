/*
 * rule_compile_rank.c
 *		value [NOT] IN (TOP | BOTTOM) n [PERCENT] [AMONG SEGMENT 'name']:
 *		one scan of the population (the tenant's customers, or those of
 *		them among the segment's stored members) with each customer's
 *		value, ranked by a window function.
 *
 * A customer's value is its customer column, or the aggregate over its
 * rows (a grouped scan of the source, LEFT JOINed: 0 for count, sum and
 * active_* over no rows, NULL for the others).  NULL values never qualify;
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

/* The population's rows: ordinal k and value v, one per customer. */
static char *
PopulationSql(Compiler *c, const RuleNode *n)
{
	const RuleValue *v = n->value;
	StringInfoData saved = c->sql;
	char	   *text;
	char	   *value;
	char	   *join = "";
	Oid			type;
	const char *what;

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
		join = psprintf(" LEFT JOIN (SELECT e.%s AS k, %s AS v FROM %s e WHERE %s GROUP BY 1) g ON g.k = cu.%s",
						s.customer, RcAggSql(&a, v->agg, NULL), s.relname,
						RcLeafCondition(c, &s, v->source, v->filter, v->window), c->reg.key);
		value = strncmp(a.empty, "NULL::", 6) == 0 ? pstrdup("g.v") : psprintf("coalesce(g.v, %s)", a.empty);
	}
	CheckOrdered(type, what, n);
	initStringInfo(&c->sql);
	appendStringInfo(&c->sql, "SELECT %s AS k, %s AS v", RcCustomerOrdinal(c), value);
	/* the source's values join after the customer table (and dictionary) */
	{
		int			at = c->sql.len + strlen(psprintf(" FROM %s cu%s", c->reg.relname,
													  c->reg.dictionary ? RcDictJoin(&c->reg, "cu", c->reg.key) : ""));
		char	   *tail;

		RcAppendCustomerFrom(c);
		tail = pstrdup(c->sql.data + at);
		c->sql.len = at;
		c->sql.data[at] = '\0';
		appendStringInfo(&c->sql, "%s%s", join, tail);
	}
	appendStringInfoString(&c->sql, "true");
	if (n->name)
		appendStringInfo(&c->sql, " AND (SELECT coalesce(members, '{}') FROM segment.segments WHERE id = %s) "
						 "OPERATOR(segment.@>) %s", RcSegmentId(n->name), RcCustomerOrdinal(c));
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/* The selection's audience as a one-column query (column yes). */
char *
RcRankSql(Compiler *c, const RuleNode *n)
{
	const RuleRank *r = n->rank;
	StringInfoData saved = c->sql;
	char	   *size;
	char	   *text;

	if (rule_rank_size_check(r->n, r->percent) != RULE_RANK_SIZE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s size \"%s\"", r->top ? "TOP" : "BOTTOM", r->n)));
	size = r->percent ? psprintf("ceil(q.total * %s::numeric / 100)", quote_literal_cstr(r->n))
		: psprintf("%s::numeric", quote_literal_cstr(r->n));
	initStringInfo(&c->sql);
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(q.k), '{}') AS yes FROM "
					 "(SELECT p.k, p.v, rank() OVER (ORDER BY p.v %s NULLS LAST) AS r%s FROM (%s) p) q "
					 "WHERE q.v IS NOT NULL AND q.r %s %s",
					 r->top ? "DESC" : "ASC", r->percent ? ", count(*) OVER () AS total" : "",
					 PopulationSql(c, n), n->negated ? ">" : "<=", size);
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
