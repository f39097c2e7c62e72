/*
 * rule_compile.c
 *		Rule -> SQL.
 *
 * Strategy (doc/compilation.md): every predicate becomes one scalar
 * subquery that builds an audience with audience_agg over ONE scan of a
 * table (the customer table, a source, or the tag store), and the boolean
 * structure becomes audience algebra: AND is &, OR is |, NOT is universe -.
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
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "utils/memutils.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "rule_compile.h"
#include "rule_pg.h"
#include "key_dictionary.h"
#include "rule_print.h"
#include "rule_rewrite.h"
#include "rule_share.h"
#include "rule_window.h"
#include "segment.h"

/* What the registry says about the customer table. */
typedef struct Registry
{
	Oid			rel;
	char	   *relname;		/* qualified, quoted */
	char	   *key;			/* quoted key column */
	char	   *key_column;		/* the same, unquoted */
	char	   *key_ordinal;	/* cu.key: a customer row's ordinal (direct) */
	bool		dictionary;
	bool		cached;			/* dictionary read through customer_ordinal() */
	bool		unguarded;		/* integer keys of a view, foreign table...:
								 * no trigger keeps them in the ordinal range */
	char	   *key_type;		/* the dictionary's key type */
	char	   *tenant;			/* quoted tenant column, or NULL */
	char	   *tenant_value;	/* the current tenant, checked */
} Registry;

typedef struct Compiler
{
	Registry	reg;
	TimestampTz as_of;
	pg_tz	   *tz;
	RuleCivilTime local;
	int64		epoch;
	StringInfoData sql;			/* where the current piece is written */
	StringInfoData from;		/* one single-row subquery per predicate */
	int			npred;
	bool		among;			/* restricted to the candidates in $1 */
	bool		among_customers;	/* ...which are registered customers */
	int64		among_count;	/* how many candidates (for the plan shape) */
	bool		among_keys;		/* $2 holds the candidates' keys */
	bool		share;			/* predicates from the refresh_all cache */
	RuleQuery  *query;			/* where shared results become parameters */
	struct Merged *merged;		/* predicates grouped by source */
	int			nmerged;
	bool		uses_universe;	/* the expression refers to u.a */
	bool		driver;			/* a reduced rule's driver: no registered-
								 * customer check (the rest among its
								 * members checks them) */
	bool		unchecked;		/* may yield customers not (or no longer)
								 * in the customer table */
	bool		post_join;		/* dictionary keys: group on the source's
								 * own key, map to ordinals afterwards */
	bool		choose;			/* choose scans by the planner's costs */
	StringInfoData notes;		/* the choices made, as SQL comments */
	bool		key_indexed;	/* an index leads with it */
	char	   *check_body;		/* set algebra with a run-time check: the */
	char	   *check_scan;		/* rule's query and the check by scan */
	const RuleNode **covered;	/* zero-inclusive aggregates whose
								 * complement part an AND makes void */
	int			ncovered;
	struct CachedSource *sources;	/* sources read so far (LoadSource) */
	int			nsources;
} Compiler;

/*
 * The EXISTS and aggregate predicates of one source.  When a rule has two
 * or more over the same source, they share one grouped scan (alias sN)
 * with a column per predicate, as a hand-written GROUP BY ... HAVING would.
 */
typedef struct Merged
{
	const char *source;
	int			nleaves;
	const RuleNode **leaves;
	bool	   *holds;			/* per aggregate: true for no rows */
	bool		grouped;		/* GROUP BY customer; false: one plain scan
								 * with a FILTERed audience per EXISTS */
} Merged;

static void CompileNode(Compiler *c, const RuleNode *n);

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
LoadRegistry(Registry *reg)
{
	const CatalogRegistry *r = catalog_customers(NULL);

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
	/* segment._tenant() checks the setting and the role's grant of the tenant */
	reg->tenant_value = catalog_tenant();
	if (reg->dictionary)
		reg->cached = catalog_dictionary_cached();
}

/*
 * Dictionary keys: the ordinal of alias.col, through the backend's cache
 * of the dictionary (segment.customer_ordinal(), src/key_dictionary.c) when
 * it fits in segment.dictionary_cache_size, else from a join with the
 * dictionary (DictJoin) as "o.ordinal".  The join hashes the whole
 * dictionary for every query; the cache is read once per backend.
 */
static const char *
DictOrdinal(const Registry *reg, const char *alias, const char *col)
{
	if (!reg->cached)
		return "o.ordinal";
	return psprintf("segment.customer_ordinal(%s.%s::%s)", alias, col, reg->key_type);
}

static const char *
DictJoin(const Registry *reg, const char *alias, const char *col)
{
	if (reg->cached)
		return "";
	return psprintf(" JOIN segment.customer_ordinals o ON o.key = %s.%s", alias, col);
}

/* A source's relation and columns, or an error naming the sources. */
typedef struct Source
{
	Oid			rel;
	char	   *relname;
	char	   *customer;		/* quoted */
	char	   *time;			/* quoted */
	Oid			time_type;
	bool		references_customers;	/* a validated foreign key to the
										 * customer table's key: every row's
										 * customer is registered */
} Source;

static void
ReadSource(const char *name, Source *s)
{
	const CatalogSource *cs = catalog_source(name);

	s->rel = cs->rel;
	s->relname = RelText(cs->rel);
	s->customer = pstrdup(quote_identifier(cs->customer_column));
	s->time = pstrdup(quote_identifier(cs->time_column));
	s->time_type = cs->time_type;
	s->references_customers = cs->references_customers;
}

/* A source read once per compilation (LoadSource). */
typedef struct CachedSource
{
	const char *name;
	Source		source;
} CachedSource;

/*
 * The source, read from the catalogs the first time a compilation asks
 * for it: planning alternatives compiles each predicate several times, and
 * each would otherwise run the same catalog query again.
 */
static void
LoadSource(Compiler *c, const char *name, Source *s)
{
	int			i;

	for (i = 0; i < c->nsources; i++)
		if (strcmp(c->sources[i].name, name) == 0)
		{
			*s = c->sources[i].source;
			return;
		}
	ReadSource(name, s);
	if (c->nsources % 8 == 0)
		c->sources = c->sources ? repalloc(c->sources, sizeof(CachedSource) * (c->nsources + 8))
			: palloc(sizeof(CachedSource) * 8);
	c->sources[c->nsources].name = pstrdup(name);
	c->sources[c->nsources].source = *s;
	c->nsources++;
}

/* The type of rel.column, or the error naming the columns that exist. */
static Oid
ColumnType(Oid rel, const char *relname, const char *column)
{
	return catalog_column_type(rel, relname, column);
}

/* A bound as a timestamptz literal in UTC, readable under any DateStyle. */
static void
AppendInstant(StringInfo out, TimestampTz t, Oid coltype, pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	pg_tz	   *zone = coltype == TIMESTAMPTZOID ? pg_tzset("UTC") : tz;

	/* date and timestamp columns compare with local values in the rule's zone */
	if (timestamp2tm(t, &tzoff, &tm, &fsec, NULL, zone) != 0)
		elog(ERROR, "timestamp out of range");
	appendStringInfo(out, "'%04d-%02d-%02d %02d:%02d:%02d.%06d%s'::%s",
					 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
					 (int) fsec, coltype == TIMESTAMPTZOID ? "+00" : "",
					 coltype == DATEOID ? "timestamp" : format_type_be(coltype));
}

static bool
IsTimeType(Oid t)
{
	return t == TIMESTAMPTZOID || t == TIMESTAMPOID || t == DATEOID;
}

/* expr >= lo AND expr < hi for a window (infinite bounds left out). */
static void
AppendWindowCond(Compiler *c, const char *expr, Oid type, const RuleWindow *w)
{
	RuleBound	lo,
				hi;
	bool		any = false;

	if (!IsTimeType(type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("DURING needs a date or timestamp, but %s has type %s", expr, format_type_be(type))));
	if (!rule_resolve_window(w, &c->local, c->epoch, &lo, &hi))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("window is out of range at this as-of time")));
	appendStringInfoChar(&c->sql, '(');
	if (lo.kind != RULE_BOUND_NEG_INFINITY)
	{
		appendStringInfo(&c->sql, "%s >= ", expr);
		AppendInstant(&c->sql, rule_pg_bound(&lo, c->tz), type, c->tz);
		any = true;
	}
	if (hi.kind != RULE_BOUND_POS_INFINITY)
	{
		appendStringInfo(&c->sql, "%s%s < ", any ? " AND " : "", expr);
		AppendInstant(&c->sql, rule_pg_bound(&hi, c->tz), type, c->tz);
		any = true;
	}
	if (!any)
		appendStringInfoString(&c->sql, "true");
	appendStringInfoChar(&c->sql, ')');
}

/* Checks a literal against a column type and appends it quoted and cast. */
static void
AppendLiteral(Compiler *c, const RuleLiteral *lit, Oid type, const char *what)
{
	Oid			infunc,
				ioparam;
	char		category;
	bool		preferred;

	get_type_category_preferred(type, &category, &preferred);
	switch (lit->kind)
	{
		case RULE_LIT_MOMENT:
			{
				RuleBound	b;

				if (!IsTimeType(type))
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("%s has type %s, which cannot be compared with a moment", what, format_type_be(type))));
				if (!rule_resolve_moment(&lit->moment, &c->local, c->epoch, &b))
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("moment is out of range at this as-of time")));
				AppendInstant(&c->sql, rule_pg_bound(&b, c->tz), type, c->tz);
				return;
			}
		case RULE_LIT_STRING:
			{
				RuleMoment	m;
				RuleBound	b;

				/*
				 * A quoted date or timestamp compared with a time value is a
				 * moment of the rule's zone (SPEC 4), like the bounds of
				 * windows; cast to the column's type it would lose its time
				 * of day (date), its offset (timestamp) or be read in the
				 * session's zone.
				 */
				memset(&m, 0, sizeof(m));
				m.kind = RULE_MOMENT_DATETIME;
				m.text = lit->text;
				if (IsTimeType(type) &&
					rule_parse_datetime(lit->text, strlen(lit->text), &m.datetime) == RULE_DT_OK)
				{
					if (!rule_resolve_moment(&m, &c->local, c->epoch, &b))
						ereport(ERROR,
								(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
								 errmsg("moment %s is out of range", quote_literal_cstr(lit->text))));
					AppendInstant(&c->sql, rule_pg_bound(&b, c->tz), type, c->tz);
					return;
				}
				break;
			}
		case RULE_LIT_BOOL:
			if (type != BOOLOID)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("%s has type %s, but %s is a boolean", what, format_type_be(type),
								lit->boolval ? "true" : "false")));
			appendStringInfoString(&c->sql, lit->boolval ? "true" : "false");
			return;
		case RULE_LIT_NUMBER:
			if (category != TYPCATEGORY_NUMERIC)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("%s has type %s, but %s is a number", what, format_type_be(type), lit->text),
						 errhint("Quote the value to compare it as text.")));
			break;
		default:
			break;
	}
	/* the type's own input function decides whether the text is valid */
	getTypeInputInfo(type, &infunc, &ioparam);
	PG_TRY();
	{
		(void) OidInputFunctionCall(infunc, (char *) lit->text, ioparam, -1);
	}
	PG_CATCH();
	{
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid value %s for %s of type %s", quote_literal_cstr(lit->text), what,
						format_type_be(type))));
	}
	PG_END_TRY();
	appendStringInfo(&c->sql, "%s::%s", quote_literal_cstr(lit->text), format_type_be(type));
}

/* The comparison part of CMP / IN / IS NULL / BETWEEN / LIKE on an expression. */
static void
AppendCondition(Compiler *c, const RuleNode *n, const char *expr, Oid type, const char *what)
{
	int			i;

	appendStringInfoChar(&c->sql, '(');
	switch (n->kind)
	{
		case RULE_CMP:
			appendStringInfo(&c->sql, "%s %s ", expr, rule_op_name(n->op));
			AppendLiteral(c, &n->args[0], type, what);
			break;
		case RULE_IN:
			appendStringInfo(&c->sql, "%s %sIN (", expr, n->negated ? "NOT " : "");
			for (i = 0; i < n->nargs; i++)
			{
				if (i > 0)
					appendStringInfoString(&c->sql, ", ");
				AppendLiteral(c, &n->args[i], type, what);
			}
			appendStringInfoChar(&c->sql, ')');
			break;
		case RULE_IS_NULL:
			appendStringInfo(&c->sql, "%s IS %sNULL", expr, n->negated ? "NOT " : "");
			break;
		case RULE_BETWEEN:
			appendStringInfo(&c->sql, "%s %sBETWEEN ", expr, n->negated ? "NOT " : "");
			AppendLiteral(c, &n->args[0], type, what);
			appendStringInfoString(&c->sql, " AND ");
			AppendLiteral(c, &n->args[1], type, what);
			break;
		case RULE_LIKE:
			appendStringInfo(&c->sql, "%s::text %sLIKE ", expr, n->negated ? "NOT " : "");
			appendStringInfoString(&c->sql, quote_literal_cstr(n->args[0].text));
			break;
		case RULE_DURING:
			if (n->negated)
				appendStringInfo(&c->sql, "%s IS NOT NULL AND NOT ", expr);
			AppendWindowCond(c, expr, type, n->window);
			break;
		default:
			elog(ERROR, "unexpected rule node %d in a condition", n->kind);
	}
	appendStringInfoChar(&c->sql, ')');
}

/* A filter over a source's own columns (WHERE of aggregates and EXISTS). */
static void
AppendFilter(Compiler *c, const RuleNode *f, const Source *s, const char *source)
{
	int			i;

	check_stack_depth();
	switch (f->kind)
	{
		case RULE_AND:
		case RULE_OR:
			appendStringInfoChar(&c->sql, '(');
			for (i = 0; i < f->nchildren; i++)
			{
				if (i > 0)
					appendStringInfoString(&c->sql, f->kind == RULE_AND ? " AND " : " OR ");
				AppendFilter(c, f->children[i], s, source);
			}
			appendStringInfoChar(&c->sql, ')');
			return;
		case RULE_NOT:
			appendStringInfoString(&c->sql, "(NOT coalesce(");
			AppendFilter(c, f->children[0], s, source);
			appendStringInfoString(&c->sql, ", false))");
			return;
		default:
			{
				const char *col = f->value->column;
				Oid			type = ColumnType(s->rel, s->relname, col);
				char	   *what = psprintf("%s.%s", source, col);

				AppendCondition(c, f, psprintf("e.%s", quote_identifier(col)), type, what);
			}
	}
}

/*
 * Restricts a scan to the candidates in $1.  Candidates from the customer
 * table (customer-first evaluation, fresh statistics) join as a semi-join
 * with CTE r, which the planner turns into index lookups or a hash join.
 * Candidates of the tagging triggers come with tables just written, whose
 * statistics may be stale, so no join is left to estimates: a few are an
 * "= ANY (array)" (index lookups), many a bitmap probe per row.
 */
static void
AppendAmong(Compiler *c, const char *key)
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
static void
AppendAmongKey(Compiler *c, const char *native, const char *ordinal)
{
	if (c->among && c->among_keys)
		appendStringInfo(&c->sql, " AND %s = ANY ($2)", native);
	else
		AppendAmong(c, ordinal);
}

/*
 * The FROM clause of a source scan (alias e).  Dictionary keys are mapped
 * to ordinals in the scan only among candidates (whose restriction is on
 * ordinals); otherwise grouped scans group on the source's own key, in its
 * own type, so that an index on it gives the order, and join the
 * dictionary once per customer afterwards (InnerKey, OuterKey).
 */
static void
AppendSourceFrom(Compiler *c, const Source *s)
{
	appendStringInfo(&c->sql, " FROM %s e", s->relname);
	if (c->reg.dictionary && !c->post_join)
		appendStringInfoString(&c->sql, DictJoin(&c->reg, "e", s->customer));
}

/* The ordinal of a source row, when the scan maps keys itself. */
static const char *
SourceOrdinal(Compiler *c, const Source *s)
{
	return c->reg.dictionary ? DictOrdinal(&c->reg, "e", s->customer) : psprintf("e.%s::bigint", s->customer);
}

/* What a grouped scan groups on: the source's key, or the ordinal. */
static const char *
InnerKey(Compiler *c, const Source *s)
{
	return c->reg.dictionary && !c->post_join ? DictOrdinal(&c->reg, "e", s->customer) : psprintf("e.%s", s->customer);
}

/* The ordinal of a grouped row (alias g), and the dictionary join after it. */
static const char *
OuterKey(Compiler *c)
{
	return c->post_join ? DictOrdinal(&c->reg, "g", "k") : c->reg.dictionary ? "g.k" : "g.k::bigint";
}

static const char *
OuterJoin(Compiler *c)
{
	return c->post_join ? DictJoin(&c->reg, "g", "k") : "";
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
static void
FenceGrouped(Compiler *c, int list_end, const char *where)
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
	AppendFilter(c, (const RuleNode *) filter, s, name);
}

static void
WindowWriter(Compiler *c, const void *window, const Source *s, const char *name)
{
	AppendWindowCond(c, psprintf("e.%s", s->time), s->time_type, (const RuleWindow *) window);
}

/* A predicate's filter and window as conditions on a source row (NULL: none). */
static char *
FilterText(Compiler *c, const Source *s, const char *name, const RuleNode *filter)
{
	return filter ? Capture(c, FilterWriter, filter, s, name) : NULL;
}

static char *
WindowText(Compiler *c, const Source *s, const RuleWindow *window)
{
	return window ? Capture(c, WindowWriter, window, s, NULL) : NULL;
}

/* a AND b, either possibly NULL (true) */
static char *
Conjoin(const char *a, const char *b)
{
	if (a && b)
		return psprintf("(%s AND %s)", a, b);
	return pstrdup(a ? a : b ? b : "true");
}

/* The filter AND window of a predicate as a condition on a source row. */
static char *
LeafCondition(Compiler *c, const Source *s, const char *name, const RuleNode *filter,
			  const RuleWindow *window)
{
	return Conjoin(FilterText(c, s, name, filter), WindowText(c, s, window));
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

static void
AppendKeyRange(Compiler *c, const Source *s)
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
static void
AppendGroupEnd(Compiler *c, const Source *s)
{
	if (NeedsKeyRange(c, s))
		appendStringInfoString(&c->sql, " GROUP BY 1 OFFSET 0) g WHERE g.k BETWEEN 0 AND 4294967295");
	else
		appendStringInfo(&c->sql, " GROUP BY 1) g%s", OuterJoin(c));
}

/*
 * WHERE clause of a source scan: filter and window (and the candidates);
 * the key range on every row unless the scan is grouped (AppendGroupEnd).
 */
static void
AppendSourceWhere(Compiler *c, const Source *s, const char *name, const RuleNode *filter,
				  const RuleWindow *window, bool grouped)
{
	appendStringInfo(&c->sql, " WHERE %s", LeafCondition(c, s, name, filter, window));
	if (!grouped)
		AppendKeyRange(c, s);
	AppendAmongKey(c, psprintf("e.%s", s->customer),
				   c->reg.dictionary ? DictOrdinal(&c->reg, "e", s->customer) : psprintf("e.%s", s->customer));
}

/* EXISTS source [WHERE ...] [DURING ...]: one scan, no grouping needed. */
static void
CompileExists(Compiler *c, const RuleNode *n)
{
	Source		s;

	LoadSource(c, n->name, &s);
	c->unchecked |= !s.references_customers;
	/*
	 * Among candidates, a semi-join from the candidates stops at each one's
	 * first matching row instead of reading all of its rows.
	 */
	if (c->among_customers && !c->reg.dictionary)
	{
		appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(r.id), '{}') AS yes FROM r "
						 "WHERE EXISTS (SELECT FROM %s e WHERE e.%s = r.id AND %s)",
						 s.relname, s.customer, LeafCondition(c, &s, n->name, n->filter, n->window));
		return;
	}
	if (c->among_keys)
	{
		const char *ordinal = !c->reg.dictionary ? "k.k::bigint"
			: c->reg.cached ? DictOrdinal(&c->reg, "k", "k")
			: "(SELECT o.ordinal FROM segment.customer_ordinals o WHERE o.key = k.k)";

		appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(%s), '{}') AS yes FROM unnest($2) AS k(k) "
						 "WHERE EXISTS (SELECT FROM %s e WHERE e.%s = k.k AND %s)",
						 ordinal, s.relname, s.customer, LeafCondition(c, &s, n->name, n->filter, n->window));
		return;
	}
	if (c->post_join)
	{
		/*
		 * distinct keys of the matching rows, each looked up once (a CTE:
		 * see FenceGrouped)
		 */
		appendStringInfo(&c->sql, "WITH g AS MATERIALIZED (SELECT e.%s AS k", s.customer);
		AppendSourceFrom(c, &s);
		AppendSourceWhere(c, &s, n->name, n->filter, n->window, false);
		appendStringInfo(&c->sql, " GROUP BY 1) SELECT coalesce(segment.audience_agg(%s), '{}') AS yes "
						 "FROM g%s", OuterKey(c), OuterJoin(c));
		return;
	}
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(%s), '{}') AS yes", SourceOrdinal(c, &s));
	AppendSourceFrom(c, &s);
	AppendSourceWhere(c, &s, n->name, n->filter, n->window, false);
}

/* The aggregate call, restricted to rows satisfying cond when not NULL. */
static const char *
AggSql(RuleAggKind agg, const char *arg, bool rows, const char *cond)
{
	const char *f = cond && strcmp(cond, "true") != 0 ? psprintf(" FILTER (WHERE %s)", cond) : "";

	switch (agg)
	{
		case RULE_AGG_COUNT:
			return rows ? psprintf("count(*)%s", f) : psprintf("count(%s)%s", arg, f);
		case RULE_AGG_SUM:
			return psprintf("coalesce(sum(%s)%s, 0)", arg, f);
		case RULE_AGG_AVG:
			return psprintf("avg(%s)%s", arg, f);
		case RULE_AGG_MIN:
			return psprintf("min(%s)%s", arg, f);
		case RULE_AGG_MAX:
			return psprintf("max(%s)%s", arg, f);
		case RULE_AGG_COUNT_DISTINCT:
			return psprintf("count(DISTINCT %s)%s", arg, f);
	}
	return NULL;
}

/* The type an aggregate produces, for typing the literal compared with it. */
static Oid
AggResultType(RuleAggKind agg, Oid argtype)
{
	switch (agg)
	{
		case RULE_AGG_COUNT:
		case RULE_AGG_COUNT_DISTINCT:
			return INT8OID;
		case RULE_AGG_AVG:
		case RULE_AGG_SUM:
			return IsTimeType(argtype) ? argtype : NUMERICOID;
		default:
			return argtype;
	}
}

/* What an aggregate predicate computes, checked against its source. */
typedef struct AggInfo
{
	Oid			vtype;			/* type of the aggregate's value */
	char	   *what;			/* agg(source.column), for messages */
	const char *arg;			/* e.column, or NULL for count(source) */
	const char *empty;			/* the value over no rows, typed */
} AggInfo;

static void
CheckAggregate(const RuleValue *v, const Source *s, AggInfo *a)
{
	bool		rows = v->column == NULL;
	Oid			argtype = rows ? INT8OID : ColumnType(s->rel, s->relname, v->column);

	if ((v->agg == RULE_AGG_SUM || v->agg == RULE_AGG_AVG) &&
		!(TypeCategory(argtype) == TYPCATEGORY_NUMERIC))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s(%s.%s) needs a numeric column, but it has type %s", rule_agg_name(v->agg),
						v->source, v->column, format_type_be(argtype))));
	a->vtype = AggResultType(v->agg, argtype);
	a->what = psprintf("%s(%s%s%s)", rule_agg_name(v->agg), v->source, rows ? "" : ".", rows ? "" : v->column);
	a->arg = rows ? NULL : psprintf("e.%s", quote_identifier(v->column));
	a->empty = psprintf("%s::%s",
						(v->agg == RULE_AGG_COUNT || v->agg == RULE_AGG_COUNT_DISTINCT ||
						 v->agg == RULE_AGG_SUM) ? "0" : "NULL",
						format_type_be(a->vtype));
}

/*
 * Whether an aggregate's condition holds for the value over no rows (0 for
 * count and sum, NULL otherwise): then customers without matching rows
 * belong too, as universe - seen.  Asked of the server, which knows the
 * comparison semantics of every type.
 */
static bool
EmptyHolds(Compiler *c, const RuleNode *n, const AggInfo *a)
{
	StringInfoData saved = c->sql;
	bool		holds;

	initStringInfo(&c->sql);
	appendStringInfoString(&c->sql, "SELECT (");
	AppendCondition(c, n, a->empty, a->vtype, a->what);
	appendStringInfoString(&c->sql, ") IS TRUE");
	if (SPI_execute(c->sql.data, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not evaluate %s", c->sql.data);
	holds = strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0;
	pfree(c->sql.data);
	c->sql = saved;
	return holds;
}

/*
 * The columns of an aggregate predicate over g.<value>: "yes" holds the
 * customers whose value satisfies the condition; when the condition holds
 * for no rows, "seen" (customers with matching rows: g.<seen>, or every
 * row of g) too.
 */
static void
AppendAggColumns(Compiler *c, const RuleNode *n, const AggInfo *a, const char *value,
				 const char *seen, const char *suffix, bool holds)
{
	appendStringInfo(&c->sql, "coalesce(segment.audience_agg(%s) FILTER (WHERE ", OuterKey(c));
	AppendCondition(c, n, psprintf("g.%s", value), a->vtype, a->what);
	appendStringInfo(&c->sql, "), '{}') AS yes%s", suffix);
	if (holds)
		appendStringInfo(&c->sql, ", coalesce(segment.audience_agg(%s)%s, '{}') AS seen%s", OuterKey(c),
						 seen ? psprintf(" FILTER (WHERE g.%s)", seen) : "", suffix);
}

/* The expression of an aggregate predicate from its columns (alias.yesN...). */
static void
AppendAggExpr(Compiler *c, const char *alias, const char *suffix, bool holds)
{
	if (holds)
	{
		appendStringInfo(&c->sql, "(%s.yes%s OPERATOR(segment.|) (u.a OPERATOR(segment.-) %s.seen%s))",
						 alias, suffix, alias, suffix);
		c->uses_universe = true;
	}
	else
		appendStringInfo(&c->sql, "%s.yes%s", alias, suffix);
}

/* An aggregate's comparison on a grouped value, as text. */
static char *
GroupCondition(Compiler *c, const RuleNode *n, const AggInfo *a, const char *value)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	AppendCondition(c, n, value, a->vtype, a->what);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/*
 * agg(source.column WHERE ... DURING ...) <condition>: a grouped scan of the
 * source; returns whether the condition holds for no rows.
 */
static bool
CompileAggregate(Compiler *c, const RuleNode *n)
{
	const RuleValue *v = n->value;
	Source		s;
	AggInfo		a;
	bool		holds;
	int			list_end;

	LoadSource(c, v->source, &s);
	c->unchecked |= !s.references_customers;
	CheckAggregate(v, &s, &a);
	holds = EmptyHolds(c, n, &a);
	appendStringInfoString(&c->sql, "SELECT ");
	AppendAggColumns(c, n, &a, "v", NULL, "", holds);
	list_end = c->sql.len;
	appendStringInfo(&c->sql, " FROM (SELECT %s AS k, %s AS v", InnerKey(c, &s),
					 AggSql(v->agg, a.arg, v->column == NULL, NULL));
	AppendSourceFrom(c, &s);
	AppendSourceWhere(c, &s, v->source, v->filter, v->window, true);
	AppendGroupEnd(c, &s);
	FenceGrouped(c, list_end, holds ? NULL : GroupCondition(c, n, &a, "g.v"));
	return holds;
}

/* The source an EXISTS or aggregate predicate scans; NULL for other leaves. */
static const char *
LeafSource(const RuleNode *n)
{
	switch (n->kind)
	{
		case RULE_EXISTS:
			return n->name;
		case RULE_TAG_IN:
		case RULE_TAG_EMPTY:
		case RULE_IN_SEGMENT:
		case RULE_AND:
		case RULE_OR:
		case RULE_NOT:
			return NULL;
		default:
			return n->value->kind == RULE_VALUE_AGG ? n->value->source : NULL;
	}
}

/* Groups the source predicates of the tree by source. */
static void
CollectLeaves(Compiler *c, const RuleNode *n, int maxleaves)
{
	const char *source;
	int			i;

	check_stack_depth();
	if (n->kind == RULE_AND || n->kind == RULE_OR || n->kind == RULE_NOT)
	{
		for (i = 0; i < n->nchildren; i++)
			CollectLeaves(c, n->children[i], maxleaves);
		return;
	}
	if ((source = LeafSource(n)) == NULL)
		return;
	/* among keys, each EXISTS is a semi-join from the keys (CompileExists) */
	if (c->among_keys && n->kind == RULE_EXISTS)
		return;
	for (i = 0; i < c->nmerged; i++)
		if (strcmp(c->merged[i].source, source) == 0)
			break;
	if (i == c->nmerged)
	{
		c->merged[i].source = source;
		c->merged[i].nleaves = 0;
		c->merged[i].leaves = palloc(sizeof(RuleNode *) * maxleaves);
		c->merged[i].holds = palloc0(sizeof(bool) * maxleaves);
		c->nmerged++;
	}
	c->merged[i].leaves[c->merged[i].nleaves++] = n;
}

/*
 * The inner select list of a merged scan: expressions by text, each
 * computed once however many predicates use it (13's two sums of paid
 * amounts are one column).  Returns the column's name.
 */
typedef struct Columns
{
	StringInfoData list;
	char	  **exprs;
	int			n;
} Columns;

static const char *
Column(Columns *cols, const char *expr)
{
	int			i;

	for (i = 0; i < cols->n; i++)
		if (strcmp(cols->exprs[i], expr) == 0)
			return psprintf("c%d", i + 1);
	cols->exprs[cols->n++] = pstrdup(expr);
	appendStringInfo(&cols->list, ", %s AS c%d", expr, cols->n);
	return psprintf("c%d", cols->n);
}

/*
 * One scan for several predicates of a source (alias sN): the rows any of
 * them needs, then per-predicate audiences yesJ (and seenJ for
 * zero-inclusive aggregates).  Grouped (GROUP BY customer), with one
 * column per distinct aggregate or condition, when a predicate needs an
 * aggregate's value; otherwise (EXISTS only) no grouping at all: one
 * audience per predicate, FILTERed by its condition.  A window all
 * predicates share is hoisted into the WHERE clause, where an index on the
 * time column serves it once.  Returns the subquery.
 */
static char *
MergedSql(Compiler *c, Merged *m)
{
	StringInfoData saved = c->sql;
	Source		s;
	char	  **filters = palloc(sizeof(char *) * m->nleaves);
	char	  **windows = palloc(sizeof(char *) * m->nleaves);
	char	  **conds = palloc(sizeof(char *) * m->nleaves);
	const char *shared_window;
	Columns		cols;
	StringInfoData needed;		/* groups some audience needs */
	char	   *text;
	int			list_end;
	int			j;

	initStringInfo(&needed);
	LoadSource(c, m->source, &s);
	c->unchecked |= !s.references_customers;
	for (j = 0; j < m->nleaves; j++)
	{
		const RuleNode *n = m->leaves[j];
		bool		exists = n->kind == RULE_EXISTS;

		filters[j] = FilterText(c, &s, exists ? n->name : n->value->source,
								exists ? n->filter : n->value->filter);
		windows[j] = WindowText(c, &s, exists ? n->window : n->value->window);
	}
	shared_window = windows[0];
	for (j = 1; j < m->nleaves && shared_window; j++)
		if (windows[j] == NULL || strcmp(windows[j], shared_window) != 0)
			shared_window = NULL;
	for (j = 0; j < m->nleaves; j++)
		conds[j] = Conjoin(filters[j], shared_window ? NULL : windows[j]);

	initStringInfo(&cols.list);
	cols.exprs = palloc(sizeof(char *) * 2 * m->nleaves);
	cols.n = 0;
	initStringInfo(&c->sql);
	appendStringInfoString(&c->sql, "SELECT ");
	for (j = 0; j < m->nleaves; j++)
	{
		const RuleNode *n = m->leaves[j];
		const char *suffix = psprintf("%d", j + 1);

		if (j > 0)
			appendStringInfoString(&c->sql, ", ");
		if (n->kind == RULE_EXISTS && !m->grouped)
			appendStringInfo(&c->sql, "coalesce(segment.audience_agg(%s)%s, '{}') AS yes%s",
							 SourceOrdinal(c, &s),
							 strcmp(conds[j], "true") == 0 ? "" : psprintf(" FILTER (WHERE %s)", conds[j]), suffix);
		else if (n->kind == RULE_EXISTS)
		{
			const char *col = Column(&cols, psprintf("bool_or(%s)", conds[j]));

			appendStringInfo(&c->sql, "coalesce(segment.audience_agg(%s) FILTER (WHERE g.%s), '{}') AS yes%s",
							 OuterKey(c), col, suffix);
			appendStringInfo(&needed, "%sg.%s", needed.len > 0 ? " OR " : "", col);
		}
		else
		{
			AggInfo		a;
			const char *value;
			const char *seen = NULL;

			CheckAggregate(n->value, &s, &a);
			m->holds[j] = EmptyHolds(c, n, &a);
			value = Column(&cols, AggSql(n->value->agg, a.arg, n->value->column == NULL, conds[j]));
			if (m->holds[j])
				seen = Column(&cols, psprintf("bool_or(%s)", conds[j]));
			AppendAggColumns(c, n, &a, value, seen, suffix, m->holds[j]);
			appendStringInfo(&needed, "%s%s", needed.len > 0 ? " OR " : "",
							 GroupCondition(c, n, &a, psprintf("g.%s", value)));
			if (seen)
				appendStringInfo(&needed, " OR g.%s", seen);
		}
	}
	list_end = c->sql.len;
	if (m->grouped)
		appendStringInfo(&c->sql, " FROM (SELECT %s AS k%s", InnerKey(c, &s), cols.list.data);
	AppendSourceFrom(c, &s);
	appendStringInfo(&c->sql, " WHERE %s", shared_window ? shared_window : "true");
	for (j = 0; j < m->nleaves && strcmp(conds[j], "true") != 0; j++)
		;
	if (j == m->nleaves)		/* no predicate reads every row */
	{
		appendStringInfoString(&c->sql, " AND (");
		for (j = 0; j < m->nleaves; j++)
			appendStringInfo(&c->sql, "%s%s", j > 0 ? " OR " : "", conds[j]);
		appendStringInfoChar(&c->sql, ')');
	}
	if (!m->grouped)
		AppendKeyRange(c, &s);
	AppendAmongKey(c, psprintf("e.%s", s.customer),
				   c->reg.dictionary ? DictOrdinal(&c->reg, "e", s.customer) : psprintf("e.%s", s.customer));
	if (m->grouped)
	{
		AppendGroupEnd(c, &s);
		FenceGrouped(c, list_end, needed.data);
	}
	text = c->sql.data;
	c->sql = saved;
	return text;
}

static void
CompileMerged(Compiler *c, Merged *m, int alias)
{
	appendStringInfo(&c->from, ",\n  (%s) s%d", MergedSql(c, m), alias);
}

/* Finds a predicate's merged scan: its alias and column number, or NULL. */
static const Merged *
FindMerged(Compiler *c, const RuleNode *n, int *alias, int *column)
{
	int			i,
				j;

	for (i = 0; i < c->nmerged; i++)
		for (j = 0; c->merged[i].nleaves > 1 && j < c->merged[i].nleaves; j++)
			if (c->merged[i].leaves[j] == n)
			{
				*alias = i + 1;
				*column = j + 1;
				return &c->merged[i];
			}
	return NULL;
}

/* Counts the leaves of a tree (an upper bound of any group's size). */
static int
CountLeaves(const RuleNode *n)
{
	int			i,
				total = 0;

	if (n->kind != RULE_AND && n->kind != RULE_OR && n->kind != RULE_NOT)
		return 1;
	for (i = 0; i < n->nchildren; i++)
		total += CountLeaves(n->children[i]);
	return total;
}

/* The planner's total cost of a query, from a plan made but not run. */
static double
PlanCost(const char *query)
{
	SPIPlanPtr	plan = SPI_prepare(query, 0, NULL);
	CachedPlan *cplan;
	double		cost;

	if (plan == NULL || (cplan = SPI_plan_get_cached_plan(plan)) == NULL)
		elog(ERROR, "could not plan %s", query);
	cost = linitial_node(PlannedStmt, cplan->stmt_list)->planTree->total_cost;
	/* an unsaved SPI plan's cached plan belongs to no resource owner */
	ReleaseCachedPlan(cplan, NULL);
	SPI_freeplan(plan);
	return cost;
}

static void CompileExists(Compiler *c, const RuleNode *n);
static bool CompileAggregate(Compiler *c, const RuleNode *n);

/* A predicate's own subquery (as CompileLeaf writes it), for costing. */
static char *
LeafSql(Compiler *c, const RuleNode *n)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	if (n->kind == RULE_EXISTS)
		CompileExists(c, n);
	else
		(void) CompileAggregate(c, n);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/* A group of some of a source's predicates, scanned together. */
static Merged
Subgroup(const Merged *all, bool exists, bool aggregates, bool grouped)
{
	Merged		m = *all;
	int			j;

	m.leaves = palloc(sizeof(RuleNode *) * all->nleaves);
	m.holds = palloc0(sizeof(bool) * all->nleaves);
	m.nleaves = 0;
	m.grouped = grouped;
	for (j = 0; j < all->nleaves; j++)
		if (all->leaves[j]->kind == RULE_EXISTS ? exists : aggregates)
			m.leaves[m.nleaves++] = all->leaves[j];
	return m;
}

/* Cost of evaluating the leaves of groups: merged scans or one by one. */
static double
GroupCost(Compiler *c, Merged *m, const double *leafcost, const Merged *all)
{
	double		total = 0;
	int			i,
				j;

	if (m->nleaves > 1)
		return PlanCost(MergedSql(c, m));
	for (i = 0; i < m->nleaves; i++)
		for (j = 0; j < all->nleaves; j++)
			if (all->leaves[j] == m->leaves[i])
				total += leafcost[j];
	return total;
}

/*
 * Decides how a source's predicates are scanned, by the planner's
 * estimates of each alternative:
 *	 one:	 one scan for all (grouped if any needs an aggregate's value);
 *	 split:	 each EXISTS its own scan (an index range scan on the time
 *			 column reads only its window), the aggregates one grouped scan;
 *	 hybrid: the EXISTS in one plain scan, the aggregates in a grouped one.
 * Appends the chosen groups of two or more predicates to out; the others
 * are compiled alone.  The choice goes into the notes.
 */
static void
ChooseScans(Compiler *c, const Merged *all, Merged *out, int *nout)
{
	int			nexists = 0,
				j;
	bool		dict = c->reg.dictionary;
	double	   *leafcost = palloc(sizeof(double) * all->nleaves);
	Merged		one = Subgroup(all, true, true, true),
				ex = Subgroup(all, true, false, dict),
				ag = Subgroup(all, false, true, true);
	double		cost_one,
				cost_split,
				cost_hybrid = -1,
				cost_ag;
	const char *choice;

	for (j = 0; j < all->nleaves; j++)
		nexists += all->leaves[j]->kind == RULE_EXISTS;
	one.grouped = dict || nexists < all->nleaves;
	if (!c->choose)
	{
		out[(*nout)++] = one;
		return;
	}
	for (j = 0; j < all->nleaves; j++)
		leafcost[j] = PlanCost(LeafSql(c, all->leaves[j]));
	cost_one = PlanCost(MergedSql(c, &one));
	cost_ag = GroupCost(c, &ag, leafcost, all);
	cost_split = cost_ag;
	for (j = 0; j < all->nleaves; j++)
		if (all->leaves[j]->kind == RULE_EXISTS)
			cost_split += leafcost[j];
	if (nexists >= 2 && nexists < all->nleaves)
		cost_hybrid = PlanCost(MergedSql(c, &ex)) + cost_ag;

	if (cost_one <= cost_split && (cost_hybrid < 0 || cost_one <= cost_hybrid))
	{
		out[(*nout)++] = one;
		choice = one.grouped ? "one grouped scan" : "one scan, no grouping";
	}
	else if (cost_hybrid >= 0 && cost_hybrid < cost_split)
	{
		out[(*nout)++] = ex;
		if (ag.nleaves > 1)
			out[(*nout)++] = ag;
		choice = "EXISTS in one scan, aggregates in one grouped scan";
	}
	else
	{
		if (ag.nleaves > 1)
			out[(*nout)++] = ag;
		choice = ag.nleaves > 1 ? "one scan per EXISTS, aggregates in one grouped scan" : "one scan per predicate";
	}
	appendStringInfo(&c->notes, "-- %s: %d predicates: %s (estimated cost: one scan %.0f, one per predicate %.0f",
					 all->source, all->nleaves, choice, cost_one, cost_split);
	if (cost_hybrid >= 0)
		appendStringInfo(&c->notes, ", EXISTS together %.0f", cost_hybrid);
	appendStringInfoString(&c->notes, ")\n");
}

/*
 * Merges the source predicates of a rule, source by source, when not
 * sharing (refresh_all() shares whole predicates across rules instead,
 * which merging would defeat).  Outside the auto-tagging triggers, how
 * they are grouped is chosen by cost.
 */
static void
CompileMergedScans(Compiler *c, const RuleNode *rule)
{
	int			nleaves = CountLeaves(rule);
	Merged	   *groups;
	int			ngroups = 0;
	int			i;

	if (c->share)
		return;
	c->merged = palloc(sizeof(Merged) * nleaves);
	CollectLeaves(c, rule, nleaves);
	groups = palloc(sizeof(Merged) * (nleaves + 1));
	for (i = 0; i < c->nmerged; i++)
		if (c->merged[i].nleaves > 1)
			ChooseScans(c, &c->merged[i], groups, &ngroups);
	c->merged = groups;
	c->nmerged = ngroups;
	for (i = 0; i < c->nmerged; i++)
		CompileMerged(c, &c->merged[i], i + 1);
}

/*
 * A customer condition as a boolean over the customer row cu; negated, it
 * is "(cond) IS NOT TRUE", true for NULLs (see AppendRowBool).
 */
static void
AppendCustomerCondition(Compiler *c, const RuleNode *n, bool negate)
{
	const char *col = n->value->column;

	if (negate)
		appendStringInfoChar(&c->sql, '(');
	AppendCondition(c, n, psprintf("cu.%s", quote_identifier(col)),
					ColumnType(c->reg.rel, c->reg.relname, col), psprintf("customer.%s", col));
	if (negate)
		appendStringInfoString(&c->sql, " IS NOT TRUE)");
}

static void AppendRowBool(Compiler *c, const RuleNode *n, bool negate);
static const char *CustomerOrdinal(Compiler *c);

/* FROM and WHERE of a customer-table scan: the tenant's rows (alias cu). */
static void
AppendCustomerFrom(Compiler *c)
{
	appendStringInfo(&c->sql, " FROM %s cu", c->reg.relname);
	if (c->reg.dictionary)
		appendStringInfoString(&c->sql, DictJoin(&c->reg, "cu", c->reg.key));
	appendStringInfoString(&c->sql, " WHERE ");
	if (c->reg.tenant)
		appendStringInfo(&c->sql, "cu.%s::text = %s AND ", c->reg.tenant, quote_literal_cstr(c->reg.tenant_value));
	/* a view's rows outside the ordinal range are no customers (never members) */
	if (c->reg.unguarded)
		appendStringInfo(&c->sql, "cu.%s BETWEEN 0 AND 4294967295 AND ", c->reg.key);
}

/*
 * Conditions on the customer table, whatever their boolean shape: one scan
 * with one WHERE clause (an index on a column serves it when selective),
 * restricted to the tenant, so its customers are registered ones.
 */
static void
CompileCustomer(Compiler *c, const RuleNode *n)
{
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(%s), '{}') AS yes", CustomerOrdinal(c));
	AppendCustomerFrom(c);
	AppendRowBool(c, n, false);
	AppendAmongKey(c, psprintf("cu.%s", c->reg.key),
				   c->reg.dictionary ? CustomerOrdinal(c) : psprintf("cu.%s", c->reg.key));
}

/*
 * TAG 'group' [NOT] IN (...) / IS [NOT] EMPTY over the tag store; returns
 * true when the predicate is the universe minus the holders found.
 */
/* The id of the tenant's tag group, or the error naming the groups. */
static char *
TagGroupId(const char *name)
{
	return psprintf("%d", catalog_group_id(name));
}

/* " AND t.value IN (...)" of TAG ... IN, nothing for IS EMPTY. */
static void
AppendTagValues(Compiler *c, const RuleNode *n)
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
	char	   *gid = TagGroupId(n->name);
	bool		complement = n->negated;

	if (n->kind == RULE_TAG_EMPTY)
		complement = !n->negated;	/* IS EMPTY = universe minus holders */
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(m.ordinal), '{}') AS yes FROM segment.tag_members m "
					 "JOIN segment.tags t ON t.id = m.tag_id WHERE t.group_id = %s", gid);
	AppendTagValues(c, n);
	AppendAmong(c, "m.ordinal");
	return complement;
}

/* IN SEGMENT 'name': the segment's last refreshed members. */
/* The id of the tenant's segment, or the error naming the segments. */
static char *
SegmentId(const char *name)
{
	return psprintf(INT64_FORMAT, catalog_segment_id(name));
}

static void
CompileInSegment(Compiler *c, const RuleNode *n)
{
	char	   *id = SegmentId(n->name);

	appendStringInfo(&c->sql, "SELECT coalesce(members%s, '{}') AS yes FROM segment.segments WHERE id = %s",
					 c->among ? " OPERATOR(segment.&) $1" : "", id);
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
		n->value != NULL && n->value->kind == RULE_VALUE_AGG;
}

/* Whether an aggregate predicate holds for customers without rows. */
static bool
AggregateHolds(Compiler *c, const RuleNode *n)
{
	Source		s;
	AggInfo		a;

	LoadSource(c, n->value->source, &s);
	CheckAggregate(n->value, &s, &a);
	return EmptyHolds(c, n, &a);
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
	int			i,
				j;

	for (i = 0; i < and->nchildren; i++)
	{
		const RuleNode *a = and->children[i];

		if (!IsAggregateLeaf(a) || IsCovered(c, a))
			continue;
		for (j = 0; j < and->nchildren; j++)
		{
			const RuleNode *p = and->children[j];

			if (j == i || !rule_same_scope(a, p))
				continue;
			if (p->kind == RULE_EXISTS || !AggregateHolds(c, p))
			{
				if (c->covered == NULL)
					c->covered = palloc(sizeof(RuleNode *) * RULE_MAX_TREE_LEVELS);
				if (c->ncovered < RULE_MAX_TREE_LEVELS)
					c->covered[c->ncovered++] = a;
				break;
			}
		}
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
	const Merged *m = FindMerged(c, n, &alias, &column);

	if (m)
	{
		c->npred--;
		AppendAggExpr(c, psprintf("s%d", alias), psprintf("%d", column),
					  m->holds[column - 1] && !IsCovered(c, n));
		return;
	}
	initStringInfo(&c->sql);
	switch (rule_is_customer_only(n) ? RULE_AND : n->kind)
	{
		case RULE_AND:			/* customer conditions, any shape */
			CompileCustomer(c, n);
			break;
		case RULE_EXISTS:
			CompileExists(c, n);
			break;
		case RULE_TAG_IN:
		case RULE_TAG_EMPTY:
			/* tags and stored members may outlive their customers */
			complement = CompileTag(c, n);
			c->unchecked = true;
			break;
		case RULE_IN_SEGMENT:
			CompileInSegment(c, n);
			c->unchecked = true;
			break;
		default:
			aggregate = n->value->kind == RULE_VALUE_AGG;
			if (aggregate)
				holds = CompileAggregate(c, n);
			else
				CompileCustomer(c, n);
	}
	/* IN SEGMENT is never shared: refresh_all() changes segments as it goes */
	if (c->share && n->kind != RULE_IN_SEGMENT)
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
		AppendAggExpr(c, psprintf("p%d", id), "", aggregate && holds && !IsCovered(c, n));
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

	MarkCovered(c, n);
	appendStringInfoChar(&c->sql, '(');
	for (i = 0; i < n->nchildren; i++)
		if (!Subtracted(n->children[i]))
		{
			if (npositive++ > 0)
				appendStringInfoString(&c->sql, " OPERATOR(segment.&) ");
			CompileNode(c, n->children[i]);
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
			CompileNode(c, n->children[i]->children[0]);
		}
	appendStringInfoChar(&c->sql, ')');
}

static void
CompileNode(Compiler *c, const RuleNode *n)
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
				CompileNode(c, n->children[i]);
			}
			appendStringInfoChar(&c->sql, ')');
			break;
		case RULE_NOT:
			c->uses_universe = true;
			appendStringInfoString(&c->sql, "(u.a OPERATOR(segment.-) ");
			CompileNode(c, n->children[0]);
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
	appendStringInfo(&u, "SELECT coalesce(segment.audience_agg(%s), '{}') AS a FROM %s cu",
					 CustomerOrdinal(c), c->reg.relname);
	if (c->reg.dictionary)
		appendStringInfoString(&u, DictJoin(&c->reg, "cu", c->reg.key));
	appendStringInfoString(&u, " WHERE true");
	if (c->reg.unguarded)
		appendStringInfo(&u, " AND cu.%s BETWEEN 0 AND 4294967295", c->reg.key);
	if (c->reg.tenant)
		appendStringInfo(&u, " AND cu.%s::text = %s", c->reg.tenant, quote_literal_cstr(c->reg.tenant_value));
	if (c->among)
	{
		StringInfoData saved = c->sql;

		c->sql = u;
		AppendAmongKey(c, psprintf("cu.%s", c->reg.key),
					   c->reg.dictionary ? CustomerOrdinal(c) : psprintf("cu.%s", c->reg.key));
		u = c->sql;
		c->sql = saved;
	}
	return u.data;
}

/* The ordinal of a customer-table row (alias cu) and its join, if any. */
static const char *
CustomerOrdinal(Compiler *c)
{
	return c->reg.dictionary ? DictOrdinal(&c->reg, "cu", c->reg.key) : psprintf("cu.%s::bigint", c->reg.key);
}

/* Reads the registry and the clock; sets the modes that follow from them. */
static void
Prepare(Compiler *c, TimestampTz as_of)
{
	LoadRegistry(&c->reg);
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

	LoadSource(c, source, &s);
	return IsTimeType(ColumnType(s.rel, s.relname, column));
}

/* The rule rewritten for evaluation at the compiler's as-of (rule_rewrite.h). */
static const RuleNode *
Rewrite(Compiler *c, const RuleNode *rule)
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
 * Whether an index (the primary key, typically) leads with the customer
 * key: then members are looked up as "key = ANY (array)", index probes
 * without a join.  Otherwise they join the table as a semi-join.
 */
static bool
KeyIndexed(Compiler *c)
{
	return catalog_key_indexed(c->reg.rel, c->reg.key_column);
}

/*
 * The audience of the tenant's customers satisfying customer conditions
 * (NULL: all of them), as column a; with probe, only among the members of
 * x.a (index lookups of each member instead of a scan).
 */
static char *
CustomerScanSql(Compiler *c, const RuleNode *cond, bool probe)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(%s), '{}') AS a", CustomerOrdinal(c));
	AppendCustomerFrom(c);
	if (cond)
		AppendRowBool(c, cond, false);
	else
		appendStringInfoString(&c->sql, "true");
	if (probe && c->key_indexed && !c->reg.dictionary)
		appendStringInfo(&c->sql, " AND cu.%s = ANY (segment.to_bigint_array((SELECT x.a FROM x)))", c->reg.key);
	else if (probe && c->key_indexed && c->reg.cached)
		appendStringInfo(&c->sql, " AND cu.%s IN (SELECT o.key FROM segment.customer_ordinals o "
						 "WHERE o.ordinal = ANY (segment.to_bigint_array((SELECT x.a FROM x))))", c->reg.key);
	else if (probe)
		appendStringInfo(&c->sql, " AND %s IN (SELECT segment.ids_bigint(x.a) FROM x)",
						 c->reg.dictionary ? CustomerOrdinal(c) : psprintf("cu.%s", c->reg.key));
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/* The planner's idea of the number of customers (at least 1). */
static double
CustomerRows(Compiler *c)
{
	return catalog_rel_tuples(c->reg.rel);
}

/*
 * The per-customer form of a predicate: a boolean over the customer row cu
 * with correlated subqueries, as one would write the rule by hand
 * ("... WHERE cu.age > 30 AND NOT EXISTS (SELECT FROM orders e WHERE
 * e.customer_id = cu.id ...)").  The planner turns EXISTS into semi- and
 * anti-joins (index lookups for few customers, hash joins for many);
 * aggregates are scalar subqueries whose value over no rows is the
 * language's (0 for count and sum, NULL otherwise).
 *
 * A rule's NOT is "the registered customers for which the condition is not
 * true", so NOTs are pushed down (De Morgan) to the predicates and a negated
 * comparison is "(cond) IS NOT TRUE", true for NULLs; without a NOT above
 * it, a comparison that is NULL rejects the row as false would.  Customer
 * conditions alone (one scan of the customer table) use the same walk.
 */
static void
AppendRowBool(Compiler *c, const RuleNode *n, bool negate)
{
	const char *ordinal = c->reg.dictionary ? CustomerOrdinal(c) : c->reg.key_ordinal;
	int			i;

	check_stack_depth();
	switch (n->kind)
	{
		case RULE_AND:
		case RULE_OR:
			appendStringInfoChar(&c->sql, '(');
			for (i = 0; i < n->nchildren; i++)
			{
				if (i > 0)
					appendStringInfoString(&c->sql, (n->kind == RULE_AND) != negate ? " AND " : " OR ");
				AppendRowBool(c, n->children[i], negate);
			}
			appendStringInfoChar(&c->sql, ')');
			return;
		case RULE_NOT:
			AppendRowBool(c, n->children[0], !negate);
			return;
		case RULE_EXISTS:
			{
				Source		s;

				LoadSource(c, n->name, &s);
				appendStringInfo(&c->sql, "(%sEXISTS (SELECT FROM %s e WHERE e.%s = cu.%s AND %s))",
								 negate ? "NOT " : "", s.relname, s.customer, c->reg.key,
								 LeafCondition(c, &s, n->name, n->filter, n->window));
				return;
			}
		case RULE_TAG_IN:
		case RULE_TAG_EMPTY:
			{
				/* holds for holders: IN, IS NOT EMPTY; for the others: NOT IN, IS EMPTY */
				bool		holders = (n->kind == RULE_TAG_IN) != n->negated;

				appendStringInfo(&c->sql, "(%sEXISTS (SELECT FROM segment.tag_members m JOIN segment.tags t "
								 "ON t.id = m.tag_id WHERE m.ordinal = %s AND t.group_id = %s",
								 holders != negate ? "" : "NOT ", ordinal, TagGroupId(n->name));
				AppendTagValues(c, n);
				appendStringInfoString(&c->sql, "))");
				return;
			}
		case RULE_IN_SEGMENT:
			appendStringInfo(&c->sql, "(%s(SELECT coalesce(members, '{}') FROM segment.segments WHERE id = %s) "
							 "OPERATOR(segment.@>) %s::bigint)", negate ? "NOT " : "", SegmentId(n->name), ordinal);
			return;
		default:
			if (n->value->kind == RULE_VALUE_CUSTOMER)
			{
				AppendCustomerCondition(c, n, negate);
				return;
			}
			{
				const RuleValue *v = n->value;
				Source		s;
				AggInfo		a;
				char	   *value;

				LoadSource(c, v->source, &s);
				CheckAggregate(v, &s, &a);
				value = psprintf("(SELECT %s FROM %s e WHERE e.%s = cu.%s AND %s)",
								 AggSql(v->agg, a.arg, v->column == NULL, NULL), s.relname, s.customer,
								 c->reg.key, LeafCondition(c, &s, v->source, v->filter, v->window));
				if (negate)
					appendStringInfoChar(&c->sql, '(');
				AppendCondition(c, n, value, a.vtype, a.what);
				if (negate)
					appendStringInfoString(&c->sql, " IS NOT TRUE)");
			}
	}
}

/* The whole rule per customer: one query over the customer table. */
static char *
PerCustomerSql(Compiler *c, const RuleNode *rule)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(%s), '{}')", CustomerOrdinal(c));
	AppendCustomerFrom(c);
	AppendRowBool(c, rule, false);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/*
 * Result sizes up to this fraction of the customers are checked against
 * the customer table by index lookups of each member; larger ones by a
 * scan of the table (the universe) and an intersection.
 */
/*
 * With dictionary keys the scan joins the dictionary (900 ms per million
 * customers against 120 ms), and each member costs two index probes (its
 * key, then the customer): four times the fraction.
 */
#define PROBE_FRACTION 0.015625	/* 1/64.  Measured on 1M customers: a scan
									 * 110-125 ms; "= ANY" 1.5 us a member
									 * with the index cached, 11 us after big
									 * scans evicted it (128MB buffers); a
									 * semi-join 4 us */

/*
 * A rule outside the triggers and refresh_all(): the customer conditions
 * of a top-level AND (or the whole rule) become one scan of the customer
 * table, which is also the rule's check that its customers are registered:
 *	- the rest complements (NOT, count(...) < 3...): the scan is the
 *	  universe the rest is computed in, and the result is their
 *	  intersection;
 *	- otherwise the rest is computed first (CTE x), and the query decides
 *	  at run time, from its exact size: few members are looked up in the
 *	  customer table with the conditions, many are intersected with one
 *	  scan of it.  Both arms are uncorrelated subqueries (init plans) run
 *	  only when taken.
 * Without customer conditions the same holds with the universe, and no
 * check at all is needed when every customer found comes from sources
 * whose foreign key guarantees it is registered.
 */
static void
CompileSetAlgebra(Compiler *c, const RuleNode *rule)
{
	const RuleNode *block = NULL;
	const RuleNode *rest = rule;
	StringInfoData expr;
	double		threshold;
	int			i;

	if (rule_is_customer_only(rule))
	{
		appendStringInfoString(&c->notes, "-- customer conditions: one scan of the customer table\n");
		appendStringInfo(&c->sql, "%s%s", c->notes.data, CustomerScanSql(c, rule, false));
		return;
	}
	if (rule->kind == RULE_AND)
		for (i = 0; i < rule->nchildren && block == NULL; i++)
			if (rule_is_customer_only(rule->children[i]))
			{
				RuleNode   *and = palloc0(sizeof(RuleNode));
				int			j,
							k = 0;

				block = rule->children[i];
				and->kind = RULE_AND;
				and->children = palloc(sizeof(RuleNode *) * rule->nchildren);
				for (j = 0; j < rule->nchildren; j++)
					if (j != i)
						and->children[k++] = rule->children[j];
				and->nchildren = k;
				rest = k == 1 ? and->children[0] : and;
			}
	CompileMergedScans(c, rest);
	CompileNode(c, rest);
	expr = c->sql;
	initStringInfo(&c->sql);
	if (c->uses_universe)
	{
		appendStringInfo(&c->notes, "-- universe: %s\n",
						 block ? "the customers satisfying the customer conditions (one scan)"
						 : "one scan of the customer table");
		appendStringInfo(&c->sql, "%sWITH u AS MATERIALIZED (%s)\nSELECT u.a OPERATOR(segment.&) %s\nFROM u%s",
						 c->notes.data, CustomerScanSql(c, block, false), expr.data, c->from.data);
		return;
	}
	if (!block && (c->driver || (!c->unchecked && !c->reg.tenant && !c->reg.dictionary)))
	{
		appendStringInfoString(&c->notes, c->driver ? "-- no registered-customer check: the rest of the rule checks the members\n"
							   : "-- no registered-customer check: validated foreign keys guarantee it\n");
		appendStringInfo(&c->sql, "%sSELECT %s\nFROM%s", c->notes.data, expr.data, c->from.data + 1);
		return;
	}
	c->key_indexed = KeyIndexed(c);
	threshold = Max(1000.0, floor(CustomerRows(c) * (!c->key_indexed ? PROBE_FRACTION / 4 :
													 c->reg.dictionary ? PROBE_FRACTION * 4 : PROBE_FRACTION)));
	appendStringInfo(&c->notes, "-- %s: index lookups of each member when at most %.0f, else one scan and an intersection\n",
					 block ? "customer conditions and registered-customer check" : "registered-customer check",
					 threshold);
	c->check_body = psprintf("SELECT %s AS a\nFROM%s", expr.data, c->from.data + 1);
	c->check_scan = CustomerScanSql(c, block, false);
	appendStringInfo(&c->sql, "%sWITH x AS MATERIALIZED (SELECT %s AS a\nFROM%s)\n"
					 "SELECT CASE WHEN segment.cardinality(x.a) <= %.0f\n"
					 "  THEN (%s)\n"
					 "  ELSE x.a OPERATOR(segment.&) (%s) END\nFROM x",
					 c->notes.data, expr.data, c->from.data + 1, threshold,
					 CustomerScanSql(c, block, true), CustomerScanSql(c, block, false));
}

/*
 * Whether a rule is an AND with customer conditions: the only shape where
 * the per-customer form is considered, since only there can it start from
 * few customers.  Elsewhere its estimates rest on join selectivities alone
 * and were seen 1000 times too low (an EXISTS over a tag table never
 * analyzed: estimated 5435, ran 5 s against 0.5 s as set algebra).
 */
static bool
HasCustomerConjunct(const RuleNode *rule)
{
	int			i;

	if (rule->kind != RULE_AND)
		return false;
	for (i = 0; i < rule->nchildren; i++)
		if (rule_is_customer_only(rule->children[i]))
			return true;
	return false;
}

/*
 * The per-customer form is kept only when estimated well below the set
 * algebra: measured on 1M customers, the planner's semi- and anti-join
 * costs are optimistic next to bitmap aggregation (estimated 30% cheaper,
 * ran 35% slower), while where per customer really wins (few customers by
 * their own columns) it is estimated several times cheaper.
 */
#define PER_CUSTOMER_MARGIN 0.6

/*
 * A rule outside the triggers and refresh_all(): compiled both as set
 * algebra over audiences (CompileSetAlgebra) and per customer
 * (PerCustomerSql), and the form the planner estimates cheaper is kept.
 * Per customer wins where few customers qualify by their own columns
 * ("registered in the last 15 days AND no order": index lookups of the
 * few), set algebra where sources are scanned anyway.
 */
static void
CompilePlain(Compiler *c, const RuleNode *rule)
{
	char	   *algebra;
	char	   *percustomer;
	double		cost_algebra,
				cost_percustomer;

	CompileSetAlgebra(c, rule);
	if (rule_is_customer_only(rule) || segment_rule_form == SEGMENT_FORM_SET_ALGEBRA ||
		(segment_rule_form == SEGMENT_FORM_AUTO && !HasCustomerConjunct(rule)))
		return;
	algebra = c->sql.data;
	percustomer = PerCustomerSql(c, rule);
	if (segment_rule_form == SEGMENT_FORM_PER_CUSTOMER)
	{
		c->sql.data = psprintf("-- per customer (segment.rule_form)\n%s", percustomer);
		return;
	}
	/*
	 * The planner charges both arms of the run-time check; at most one
	 * runs, and the probe only when it is the cheaper: charge the scan.
	 */
	cost_algebra = c->check_body ? PlanCost(c->check_body) + PlanCost(c->check_scan) : PlanCost(algebra);
	cost_percustomer = PlanCost(percustomer);
	initStringInfo(&c->sql);
	if (cost_percustomer < PER_CUSTOMER_MARGIN * cost_algebra)
		appendStringInfo(&c->sql, "-- per customer: one query over the customer table "
						 "(estimated cost %.0f; set algebra %.0f)\n%s",
						 cost_percustomer, cost_algebra, percustomer);
	else
		appendStringInfo(&c->sql, "-- set algebra over audiences (estimated cost %.0f; per customer %.0f)\n%s",
						 cost_algebra, cost_percustomer, algebra);
}

/*
 * The query around the rule's expression, among candidates and while
 * refresh_all() shares predicates.  When the expression never
 * complements (no NOT, no zero-inclusive aggregate, no TAG NOT IN / IS
 * EMPTY), the universe need not be built: the expression's customers are
 * checked against the customer table instead (index lookups for a few,
 * a hash semi-join for many), which keeps selective rules cheap.
 */
static void
Compile(Compiler *c, const RuleNode *rule, TimestampTz as_of)
{
	StringInfoData expr;

	Prepare(c, as_of);
	rule = Rewrite(c, rule);
	if (c->choose)
	{
		CompilePlain(c, rule);
		return;
	}
	CompileMergedScans(c, rule);
	CompileNode(c, rule);
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
	 * taken from the customer table: no check needed.
	 */
	if ((!c->unchecked && !c->reg.tenant && !c->reg.dictionary) || c->among_customers || c->driver)
	{
		resetStringInfo(&c->sql);
		if (c->among_customers)
			appendStringInfoString(&c->sql, "WITH r AS MATERIALIZED (SELECT id FROM segment.ids_bigint($1) id)\n");
		appendStringInfo(&c->sql, "SELECT %s\nFROM%s", expr.data, c->from.data + 1);
		return;
	}
	appendStringInfo(&c->sql, "x AS MATERIALIZED (SELECT %s AS a\nFROM%s)\n", expr.data, c->from.data + 1);
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(%s), '{}') FROM %s cu",
					 CustomerOrdinal(c), c->reg.relname);
	if (c->reg.dictionary)
		appendStringInfoString(&c->sql, DictJoin(&c->reg, "cu", c->reg.key));
	appendStringInfo(&c->sql, " WHERE %s IN (SELECT segment.ids_bigint(x.a) FROM x)",
					 c->reg.dictionary ? CustomerOrdinal(c) : psprintf("cu.%s", c->reg.key));
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
	Compile(&c, rule, as_of);
	return c.sql.data;
}

/*
 * A split is tried only for rules the planner expects to be slow (cost
 * units; 20000 is a few hundred ms here), with a driver estimated at most
 * DRIVER_FRACTION of the whole: the driver's query runs in any case, and
 * when its members are many the rest runs unrestricted, so a split costs
 * little more than the rule itself.
 */
#define SPLIT_MIN_COST 20000.0
#define DRIVER_FRACTION 0.3

/* The compiled query of a rule on its own, and its estimated cost. */
static char *
CompileAlone(const RuleNode *rule, TimestampTz as_of, double *cost, bool driver)
{
	Compiler	c;

	memset(&c, 0, sizeof(c));
	c.driver = driver;
	Compile(&c, rule, as_of);
	*cost = PlanCost(c.sql.data);
	return c.sql.data;
}

bool
rule_compile_split(const RuleNode *rule, TimestampTz as_of, RuleSplit *split)
{
	Compiler	c;
	const RuleNode *top;
	double		cost_full,
				best = -1;
	int			driver = -1,
				i;
	char	   *best_sql = NULL;
	RuleNode   *rest;

	memset(split, 0, sizeof(*split));
	memset(&c, 0, sizeof(c));
	split->forced = segment_rule_form == SEGMENT_FORM_REDUCED;
	Prepare(&c, as_of);
	top = Rewrite(&c, rule);
	if (top->kind != RULE_AND || top->nchildren < 2 ||
		(segment_rule_form != SEGMENT_FORM_AUTO && !split->forced))
	{
		split->full_sql = rule_compile_sql(rule, as_of, RULE_AMONG_NONE, -1);
		return false;
	}
	split->customers = CustomerRows(&c);
	split->full_sql = CompileAlone(rule, as_of, &cost_full, false);
	if (cost_full < SPLIT_MIN_COST && !split->forced)
		return false;
	for (i = 0; i < top->nchildren; i++)
	{
		double		cost;
		char	   *sql = CompileAlone(top->children[i], as_of, &cost, true);

		if (driver < 0 || cost < best)
		{
			driver = i;
			best = cost;
			best_sql = sql;
		}
	}
	if (best > DRIVER_FRACTION * cost_full && !split->forced)
		return false;
	if (top->nchildren == 2)
		rest = top->children[1 - driver];
	else
	{
		int			j = 0;

		rest = palloc0(sizeof(RuleNode));
		rest->kind = RULE_AND;
		rest->nchildren = top->nchildren - 1;
		rest->children = palloc(sizeof(RuleNode *) * rest->nchildren);
		for (i = 0; i < top->nchildren; i++)
			if (i != driver)
				rest->children[j++] = top->children[i];
	}
	split->driver_sql = best_sql;
	split->full_cost = cost_full;
	split->rest = rest;
	split->note = psprintf("driver: child %d of %d (estimated cost %.0f, whole rule %.0f)",
						   driver + 1, top->nchildren, best, cost_full);
	return true;
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
	Compile(&c, rule, as_of);
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
	Prepare(&c, as_of);
	initStringInfo(&select);
	rewritten = palloc(sizeof(RuleNode *) * Max(n, 1));
	for (i = 0; i < n; i++)
		rewritten[i] = (RuleNode *) Rewrite(&c, rules[i]);
	rules = (const RuleNode **) rewritten;

	/* a root over all rules, so that leaf collection sees them together */
	memset(&all, 0, sizeof(all));
	all.kind = RULE_OR;
	all.nchildren = n;
	all.children = (RuleNode **) rules;
	CompileMergedScans(&c, &all);
	exprs = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		resetStringInfo(&c.sql);
		CompileNode(&c, rules[i]);
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
