/*
 * rule_ast.c
 *		Whole-tree operations: word names, validation, normalization,
 *		equality and reference enumeration (see rule_ast.h).
 */
#include "rule_ast.h"

#include <stdio.h>
#include <string.h>

#include "rule_lexer.h"
#include "rule_print.h"
#include "rule_window.h"

/* Where a node sits, which decides the kinds it may have. */
typedef struct Ctx
{
	bool		filter;			/* inside a WHERE */
	bool		prev_ok;		/* inside the WHERE of a later sequence step */
	RuleError  *err;
} Ctx;

/* Unit words as the printer writes them. */
const char *
rule_unit_name(RuleUnit unit, bool plural)
{
	static const char *const names[6][2] = {
		{"minute", "minutes"}, {"hour", "hours"}, {"day", "days"},
		{"week", "weeks"}, {"month", "months"}, {"year", "years"}
	};

	if ((int) unit < 0 || (int) unit > 5)
		return "?";
	return names[unit][plural ? 1 : 0];
}

/* Aggregate names as written in rules. */
const char *
rule_agg_name(RuleAggKind agg)
{
	static const char *const names[12] = {
		"count", "sum", "avg", "min", "max", "count_distinct",
		"first", "last", "mode", "active_days", "active_weeks", "active_months"
	};

	if ((int) agg < 0 || (int) agg > 11)
		return "?";
	return names[agg];
}

/* count(source) counts rows; active_*(source) count periods with rows. */
bool
rule_agg_takes_source_only(RuleAggKind agg)
{
	return agg == RULE_AGG_ACTIVE_DAYS || agg == RULE_AGG_ACTIVE_WEEKS ||
		agg == RULE_AGG_ACTIVE_MONTHS;
}

/* Compares a run of decimal digits with a bound, ignoring leading zeros. */
static int
digits_cmp(const char *d, size_t n, const char *bound)
{
	size_t		bn = strlen(bound);

	while (n > 1 && *d == '0')
		d++, n--;
	if (n != bn)
		return n < bn ? -1 : 1;
	return memcmp(d, bound, n) < 0 ? -1 : memcmp(d, bound, n) > 0;
}

/* The count limit as digits, for digits_cmp(). */
static const char *
rank_count_bound(void)
{
	static char bound[16];

	if (bound[0] == '\0')
		snprintf(bound, sizeof(bound), "%d", RULE_MAX_RANK_COUNT);
	return bound;
}

/* digits[.digits]; whole counts 1 .. RULE_MAX_RANK_COUNT, percents (0, 100]. */
RuleRankSize
rule_rank_size_check(const char *n, bool percent)
{
	size_t		whole = 0,
				frac = 0,
				i;
	bool		nonzero = false;

	if (n == NULL)
		return RULE_RANK_SIZE_SYNTAX;
	while (n[whole] >= '0' && n[whole] <= '9')
		whole++;
	if (n[whole] == '.')
		while (n[whole + 1 + frac] >= '0' && n[whole + 1 + frac] <= '9')
			frac++;
	if (whole == 0 || n[whole + (n[whole] == '.' ? 1 + frac : 0)] != '\0' ||
		(n[whole] == '.' && (frac == 0 || !percent)))
		return RULE_RANK_SIZE_SYNTAX;
	for (i = 0; n[i]; i++)
		if (n[i] >= '1' && n[i] <= '9')
			nonzero = true;
	if (!nonzero)
		return RULE_RANK_SIZE_ZERO;
	if (!percent)
		return digits_cmp(n, whole, rank_count_bound()) > 0 ?
			RULE_RANK_SIZE_TOO_BIG : RULE_RANK_SIZE_OK;
	if (digits_cmp(n, whole, "100") > 0)
		return RULE_RANK_SIZE_OVER_100;
	if (digits_cmp(n, whole, "100") == 0)
		for (i = whole + 1; frac > 0 && n[i]; i++)
			if (n[i] != '0')
				return RULE_RANK_SIZE_OVER_100;
	return RULE_RANK_SIZE_OK;
}

/* Comparison operators as the printer writes them (<> for both spellings). */
const char *
rule_op_name(RuleCmpOp op)
{
	static const char *const names[6] = {"=", "<>", "<", "<=", ">", ">="};

	if ((int) op < 0 || (int) op > 5)
		return "?";
	return names[op];
}

/* ---------- validation ---------- */

/* A structural defect: only hand-built or corrupted trees have these. */
static bool
corrupt(Ctx *c, const char *what)
{
	rule_error_set(c->err, RULE_ERR_CORRUPT, 0, "invalid segment_rule tree");
	rule_error_detail(c->err, "%s", what);
	return false;
}

/* Strings must exist and be valid UTF-8 (they end up in the text). */
static bool
check_string(Ctx *c, const char *s)
{
	if (s == NULL)
		return corrupt(c, "A string is missing.");
	if (!rule_utf8_valid(s, strlen(s), NULL, NULL))
		return corrupt(c, "A string is not valid UTF-8.");
	return true;
}

/* Identifiers are strings that cannot be empty ("" does not lex). */
static bool
check_ident(Ctx *c, const char *s)
{
	if (!check_string(c, s))
		return false;
	if (s[0] == '\0')
		return corrupt(c, "An identifier is empty.");
	return true;
}

/* Window and AGO counts: whole, within RULE_MAX_WINDOW_COUNT. */
static bool
check_count(Ctx *c, int32_t n)
{
	if (n < 0)
		return corrupt(c, "A time count is negative.");
	if (n > RULE_MAX_WINDOW_COUNT)
	{
		rule_error_set(c->err, RULE_ERR_LIMIT, 0,
					   "time count %d exceeds the maximum of %d",
					   (int) n, RULE_MAX_WINDOW_COUNT);
		return false;
	}
	return true;
}

/* A known RuleUnit value. */
static bool
check_unit(Ctx *c, RuleUnit unit)
{
	if ((int) unit < RULE_UNIT_MINUTE || (int) unit > RULE_UNIT_YEAR)
		return corrupt(c, "A time unit is unknown.");
	return true;
}

/* A DATETIME moment: the text must parse to exactly the stored fields. */
static bool
check_datetime(Ctx *c, const RuleMoment *m)
{
	RuleDateTime dt;
	const RuleDateTime *s = &m->datetime;

	if (!check_string(c, m->text))
		return false;
	if (rule_parse_datetime(m->text, strlen(m->text), &dt) != RULE_DT_OK)
	{
		rule_error_set(c->err, RULE_ERR_INVALID_LITERAL, 0,
					   "invalid date or timestamp in window");
		return false;
	}
	if (dt.year != s->year || dt.month != s->month || dt.day != s->day ||
		dt.hour != s->hour || dt.minute != s->minute ||
		dt.second != s->second || dt.microsecond != s->microsecond ||
		dt.has_time != s->has_time || dt.has_offset != s->has_offset ||
		dt.offset_seconds != s->offset_seconds)
		return corrupt(c, "A date literal does not match its text.");
	return true;
}

/* Moments; quoted ones only where the parser reads them as moments. */
static bool
check_moment(Ctx *c, const RuleMoment *m, bool datetime_ok)
{
	switch (m->kind)
	{
		case RULE_MOMENT_AGO:
			return check_count(c, m->count) && check_unit(c, m->unit);
		case RULE_MOMENT_NOW:
		case RULE_MOMENT_TODAY:
			return true;
		case RULE_MOMENT_DATETIME:
			if (!datetime_ok)
				return corrupt(c, "A quoted moment appears where a string literal belongs.");
			return check_datetime(c, m);
	}
	return corrupt(c, "A moment kind is unknown.");
}

/* BETWEEN takes two literals, the start not after the end. */
static bool
check_between_window(Ctx *c, const RuleWindow *w)
{
	int			cmp;

	if (w->from.kind != RULE_MOMENT_DATETIME ||
		w->to.kind != RULE_MOMENT_DATETIME)
		return corrupt(c, "BETWEEN window bounds must be date or timestamp literals.");
	if (!check_datetime(c, &w->from) || !check_datetime(c, &w->to))
		return false;
	if (rule_datetime_compare(&w->from.datetime, &w->to.datetime, true, &cmp) &&
		(cmp > 0 || (cmp == 0 && !w->to.datetime.has_time)))
	{
		rule_error_set(c->err, RULE_ERR_INVALID_LITERAL, 0,
					   "BETWEEN window: the start must not be after the end");
		return false;
	}
	return true;
}

/* Per-kind constraints of windows, as the parser enforces them. */
static bool
check_window(Ctx *c, const RuleWindow *w)
{
	if (w == NULL)
		return corrupt(c, "A window is missing.");
	switch (w->kind)
	{
		case RULE_WINDOW_LAST:
			return check_count(c, w->n) && check_unit(c, w->unit);
		case RULE_WINDOW_PAST:
			if (!check_count(c, w->n) || !check_count(c, w->m) ||
				!check_unit(c, w->unit))
				return false;
			if (w->n > w->m)
			{
				rule_error_set(c->err, RULE_ERR_INVALID_LITERAL, 0,
							   "PAST %d TO %d %s: the first number must not exceed the second",
							   (int) w->n, (int) w->m,
							   rule_unit_name(w->unit, w->m != 1));
				return false;
			}
			return true;
		case RULE_WINDOW_TODAY:
		case RULE_WINDOW_YESTERDAY:
			return true;
		case RULE_WINDOW_THIS:
		case RULE_WINDOW_PREVIOUS:
			if (w->unit != RULE_UNIT_WEEK && w->unit != RULE_UNIT_MONTH &&
				w->unit != RULE_UNIT_YEAR)
				return corrupt(c, "THIS and PREVIOUS take week, month or year.");
			return true;
		case RULE_WINDOW_BETWEEN:
			return check_between_window(c, w);
		case RULE_WINDOW_SINCE:
			return check_moment(c, &w->from, true);
		case RULE_WINDOW_BEFORE:
			return check_moment(c, &w->to, true);
	}
	return corrupt(c, "A window kind is unknown.");
}

/* One literal; moments only where the parser accepts them. */
static bool
check_literal(Ctx *c, const RuleLiteral *lit, bool moment_ok)
{
	switch (lit->kind)
	{
		case RULE_LIT_STRING:
			return check_string(c, lit->text);
		case RULE_LIT_NUMBER:
			if (lit->text == NULL ||
				!rule_lex_is_number(lit->text, strlen(lit->text)))
				return corrupt(c, "A number literal is malformed.");
			return true;
		case RULE_LIT_BOOL:
			return true;
		case RULE_LIT_MOMENT:
			if (!moment_ok)
				return corrupt(c, "A moment appears in an IN list.");
			return check_moment(c, &lit->moment, false);
		case RULE_LIT_PREV:
			/* only check_cmp_literal() lets these through */
			return corrupt(c, "A prev.column appears outside a comparison in a later sequence step's filter.");
	}
	return corrupt(c, "A literal kind is unknown.");
}

/* The literal list of IN and TAG IN. */
static bool
check_list(Ctx *c, const RuleNode *node, bool strings_only)
{
	int			i;

	if (node->nargs < 1 || node->args == NULL)
		return corrupt(c, "An IN list is empty.");
	if (node->nargs > RULE_MAX_IN_LIST)
	{
		rule_error_set(c->err, RULE_ERR_LIMIT, 0,
					   "IN list exceeds the maximum of %d values",
					   RULE_MAX_IN_LIST);
		return false;
	}
	for (i = 0; i < node->nargs; i++)
	{
		if (strings_only && node->args[i].kind != RULE_LIT_STRING)
			return corrupt(c, "A tag value is not a string.");
		if (!check_literal(c, &node->args[i], false))
			return false;
	}
	return true;
}

/* The literal of a comparison: prev.column too in later sequence steps. */
static bool
check_cmp_literal(Ctx *c, const RuleLiteral *lit)
{
	if (lit->kind != RULE_LIT_PREV)
		return check_literal(c, lit, true);
	if (!c->prev_ok)
		return corrupt(c, "A prev.column appears outside the filter of a later sequence step.");
	return check_ident(c, lit->text);
}

static bool check_node(Ctx *c, const RuleNode *node, int level);

/*
 * A WHERE filter: a tree of filter kinds over FIELD values; prev_ok for the
 * steps after the first of a sequence.
 */
static bool
check_filter(Ctx *c, const RuleNode *filter, int level, bool prev_ok)
{
	Ctx			fc = *c;

	fc.filter = true;
	fc.prev_ok = prev_ok;
	return check_node(&fc, filter, level + 1);
}

/*
 * Values: bare columns in filters, customer columns or aggregates elsewhere.
 */
static bool
check_value(Ctx *c, const RuleValue *v, int level)
{
	if (v == NULL)
		return corrupt(c, "A value is missing.");
	if (c->filter)
	{
		if (v->kind != RULE_VALUE_FIELD)
			return corrupt(c, "A filter compares something other than a column of its source.");
		return check_ident(c, v->column);
	}
	switch (v->kind)
	{
		case RULE_VALUE_CUSTOMER:
			return check_ident(c, v->column);
		case RULE_VALUE_AGG:
			if ((int) v->agg < RULE_AGG_COUNT ||
				(int) v->agg > RULE_AGG_ACTIVE_MONTHS)
				return corrupt(c, "An aggregate is unknown.");
			if (!check_ident(c, v->source))
				return false;
			if (v->column == NULL && v->agg != RULE_AGG_COUNT &&
				!rule_agg_takes_source_only(v->agg))
				return corrupt(c, "Only count() and active_*() may omit the column.");
			if (v->column != NULL && rule_agg_takes_source_only(v->agg))
				return corrupt(c, "active_days(), active_weeks() and active_months() take no column.");
			if (v->column != NULL && !check_ident(c, v->column))
				return false;
			if (v->filter != NULL && !check_filter(c, v->filter, level, false))
				return false;
			return v->window == NULL || check_window(c, v->window);
		default:
			return corrupt(c, "A value kind is unknown or misplaced.");
	}
}

/* AND, OR and NOT, the same inside and outside filters. */
static bool
check_bool(Ctx *c, const RuleNode *node, int level)
{
	int			i;

	if (node->kind == RULE_NOT ? node->nchildren != 1 : node->nchildren < 2)
		return corrupt(c, "A boolean node has the wrong number of operands.");
	if (node->children == NULL)
		return corrupt(c, "A boolean node has no operands.");
	for (i = 0; i < node->nchildren; i++)
	{
		const RuleNode *child = node->children[i];

		if (child != NULL && node->kind != RULE_NOT && child->kind == node->kind)
			return corrupt(c, "An AND or OR node has an operand of its own kind.");
		if (!check_node(c, child, level + 1))
			return false;
	}
	return true;
}

/* EXISTS source [WHERE filter] [DURING window], alone or as a step. */
static bool
check_exists(Ctx *c, const RuleNode *node, int level, bool prev_ok)
{
	if (!check_ident(c, node->name))
		return false;
	if (node->filter != NULL &&
		!check_filter(c, node->filter, level, prev_ok))
		return false;
	return node->window == NULL || check_window(c, node->window);
}

/* Steps are EXISTS nodes, the first positive; WITHIN n is at least 1. */
static bool
check_sequence(Ctx *c, const RuleNode *node, int level)
{
	int			i;

	if (node->nchildren < 2 || node->children == NULL)
		return corrupt(c, "A sequence has fewer than two steps.");
	if (node->nchildren > RULE_MAX_SEQUENCE_STEPS)
	{
		rule_error_set(c->err, RULE_ERR_LIMIT, 0,
					   "sequence exceeds the maximum of %d steps",
					   RULE_MAX_SEQUENCE_STEPS);
		return false;
	}
	for (i = 0; i < node->nchildren; i++)
	{
		const RuleNode *step = node->children[i];

		if (step == NULL || step->kind != RULE_EXISTS)
			return corrupt(c, "A sequence step is not an EXISTS.");
		if (i == 0 && step->negated)
			return corrupt(c, "The first step of a sequence is negated.");
		if (!check_exists(c, step, level + 1, i > 0))
			return false;
	}
	if (node->within == NULL)
		return true;
	if (node->within->n < 1)
		return corrupt(c, "A WITHIN count is below 1.");
	return check_count(c, node->within->n) && check_unit(c, node->within->unit);
}

/* value [not] in (top|bottom) n [percent] [among segment 'name'] */
static bool
check_rank(Ctx *c, const RuleNode *node, int level)
{
	if (node->rank == NULL)
		return corrupt(c, "A rank has no size.");
	if (!check_value(c, node->value, level))
		return false;
	switch (rule_rank_size_check(node->rank->n, node->rank->percent))
	{
		case RULE_RANK_SIZE_OK:
			break;
		case RULE_RANK_SIZE_TOO_BIG:
			rule_error_set(c->err, RULE_ERR_LIMIT, 0,
						   "TOP or BOTTOM count exceeds the maximum of %d",
						   RULE_MAX_RANK_COUNT);
			return false;
		default:
			return corrupt(c, "A TOP or BOTTOM size is malformed or out of range.");
	}
	return node->name == NULL || check_string(c, node->name);
}

/* Predicates that only make sense at the top level of a rule. */
static bool
check_rule_predicate(Ctx *c, const RuleNode *node, int level)
{
	if (c->filter)
		return corrupt(c, "A filter contains a predicate that is not about its source's columns.");
	switch (node->kind)
	{
		case RULE_DURING:
			if (!check_value(c, node->value, level))
				return false;
			if (node->value->kind == RULE_VALUE_AGG &&
				node->value->agg != RULE_AGG_MIN &&
				node->value->agg != RULE_AGG_MAX)
				return corrupt(c, "DURING applies to customer columns and min()/max() only.");
			return check_window(c, node->window);
		case RULE_TAG_IN:
			return check_string(c, node->name) && check_list(c, node, true);
		case RULE_TAG_EMPTY:
		case RULE_IN_SEGMENT:
		case RULE_IN_SNAPSHOT:
			return check_string(c, node->name);
		case RULE_EXISTS:
			if (node->negated)
				return corrupt(c, "A negated EXISTS appears outside a sequence.");
			return check_exists(c, node, level, false);
		case RULE_SEQUENCE:
			return check_sequence(c, node, level);
		case RULE_RANK:
			return check_rank(c, node, level);
		default:
			return corrupt(c, "A node kind is unknown.");
	}
}

/* Dispatch on the node kind, with the recursion guard. */
static bool
check_node(Ctx *c, const RuleNode *node, int level)
{
	if (node == NULL)
		return corrupt(c, "A node is missing.");
	if (level > RULE_MAX_TREE_LEVELS)
	{
		rule_error_set(c->err, RULE_ERR_LIMIT, 0,
					   "rule nesting exceeds the maximum depth of %d",
					   RULE_MAX_DEPTH);
		return false;
	}
	switch (node->kind)
	{
		case RULE_AND:
		case RULE_OR:
		case RULE_NOT:
			return check_bool(c, node, level);
		case RULE_CMP:
			if ((int) node->op < RULE_OP_EQ || (int) node->op > RULE_OP_GE)
				return corrupt(c, "A comparison operator is unknown.");
			if (node->nargs != 1 || node->args == NULL)
				return corrupt(c, "A comparison needs one literal.");
			return check_value(c, node->value, level) &&
				check_cmp_literal(c, &node->args[0]);
		case RULE_IN:
			return check_value(c, node->value, level) &&
				check_list(c, node, false);
		case RULE_IS_NULL:
			return check_value(c, node->value, level);
		case RULE_BETWEEN:
			if (node->nargs != 2 || node->args == NULL)
				return corrupt(c, "BETWEEN needs two literals.");
			return check_value(c, node->value, level) &&
				check_literal(c, &node->args[0], true) &&
				check_literal(c, &node->args[1], true);
		case RULE_LIKE:
			if (node->nargs != 1 || node->args == NULL ||
				node->args[0].kind != RULE_LIT_STRING)
				return corrupt(c, "LIKE needs one string pattern.");
			return check_value(c, node->value, level) &&
				check_literal(c, &node->args[0], false);
		default:
			return check_rule_predicate(c, node, level);
	}
}

/* Invariants first, then the limits on the canonical text. */
bool
rule_validate(const RuleNode *rule, RuleError *err)
{
	RuleError	local;
	Ctx			c;
	size_t		len;
	int			depth;

	if (err == NULL)
		err = &local;
	rule_error_clear(err);
	c.filter = false;
	c.prev_ok = false;
	c.err = err;
	if (!check_node(&c, rule, 0))
		return false;
	rule_print_measure(rule, &len, &depth);
	if (len > RULE_MAX_TEXT_LEN)
	{
		rule_error_set(err, RULE_ERR_LIMIT, 0,
					   "rule text exceeds the maximum length of %d bytes",
					   RULE_MAX_TEXT_LEN);
		rule_error_detail(err, "The canonical form of the rule is %zu bytes long.", len);
		return false;
	}
	if (depth > RULE_MAX_DEPTH)
	{
		rule_error_set(err, RULE_ERR_LIMIT, 0,
					   "rule nesting exceeds the maximum depth of %d",
					   RULE_MAX_DEPTH);
		return false;
	}
	return true;
}

/* ---------- normalization ---------- */

static bool normalize(RuleNode *node, RuleArena *arena, int level);

/* Replaces the children of an AND/OR by their flattened list. */
static bool
flatten_children(RuleNode *node, RuleArena *arena)
{
	int			total = 0;
	int			i,
				j,
				k = 0;
	RuleNode  **items;

	for (i = 0; i < node->nchildren; i++)
		total += node->children[i]->kind == node->kind ?
			node->children[i]->nchildren : 1;
	if (total == node->nchildren)
		return true;
	items = rule_arena_alloc(arena, sizeof(RuleNode *) * total);
	if (items == NULL)
		return false;
	for (i = 0; i < node->nchildren; i++)
	{
		RuleNode   *ch = node->children[i];

		if (ch->kind == node->kind)
			for (j = 0; j < ch->nchildren; j++)
				items[k++] = ch->children[j];
		else
			items[k++] = ch;
	}
	node->children = items;
	node->nchildren = total;
	return true;
}

/* Flattens inside an aggregate's filter. */
static bool
normalize_value(RuleValue *v, RuleArena *arena, int level)
{
	return v == NULL || v->kind != RULE_VALUE_AGG || v->filter == NULL ||
		normalize(v->filter, arena, level + 1);
}

/* Bottom-up, so a flattened child is already flat itself. */
static bool
normalize(RuleNode *node, RuleArena *arena, int level)
{
	int			i;

	if (node == NULL)
		return true;
	if (level > RULE_MAX_TREE_LEVELS)
		return false;
	if (node->kind == RULE_AND || node->kind == RULE_OR ||
		node->kind == RULE_NOT)
	{
		for (i = 0; i < node->nchildren; i++)
			if (node->children[i] == NULL ||
				!normalize(node->children[i], arena, level + 1))
				return false;
		return node->kind == RULE_NOT || flatten_children(node, arena);
	}
	if (node->kind == RULE_SEQUENCE)
	{
		/* the steps are EXISTS nodes: only their filters need flattening */
		for (i = 0; i < node->nchildren; i++)
			if (node->children[i] == NULL ||
				!normalize(node->children[i], arena, level + 1))
				return false;
		return true;
	}
	if (node->kind == RULE_EXISTS && node->filter != NULL &&
		!normalize(node->filter, arena, level + 1))
		return false;
	return normalize_value(node->value, arena, level);
}

/* Public entry of the flattening pass. */
bool
rule_normalize(RuleNode *rule, RuleArena *arena)
{
	return normalize(rule, arena, 0);
}

/* ---------- equality ---------- */

/* String equality treating NULL as a distinct value. */
static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Moments compare by the fields their kind uses. */
static bool
moment_eq(const RuleMoment *a, const RuleMoment *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind)
	{
		case RULE_MOMENT_AGO:
			return a->count == b->count && a->unit == b->unit;
		case RULE_MOMENT_DATETIME:
			return str_eq(a->text, b->text);
		default:
			return true;
	}
}

/* Windows compare by the fields their kind uses. */
bool
rule_window_equal(const RuleWindow *a, const RuleWindow *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->kind != b->kind)
		return false;
	switch (a->kind)
	{
		case RULE_WINDOW_LAST:
			return a->n == b->n && a->unit == b->unit;
		case RULE_WINDOW_PAST:
			return a->n == b->n && a->m == b->m && a->unit == b->unit;
		case RULE_WINDOW_THIS:
		case RULE_WINDOW_PREVIOUS:
			return a->unit == b->unit;
		case RULE_WINDOW_BETWEEN:
			return moment_eq(&a->from, &b->from) && moment_eq(&a->to, &b->to);
		case RULE_WINDOW_SINCE:
			return moment_eq(&a->from, &b->from);
		case RULE_WINDOW_BEFORE:
			return moment_eq(&a->to, &b->to);
		default:
			return true;
	}
}

/* Literals compare by kind and text or value. */
static bool
literal_eq(const RuleLiteral *a, const RuleLiteral *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind)
	{
		case RULE_LIT_BOOL:
			return a->boolval == b->boolval;
		case RULE_LIT_MOMENT:
			return moment_eq(&a->moment, &b->moment);
		default:				/* STRING, NUMBER, PREV */
			return str_eq(a->text, b->text);
	}
}

/* Values compare by kind, names, filter and window. */
static bool
value_eq(const RuleValue *a, const RuleValue *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->kind != b->kind || !str_eq(a->column, b->column))
		return false;
	if (a->kind != RULE_VALUE_AGG)
		return true;
	return a->agg == b->agg && str_eq(a->source, b->source) &&
		rule_equal(a->filter, b->filter) && rule_window_equal(a->window, b->window);
}

/* WITHIN of sequences (NULL equals only NULL). */
static bool
duration_eq(const RuleDuration *a, const RuleDuration *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->n == b->n && a->unit == b->unit;
}

/* TOP / BOTTOM sizes compare as written, like number literals. */
static bool
rank_eq(const RuleRank *a, const RuleRank *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->top == b->top && a->percent == b->percent && str_eq(a->n, b->n);
}

/* Whole-tree equality, the fields each kind uses only. */
bool
rule_equal(const RuleNode *a, const RuleNode *b)
{
	int			i;

	if (a == NULL || b == NULL)
		return a == b;
	if (a->kind != b->kind || a->nchildren != b->nchildren ||
		a->nargs != b->nargs)
		return false;
	if (a->kind != RULE_AND && a->kind != RULE_OR && a->kind != RULE_NOT &&
		a->kind != RULE_CMP && a->negated != b->negated)
		return false;
	for (i = 0; i < a->nchildren; i++)
		if (!rule_equal(a->children[i], b->children[i]))
			return false;
	for (i = 0; i < a->nargs; i++)
		if (!literal_eq(&a->args[i], &b->args[i]))
			return false;
	if (a->kind == RULE_CMP && a->op != b->op)
		return false;
	if (a->kind == RULE_SEQUENCE && !duration_eq(a->within, b->within))
		return false;
	if (a->kind == RULE_RANK && !rank_eq(a->rank, b->rank))
		return false;
	return value_eq(a->value, b->value) && rule_window_equal(a->window, b->window) &&
		str_eq(a->name, b->name) && rule_equal(a->filter, b->filter);
}

/* ---------- references ---------- */

typedef struct RefWalk
{
	RuleRefCallback cb;
	void	   *ctx;
	const char *prev_source;	/* the source prev.column reads, in a later
								 * sequence step's filter */
} RefWalk;

static bool walk_node(RefWalk *w, const RuleNode *node, const char *source);
static bool walk_sequence(RefWalk *w, const RuleNode *node);

/* Builds one RuleRef and hands it to the callback. */
static bool
emit(RefWalk *w, RuleRefKind kind, const char *source, const char *column,
	 const char *name, const char *value, const RuleNode *node)
{
	RuleRef		ref;

	ref.kind = kind;
	ref.source = source;
	ref.column = column;
	ref.name = name;
	ref.value = value;
	ref.node = node;
	return w->cb(&ref, w->ctx);
}

/* References of a value: columns, sources and filter columns. */
static bool
walk_value(RefWalk *w, const RuleValue *v, const RuleNode *node,
		   const char *source)
{
	switch (v->kind)
	{
		case RULE_VALUE_CUSTOMER:
			return emit(w, RULE_REF_CUSTOMER_COLUMN, NULL, v->column, NULL,
						NULL, node);
		case RULE_VALUE_FIELD:
			if (!emit(w, RULE_REF_SOURCE_COLUMN, source, v->column, NULL,
					  NULL, node))
				return false;
			/* the right side of a later step's comparison: prev.column */
			if (node->kind == RULE_CMP && node->nargs == 1 &&
				node->args[0].kind == RULE_LIT_PREV && w->prev_source != NULL)
				return emit(w, RULE_REF_SOURCE_COLUMN, w->prev_source,
							node->args[0].text, NULL, NULL, node);
			return true;
		case RULE_VALUE_AGG:
			if (!emit(w, RULE_REF_SOURCE, v->source, NULL, NULL, NULL, node))
				return false;
			if (v->column != NULL &&
				!emit(w, RULE_REF_SOURCE_COLUMN, v->source, v->column, NULL,
					  NULL, node))
				return false;
			return v->filter == NULL || walk_node(w, v->filter, v->source);
	}
	return true;
}

/* Steps in order; prev.column reads the last positive step's source. */
static bool
walk_sequence(RefWalk *w, const RuleNode *node)
{
	const char *prev = NULL;
	int			i;
	bool		ok = true;

	for (i = 0; i < node->nchildren && ok; i++)
	{
		const RuleNode *step = node->children[i];

		w->prev_source = prev;
		ok = walk_node(w, step, NULL);
		if (!step->negated)
			prev = step->name;
	}
	w->prev_source = NULL;
	return ok;
}

/* References in text order, children before siblings. */
static bool
walk_node(RefWalk *w, const RuleNode *node, const char *source)
{
	int			i;

	switch (node->kind)
	{
		case RULE_AND:
		case RULE_OR:
		case RULE_NOT:
			for (i = 0; i < node->nchildren; i++)
				if (!walk_node(w, node->children[i], source))
					return false;
			return true;
		case RULE_TAG_IN:
			if (!emit(w, RULE_REF_TAG_GROUP, NULL, NULL, node->name, NULL, node))
				return false;
			for (i = 0; i < node->nargs; i++)
				if (!emit(w, RULE_REF_TAG_VALUE, NULL, NULL, node->name,
						  node->args[i].text, node))
					return false;
			return true;
		case RULE_TAG_EMPTY:
			return emit(w, RULE_REF_TAG_GROUP, NULL, NULL, node->name, NULL, node);
		case RULE_IN_SEGMENT:
			return emit(w, RULE_REF_SEGMENT, NULL, NULL, node->name, NULL, node);
		case RULE_IN_SNAPSHOT:
			return emit(w, RULE_REF_SNAPSHOT, NULL, NULL, node->name, NULL, node);
		case RULE_EXISTS:
			if (!emit(w, RULE_REF_SOURCE, node->name, NULL, NULL, NULL, node))
				return false;
			return node->filter == NULL || walk_node(w, node->filter, node->name);
		case RULE_SEQUENCE:
			return walk_sequence(w, node);
		case RULE_RANK:
			if (!walk_value(w, node->value, node, source))
				return false;
			return node->name == NULL ||
				emit(w, RULE_REF_SEGMENT, NULL, NULL, node->name, NULL, node);
		default:
			return node->value == NULL || walk_value(w, node->value, node, source);
	}
}

/* Public entry of the reference walk. */
bool
rule_collect_refs(const RuleNode *rule, RuleRefCallback callback, void *ctx)
{
	RefWalk		w;

	w.cb = callback;
	w.ctx = ctx;
	w.prev_source = NULL;
	return walk_node(&w, rule, NULL);
}

bool
rule_may_complement(const RuleNode *n)
{
	int			i;

	switch (n->kind)
	{
		case RULE_NOT:
			return true;
		case RULE_AND:
		case RULE_OR:
			for (i = 0; i < n->nchildren; i++)
				if (rule_may_complement(n->children[i]))
					return true;
			return false;
		case RULE_TAG_IN:
			return n->negated;
		case RULE_TAG_EMPTY:
			return !n->negated;
		case RULE_EXISTS:
		case RULE_IN_SEGMENT:
		case RULE_IN_SNAPSHOT:
		case RULE_SEQUENCE:		/* needs its first step's event */
			return false;
		case RULE_RANK:			/* conservative: see rule_ast.h */
			return true;
		default:
			return n->value != NULL && n->value->kind == RULE_VALUE_AGG;
	}
}

