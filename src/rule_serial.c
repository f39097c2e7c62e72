/*
 * rule_serial.c
 *		Binary form of rule trees (format in rule_serial.h).
 *
 * The writer runs twice over the tree, once counting and once storing, so
 * the size and the bytes cannot disagree.  The reader checks every length
 * and count against the bytes left before using or allocating for it.
 */
#include "rule_serial.h"

#include <string.h>

#include "rule_window.h"

#define NEG_BIT			0x80
#define EXISTS_FILTER	0x01
#define EXISTS_WINDOW	0x02
#define AGG_COLUMN		0x01
#define AGG_FILTER		0x02
#define AGG_WINDOW		0x04
#define RANK_TOP		0x01
#define RANK_PERCENT	0x02
#define RANK_AMONG		0x04

/* ---------- writer ---------- */

typedef struct Writer
{
	uint8_t    *buf;			/* NULL: count only */
	size_t		pos;
} Writer;

static void write_node(Writer *w, const RuleNode *node);

/* Stores (or only counts) one byte. */
static void
w_byte(Writer *w, unsigned v)
{
	if (w->buf)
		w->buf[w->pos] = (uint8_t) v;
	w->pos++;
}

/* Unsigned LEB128, shortest form. */
static void
w_varint(Writer *w, uint32_t v)
{
	while (v >= 0x80)
	{
		w_byte(w, (v & 0x7F) | 0x80);
		v >>= 7;
	}
	w_byte(w, v);
}

/* Length-prefixed bytes without the NUL. */
static void
w_string(Writer *w, const char *s)
{
	size_t		n = strlen(s);

	w_varint(w, (uint32_t) n);
	if (w->buf)
		memcpy(w->buf + w->pos, s, n);
	w->pos += n;
}

/* Does the kind carry its own NOT? */
static bool
negatable(RuleNodeKind kind)
{
	return kind == RULE_IN || kind == RULE_IS_NULL || kind == RULE_BETWEEN ||
		kind == RULE_LIKE || kind == RULE_DURING || kind == RULE_TAG_IN ||
		kind == RULE_TAG_EMPTY || kind == RULE_EXISTS || kind == RULE_RANK;
}

/* Kind byte, then what the kind needs. */
static void
write_moment(Writer *w, const RuleMoment *m)
{
	w_byte(w, m->kind);
	if (m->kind == RULE_MOMENT_AGO)
	{
		w_varint(w, (uint32_t) m->count);
		w_byte(w, m->unit);
	}
	else if (m->kind == RULE_MOMENT_DATETIME)
		w_string(w, m->text);
}

/* Kind byte, then what the kind needs. */
static void
write_window(Writer *w, const RuleWindow *win)
{
	w_byte(w, win->kind);
	switch (win->kind)
	{
		case RULE_WINDOW_LAST:
			w_varint(w, (uint32_t) win->n);
			w_byte(w, win->unit);
			break;
		case RULE_WINDOW_PAST:
			w_varint(w, (uint32_t) win->n);
			w_varint(w, (uint32_t) win->m);
			w_byte(w, win->unit);
			break;
		case RULE_WINDOW_THIS:
		case RULE_WINDOW_PREVIOUS:
			w_byte(w, win->unit);
			break;
		case RULE_WINDOW_BETWEEN:
			w_string(w, win->from.text);
			w_string(w, win->to.text);
			break;
		case RULE_WINDOW_SINCE:
			write_moment(w, &win->from);
			break;
		case RULE_WINDOW_BEFORE:
			write_moment(w, &win->to);
			break;
		default:
			break;
	}
}

/* Kind byte, then text, boolean byte or moment. */
static void
write_literal(Writer *w, const RuleLiteral *lit)
{
	w_byte(w, lit->kind);
	switch (lit->kind)
	{
		case RULE_LIT_STRING:
		case RULE_LIT_NUMBER:
			w_string(w, lit->text);
			break;
		case RULE_LIT_BOOL:
			w_byte(w, lit->boolval ? 1 : 0);
			break;
		case RULE_LIT_MOMENT:
			write_moment(w, &lit->moment);
			break;
		case RULE_LIT_PREV:
			w_string(w, lit->text);
			break;
	}
}

/* Kind byte; aggregates add agg, presence flags and their parts. */
static void
write_value(Writer *w, const RuleValue *v)
{
	w_byte(w, v->kind);
	if (v->kind != RULE_VALUE_AGG)
	{
		w_string(w, v->column);
		return;
	}
	w_byte(w, v->agg);
	w_byte(w, (v->column ? AGG_COLUMN : 0) | (v->filter ? AGG_FILTER : 0) |
		   (v->window ? AGG_WINDOW : 0));
	w_string(w, v->source);
	if (v->column)
		w_string(w, v->column);
	if (v->filter)
		write_node(w, v->filter);
	if (v->window)
		write_window(w, v->window);
}

/* Counted list of literals, or of bare strings for TAG IN. */
static void
write_literals(Writer *w, const RuleNode *node, bool bare_strings)
{
	int			i;

	w_varint(w, (uint32_t) node->nargs);
	for (i = 0; i < node->nargs; i++)
	{
		if (bare_strings)
			w_string(w, node->args[i].text);
		else
			write_literal(w, &node->args[i]);
	}
}

/* Preorder: kind byte (with the negation bit), then the body. */
static void
write_node(Writer *w, const RuleNode *node)
{
	int			i;

	w_byte(w, node->kind | (node->negated && negatable(node->kind) ? NEG_BIT : 0));
	switch (node->kind)
	{
		case RULE_AND:
		case RULE_OR:
			w_varint(w, (uint32_t) node->nchildren);
			for (i = 0; i < node->nchildren; i++)
				write_node(w, node->children[i]);
			break;
		case RULE_NOT:
			write_node(w, node->children[0]);
			break;
		case RULE_CMP:
			write_value(w, node->value);
			w_byte(w, node->op);
			write_literal(w, &node->args[0]);
			break;
		case RULE_IN:
			write_value(w, node->value);
			write_literals(w, node, false);
			break;
		case RULE_IS_NULL:
			write_value(w, node->value);
			break;
		case RULE_BETWEEN:
			write_value(w, node->value);
			write_literal(w, &node->args[0]);
			write_literal(w, &node->args[1]);
			break;
		case RULE_LIKE:
			write_value(w, node->value);
			w_string(w, node->args[0].text);
			break;
		case RULE_DURING:
			write_value(w, node->value);
			write_window(w, node->window);
			break;
		case RULE_TAG_IN:
			w_string(w, node->name);
			write_literals(w, node, true);
			break;
		case RULE_TAG_EMPTY:
		case RULE_IN_SEGMENT:
		case RULE_IN_SNAPSHOT:
			w_string(w, node->name);
			break;
		case RULE_EXISTS:
			w_string(w, node->name);
			w_byte(w, (node->filter ? EXISTS_FILTER : 0) |
				   (node->window ? EXISTS_WINDOW : 0));
			if (node->filter)
				write_node(w, node->filter);
			if (node->window)
				write_window(w, node->window);
			break;
		case RULE_SEQUENCE:
			w_varint(w, (uint32_t) node->nchildren);
			for (i = 0; i < node->nchildren; i++)
				write_node(w, node->children[i]);
			w_byte(w, node->within ? 1 : 0);
			if (node->within)
			{
				w_varint(w, (uint32_t) node->within->n);
				w_byte(w, node->within->unit);
			}
			break;
		case RULE_RANK:
			write_value(w, node->value);
			w_byte(w, (node->rank->top ? RANK_TOP : 0) |
				   (node->rank->percent ? RANK_PERCENT : 0) |
				   (node->name ? RANK_AMONG : 0));
			w_string(w, node->rank->n);
			if (node->name)
				w_string(w, node->name);
			break;
	}
}

/* Counting pass of the writer. */
size_t
rule_serialized_size(const RuleNode *rule)
{
	Writer		w = {NULL, 0};

	w_byte(&w, RULE_SERIAL_VERSION);
	write_node(&w, rule);
	return w.pos;
}

/* Writing pass into a caller buffer of the counted size. */
void
rule_serialize_to(const RuleNode *rule, uint8_t *buf)
{
	Writer		w = {buf, 0};

	w_byte(&w, RULE_SERIAL_VERSION);
	write_node(&w, rule);
}

/* Both passes into the arena. */
uint8_t *
rule_serialize(const RuleNode *rule, RuleArena *arena, size_t *len)
{
	size_t		n = rule_serialized_size(rule);
	uint8_t    *buf = rule_arena_alloc(arena, n);

	if (buf == NULL)
		return NULL;
	rule_serialize_to(rule, buf);
	if (len)
		*len = n;
	return buf;
}

/* ---------- reader ---------- */

typedef struct Reader
{
	const uint8_t *p;
	size_t		len;
	size_t		pos;
	int			level;			/* recursion depth of nodes */
	RuleArena  *arena;
	RuleError  *err;
} Reader;

static RuleNode *read_node(Reader *r);

/* Records the first defect with the byte offset where it was seen. */
static bool
bad(Reader *r, const char *what)
{
	rule_error_set(r->err, RULE_ERR_CORRUPT, 0,
				   "invalid segment_rule binary data");
	rule_error_detail(r->err, "%s at byte %zu.", what, r->pos);
	return false;
}

/* Arena memory, recording out-of-memory on failure. */
static void *
r_alloc(Reader *r, size_t size)
{
	void	   *m = rule_arena_alloc(r->arena, size);

	if (m == NULL)
		rule_error_set(r->err, RULE_ERR_OUT_OF_MEMORY, 0, "out of memory");
	return m;
}

/* One byte, or a report that the data ended. */
static bool
r_byte(Reader *r, uint8_t *out)
{
	if (r->pos >= r->len)
		return bad(r, "Unexpected end of data");
	*out = r->p[r->pos++];
	return true;
}

/* Shortest-form LEB128 up to 32 bits, so every value has one encoding. */
static bool
r_varint(Reader *r, uint32_t *out)
{
	uint32_t	v = 0;
	int			shift;
	uint8_t		b;

	for (shift = 0; shift < 35; shift += 7)
	{
		if (!r_byte(r, &b))
			return false;
		if (shift == 28 && (b & 0xF0) != 0)
			return bad(r, "Number out of range");
		v |= (uint32_t) (b & 0x7F) << shift;
		if ((b & 0x80) == 0)
		{
			if (b == 0 && shift > 0)
				return bad(r, "Number not in shortest form");
			*out = v;
			return true;
		}
	}
	return bad(r, "Number too long");
}

/* A count of items that each take at least one byte of what remains. */
static bool
r_count(Reader *r, uint32_t *out)
{
	if (!r_varint(r, out))
		return false;
	if (*out > r->len - r->pos)
		return bad(r, "Count larger than the data");
	return true;
}

/* Length-checked string without NUL bytes, copied into the arena. */
static bool
r_string(Reader *r, const char **out)
{
	uint32_t	n;
	char	   *s;

	if (!r_varint(r, &n))
		return false;
	if (n > r->len - r->pos)
		return bad(r, "String longer than the data");
	if (memchr(r->p + r->pos, '\0', n) != NULL)
		return bad(r, "String contains a NUL byte");
	s = rule_arena_strndup(r->arena, (const char *) r->p + r->pos, n);
	if (s == NULL)
	{
		rule_error_set(r->err, RULE_ERR_OUT_OF_MEMORY, 0, "out of memory");
		return false;
	}
	r->pos += n;
	*out = s;
	return true;
}

/* A byte that must be below limit (enum values, flags). */
static bool
r_enum(Reader *r, unsigned lo, unsigned hi, unsigned *out, const char *what)
{
	uint8_t		b;

	if (!r_byte(r, &b))
		return false;
	if (b < lo || b > hi)
	{
		r->pos--;
		return bad(r, what);
	}
	*out = b;
	return true;
}

/* Inverse of write_moment; date literals are re-parsed from their text. */
static bool
read_moment(Reader *r, RuleMoment *m)
{
	unsigned	k,
				u;
	uint32_t	count;

	if (!r_enum(r, RULE_MOMENT_AGO, RULE_MOMENT_DATETIME, &k, "Unknown moment kind"))
		return false;
	m->kind = (RuleMomentKind) k;
	if (k == RULE_MOMENT_AGO)
	{
		if (!r_varint(r, &count) ||
			!r_enum(r, RULE_UNIT_MINUTE, RULE_UNIT_YEAR, &u, "Unknown time unit"))
			return false;
		if (count > RULE_MAX_WINDOW_COUNT)
			return bad(r, "Time count out of range");
		m->count = (int32_t) count;
		m->unit = (RuleUnit) u;
	}
	else if (k == RULE_MOMENT_DATETIME)
	{
		if (!r_string(r, &m->text))
			return false;
		if (rule_parse_datetime(m->text, strlen(m->text), &m->datetime) != RULE_DT_OK)
			return bad(r, "Invalid date literal");
	}
	return true;
}

/* A DATETIME moment stored as its bare text (BETWEEN windows). */
static bool
read_datetime_text(Reader *r, RuleMoment *m)
{
	m->kind = RULE_MOMENT_DATETIME;
	if (!r_string(r, &m->text))
		return false;
	if (rule_parse_datetime(m->text, strlen(m->text), &m->datetime) != RULE_DT_OK)
		return bad(r, "Invalid date literal");
	return true;
}

/* A window count within RULE_MAX_WINDOW_COUNT. */
static bool
r_window_count(Reader *r, int32_t *out)
{
	uint32_t	v;

	if (!r_varint(r, &v))
		return false;
	if (v > RULE_MAX_WINDOW_COUNT)
		return bad(r, "Time count out of range");
	*out = (int32_t) v;
	return true;
}

/* Inverse of write_window. */
static RuleWindow *
read_window(Reader *r)
{
	RuleWindow *w = r_alloc(r, sizeof(RuleWindow));
	unsigned	k,
				u = 0;
	bool		ok = true;

	if (w == NULL ||
		!r_enum(r, RULE_WINDOW_LAST, RULE_WINDOW_BEFORE, &k, "Unknown window kind"))
		return NULL;
	w->kind = (RuleWindowKind) k;
	switch (w->kind)
	{
		case RULE_WINDOW_LAST:
			ok = r_window_count(r, &w->n) &&
				r_enum(r, RULE_UNIT_MINUTE, RULE_UNIT_YEAR, &u, "Unknown time unit");
			break;
		case RULE_WINDOW_PAST:
			ok = r_window_count(r, &w->n) && r_window_count(r, &w->m) &&
				r_enum(r, RULE_UNIT_MINUTE, RULE_UNIT_YEAR, &u, "Unknown time unit");
			break;
		case RULE_WINDOW_THIS:
		case RULE_WINDOW_PREVIOUS:
			ok = r_enum(r, RULE_UNIT_WEEK, RULE_UNIT_YEAR, &u, "Unknown period");
			break;
		case RULE_WINDOW_BETWEEN:
			ok = read_datetime_text(r, &w->from) && read_datetime_text(r, &w->to);
			break;
		case RULE_WINDOW_SINCE:
			ok = read_moment(r, &w->from);
			break;
		case RULE_WINDOW_BEFORE:
			ok = read_moment(r, &w->to);
			break;
		default:
			break;
	}
	w->unit = (RuleUnit) u;
	return ok ? w : NULL;
}

/* Inverse of write_literal. */
static bool
read_literal(Reader *r, RuleLiteral *lit)
{
	unsigned	k,
				b;

	if (!r_enum(r, RULE_LIT_STRING, RULE_LIT_PREV, &k, "Unknown literal kind"))
		return false;
	lit->kind = (RuleLiteralKind) k;
	switch (lit->kind)
	{
		case RULE_LIT_STRING:
		case RULE_LIT_NUMBER:
			return r_string(r, &lit->text);
		case RULE_LIT_BOOL:
			if (!r_enum(r, 0, 1, &b, "Invalid boolean"))
				return false;
			lit->boolval = b == 1;
			return true;
		case RULE_LIT_MOMENT:
			return read_moment(r, &lit->moment);
		case RULE_LIT_PREV:
			return r_string(r, &lit->text);
	}
	return false;
}

/* Inverse of write_value. */
static RuleValue *
read_value(Reader *r)
{
	RuleValue  *v = r_alloc(r, sizeof(RuleValue));
	unsigned	k,
				agg,
				flags;

	if (v == NULL ||
		!r_enum(r, RULE_VALUE_CUSTOMER, RULE_VALUE_FIELD, &k, "Unknown value kind"))
		return NULL;
	v->kind = (RuleValueKind) k;
	if (v->kind != RULE_VALUE_AGG)
		return r_string(r, &v->column) ? v : NULL;
	if (!r_enum(r, RULE_AGG_COUNT, RULE_AGG_ACTIVE_MONTHS, &agg, "Unknown aggregate") ||
		!r_enum(r, 0, AGG_COLUMN | AGG_FILTER | AGG_WINDOW, &flags, "Invalid aggregate flags") ||
		!r_string(r, &v->source))
		return NULL;
	v->agg = (RuleAggKind) agg;
	if ((flags & AGG_COLUMN) && !r_string(r, &v->column))
		return NULL;
	if ((flags & AGG_FILTER) && (v->filter = read_node(r)) == NULL)
		return NULL;
	if ((flags & AGG_WINDOW) && (v->window = read_window(r)) == NULL)
		return NULL;
	return v;
}

/* n literals (or bare strings for TAG IN) into node->args. */
static bool
read_literals(Reader *r, RuleNode *node, bool bare_strings)
{
	uint32_t	n,
				i;

	if (!r_count(r, &n))
		return false;
	if (n == 0 || n > RULE_MAX_IN_LIST)
		return bad(r, "Invalid list length");
	node->nargs = (int) n;
	if ((node->args = r_alloc(r, sizeof(RuleLiteral) * n)) == NULL)
		return false;
	for (i = 0; i < n; i++)
	{
		if (bare_strings)
		{
			node->args[i].kind = RULE_LIT_STRING;
			if (!r_string(r, &node->args[i].text))
				return false;
		}
		else if (!read_literal(r, &node->args[i]))
			return false;
	}
	return true;
}

/* Operands of AND / OR / NOT. */
static bool
read_children(Reader *r, RuleNode *node)
{
	uint32_t	n = 1,
				i;

	if (node->kind != RULE_NOT)
	{
		if (!r_count(r, &n))
			return false;
		if (n < 2)
			return bad(r, "Boolean node with fewer than two operands");
	}
	node->nchildren = (int) n;
	if ((node->children = r_alloc(r, sizeof(RuleNode *) * n)) == NULL)
		return false;
	for (i = 0; i < n; i++)
		if ((node->children[i] = read_node(r)) == NULL)
			return false;
	return true;
}

/* Literal arguments of the value predicates. */
static bool
read_args(Reader *r, RuleNode *node, int n)
{
	int			i;

	node->nargs = n;
	if ((node->args = r_alloc(r, sizeof(RuleLiteral) * n)) == NULL)
		return false;
	for (i = 0; i < n; i++)
		if (!read_literal(r, &node->args[i]))
			return false;
	return true;
}

/* Steps of a sequence, then its WITHIN. */
static bool
read_sequence(Reader *r, RuleNode *node)
{
	uint32_t	n,
				i,
				count;
	unsigned	has_within,
				u;

	if (!r_count(r, &n))
		return false;
	if (n < 2 || n > RULE_MAX_SEQUENCE_STEPS)
		return bad(r, "Invalid number of sequence steps");
	node->nchildren = (int) n;
	if ((node->children = r_alloc(r, sizeof(RuleNode *) * n)) == NULL)
		return false;
	for (i = 0; i < n; i++)
		if ((node->children[i] = read_node(r)) == NULL)
			return false;
	if (!r_enum(r, 0, 1, &has_within, "Invalid WITHIN flag"))
		return false;
	if (!has_within)
		return true;
	if ((node->within = r_alloc(r, sizeof(RuleDuration))) == NULL ||
		!r_varint(r, &count) ||
		!r_enum(r, RULE_UNIT_MINUTE, RULE_UNIT_YEAR, &u, "Unknown time unit"))
		return false;
	if (count < 1 || count > RULE_MAX_WINDOW_COUNT)
		return bad(r, "Time count out of range");
	node->within->n = (int32_t) count;
	node->within->unit = (RuleUnit) u;
	return true;
}

/* value, flags, size text, [AMONG segment]. */
static bool
read_rank(Reader *r, RuleNode *node)
{
	unsigned	flags;

	if ((node->value = read_value(r)) == NULL ||
		!r_enum(r, 0, RANK_TOP | RANK_PERCENT | RANK_AMONG, &flags, "Invalid rank flags") ||
		(node->rank = r_alloc(r, sizeof(RuleRank))) == NULL ||
		!r_string(r, &node->rank->n))
		return false;
	node->rank->top = (flags & RANK_TOP) != 0;
	node->rank->percent = (flags & RANK_PERCENT) != 0;
	return !(flags & RANK_AMONG) || r_string(r, &node->name);
}

/* The body of a node after its kind byte. */
static bool
read_node_body(Reader *r, RuleNode *node)
{
	unsigned	op,
				flags;

	switch (node->kind)
	{
		case RULE_AND:
		case RULE_OR:
		case RULE_NOT:
			return read_children(r, node);
		case RULE_CMP:
			if ((node->value = read_value(r)) == NULL ||
				!r_enum(r, RULE_OP_EQ, RULE_OP_GE, &op, "Unknown operator"))
				return false;
			node->op = (RuleCmpOp) op;
			return read_args(r, node, 1);
		case RULE_IN:
			return (node->value = read_value(r)) != NULL &&
				read_literals(r, node, false);
		case RULE_IS_NULL:
			return (node->value = read_value(r)) != NULL;
		case RULE_BETWEEN:
			return (node->value = read_value(r)) != NULL &&
				read_args(r, node, 2);
		case RULE_LIKE:
			if ((node->value = read_value(r)) == NULL ||
				(node->args = r_alloc(r, sizeof(RuleLiteral))) == NULL)
				return false;
			node->nargs = 1;
			node->args[0].kind = RULE_LIT_STRING;
			return r_string(r, &node->args[0].text);
		case RULE_DURING:
			return (node->value = read_value(r)) != NULL &&
				(node->window = read_window(r)) != NULL;
		case RULE_TAG_IN:
			return r_string(r, &node->name) && read_literals(r, node, true);
		case RULE_TAG_EMPTY:
		case RULE_IN_SEGMENT:
		case RULE_IN_SNAPSHOT:
			return r_string(r, &node->name);
		case RULE_EXISTS:
			if (!r_string(r, &node->name) ||
				!r_enum(r, 0, EXISTS_FILTER | EXISTS_WINDOW, &flags, "Invalid EXISTS flags"))
				return false;
			if ((flags & EXISTS_FILTER) && (node->filter = read_node(r)) == NULL)
				return false;
			return !(flags & EXISTS_WINDOW) ||
				(node->window = read_window(r)) != NULL;
		case RULE_SEQUENCE:
			return read_sequence(r, node);
		case RULE_RANK:
			return read_rank(r, node);
	}
	return bad(r, "Unknown node kind");
}

/* Inverse of write_node, with the recursion guard. */
static RuleNode *
read_node(Reader *r)
{
	RuleNode   *node;
	uint8_t		b;
	bool		ok;

	if (r->level >= RULE_MAX_TREE_LEVELS)
	{
		bad(r, "Tree too deep");
		return NULL;
	}
	if (!r_byte(r, &b))
		return NULL;
	if ((b & ~NEG_BIT) < RULE_AND || (b & ~NEG_BIT) > RULE_IN_SNAPSHOT ||
		((b & NEG_BIT) && !negatable((RuleNodeKind) (b & ~NEG_BIT))))
	{
		r->pos--;
		bad(r, "Unknown node kind");
		return NULL;
	}
	if ((node = r_alloc(r, sizeof(RuleNode))) == NULL)
		return NULL;
	node->kind = (RuleNodeKind) (b & ~NEG_BIT);
	node->negated = (b & NEG_BIT) != 0;
	r->level++;
	ok = read_node_body(r, node);
	r->level--;
	return ok ? node : NULL;
}

/*
 * Turns a validation failure into the corrupt-data report: the validator's
 * detail when it has one, else its message as a sentence.
 */
static void
report_invalid(RuleError *err, const RuleError *why)
{
	char		sentence[RULE_ERROR_TEXT_LEN];

	memcpy(sentence, why->message, sizeof(sentence));
	if (sentence[0] >= 'a' && sentence[0] <= 'z')
		sentence[0] -= 'a' - 'A';
	rule_error_set(err, RULE_ERR_CORRUPT, 0, "invalid segment_rule binary data");
	if (why->detail[0] != '\0')
		rule_error_detail(err, "%s", why->detail);
	else
		rule_error_detail(err, "%s.", sentence);
}

/* Reads, checks that all bytes were used, then validates the tree. */
RuleNode *
rule_deserialize(const uint8_t *bytes, size_t len, RuleArena *arena,
				 RuleError *err)
{
	RuleError	local;
	RuleError	why;
	Reader		r;
	RuleNode   *rule;

	if (err == NULL)
		err = &local;
	rule_error_clear(err);
	memset(&r, 0, sizeof(r));
	r.p = bytes;
	r.len = len;
	r.arena = arena;
	r.err = err;
	if (len > RULE_MAX_SERIAL_LEN)
	{
		bad(&r, "Data too long");
		return NULL;
	}
	if (len == 0 || bytes[0] != RULE_SERIAL_VERSION)
	{
		bad(&r, len == 0 ? "Empty data" : "Unknown format version");
		return NULL;
	}
	r.pos = 1;
	if ((rule = read_node(&r)) == NULL)
		return NULL;
	if (r.pos != len)
	{
		bad(&r, "Trailing bytes");
		return NULL;
	}
	if (!rule_validate(rule, &why))
	{
		if (why.kind == RULE_ERR_OUT_OF_MEMORY)
			*err = why;
		else
			report_invalid(err, &why);
		return NULL;
	}
	return rule;
}
