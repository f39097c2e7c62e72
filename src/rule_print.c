/*
 * rule_print.c
 *		Canonical text of rules, windows, values and literals.
 *
 * Everything goes through one sink that counts bytes and, when it has a
 * buffer, copies them; so measuring, snprintf-style printing and arena
 * printing share a single code path and cannot disagree.
 */
#include "rule_print.h"

#include <stdio.h>
#include <string.h>

#include "rule_lexer.h"

/* Operator precedence levels: what a context demands of a child. */
#define PREC_ANY	0
#define PREC_OR		1
#define PREC_AND	2
#define PREC_NOT	3

typedef struct Sink
{
	char	   *buf;			/* NULL: measure only */
	size_t		size;
	size_t		len;			/* bytes produced so far (maybe > size) */
	int			depth;			/* open groups / NOTs / WHEREs */
	int			max_depth;
} Sink;

static void print_node(Sink *o, const RuleNode *node, int need);

/* Appends bytes, keeping room for the final NUL. */
static void
put(Sink *o, const char *s, size_t n)
{
	if (o->buf != NULL && o->len < o->size)
	{
		size_t		room = o->size - 1 - o->len;

		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

/* Appends a NUL-terminated string. */
static void
put_str(Sink *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Terminates the buffer the way snprintf does. */
static size_t
finish(Sink *o)
{
	if (o->buf != NULL && o->size > 0)
		o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
	return o->len;
}

/* Enters a construct the parser counts towards RULE_MAX_DEPTH. */
static void
nest(Sink *o)
{
	if (++o->depth > o->max_depth)
		o->max_depth = o->depth;
}

/* Writes s between quote characters q, doubling q inside. */
static void
put_quoted(Sink *o, const char *s, char q)
{
	const char *p = s;

	put(o, &q, 1);
	while (*p)
	{
		const char *stop = strchr(p, q);

		if (stop == NULL)
		{
			put_str(o, p);
			break;
		}
		put(o, p, stop - p + 1);
		put(o, &q, 1);
		p = stop + 1;
	}
	put(o, &q, 1);
}

/* Identifiers bare when safe, as quote_identifier decides. */
static void
put_ident(Sink *o, const char *ident)
{
	if (rule_ident_is_plain(ident))
		put_str(o, ident);
	else
		put_quoted(o, ident, '"');
}

/* Appends a decimal integer (window and AGO counts). */
static void
put_int(Sink *o, long v)
{
	char		tmp[24];

	snprintf(tmp, sizeof(tmp), "%ld", v);
	put_str(o, tmp);
}

/* "n unit" with the unit singular only for exactly one. */
static void
put_count_unit(Sink *o, int32_t n, RuleUnit unit)
{
	put_int(o, n);
	put(o, " ", 1);
	put_str(o, rule_unit_name(unit, n != 1));
}

/* moment: n unit ago, now, today or a quoted literal. */
static void
print_moment(Sink *o, const RuleMoment *m)
{
	switch (m->kind)
	{
		case RULE_MOMENT_AGO:
			put_count_unit(o, m->count, m->unit);
			put_str(o, " ago");
			break;
		case RULE_MOMENT_NOW:
			put_str(o, "now");
			break;
		case RULE_MOMENT_TODAY:
			put_str(o, "today");
			break;
		case RULE_MOMENT_DATETIME:
			put_quoted(o, m->text ? m->text : "", '\'');
			break;
	}
}

/* Windows in keyword order, counts normalized, literals verbatim. */
static void
print_window(Sink *o, const RuleWindow *w)
{
	switch (w->kind)
	{
		case RULE_WINDOW_LAST:
			put_str(o, "last ");
			put_count_unit(o, w->n, w->unit);
			break;
		case RULE_WINDOW_PAST:
			put_str(o, "past ");
			put_int(o, w->n);
			put_str(o, " to ");
			put_count_unit(o, w->m, w->unit);
			break;
		case RULE_WINDOW_TODAY:
			put_str(o, "today");
			break;
		case RULE_WINDOW_YESTERDAY:
			put_str(o, "yesterday");
			break;
		case RULE_WINDOW_THIS:
		case RULE_WINDOW_PREVIOUS:
			put_str(o, w->kind == RULE_WINDOW_THIS ? "this " : "previous ");
			put_str(o, rule_unit_name(w->unit, false));
			break;
		case RULE_WINDOW_BETWEEN:
			put_str(o, "between ");
			print_moment(o, &w->from);
			put_str(o, " and ");
			print_moment(o, &w->to);
			break;
		case RULE_WINDOW_SINCE:
			put_str(o, "since ");
			print_moment(o, &w->from);
			break;
		case RULE_WINDOW_BEFORE:
			put_str(o, "before ");
			print_moment(o, &w->to);
			break;
	}
}

/* Strings quoted, numbers verbatim, booleans and moments as words. */
static void
print_literal(Sink *o, const RuleLiteral *lit)
{
	switch (lit->kind)
	{
		case RULE_LIT_STRING:
			put_quoted(o, lit->text ? lit->text : "", '\'');
			break;
		case RULE_LIT_NUMBER:
			put_str(o, lit->text ? lit->text : "0");
			break;
		case RULE_LIT_BOOL:
			put_str(o, lit->boolval ? "true" : "false");
			break;
		case RULE_LIT_MOMENT:
			print_moment(o, &lit->moment);
			break;
		case RULE_LIT_PREV:
			put_str(o, "prev.");
			put_ident(o, lit->text ? lit->text : "");
			break;
	}
}

/* A WHERE filter, which the parser counts as one level of nesting. */
static void
print_filter(Sink *o, const RuleNode *filter)
{
	put_str(o, " where ");
	nest(o);
	print_node(o, filter, PREC_ANY);
	o->depth--;
}

/* customer.column, a bare filter column, or an aggregate call. */
static void
print_value(Sink *o, const RuleValue *v)
{
	switch (v->kind)
	{
		case RULE_VALUE_CUSTOMER:
			put_str(o, "customer.");
			put_ident(o, v->column);
			break;
		case RULE_VALUE_FIELD:
			put_ident(o, v->column);
			break;
		case RULE_VALUE_AGG:
			put_str(o, rule_agg_name(v->agg));
			put(o, "(", 1);
			put_ident(o, v->source);
			if (v->column)
			{
				put(o, ".", 1);
				put_ident(o, v->column);
			}
			if (v->filter)
				print_filter(o, v->filter);
			if (v->window)
			{
				put_str(o, " during ");
				print_window(o, v->window);
			}
			put(o, ")", 1);
			break;
	}
}

/* "(a, b, c)" for IN lists. */
static void
print_list(Sink *o, const RuleLiteral *args, int n)
{
	int			i;

	put(o, "(", 1);
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			put(o, ", ", 2);
		print_literal(o, &args[i]);
	}
	put(o, ")", 1);
}

/* " not" before IN, BETWEEN, LIKE, DURING when negated. */
static void
put_not(Sink *o, const RuleNode *node)
{
	if (node->negated)
		put_str(o, " not");
}

/* exists source [where filter] [during window], alone or as a step. */
static void
print_exists(Sink *o, const RuleNode *node)
{
	put_str(o, "exists ");
	put_ident(o, node->name);
	if (node->filter)
		print_filter(o, node->filter);
	if (node->window)
	{
		put_str(o, " during ");
		print_window(o, node->window);
	}
}

/* Steps joined by "then [not]", then "within n unit". */
static void
print_sequence(Sink *o, const RuleNode *node)
{
	int			i;

	for (i = 0; i < node->nchildren; i++)
	{
		if (i > 0)
			put_str(o, node->children[i]->negated ? " then not " : " then ");
		print_exists(o, node->children[i]);
	}
	if (node->within)
	{
		put_str(o, " within ");
		put_count_unit(o, node->within->n, node->within->unit);
	}
}

/* value [not] in top|bottom n [percent] [among segment 'name'] */
static void
print_rank(Sink *o, const RuleNode *node)
{
	print_value(o, node->value);
	put_not(o, node);
	put_str(o, node->rank->top ? " in top " : " in bottom ");
	put_str(o, node->rank->n);
	if (node->rank->percent)
		put_str(o, " percent");
	if (node->name)
	{
		put_str(o, " among segment ");
		put_quoted(o, node->name, '\'');
	}
}

/* Leaves of the tree, one shape per kind. */
static void
print_predicate(Sink *o, const RuleNode *node)
{
	switch (node->kind)
	{
		case RULE_CMP:
			print_value(o, node->value);
			put(o, " ", 1);
			put_str(o, rule_op_name(node->op));
			put(o, " ", 1);
			print_literal(o, &node->args[0]);
			break;
		case RULE_IN:
			print_value(o, node->value);
			put_not(o, node);
			put_str(o, " in ");
			print_list(o, node->args, node->nargs);
			break;
		case RULE_IS_NULL:
			print_value(o, node->value);
			put_str(o, node->negated ? " is not null" : " is null");
			break;
		case RULE_BETWEEN:
			print_value(o, node->value);
			put_not(o, node);
			put_str(o, " between ");
			print_literal(o, &node->args[0]);
			put_str(o, " and ");
			print_literal(o, &node->args[1]);
			break;
		case RULE_LIKE:
			print_value(o, node->value);
			put_not(o, node);
			put_str(o, " like ");
			print_literal(o, &node->args[0]);
			break;
		case RULE_DURING:
			print_value(o, node->value);
			put_not(o, node);
			put_str(o, " during ");
			print_window(o, node->window);
			break;
		case RULE_TAG_IN:
			put_str(o, "tag ");
			put_quoted(o, node->name, '\'');
			put_not(o, node);
			put_str(o, " in ");
			print_list(o, node->args, node->nargs);
			break;
		case RULE_TAG_EMPTY:
			put_str(o, "tag ");
			put_quoted(o, node->name, '\'');
			put_str(o, node->negated ? " is not empty" : " is empty");
			break;
		case RULE_EXISTS:
			print_exists(o, node);
			break;
		case RULE_SEQUENCE:
			print_sequence(o, node);
			break;
		case RULE_RANK:
			print_rank(o, node);
			break;
		case RULE_IN_SEGMENT:
			put_str(o, "in segment ");
			put_quoted(o, node->name, '\'');
			break;
		case RULE_IN_SNAPSHOT:
			put_str(o, "in snapshot ");
			put_quoted(o, node->name, '\'');
			break;
		default:
			break;
	}
}

/* Precedence level of a node as an operand. */
static int
node_prec(const RuleNode *node)
{
	if (node->kind == RULE_OR)
		return PREC_OR;
	if (node->kind == RULE_AND)
		return PREC_AND;
	return PREC_NOT;
}

/*
 * Prints a node in a context demanding precedence need, adding the
 * parentheses only when the node binds more loosely.
 */
static void
print_node(Sink *o, const RuleNode *node, int need)
{
	int			i;

	if (node_prec(node) < need)
	{
		put(o, "(", 1);
		nest(o);
		print_node(o, node, PREC_ANY);
		o->depth--;
		put(o, ")", 1);
		return;
	}
	switch (node->kind)
	{
		case RULE_AND:
		case RULE_OR:
			for (i = 0; i < node->nchildren; i++)
			{
				if (i > 0)
					put_str(o, node->kind == RULE_AND ? " and " : " or ");
				/* a child of the same kind would be flattened by the parser */
				print_node(o, node->children[i], node_prec(node) + 1);
			}
			break;
		case RULE_NOT:
			put_str(o, "not ");
			nest(o);
			print_node(o, node->children[0], PREC_NOT);
			o->depth--;
			break;
		default:
			print_predicate(o, node);
			break;
	}
}

/* Canonical text of a rule, snprintf-style. */
size_t
rule_print_buf(const RuleNode *rule, char *buf, size_t size)
{
	Sink		o = {buf, size, 0, 0, 0};

	print_node(&o, rule, PREC_ANY);
	return finish(&o);
}

/* Canonical text of a window on its own. */
size_t
rule_print_window_buf(const RuleWindow *window, char *buf, size_t size)
{
	Sink		o = {buf, size, 0, 0, 0};

	print_window(&o, window);
	return finish(&o);
}

/* Canonical text of a value, for the glue's messages. */
size_t
rule_print_value_buf(const RuleValue *value, char *buf, size_t size)
{
	Sink		o = {buf, size, 0, 0, 0};

	print_value(&o, value);
	return finish(&o);
}

/* Canonical text of a literal, for the glue's messages. */
size_t
rule_print_literal_buf(const RuleLiteral *lit, char *buf, size_t size)
{
	Sink		o = {buf, size, 0, 0, 0};

	print_literal(&o, lit);
	return finish(&o);
}

/* Size and nesting of the canonical text without writing it. */
void
rule_print_measure(const RuleNode *rule, size_t *len, int *depth)
{
	Sink		o = {NULL, 0, 0, 0, 0};

	print_node(&o, rule, PREC_ANY);
	if (len)
		*len = o.len;
	if (depth)
		*depth = o.max_depth;
}

/* Measures, then prints into an exactly sized arena buffer. */
char *
rule_print(const RuleNode *rule, RuleArena *arena, size_t *len)
{
	size_t		n = rule_print_buf(rule, NULL, 0);
	char	   *buf = rule_arena_alloc(arena, n + 1);

	if (buf == NULL)
		return NULL;
	rule_print_buf(rule, buf, n + 1);
	if (len)
		*len = n;
	return buf;
}

/* Window text into the arena. */
char *
rule_print_window(const RuleWindow *window, RuleArena *arena, size_t *len)
{
	size_t		n = rule_print_window_buf(window, NULL, 0);
	char	   *buf = rule_arena_alloc(arena, n + 1);

	if (buf == NULL)
		return NULL;
	rule_print_window_buf(window, buf, n + 1);
	if (len)
		*len = n;
	return buf;
}
