/*
 * rule_compile_cond.c
 *		Literals, windows and conditions: every value from a rule checked
 *		by its column type's input function and written quoted and cast;
 *		window bounds as literals in UTC, readable under any DateStyle.
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
#include "parser/parse_oper.h"
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

bool
RcIsTimeType(Oid t)
{
	return t == TIMESTAMPTZOID || t == TIMESTAMPOID || t == DATEOID;
}

/* The rule's zone as a quoted literal, for AT TIME ZONE. */
char *
RcZoneLiteral(Compiler *c)
{
	return quote_literal_cstr(pg_get_timezone_name(c->tz));
}

/*
 * A time value of type from as a value comparable with a column of type
 * to, by the instants the values stand for (a date is its local midnight,
 * a timestamp its wall-clock time in the rule's zone: S6 of
 * test/t/Differential.pm), so that the column side stays bare and its
 * index usable.  A date column compares with a local timestamp (date <
 * timestamp is an indexable cross-type comparison).
 */
char *
RcTimeAs(Compiler *c, const char *expr, Oid from, Oid to)
{
	const char *z = RcZoneLiteral(c);

	if (from == to)
		return pstrdup(expr);
	if (to == TIMESTAMPTZOID)
		return from == DATEOID ? psprintf("((%s)::timestamp AT TIME ZONE %s)", expr, z)
			: psprintf("((%s) AT TIME ZONE %s)", expr, z);
	/* to a timestamp, or to a date column: the local wall-clock time */
	if (from == TIMESTAMPTZOID)
		return psprintf("((%s) AT TIME ZONE %s)", expr, z);
	if (from == DATEOID)
		return psprintf("(%s)::timestamp", expr);
	return pstrdup(expr);
}

/* expr >= lo AND expr < hi for a window (infinite bounds left out). */
void
RcAppendWindowCond(Compiler *c, const char *expr, Oid type, const RuleWindow *w)
{
	RuleBound	lo,
				hi;
	bool		any = false;

	if (!RcIsTimeType(type))
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

/*
 * Checks a literal against a column type and appends it quoted and cast
 * (also used by rule_compile_shard.c).
 */
void
RcAppendLiteral(Compiler *c, const RuleLiteral *lit, Oid type, const char *what)
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

				if (!RcIsTimeType(type))
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
				 * moment of the rule's zone (doc/rules.md), like the bounds of
				 * windows; cast to the column's type it would lose its time
				 * of day (date), its offset (timestamp) or be read in the
				 * session's zone.
				 */
				memset(&m, 0, sizeof(m));
				m.kind = RULE_MOMENT_DATETIME;
				m.text = lit->text;
				if (RcIsTimeType(type) &&
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

/*
 * prev.column in a sequence step's filter (expr op prev.column): the
 * previous step's column, checked to be comparable with this one.
 */
static void
AppendPrev(Compiler *c, const RuleNode *n, const char *expr, Oid type, const char *what)
{
	const char *col = n->args[0].text;
	Oid			ptype;
	Operator	op;
	char	   *pexpr;

	if (c->prev == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("prev.%s can only be used in the filter of a later step of a sequence", col)));
	ptype = RcColumnType(c->prev->rel, c->prev->relname, col);
	pexpr = psprintf("%s.%s", c->prev_alias, quote_identifier(col));
	if (RcIsTimeType(type) && RcIsTimeType(ptype))
	{
		/* instants in the rule's zone, not the session's */
		appendStringInfo(&c->sql, "%s %s %s", expr, rule_op_name(n->op), RcTimeAs(c, pexpr, ptype, type));
		return;
	}
	op = oper(NULL, list_make1(makeString(pstrdup(rule_op_name(n->op)))), type, ptype, true, -1);
	if (op == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s has type %s, which cannot be compared with prev.%s of type %s",
						what, format_type_be(type), col, format_type_be(ptype)),
				 errdetail("prev.%s is the column of the previous step's source %s.", col, c->prev_name),
				 errhint("Compare with a column of a comparable type, or cast it in a view registered as the source.")));
	ReleaseSysCache(op);
	appendStringInfo(&c->sql, "%s %s %s", expr, rule_op_name(n->op), pexpr);
}

/* The comparison part of CMP / IN / IS NULL / BETWEEN / LIKE on an expression. */
void
RcAppendCondition(Compiler *c, const RuleNode *n, const char *expr, Oid type, const char *what)
{
	int			i;

	appendStringInfoChar(&c->sql, '(');
	switch (n->kind)
	{
		case RULE_CMP:
			if (n->args[0].kind == RULE_LIT_PREV)
			{
				AppendPrev(c, n, expr, type, what);
				break;
			}
			appendStringInfo(&c->sql, "%s %s ", expr, rule_op_name(n->op));
			RcAppendLiteral(c, &n->args[0], type, what);
			break;
		case RULE_IN:
			appendStringInfo(&c->sql, "%s %sIN (", expr, n->negated ? "NOT " : "");
			for (i = 0; i < n->nargs; i++)
			{
				if (i > 0)
					appendStringInfoString(&c->sql, ", ");
				RcAppendLiteral(c, &n->args[i], type, what);
			}
			appendStringInfoChar(&c->sql, ')');
			break;
		case RULE_IS_NULL:
			appendStringInfo(&c->sql, "%s IS %sNULL", expr, n->negated ? "NOT " : "");
			break;
		case RULE_BETWEEN:
			appendStringInfo(&c->sql, "%s %sBETWEEN ", expr, n->negated ? "NOT " : "");
			RcAppendLiteral(c, &n->args[0], type, what);
			appendStringInfoString(&c->sql, " AND ");
			RcAppendLiteral(c, &n->args[1], type, what);
			break;
		case RULE_LIKE:
			appendStringInfo(&c->sql, "%s::text %sLIKE ", expr, n->negated ? "NOT " : "");
			appendStringInfoString(&c->sql, quote_literal_cstr(n->args[0].text));
			break;
		case RULE_DURING:
			/* checked here to name the column as the rule does, not its alias */
			if (!RcIsTimeType(type))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("DURING needs a date or timestamp, but %s has type %s",
								what, format_type_be(type)),
						 errhint("DURING applies to date, timestamp and timestamptz columns.")));
			if (n->negated)
				appendStringInfo(&c->sql, "%s IS NOT NULL AND NOT ", expr);
			RcAppendWindowCond(c, expr, type, n->window);
			break;
		default:
			elog(ERROR, "unexpected rule node %d in a condition", n->kind);
	}
	appendStringInfoChar(&c->sql, ')');
}

/* A filter over a source's own columns (WHERE of aggregates and EXISTS). */
void
RcAppendFilter(Compiler *c, const RuleNode *f, const Source *s, const char *source)
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
				RcAppendFilter(c, f->children[i], s, source);
			}
			appendStringInfoChar(&c->sql, ')');
			return;
		case RULE_NOT:
			appendStringInfoString(&c->sql, "(NOT coalesce(");
			RcAppendFilter(c, f->children[0], s, source);
			appendStringInfoString(&c->sql, ", false))");
			return;
		default:
			{
				const char *col = f->value->column;
				Oid			type = RcColumnType(s->rel, s->relname, col);
				char	   *what = psprintf("%s.%s", source, col);

				RcAppendCondition(c, f, psprintf("%s.%s", c->alias ? c->alias : "e", quote_identifier(col)),
								  type, what);
			}
	}
}
