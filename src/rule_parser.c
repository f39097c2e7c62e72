/*
 * rule_parser.c
 *		Recursive-descent parser of segment_rule text (see rule_parser.h).
 *
 * Every parse function returns NULL/false after recording an error in
 * p->err (the first error wins), so callers only propagate failure.  The
 * tree goes into the arena; nothing needs freeing on error paths.
 */
#include "rule_parser.h"

#include <string.h>

#include "rule_lexer.h"
#include "rule_print.h"
#include "rule_window.h"

/* Longest token text quoted in a message, in bytes. */
#define NEAR_MAX_BYTES	96

#define START_HINT \
	"A condition starts with customer.column, an aggregate such as " \
	"count(source), TAG, EXISTS, IN SEGMENT, IN SNAPSHOT, NOT or a parenthesis."
#define WINDOW_HINT \
	"A window is LAST n unit, PAST n TO m unit, TODAY, YESTERDAY, " \
	"THIS or PREVIOUS week/month/year, BETWEEN 'date' AND 'date', " \
	"SINCE moment or BEFORE moment."
#define THEN_HINT \
	"THEN joins EXISTS conditions into a sequence: " \
	"EXISTS a [WHERE ...] [DURING ...] THEN [NOT] EXISTS b [WHERE ...] [WITHIN n unit]."
#define WITHIN_HINT \
	"WITHIN ends a sequence of EXISTS conditions: " \
	"EXISTS a ... THEN [NOT] EXISTS b ... WITHIN n unit."
#define PREV_HINT \
	"prev.column reads the event of the previous step of a sequence, as in " \
	"EXISTS page_views THEN NOT EXISTS orders WHERE sku = prev.sku."
#define RANK_DETAIL \
	"TOP and BOTTOM take a whole number of customers from 1 to %d, or a " \
	"percentage above 0 and at most 100 followed by PERCENT, such as 0.5 PERCENT."
#define DATETIME_DETAIL \
	"Dates are written 'YYYY-MM-DD' and timestamps " \
	"'YYYY-MM-DD HH:MM[:SS[.ffffff]]', optionally followed by Z or an " \
	"offset such as +08:00."

typedef struct Parser
{
	RuleLexer	lx;
	RuleArena  *arena;
	RuleError  *err;
	int			depth;			/* open '(' groups, NOTs and WHEREs */
	bool		prev_ok;		/* parsing a later sequence step: prev.column
								 * may be compared with */
} Parser;

typedef struct NodeList
{
	RuleNode  **items;
	int			n;
	int			cap;
} NodeList;

typedef struct LitList
{
	RuleLiteral *items;
	int			n;
	int			cap;
} LitList;

static const struct
{
	const char *word;
	RuleUnit	unit;
}			unit_words[] =
{
	{"minute", RULE_UNIT_MINUTE}, {"minutes", RULE_UNIT_MINUTE},
	{"hour", RULE_UNIT_HOUR}, {"hours", RULE_UNIT_HOUR},
	{"day", RULE_UNIT_DAY}, {"days", RULE_UNIT_DAY},
	{"week", RULE_UNIT_WEEK}, {"weeks", RULE_UNIT_WEEK},
	{"month", RULE_UNIT_MONTH}, {"months", RULE_UNIT_MONTH},
	{"year", RULE_UNIT_YEAR}, {"years", RULE_UNIT_YEAR}
};

static const struct
{
	const char *word;
	RuleAggKind agg;
}			agg_words[] =
{
	{"count", RULE_AGG_COUNT}, {"sum", RULE_AGG_SUM}, {"avg", RULE_AGG_AVG},
	{"min", RULE_AGG_MIN}, {"max", RULE_AGG_MAX},
	{"count_distinct", RULE_AGG_COUNT_DISTINCT}, {"first", RULE_AGG_FIRST},
	{"last", RULE_AGG_LAST}, {"mode", RULE_AGG_MODE},
	{"active_days", RULE_AGG_ACTIVE_DAYS},
	{"active_weeks", RULE_AGG_ACTIVE_WEEKS},
	{"active_months", RULE_AGG_ACTIVE_MONTHS}
};

static RuleNode *parse_or(Parser *p, const char *source);
static RuleWindow *parse_window(Parser *p);
static bool at_prev(Parser *p);
static bool refuse_prev(Parser *p);

/* ---------- tokens and errors ---------- */

/* Has an error been recorded?  Parse functions stop at the first. */
static bool
failed(Parser *p)
{
	return p->err->kind != RULE_ERR_NONE;
}

/* Lookahead through the lexer; NULL means a lexical error was recorded. */
static const RuleToken *
peek(Parser *p, int k)
{
	return rule_lexer_peek(&p->lx, k);
}

/* Consumes the current token. */
static void
advance(Parser *p)
{
	rule_lexer_advance(&p->lx);
}

/* An unquoted word, which is how keywords are recognized. */
static bool
is_word(const RuleToken *t, const char *word)
{
	return t != NULL && t->kind == RULE_TOK_IDENT && strcmp(t->text, word) == 0;
}

/* Is the current token the given keyword? */
static bool
next_is_word(Parser *p, const char *word)
{
	return is_word(peek(p, 0), word);
}

/* Is the current token of the given kind? */
static bool
next_is(Parser *p, RuleTokenKind kind)
{
	const RuleToken *t = peek(p, 0);

	return t != NULL && t->kind == kind;
}

/* Consumes an optional keyword. */
static bool
accept_word(Parser *p, const char *word)
{
	if (!next_is_word(p, word))
		return false;
	advance(p);
	return true;
}

/* Character position of a token, for error reports. */
static int
tok_pos(Parser *p, const RuleToken *t)
{
	return rule_lexer_char_position(&p->lx, t->start);
}

/* Quotes a token's input text for a message, clipped to stay short. */
static void
tok_raw(Parser *p, const RuleToken *t, char *out, int outsize)
{
	rule_error_clip(out, outsize, p->lx.input + t->start, t->len,
					NEAR_MAX_BYTES);
}

/* The arena's allocator failed. */
static void
out_of_memory(Parser *p)
{
	rule_error_set(p->err, RULE_ERR_OUT_OF_MEMORY, 0, "out of memory");
}

/*
 * PostgreSQL's "syntax error at or near" / "at end of input".  A NULL token
 * means the lexer already reported its own error.
 */
static void
syntax_error(Parser *p, const RuleToken *t)
{
	char		near[NEAR_MAX_BYTES + 8];

	if (t == NULL)
		return;
	if (t->kind == RULE_TOK_EOF)
	{
		rule_error_set(p->err, RULE_ERR_SYNTAX,
					   rule_lexer_char_position(&p->lx, p->lx.len),
					   "syntax error at end of input");
		return;
	}
	if (failed(p))
		return;
	tok_raw(p, t, near, sizeof(near));
	rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, t),
				   "syntax error at or near \"%s\"", near);
	/* the sequence words out of place say where they belong */
	if (is_word(t, "then"))
		rule_error_hint(p->err, "%s", THEN_HINT);
	else if (is_word(t, "within"))
		rule_error_hint(p->err, "%s", WITHIN_HINT);
}

/* A syntax error with a hint, the hint only if this error is the first. */
static void
syntax_error_hint(Parser *p, const RuleToken *t, const char *hint)
{
	bool		fresh = !failed(p);

	syntax_error(p, t);
	if (fresh && failed(p))
		rule_error_hint(p->err, "%s", hint);
}

/* Consumes a token of the given kind or reports a syntax error. */
static bool
expect(Parser *p, RuleTokenKind kind)
{
	const RuleToken *t = peek(p, 0);

	if (t != NULL && t->kind == kind)
	{
		advance(p);
		return true;
	}
	syntax_error(p, t);
	return false;
}

/* Consumes the given keyword or reports a syntax error. */
static bool
expect_word(Parser *p, const char *word)
{
	if (accept_word(p, word))
		return true;
	syntax_error(p, peek(p, 0));
	return false;
}

/* An identifier: double-quoted, or a bare word that is not reserved. */
static const char *
expect_ident(Parser *p)
{
	const RuleToken *t = peek(p, 0);

	if (t != NULL && (t->kind == RULE_TOK_QIDENT ||
					  (t->kind == RULE_TOK_IDENT &&
					   !rule_is_reserved_word(t->text))))
	{
		advance(p);
		return t->text;
	}
	syntax_error(p, t);
	return NULL;
}

/* Consumes a string literal (tag groups, values, segment names). */
static const char *
expect_string(Parser *p)
{
	const RuleToken *t = peek(p, 0);

	if (t != NULL && t->kind == RULE_TOK_STRING)
	{
		advance(p);
		return t->text;
	}
	syntax_error(p, t);
	return NULL;
}

/* Opens one level of nesting, refusing the level past RULE_MAX_DEPTH. */
static bool
enter(Parser *p, const RuleToken *t)
{
	if (p->depth >= RULE_MAX_DEPTH)
	{
		rule_error_set(p->err, RULE_ERR_LIMIT, tok_pos(p, t),
					   "rule nesting exceeds the maximum depth of %d",
					   RULE_MAX_DEPTH);
		return false;
	}
	p->depth++;
	return true;
}

/* ---------- allocation ---------- */

/* Zeroed arena memory, recording out-of-memory on failure. */
static void *
alloc(Parser *p, size_t size)
{
	void	   *m = rule_arena_alloc(p->arena, size);

	if (m == NULL)
		out_of_memory(p);
	return m;
}

/* A zeroed node of the given kind. */
static RuleNode *
new_node(Parser *p, RuleNodeKind kind)
{
	RuleNode   *n = alloc(p, sizeof(RuleNode));

	if (n != NULL)
		n->kind = kind;
	return n;
}

/* Appends to a growing operand list kept in the arena. */
static bool
nodes_add(Parser *p, NodeList *l, RuleNode *node)
{
	if (l->n == l->cap)
	{
		int			ncap = l->cap ? l->cap * 2 : 4;
		RuleNode  **items = alloc(p, sizeof(RuleNode *) * ncap);

		if (items == NULL)
			return false;
		if (l->n > 0)
			memcpy(items, l->items, sizeof(RuleNode *) * l->n);
		l->items = items;
		l->cap = ncap;
	}
	l->items[l->n++] = node;
	return true;
}

/* Adds an operand, splicing in the operands of a same-kind child. */
static bool
nodes_add_flat(Parser *p, NodeList *l, RuleNode *child, RuleNodeKind kind)
{
	int			i;

	if (child->kind != kind)
		return nodes_add(p, l, child);
	for (i = 0; i < child->nchildren; i++)
		if (!nodes_add(p, l, child->children[i]))
			return false;
	return true;
}

/* Grows a literal list by one zeroed slot and returns it. */
static RuleLiteral *
lits_push(Parser *p, LitList *l)
{
	if (l->n == l->cap)
	{
		int			ncap = l->cap ? l->cap * 2 : 4;
		RuleLiteral *items = alloc(p, sizeof(RuleLiteral) * ncap);

		if (items == NULL)
			return NULL;
		if (l->n > 0)
			memcpy(items, l->items, sizeof(RuleLiteral) * l->n);
		l->items = items;
		l->cap = ncap;
	}
	return &l->items[l->n++];
}

/* ---------- counts, units, moments, windows ---------- */

/* Maps a unit word, singular or plural, to its RuleUnit. */
static bool
unit_of(const RuleToken *t, RuleUnit *unit)
{
	size_t		i;

	if (t == NULL || t->kind != RULE_TOK_IDENT)
		return false;
	for (i = 0; i < sizeof(unit_words) / sizeof(unit_words[0]); i++)
		if (strcmp(t->text, unit_words[i].word) == 0)
		{
			*unit = unit_words[i].unit;
			return true;
		}
	return false;
}

/* A window or AGO count: a whole number within RULE_MAX_WINDOW_COUNT. */
static bool
parse_count(Parser *p, int32_t *out)
{
	const RuleToken *t = peek(p, 0);
	char		raw[NEAR_MAX_BYTES + 8];
	const char *c;
	int32_t		v = 0;

	if (t == NULL || t->kind != RULE_TOK_NUMBER)
	{
		syntax_error(p, t);
		return false;
	}
	tok_raw(p, t, raw, sizeof(raw));
	for (c = t->text; *c; c++)
	{
		if (*c < '0' || *c > '9')
		{
			rule_error_set(p->err, RULE_ERR_INVALID_LITERAL, tok_pos(p, t),
						   "invalid time count \"%s\"", raw);
			rule_error_detail(p->err, "A count of time units is a whole number from 0 to %d.",
							  RULE_MAX_WINDOW_COUNT);
			return false;
		}
		if (v <= RULE_MAX_WINDOW_COUNT)
			v = v * 10 + (*c - '0');	/* stops growing once over the cap */
	}
	if (v > RULE_MAX_WINDOW_COUNT)
	{
		rule_error_set(p->err, RULE_ERR_LIMIT, tok_pos(p, t),
					   "time count %s exceeds the maximum of %d",
					   raw, RULE_MAX_WINDOW_COUNT);
		return false;
	}
	advance(p);
	*out = v;
	return true;
}

/* A time unit; an unknown word gets its own message and a hint. */
static bool
parse_unit(Parser *p, RuleUnit *unit)
{
	const RuleToken *t = peek(p, 0);
	char		raw[NEAR_MAX_BYTES + 8];

	if (unit_of(t, unit))
	{
		advance(p);
		return true;
	}
	if (t != NULL && t->kind == RULE_TOK_IDENT &&
		!rule_is_reserved_word(t->text))
	{
		tok_raw(p, t, raw, sizeof(raw));
		rule_error_set(p->err, RULE_ERR_INVALID_LITERAL, tok_pos(p, t),
					   "unknown time unit \"%s\"", raw);
		rule_error_hint(p->err, "Units are minute, hour, day, week, month and year, singular or plural.");
		return false;
	}
	syntax_error(p, t);
	return false;
}

/* "n unit AGO" */
static bool
parse_ago(Parser *p, RuleMoment *m)
{
	m->kind = RULE_MOMENT_AGO;
	return parse_count(p, &m->count) && parse_unit(p, &m->unit) &&
		expect_word(p, "ago");
}

/* A quoted date or timestamp, checked against the calendar. */
static bool
parse_datetime(Parser *p, RuleMoment *m)
{
	const RuleToken *t = peek(p, 0);
	char		raw[NEAR_MAX_BYTES + 8];
	RuleDateTimeStatus st;

	if (t == NULL || t->kind != RULE_TOK_STRING)
	{
		syntax_error(p, t);
		return false;
	}
	st = rule_parse_datetime(t->text, strlen(t->text), &m->datetime);
	if (st != RULE_DT_OK)
	{
		rule_error_clip(raw, sizeof(raw), t->text, (int) strlen(t->text),
						NEAR_MAX_BYTES);
		rule_error_set(p->err, RULE_ERR_INVALID_LITERAL, tok_pos(p, t),
					   "invalid %s \"%s\" in window",
					   strchr(t->text, ':') ? "timestamp" : "date", raw);
		if (st == RULE_DT_BAD_FORMAT)
			rule_error_detail(p->err, "%s", DATETIME_DETAIL);
		else
			rule_error_detail(p->err, "The date, time or offset is out of range.");
		return false;
	}
	m->kind = RULE_MOMENT_DATETIME;
	m->text = t->text;
	advance(p);
	return true;
}

/* moment := n unit AGO | NOW | TODAY | 'date-or-timestamp' */
static bool
parse_moment(Parser *p, RuleMoment *m)
{
	const RuleToken *t = peek(p, 0);

	if (t == NULL)
		return false;
	if (t->kind == RULE_TOK_NUMBER)
		return parse_ago(p, m);
	if (t->kind == RULE_TOK_STRING)
		return parse_datetime(p, m);
	if (is_word(t, "now") || is_word(t, "today"))
	{
		m->kind = is_word(t, "now") ? RULE_MOMENT_NOW : RULE_MOMENT_TODAY;
		advance(p);
		return true;
	}
	syntax_error(p, t);
	return false;
}

/* PAST n TO m unit, with n <= m. */
static bool
parse_past(Parser *p, RuleWindow *w)
{
	const RuleToken *nt = peek(p, 0);
	const RuleToken *mt;
	const RuleToken *ut;
	char		ns[NEAR_MAX_BYTES + 8],
				ms[NEAR_MAX_BYTES + 8],
				us[NEAR_MAX_BYTES + 8];

	if (!parse_count(p, &w->n) || !expect_word(p, "to"))
		return false;
	mt = peek(p, 0);
	if (!parse_count(p, &w->m))
		return false;
	ut = peek(p, 0);
	if (!parse_unit(p, &w->unit))
		return false;
	if (w->n > w->m)
	{
		tok_raw(p, nt, ns, sizeof(ns));
		tok_raw(p, mt, ms, sizeof(ms));
		tok_raw(p, ut, us, sizeof(us));
		rule_error_set(p->err, RULE_ERR_INVALID_LITERAL, tok_pos(p, nt),
					   "PAST %s TO %s %s: the first number must not exceed the second",
					   ns, ms, us);
		rule_error_hint(p->err, "PAST n TO m counts back from today: n is the nearer end, m the farther one.");
		return false;
	}
	return true;
}

/* BETWEEN 'a' AND 'b', refusing an end before the start. */
static bool
parse_between_window(Parser *p, RuleWindow *w)
{
	const RuleToken *ft = peek(p, 0);
	int			cmp;

	if (!parse_datetime(p, &w->from) || !expect_word(p, "and") ||
		!parse_datetime(p, &w->to))
		return false;
	if (rule_datetime_compare(&w->from.datetime, &w->to.datetime, true, &cmp) &&
		(cmp > 0 || (cmp == 0 && !w->to.datetime.has_time)))
	{
		char		a[64],
					b[64];

		rule_error_clip(a, sizeof(a), w->from.text, (int) strlen(w->from.text), 40);
		rule_error_clip(b, sizeof(b), w->to.text, (int) strlen(w->to.text), 40);
		rule_error_set(p->err, RULE_ERR_INVALID_LITERAL, tok_pos(p, ft),
					   "BETWEEN '%s' AND '%s': the start must not be after the end",
					   a, b);
		return false;
	}
	return true;
}

/* THIS / PREVIOUS take exactly week, month or year. */
static bool
parse_period(Parser *p, RuleWindow *w)
{
	const RuleToken *t = peek(p, 0);

	if (is_word(t, "week") || is_word(t, "month") || is_word(t, "year"))
	{
		w->unit = is_word(t, "week") ? RULE_UNIT_WEEK :
			is_word(t, "month") ? RULE_UNIT_MONTH : RULE_UNIT_YEAR;
		advance(p);
		return true;
	}
	syntax_error_hint(p, t, "THIS and PREVIOUS take week, month or year.");
	return false;
}

/*
 * window := LAST .. | PAST .. | TODAY | YESTERDAY | THIS .. | PREVIOUS .. |
 * BETWEEN .. | SINCE .. | BEFORE ..
 */
static RuleWindow *
parse_window(Parser *p)
{
	const RuleToken *t = peek(p, 0);
	RuleWindow *w;
	bool		ok = true;

	if (t == NULL)
		return NULL;
	w = alloc(p, sizeof(RuleWindow));
	if (w == NULL)
		return NULL;
	if (accept_word(p, "last"))
	{
		w->kind = RULE_WINDOW_LAST;
		ok = parse_count(p, &w->n) && parse_unit(p, &w->unit);
	}
	else if (accept_word(p, "past"))
	{
		w->kind = RULE_WINDOW_PAST;
		ok = parse_past(p, w);
	}
	else if (accept_word(p, "today"))
		w->kind = RULE_WINDOW_TODAY;
	else if (accept_word(p, "yesterday"))
		w->kind = RULE_WINDOW_YESTERDAY;
	else if (accept_word(p, "this"))
	{
		w->kind = RULE_WINDOW_THIS;
		ok = parse_period(p, w);
	}
	else if (accept_word(p, "previous"))
	{
		w->kind = RULE_WINDOW_PREVIOUS;
		ok = parse_period(p, w);
	}
	else if (accept_word(p, "between"))
	{
		w->kind = RULE_WINDOW_BETWEEN;
		ok = parse_between_window(p, w);
	}
	else if (accept_word(p, "since"))
	{
		w->kind = RULE_WINDOW_SINCE;
		ok = parse_moment(p, &w->from);
	}
	else if (accept_word(p, "before"))
	{
		w->kind = RULE_WINDOW_BEFORE;
		ok = parse_moment(p, &w->to);
	}
	else
	{
		syntax_error_hint(p, t, WINDOW_HINT);
		return NULL;
	}
	return ok ? w : NULL;
}

/* ---------- literals ---------- */

/* After a number: is this "n unit AGO" (or a misspelt unit before AGO)? */
static bool
looks_like_ago(Parser *p)
{
	const RuleToken *t1 = peek(p, 1);
	RuleUnit	unit;

	if (t1 == NULL || t1->kind != RULE_TOK_IDENT)
		return false;
	/* "5 and ago = 1" in a filter is a number and a column named ago */
	return unit_of(t1, &unit) ||
		(!rule_is_reserved_word(t1->text) && is_word(peek(p, 2), "ago"));
}

/*
 * literal := 'string' | number | true | false, plus moments (n unit AGO,
 * NOW, TODAY) where a time comparison is possible.
 */
static bool
parse_literal(Parser *p, RuleLiteral *lit, bool allow_moment)
{
	const RuleToken *t = peek(p, 0);

	if (t == NULL)
		return false;
	if (t->kind == RULE_TOK_STRING || t->kind == RULE_TOK_NUMBER)
	{
		if (t->kind == RULE_TOK_NUMBER && allow_moment && looks_like_ago(p))
		{
			lit->kind = RULE_LIT_MOMENT;
			return parse_ago(p, &lit->moment);
		}
		lit->kind = t->kind == RULE_TOK_STRING ? RULE_LIT_STRING : RULE_LIT_NUMBER;
		lit->text = t->text;
		advance(p);
		return true;
	}
	if (is_word(t, "true") || is_word(t, "false"))
	{
		lit->kind = RULE_LIT_BOOL;
		lit->boolval = is_word(t, "true");
		advance(p);
		return true;
	}
	if (allow_moment && (is_word(t, "now") || is_word(t, "today")))
	{
		lit->kind = RULE_LIT_MOMENT;
		lit->moment.kind = is_word(t, "now") ? RULE_MOMENT_NOW : RULE_MOMENT_TODAY;
		advance(p);
		return true;
	}
	if (at_prev(p))
		return refuse_prev(p);
	syntax_error(p, t);
	return false;
}

/*
 * '(' literal, ... ')' of IN and TAG IN; TAG lists (strings_only) take
 * strings only.
 */
static bool
parse_list(Parser *p, RuleNode *node, bool strings_only)
{
	LitList		l = {NULL, 0, 0};

	if (!expect(p, RULE_TOK_LPAREN))
		return false;
	if (next_is(p, RULE_TOK_RPAREN))
	{
		rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, peek(p, 0)),
					   "IN list must not be empty");
		return false;
	}
	for (;;)
	{
		const RuleToken *t = peek(p, 0);
		RuleLiteral *lit;

		if (t == NULL)
			return false;
		if (l.n >= RULE_MAX_IN_LIST)
		{
			rule_error_set(p->err, RULE_ERR_LIMIT, tok_pos(p, t),
						   "IN list exceeds the maximum of %d values",
						   RULE_MAX_IN_LIST);
			return false;
		}
		if (strings_only && t->kind != RULE_TOK_STRING)
		{
			syntax_error(p, t);
			return false;
		}
		lit = lits_push(p, &l);
		if (lit == NULL || !parse_literal(p, lit, false))
			return false;
		if (next_is(p, RULE_TOK_RPAREN))
			break;
		if (!expect(p, RULE_TOK_COMMA))
			return false;
	}
	advance(p);
	node->args = l.items;
	node->nargs = l.n;
	return true;
}

/* ---------- predicates ---------- */

/* Can DURING apply to this value (a time column or its min / max)? */
static bool
value_is_timelike(const RuleValue *v)
{
	return v->kind == RULE_VALUE_CUSTOMER ||
		(v->kind == RULE_VALUE_AGG && v->column != NULL &&
		 (v->agg == RULE_AGG_MIN || v->agg == RULE_AGG_MAX));
}

/* value DURING window, refusing values that are not points in time. */
static bool
parse_during(Parser *p, RuleNode *node, bool in_filter)
{
	const RuleToken *t = peek(p, 0);

	if (in_filter)
	{
		syntax_error_hint(p, t, "Put the window after the filter, as in EXISTS source WHERE ... DURING window.");
		return false;
	}
	if (!value_is_timelike(node->value))
	{
		rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, t),
					   "DURING cannot be applied to %s()",
					   rule_agg_name(node->value->agg));
		rule_error_hint(p->err, "Put the window inside the aggregate, as in %s(source%s DURING LAST 30 days).",
						rule_agg_name(node->value->agg),
						node->value->column ? ".column" : "");
		return false;
	}
	advance(p);
	node->kind = RULE_DURING;
	node->window = parse_window(p);
	return node->window != NULL;
}

/* Is the current token the start of prev.column? */
static bool
at_prev(Parser *p)
{
	const RuleToken *t1 = peek(p, 1);

	return next_is_word(p, "prev") && t1 != NULL && t1->kind == RULE_TOK_DOT;
}

/* prev.column, in the filter of a later sequence step only. */
static bool
parse_prev(Parser *p, RuleLiteral *lit, bool in_filter)
{
	const RuleToken *t = peek(p, 0);
	char		col[NEAR_MAX_BYTES + 8];

	advance(p);
	advance(p);
	if ((lit->text = expect_ident(p)) == NULL)
		return false;
	if (!in_filter || !p->prev_ok)
	{
		rule_error_clip(col, sizeof(col), lit->text, (int) strlen(lit->text),
						NEAR_MAX_BYTES);
		rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, t),
					   "prev.%s can only be used in the filter of a later step of a sequence",
					   col);
		rule_error_hint(p->err, "%s", PREV_HINT);
		return false;
	}
	lit->kind = RULE_LIT_PREV;
	return true;
}

/* Refuses prev.column where a comparison operator does not precede it. */
static bool
refuse_prev(Parser *p)
{
	const RuleToken *t = peek(p, 0);
	const RuleToken *ct = peek(p, 2);
	char		col[NEAR_MAX_BYTES + 8];

	if (ct == NULL)
		return false;
	if (ct->kind == RULE_TOK_IDENT || ct->kind == RULE_TOK_QIDENT)
		rule_error_clip(col, sizeof(col), ct->text, (int) strlen(ct->text),
						NEAR_MAX_BYTES);
	else
		tok_raw(p, ct, col, sizeof(col));
	rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, t),
				   "prev.%s can only be compared with =, <>, <, <=, > or >=", col);
	rule_error_hint(p->err, "%s", PREV_HINT);
	return false;
}

/* Reports a TOP / BOTTOM size the language does not accept. */
static void
rank_size_error(Parser *p, const RuleToken *t, const RuleRank *r,
				RuleRankSize status)
{
	char		raw[NEAR_MAX_BYTES + 8];
	const char *word = r->top ? "TOP" : "BOTTOM";

	tok_raw(p, t, raw, sizeof(raw));
	switch (status)
	{
		case RULE_RANK_SIZE_TOO_BIG:
			rule_error_set(p->err, RULE_ERR_LIMIT, tok_pos(p, t),
						   "%s %s exceeds the maximum of %d customers",
						   word, raw, RULE_MAX_RANK_COUNT);
			rule_error_hint(p->err, "Use %s n PERCENT for a share of the customers.", word);
			return;
		case RULE_RANK_SIZE_OVER_100:
			rule_error_set(p->err, RULE_ERR_INVALID_LITERAL, tok_pos(p, t),
						   "%s %s PERCENT: a percentage must not exceed 100",
						   word, raw);
			return;
		case RULE_RANK_SIZE_ZERO:
			rule_error_set(p->err, RULE_ERR_INVALID_LITERAL, tok_pos(p, t),
						   "%s %s%s selects no customers", word, raw,
						   r->percent ? " PERCENT" : "");
			break;
		default:
			rule_error_set(p->err, RULE_ERR_INVALID_LITERAL, tok_pos(p, t),
						   "invalid %s size \"%s\"", word, raw);
			break;
	}
	rule_error_detail(p->err, RANK_DETAIL, RULE_MAX_RANK_COUNT);
}

/* (TOP | BOTTOM) n [PERCENT] [AMONG SEGMENT 'name'], after IN. */
static bool
parse_rank(Parser *p, RuleNode *node, bool in_filter)
{
	const RuleToken *t = peek(p, 0);
	const RuleToken *nt;
	RuleRank   *r;
	RuleRankSize status;

	if (in_filter)
	{
		rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, t),
					   "%s cannot be used in a filter", is_word(t, "top") ? "TOP" : "BOTTOM");
		rule_error_hint(p->err, "TOP and BOTTOM rank customers: rank a customer column or an aggregate, as in sum(orders.amount) IN TOP 10 PERCENT.");
		return false;
	}
	if ((r = alloc(p, sizeof(RuleRank))) == NULL)
		return false;
	node->kind = RULE_RANK;
	node->rank = r;
	r->top = is_word(t, "top");
	advance(p);
	if ((nt = peek(p, 0)) == NULL)
		return false;
	if (nt->kind != RULE_TOK_NUMBER)
	{
		syntax_error_hint(p, nt, "TOP and BOTTOM take a number, as in IN TOP 100 or IN TOP 10 PERCENT.");
		return false;
	}
	r->n = nt->text;
	advance(p);
	r->percent = accept_word(p, "percent");
	if ((status = rule_rank_size_check(r->n, r->percent)) != RULE_RANK_SIZE_OK)
	{
		rank_size_error(p, nt, r, status);
		return false;
	}
	if (accept_word(p, "among") &&
		(!expect_word(p, "segment") || (node->name = expect_string(p)) == NULL))
		return false;
	return !failed(p);
}

/* The operator part of a predicate whose value has been read. */
static RuleNode *
parse_value_predicate(Parser *p, RuleValue *value, bool in_filter)
{
	const RuleToken *t = peek(p, 0);
	RuleNode   *node;
	bool		ok;

	if (t == NULL || (node = new_node(p, RULE_CMP)) == NULL)
		return NULL;
	node->value = value;
	if (t->kind == RULE_TOK_OP)
	{
		node->op = t->op;
		node->nargs = 1;
		node->args = alloc(p, sizeof(RuleLiteral));
		advance(p);
		if (node->args != NULL && at_prev(p))
			ok = parse_prev(p, node->args, in_filter);
		else
			ok = node->args != NULL && parse_literal(p, node->args, true);
		return ok ? node : NULL;
	}
	if (is_word(t, "not"))
	{
		node->negated = true;
		advance(p);
		if ((t = peek(p, 0)) == NULL)
			return NULL;
	}
	if (is_word(t, "in") &&
		(is_word(peek(p, 1), "top") || is_word(peek(p, 1), "bottom")))
	{
		advance(p);
		ok = parse_rank(p, node, in_filter);
	}
	else if (is_word(t, "in"))
	{
		node->kind = RULE_IN;
		advance(p);
		ok = parse_list(p, node, false);
	}
	else if (is_word(t, "is") && !node->negated)
	{
		node->kind = RULE_IS_NULL;
		advance(p);
		node->negated = accept_word(p, "not");
		ok = expect_word(p, "null");
	}
	else if (is_word(t, "between"))
	{
		node->kind = RULE_BETWEEN;
		node->nargs = 2;
		node->args = alloc(p, 2 * sizeof(RuleLiteral));
		advance(p);
		ok = node->args != NULL && parse_literal(p, &node->args[0], true) &&
			expect_word(p, "and") && parse_literal(p, &node->args[1], true);
	}
	else if (is_word(t, "like"))
	{
		node->kind = RULE_LIKE;
		node->nargs = 1;
		node->args = alloc(p, sizeof(RuleLiteral));
		advance(p);
		ok = node->args != NULL && next_is(p, RULE_TOK_STRING) &&
			parse_literal(p, node->args, false);
		if (node->args != NULL && !ok)
			syntax_error(p, peek(p, 0));
	}
	else if (is_word(t, "during"))
		ok = parse_during(p, node, in_filter);
	else
	{
		syntax_error(p, t);
		ok = false;
	}
	return ok ? node : NULL;
}

/* A WHERE filter over the columns of source. */
static RuleNode *
parse_filter(Parser *p, const char *source)
{
	RuleNode   *filter;

	if (!enter(p, peek(p, 0)))
		return NULL;
	advance(p);
	filter = parse_or(p, source);
	p->depth--;
	return filter;
}

/* agg '(' source[.column] [WHERE filter] [DURING window] ')' */
static RuleValue *
parse_aggregate(Parser *p, RuleAggKind agg)
{
	RuleValue  *v = alloc(p, sizeof(RuleValue));
	const RuleToken *st;

	if (v == NULL)
		return NULL;
	v->kind = RULE_VALUE_AGG;
	v->agg = agg;
	advance(p);
	if (!expect(p, RULE_TOK_LPAREN) || (st = peek(p, 0)) == NULL ||
		(v->source = expect_ident(p)) == NULL)
		return NULL;
	if (next_is(p, RULE_TOK_DOT))
	{
		const RuleToken *ct;

		advance(p);
		if ((ct = peek(p, 0)) == NULL || (v->column = expect_ident(p)) == NULL)
			return NULL;
		if (rule_agg_takes_source_only(agg))
		{
			rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, ct),
						   "%s() takes a source, not a column",
						   rule_agg_name(agg));
			rule_error_hint(p->err, "Write %s(source [WHERE filter] [DURING window]): it counts the distinct %s with a matching event.",
							rule_agg_name(agg), rule_agg_name(agg) + strlen("active_"));
			return NULL;
		}
	}
	else if (agg != RULE_AGG_COUNT && !rule_agg_takes_source_only(agg))
	{
		rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, st),
					   "%s() requires a column", rule_agg_name(agg));
		rule_error_hint(p->err, "Write %s(source.column); only count() can count rows.",
						rule_agg_name(agg));
		return NULL;
	}
	if (next_is_word(p, "where") &&
		(v->filter = parse_filter(p, v->source)) == NULL)
		return NULL;
	if (accept_word(p, "during") && (v->window = parse_window(p)) == NULL)
		return NULL;
	return expect(p, RULE_TOK_RPAREN) ? v : NULL;
}

/* value := customer.column | agg(...) */
static RuleValue *
parse_value(Parser *p)
{
	const RuleToken *t = peek(p, 0);
	RuleValue  *v;
	size_t		i;

	if (t == NULL)
		return NULL;
	if (is_word(t, "customer"))
	{
		if ((v = alloc(p, sizeof(RuleValue))) == NULL)
			return NULL;
		v->kind = RULE_VALUE_CUSTOMER;
		advance(p);
		if (!expect(p, RULE_TOK_DOT) || (v->column = expect_ident(p)) == NULL)
			return NULL;
		return v;
	}
	for (i = 0; i < sizeof(agg_words) / sizeof(agg_words[0]); i++)
		if (is_word(t, agg_words[i].word))
			return parse_aggregate(p, agg_words[i].agg);
	syntax_error_hint(p, t, START_HINT);
	return NULL;
}

/* TAG 'group' [NOT] IN (...) | TAG 'group' IS [NOT] EMPTY */
static RuleNode *
parse_tag(Parser *p)
{
	RuleNode   *node = new_node(p, RULE_TAG_IN);

	if (node == NULL)
		return NULL;
	advance(p);
	if ((node->name = expect_string(p)) == NULL)
		return NULL;
	if (accept_word(p, "is"))
	{
		node->kind = RULE_TAG_EMPTY;
		node->negated = accept_word(p, "not");
		return expect_word(p, "empty") ? node : NULL;
	}
	node->negated = accept_word(p, "not");
	if (!expect_word(p, "in") || !parse_list(p, node, true))
		return NULL;
	return node;
}

/* EXISTS source [WHERE filter] [DURING window] */
static RuleNode *
parse_exists(Parser *p)
{
	RuleNode   *node = new_node(p, RULE_EXISTS);

	if (node == NULL)
		return NULL;
	advance(p);
	if ((node->name = expect_ident(p)) == NULL)
		return NULL;
	if (next_is_word(p, "where") &&
		(node->filter = parse_filter(p, node->name)) == NULL)
		return NULL;
	if (accept_word(p, "during") && (node->window = parse_window(p)) == NULL)
		return NULL;
	return failed(p) ? NULL : node;
}

/* WITHIN n unit of a sequence, n at least 1. */
static RuleDuration *
parse_within(Parser *p)
{
	const RuleToken *nt = peek(p, 0);
	RuleDuration *d = alloc(p, sizeof(RuleDuration));

	if (nt == NULL || d == NULL || !parse_count(p, &d->n))
		return NULL;
	if (d->n < 1)
	{
		rule_error_set(p->err, RULE_ERR_INVALID_LITERAL, tok_pos(p, nt),
					   "WITHIN needs a count of at least 1");
		rule_error_hint(p->err, "WITHIN n unit bounds the time from one step's event to the next.");
		return NULL;
	}
	return parse_unit(p, &d->unit) ? d : NULL;
}

/*
 * EXISTS a ... [THEN [NOT] EXISTS b ... ]* [WITHIN n unit]: a plain EXISTS,
 * or a sequence when THEN follows.  THEN binds tighter than NOT, AND and
 * OR, so a sequence is one predicate.
 */
static RuleNode *
parse_exists_or_sequence(Parser *p)
{
	NodeList	l = {NULL, 0, 0};
	RuleNode   *step = parse_exists(p);
	RuleNode   *seq;

	if (step == NULL)
		return NULL;
	if (next_is_word(p, "within"))
	{
		rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, peek(p, 0)),
					   "WITHIN needs a sequence: EXISTS ... THEN EXISTS ...");
		rule_error_hint(p->err, "%s", WITHIN_HINT);
		return NULL;
	}
	if (!next_is_word(p, "then"))
		return step;
	if (!nodes_add(p, &l, step))
		return NULL;
	while (next_is_word(p, "then"))
	{
		const RuleToken *tt = peek(p, 0);
		bool		negated;

		if (l.n >= RULE_MAX_SEQUENCE_STEPS)
		{
			rule_error_set(p->err, RULE_ERR_LIMIT, tok_pos(p, tt),
						   "sequence exceeds the maximum of %d steps",
						   RULE_MAX_SEQUENCE_STEPS);
			return NULL;
		}
		advance(p);
		negated = accept_word(p, "not");
		if (!next_is_word(p, "exists"))
		{
			syntax_error_hint(p, peek(p, 0), "THEN is followed by [NOT] EXISTS source [WHERE filter] [DURING window].");
			return NULL;
		}
		p->prev_ok = true;
		step = parse_exists(p);
		p->prev_ok = false;
		if (step == NULL || !nodes_add(p, &l, step))
			return NULL;
		step->negated = negated;
	}
	if ((seq = new_node(p, RULE_SEQUENCE)) == NULL)
		return NULL;
	seq->nchildren = l.n;
	seq->children = l.items;
	if (accept_word(p, "within") && (seq->within = parse_within(p)) == NULL)
		return NULL;
	return failed(p) ? NULL : seq;
}

/* A top-level predicate. */
static RuleNode *
parse_predicate(Parser *p)
{
	const RuleToken *t = peek(p, 0);
	RuleValue  *v;

	if (t == NULL)
		return NULL;
	if (is_word(t, "tag"))
		return parse_tag(p);
	if (is_word(t, "exists"))
		return parse_exists_or_sequence(p);
	if (is_word(t, "in"))
	{
		/* IN SEGMENT 'name' or IN SNAPSHOT 'label' */
		bool		snapshot = is_word(peek(p, 1), "snapshot");
		RuleNode   *node = new_node(p, snapshot ? RULE_IN_SNAPSHOT : RULE_IN_SEGMENT);

		advance(p);
		if (node == NULL || !expect_word(p, snapshot ? "snapshot" : "segment") ||
			(node->name = expect_string(p)) == NULL)
			return NULL;
		return node;
	}
	v = parse_value(p);
	return v ? parse_value_predicate(p, v, false) : NULL;
}

/* A filter predicate: column (bare, or qualified by the source) ... */
static RuleNode *
parse_filter_predicate(Parser *p, const char *source)
{
	const RuleToken *t = peek(p, 0);
	RuleValue  *v;
	const char *name;

	if ((name = expect_ident(p)) == NULL)
		return NULL;
	if (next_is(p, RULE_TOK_DOT))
	{
		const char *column;

		advance(p);
		if ((column = expect_ident(p)) == NULL)
			return NULL;
		if (strcmp(name, source) != 0 && t->kind == RULE_TOK_IDENT &&
			strcmp(name, "prev") == 0)
		{
			rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, t),
						   "prev.%s must be on the right side of a comparison",
						   column);
			rule_error_hint(p->err, "Write column = prev.column.");
			return NULL;
		}
		if (strcmp(name, source) != 0)
		{
			rule_error_set(p->err, RULE_ERR_SYNTAX, tok_pos(p, t),
						   "filter on source \"%s\" cannot use \"%s.%s\"",
						   source, name, column);
			rule_error_detail(p->err, "A WHERE filter can only use the columns of its own source, bare or qualified by the source name.");
			return NULL;
		}
		name = column;
	}
	if ((v = alloc(p, sizeof(RuleValue))) == NULL)
		return NULL;
	v->kind = RULE_VALUE_FIELD;
	v->column = name;
	return parse_value_predicate(p, v, true);
}

/* ---------- boolean structure ---------- */

/*
 * At an AND/OR inside a filter: does its right side belong to the filter?
 * Not when it starts, after any NOT and '(', like a rule predicate.
 */
static bool
filter_continues(Parser *p)
{
	int			k = 1;
	const RuleToken *t;
	const RuleToken *t1;
	size_t		i;

	while ((t = peek(p, k)) != NULL &&
		   (is_word(t, "not") || t->kind == RULE_TOK_LPAREN))
		k++;
	if (t == NULL)
		return false;
	if (is_word(t, "tag") || is_word(t, "exists") || is_word(t, "in"))
		return false;
	t1 = peek(p, k + 1);
	if (is_word(t, "customer") && t1 != NULL && t1->kind == RULE_TOK_DOT)
		return false;
	for (i = 0; i < sizeof(agg_words) / sizeof(agg_words[0]); i++)
		if (is_word(t, agg_words[i].word) && t1 != NULL &&
			t1->kind == RULE_TOK_LPAREN)
			return false;
	return true;
}

/* factor := NOT factor | '(' rule ')' | predicate (of a filter if source) */
static RuleNode *
parse_factor(Parser *p, const char *source)
{
	const RuleToken *t = peek(p, 0);
	RuleNode   *node;
	RuleNode   *child;

	if (t == NULL)
		return NULL;
	if (is_word(t, "not"))
	{
		if (!enter(p, t))
			return NULL;
		advance(p);
		child = parse_factor(p, source);
		p->depth--;
		if (child == NULL || (node = new_node(p, RULE_NOT)) == NULL ||
			(node->children = alloc(p, sizeof(RuleNode *))) == NULL)
			return NULL;
		node->children[0] = child;
		node->nchildren = 1;
		return node;
	}
	if (t->kind == RULE_TOK_LPAREN)
	{
		if (!enter(p, t))
			return NULL;
		advance(p);
		node = parse_or(p, source);
		p->depth--;
		return node != NULL && expect(p, RULE_TOK_RPAREN) ? node : NULL;
	}
	return source ? parse_filter_predicate(p, source) : parse_predicate(p);
}

/* An AND or OR node from its operands (one operand stands alone). */
static RuleNode *
finish_bool(Parser *p, RuleNodeKind kind, NodeList *l)
{
	RuleNode   *node;

	if (failed(p))
		return NULL;
	if (l->n == 1)
		return l->items[0];
	if ((node = new_node(p, kind)) == NULL)
		return NULL;
	node->nchildren = l->n;
	node->children = l->items;
	return node;
}

/* Is the current token the connective word, and does it continue here? */
static bool
at_connective(Parser *p, const char *word, const char *source)
{
	if (!next_is_word(p, word))
		return false;
	return source == NULL || filter_continues(p);
}

/* term := factor (AND factor)* */
static RuleNode *
parse_and(Parser *p, const char *source)
{
	NodeList	l = {NULL, 0, 0};
	RuleNode   *node = parse_factor(p, source);

	if (node == NULL || !nodes_add_flat(p, &l, node, RULE_AND))
		return NULL;
	while (at_connective(p, "and", source))
	{
		advance(p);
		node = parse_factor(p, source);
		if (node == NULL || !nodes_add_flat(p, &l, node, RULE_AND))
			return NULL;
	}
	return finish_bool(p, RULE_AND, &l);
}

/* rule := term (OR term)* */
static RuleNode *
parse_or(Parser *p, const char *source)
{
	NodeList	l = {NULL, 0, 0};
	RuleNode   *node = parse_and(p, source);

	if (node == NULL || !nodes_add_flat(p, &l, node, RULE_OR))
		return NULL;
	while (at_connective(p, "or", source))
	{
		advance(p);
		node = parse_and(p, source);
		if (node == NULL || !nodes_add_flat(p, &l, node, RULE_OR))
			return NULL;
	}
	return finish_bool(p, RULE_OR, &l);
}

/* ---------- entry points ---------- */

/* Checks the end of input; makes sure a failure always carries an error. */
static bool
finish_parse(Parser *p, bool ok)
{
	if (ok && !failed(p) && !next_is(p, RULE_TOK_EOF))
		syntax_error(p, peek(p, 0));
	if (!ok && !failed(p))
		rule_error_set(p->err, RULE_ERR_SYNTAX, 0, "syntax error");
	return !failed(p);
}

/*
 * The canonical text must itself be acceptable input (pg_dump writes it
 * back), so the limits also apply to it.
 */
static bool
check_canonical(Parser *p, const RuleNode *rule)
{
	size_t		len;
	int			depth;

	rule_print_measure(rule, &len, &depth);
	if (len > RULE_MAX_TEXT_LEN)
	{
		rule_error_set(p->err, RULE_ERR_LIMIT, 0,
					   "rule text exceeds the maximum length of %d bytes",
					   RULE_MAX_TEXT_LEN);
		rule_error_detail(p->err, "The canonical form of the rule is %zu bytes long.", len);
		return false;
	}
	if (depth > RULE_MAX_DEPTH)
	{
		rule_error_set(p->err, RULE_ERR_LIMIT, 0,
					   "rule nesting exceeds the maximum depth of %d",
					   RULE_MAX_DEPTH);
		return false;
	}
	return true;
}

/* Shared set-up of both entry points: clears err and checks the input. */
static bool
init_parser(Parser *p, const char *text, size_t len, RuleArena *arena,
			RuleError *err)
{
	memset(p, 0, sizeof(*p));
	p->arena = arena;
	p->err = err;
	rule_error_clear(err);
	return rule_lexer_init(&p->lx, text, len, arena, err);
}

/* Entry point for whole rules (the type's input function). */
RuleNode *
rule_parse(const char *text, size_t len, RuleArena *arena, RuleError *err)
{
	Parser		p;
	RuleError	local;
	RuleNode   *rule;

	if (err == NULL)
		err = &local;
	if (!init_parser(&p, text, len, arena, err))
		return NULL;
	rule = parse_or(&p, NULL);
	if (!finish_parse(&p, rule != NULL) || !check_canonical(&p, rule))
		return NULL;
	return rule;
}

/* Entry point for a window on its own (resolve_window). */
RuleWindow *
rule_parse_window(const char *text, size_t len, RuleArena *arena,
				  RuleError *err)
{
	Parser		p;
	RuleError	local;
	RuleWindow *w;

	if (err == NULL)
		err = &local;
	if (!init_parser(&p, text, len, arena, err))
		return NULL;
	w = parse_window(&p);
	return finish_parse(&p, w != NULL) ? w : NULL;
}
