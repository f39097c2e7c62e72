/*
 * rule_ast.c
 *		Whole-tree operations: word names, validation, normalization,
 *		equality and reference enumeration (see rule_ast.h).
 */
#include "rule_ast.h"

#include <string.h>

#include "rule_lexer.h"
#include "rule_print.h"
#include "rule_window.h"

/* Where a node sits, which decides the kinds it may have. */
typedef struct Ctx
{
	bool		filter;			/* inside a WHERE */
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
	static const char *const names[6] = {
		"count", "sum", "avg", "min", "max", "count_distinct"
	};

	if ((int) agg < 0 || (int) agg > 5)
		return "?";
	return names[agg];
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

static bool check_node(Ctx *c, const RuleNode *node, int level);

/* A WHERE filter: a tree of filter kinds over FIELD values. */
static bool
check_filter(Ctx *c, const RuleNode *filter, int level)
{
	Ctx			fc = *c;

	fc.filter = true;
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
				(int) v->agg > RULE_AGG_COUNT_DISTINCT)
				return corrupt(c, "An aggregate is unknown.");
			if (!check_ident(c, v->source))
				return false;
			if (v->column == NULL && v->agg != RULE_AGG_COUNT)
				return corrupt(c, "Only count() may omit the column.");
			if (v->column != NULL && !check_ident(c, v->column))
				return false;
			if (v->filter != NULL && !check_filter(c, v->filter, level))
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
			return check_string(c, node->name);
		case RULE_EXISTS:
			if (!check_ident(c, node->name))
				return false;
			if (node->filter != NULL && !check_filter(c, node->filter, level))
				return false;
			return node->window == NULL || check_window(c, node->window);
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
				check_literal(c, &node->args[0], true);
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
		default:
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
	return value_eq(a->value, b->value) && rule_window_equal(a->window, b->window) &&
		str_eq(a->name, b->name) && rule_equal(a->filter, b->filter);
}

/* ---------- references ---------- */

typedef struct RefWalk
{
	RuleRefCallback cb;
	void	   *ctx;
} RefWalk;

static bool walk_node(RefWalk *w, const RuleNode *node, const char *source);

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
			return emit(w, RULE_REF_SOURCE_COLUMN, source, v->column, NULL,
						NULL, node);
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
		case RULE_EXISTS:
			if (!emit(w, RULE_REF_SOURCE, node->name, NULL, NULL, NULL, node))
				return false;
			return node->filter == NULL || walk_node(w, node->filter, node->name);
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
			return false;
		default:
			return n->value != NULL && n->value->kind == RULE_VALUE_AGG;
	}
}
