/*
 * rule_json.c
 *		segment_rule <-> JSON (rule_json.h): a small strict JSON reader,
 *		JSON -> rule text -> rule_parse(), and tree -> canonical JSON.
 */
#include "rule_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rule_lexer.h"
#include "rule_parser.h"

/* ---------------------------------------------------------------------
 * Growable text in the arena
 * ---------------------------------------------------------------------
 */
typedef struct Buf
{
	RuleArena  *arena;
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		oom;
} Buf;

static void
buf_init(Buf *b, RuleArena *arena)
{
	memset(b, 0, sizeof(*b));
	b->arena = arena;
}

static void
buf_put(Buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap * 2 : 256;
		char	   *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = rule_arena_alloc(b->arena, cap)) == NULL)
		{
			b->oom = true;
			return;
		}
		if (b->len)
			memcpy(p, b->data, b->len);
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
buf_str(Buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void
buf_int(Buf *b, long v)
{
	char		tmp[32];

	snprintf(tmp, sizeof(tmp), "%ld", v);
	buf_str(b, tmp);
}

/* s between quote characters q, q doubled inside (the language's quoting). */
static void
buf_quoted(Buf *b, const char *s, size_t len, char q)
{
	size_t		i,
				start = 0;

	buf_put(b, &q, 1);
	for (i = 0; i < len; i++)
		if (s[i] == q)
		{
			buf_put(b, s + start, i + 1 - start);
			buf_put(b, &q, 1);
			start = i + 1;
		}
	buf_put(b, s + start, len - start);
	buf_put(b, &q, 1);
}

/* ---------------------------------------------------------------------
 * JSON reader: a tree of values in the arena
 * ---------------------------------------------------------------------
 */
typedef enum JKind
{
	J_NULL, J_FALSE, J_TRUE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT
} JKind;

typedef struct JVal
{
	JKind		kind;
	const char *text;			/* STRING: decoded; NUMBER: as written */
	size_t		len;
	int			n;				/* ARRAY, OBJECT: number of items */
	struct JVal **items;
	const char **keys;			/* OBJECT */
} JVal;

typedef struct Reader
{
	const char *s;
	size_t		len;
	size_t		i;
	int			depth;
	RuleArena  *arena;
	RuleError  *err;
	bool		failed;
} Reader;

static JVal *read_value(Reader *r);

static void
read_error(Reader *r, const char *what)
{
	if (!r->failed)
		rule_error_set(r->err, RULE_ERR_SYNTAX, (int) r->i + 1,
					   "invalid JSON at character %d: %s", (int) r->i + 1, what);
	r->failed = true;
}

static void *
read_alloc(Reader *r, size_t size)
{
	void	   *p = rule_arena_alloc(r->arena, size);

	if (p == NULL && !r->failed)
	{
		rule_error_set(r->err, RULE_ERR_OUT_OF_MEMORY, 0, "out of memory");
		r->failed = true;
	}
	return p;
}

static void
skip_ws(Reader *r)
{
	while (r->i < r->len && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
							 r->s[r->i] == '\n' || r->s[r->i] == '\r'))
		r->i++;
}

static int
hex4(const char *p)
{
	int			v = 0,
				k;

	for (k = 0; k < 4; k++)
	{
		char		c = p[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Appends code point cp as UTF-8. */
static void
put_utf8(Buf *b, unsigned cp)
{
	char		u[4];
	size_t		n;

	if (cp < 0x80)
		u[0] = (char) cp, n = 1;
	else if (cp < 0x800)
		u[0] = (char) (0xC0 | (cp >> 6)), u[1] = (char) (0x80 | (cp & 0x3F)), n = 2;
	else if (cp < 0x10000)
		u[0] = (char) (0xE0 | (cp >> 12)), u[1] = (char) (0x80 | ((cp >> 6) & 0x3F)),
			u[2] = (char) (0x80 | (cp & 0x3F)), n = 3;
	else
		u[0] = (char) (0xF0 | (cp >> 18)), u[1] = (char) (0x80 | ((cp >> 12) & 0x3F)),
			u[2] = (char) (0x80 | ((cp >> 6) & 0x3F)), u[3] = (char) (0x80 | (cp & 0x3F)), n = 4;
	buf_put(b, u, n);
}

/* A \u escape at r->i (after the backslash and u), surrogate pairs joined. */
static bool
read_unicode_escape(Reader *r, Buf *b)
{
	int			cp,
				lo;

	if (r->i + 4 > r->len || (cp = hex4(r->s + r->i)) < 0)
		return read_error(r, "bad \\u escape"), false;
	r->i += 4;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return read_error(r, "lone low surrogate in \\u escape"), false;
	if (cp >= 0xD800 && cp <= 0xDBFF)
	{
		if (r->i + 6 > r->len || r->s[r->i] != '\\' || r->s[r->i + 1] != 'u' ||
			(lo = hex4(r->s + r->i + 2)) < 0xDC00 || lo > 0xDFFF)
			return read_error(r, "high surrogate without its low surrogate"), false;
		r->i += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (cp == 0)
		return read_error(r, "\\u0000 is not allowed"), false;
	put_utf8(b, (unsigned) cp);
	return true;
}

static JVal *
read_string(Reader *r)
{
	Buf			b;
	JVal	   *v;

	buf_init(&b, r->arena);
	buf_put(&b, "", 0);
	r->i++;						/* opening quote */
	while (r->i < r->len && r->s[r->i] != '"')
	{
		unsigned char c = (unsigned char) r->s[r->i];

		if (c < 0x20)
			return read_error(r, "control character in string"), NULL;
		if (c != '\\')
		{
			size_t		start = r->i;

			while (r->i < r->len && r->s[r->i] != '"' && r->s[r->i] != '\\' &&
				   (unsigned char) r->s[r->i] >= 0x20)
				r->i++;
			buf_put(&b, r->s + start, r->i - start);
			continue;
		}
		if (++r->i >= r->len)
			break;
		switch (r->s[r->i++])
		{
			case '"':
				buf_put(&b, "\"", 1);
				break;
			case '\\':
				buf_put(&b, "\\", 1);
				break;
			case '/':
				buf_put(&b, "/", 1);
				break;
			case 'b':
				buf_put(&b, "\b", 1);
				break;
			case 'f':
				buf_put(&b, "\f", 1);
				break;
			case 'n':
				buf_put(&b, "\n", 1);
				break;
			case 'r':
				buf_put(&b, "\r", 1);
				break;
			case 't':
				buf_put(&b, "\t", 1);
				break;
			case 'u':
				if (!read_unicode_escape(r, &b))
					return NULL;
				break;
			default:
				r->i--;
				return read_error(r, "unknown escape in string"), NULL;
		}
	}
	if (r->i >= r->len)
		return read_error(r, "unterminated string"), NULL;
	r->i++;						/* closing quote */
	if (b.oom || (v = read_alloc(r, sizeof(JVal))) == NULL)
		return read_error(r, "out of memory"), NULL;
	v->kind = J_STRING;
	v->text = b.data;
	v->len = b.len;
	return v;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Length of a JSON number (RFC 8259 grammar) at s, 0 if there is none. */
static size_t
json_number_len(const char *s, size_t len)
{
	size_t		i = 0;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (i < len && s[i] >= '1' && s[i] <= '9')
		while (i < len && is_digit(s[i]))
			i++;
	else
		return 0;
	if (i < len && s[i] == '.')
	{
		if (++i >= len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		if (++i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	return i;
}

static JVal *
read_number(Reader *r)
{
	size_t		n = json_number_len(r->s + r->i, r->len - r->i);
	JVal	   *v;

	if (n == 0)
		return read_error(r, "bad number"), NULL;
	if ((v = read_alloc(r, sizeof(JVal))) == NULL)
		return NULL;
	v->kind = J_NUMBER;
	v->text = rule_arena_strndup(r->arena, r->s + r->i, n);
	v->len = n;
	r->i += n;
	return v->text ? v : (read_error(r, "out of memory"), NULL);
}

/* Items (and keys) of an array or object, collected with doubling. */
static bool
add_item(Reader *r, JVal *v, JVal *item, const char *key, int *cap)
{
	if (v->n == *cap)
	{
		int			ncap = *cap ? *cap * 2 : 8;
		JVal	  **items = read_alloc(r, sizeof(JVal *) * ncap);
		const char **keys = read_alloc(r, sizeof(char *) * ncap);

		if (items == NULL || keys == NULL)
			return false;
		if (v->n)
		{
			memcpy(items, v->items, sizeof(JVal *) * v->n);
			memcpy(keys, v->keys, sizeof(char *) * v->n);
		}
		v->items = items;
		v->keys = keys;
		*cap = ncap;
	}
	v->items[v->n] = item;
	v->keys[v->n] = key;
	v->n++;
	return true;
}

static JVal *
read_container(Reader *r, bool object)
{
	JVal	   *v = read_alloc(r, sizeof(JVal));
	char		close = object ? '}' : ']';
	int			cap = 0,
				k;

	if (v == NULL)
		return NULL;
	v->kind = object ? J_OBJECT : J_ARRAY;
	if (++r->depth > RULE_JSON_MAX_DEPTH)
		return read_error(r, "nesting too deep"), NULL;
	r->i++;
	skip_ws(r);
	if (r->i < r->len && r->s[r->i] == close)
	{
		r->i++;
		r->depth--;
		return v;
	}
	for (;;)
	{
		const char *key = NULL;
		JVal	   *item;

		skip_ws(r);
		if (object)
		{
			JVal	   *name;

			if (r->i >= r->len || r->s[r->i] != '"')
				return read_error(r, "expected a key string"), NULL;
			if ((name = read_string(r)) == NULL)
				return NULL;
			key = name->text;
			for (k = 0; k < v->n; k++)
				if (strcmp(v->keys[k], key) == 0)
					return read_error(r, "duplicate key"), NULL;
			skip_ws(r);
			if (r->i >= r->len || r->s[r->i] != ':')
				return read_error(r, "expected ':'"), NULL;
			r->i++;
		}
		if ((item = read_value(r)) == NULL || !add_item(r, v, item, key, &cap))
			return NULL;
		skip_ws(r);
		if (r->i < r->len && r->s[r->i] == ',')
		{
			r->i++;
			continue;
		}
		if (r->i < r->len && r->s[r->i] == close)
			break;
		return read_error(r, object ? "expected ',' or '}'" : "expected ',' or ']'"), NULL;
	}
	r->i++;
	r->depth--;
	return v;
}

static JVal *
read_word(Reader *r, const char *word, JKind kind)
{
	size_t		n = strlen(word);
	JVal	   *v;

	if (r->len - r->i < n || memcmp(r->s + r->i, word, n) != 0)
		return read_error(r, "unexpected character"), NULL;
	r->i += n;
	if ((v = read_alloc(r, sizeof(JVal))) != NULL)
		v->kind = kind;
	return v;
}

static JVal *
read_value(Reader *r)
{
	skip_ws(r);
	if (r->i >= r->len)
		return read_error(r, "unexpected end of input"), NULL;
	switch (r->s[r->i])
	{
		case '{':
			return read_container(r, true);
		case '[':
			return read_container(r, false);
		case '"':
			return read_string(r);
		case 't':
			return read_word(r, "true", J_TRUE);
		case 'f':
			return read_word(r, "false", J_FALSE);
		case 'n':
			return read_word(r, "null", J_NULL);
		default:
			return read_number(r);
	}
}

/* ---------------------------------------------------------------------
 * JSON -> rule text
 * ---------------------------------------------------------------------
 */
/* Operator precedence, as rule_print.c uses it to place parentheses. */
#define PREC_ANY	0
#define PREC_OR		1
#define PREC_AND	2
#define PREC_NOT	3

typedef struct Conv
{
	Buf			out;
	RuleError  *err;
	bool		failed;
} Conv;

#define RANK_OPERATORS_HINT \
	"Rank operators: in top, not in top, in bottom, not in bottom."

static bool conv_node(Conv *cv, const JVal *v, const char *path, bool filter, int need);
static bool shape_error(Conv *cv, const char *path, const char *hint, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

/* A shape error at a JSON location; hint (may be NULL) says what fits. */
static bool
shape_error(Conv *cv, const char *path, const char *hint, const char *fmt,...)
{
	char		what[RULE_ERROR_TEXT_LEN];
	va_list		ap;

	if (cv->failed)
		return false;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* paths are ASCII; a deep one keeps its end so the message stays whole */
	if (strlen(path) > 100)
		rule_error_set(cv->err, RULE_ERR_SYNTAX, 0, "invalid rule JSON at ...%s: %s",
					   path + strlen(path) - 100, what);
	else
		rule_error_set(cv->err, RULE_ERR_SYNTAX, 0, "invalid rule JSON at %s: %s", path, what);
	if (hint)
		rule_error_hint(cv->err, "%s", hint);
	cv->failed = true;
	return false;
}

static char *
sub_path(Conv *cv, const char *path, const char *key, int index)
{
	char		tmp[32];
	size_t		n;
	char	   *p;

	if (key)
		n = strlen(path) + 1 + strlen(key) + 1;
	else
		n = strlen(path) + snprintf(tmp, sizeof(tmp), "[%d]", index) + 1;
	if ((p = rule_arena_alloc(cv->out.arena, n)) == NULL)
		return (char *) path;
	if (key)
		snprintf(p, n, "%s.%s", path, key);
	else
		snprintf(p, n, "%s%s", path, tmp);
	return p;
}

static const JVal *
get(const JVal *obj, const char *key)
{
	int			i;

	for (i = 0; i < obj->n; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return obj->items[i];
	return NULL;
}

/* A name quoted in a message: at most 60 bytes, cut at a character boundary. */
static const char *
clip(Conv *cv, const char *s)
{
	char	   *out = rule_arena_alloc(cv->out.arena, 80);

	if (out == NULL)
		return "";
	rule_error_clip(out, 80, s, (int) strlen(s), 60);
	return out;
}

/* Every key of obj must be in allowed (NULL-terminated). */
static bool
check_keys(Conv *cv, const JVal *obj, const char *path, const char *const *allowed, const char *hint)
{
	int			i,
				k;

	for (i = 0; i < obj->n; i++)
	{
		for (k = 0; allowed[k]; k++)
			if (strcmp(obj->keys[i], allowed[k]) == 0)
				break;
		if (!allowed[k])
			return shape_error(cv, path, hint, "unknown key \"%s\"", clip(cv, obj->keys[i]));
	}
	return true;
}

/* A required string member; NULL (error set) when missing or not a string. */
static const JVal *
get_string(Conv *cv, const JVal *obj, const char *path, const char *key, bool required)
{
	const JVal *v = get(obj, key);

	if (v == NULL)
	{
		if (required)
			shape_error(cv, path, NULL, "\"%s\" is missing", key);
		return NULL;
	}
	if (v->kind != J_STRING)
	{
		shape_error(cv, sub_path(cv, path, key, 0), NULL, "must be a string");
		return NULL;
	}
	return v;
}

/* A word the language reads as is (unit, function): letters and _ only. */
static bool
put_word(Conv *cv, const JVal *v, const char *path)
{
	size_t		i;

	for (i = 0; i < v->len; i++)
		if (!((v->text[i] >= 'a' && v->text[i] <= 'z') || (v->text[i] >= 'A' && v->text[i] <= 'Z') ||
			  v->text[i] == '_'))
			return shape_error(cv, path, NULL, "\"%s\" is not a word", clip(cv, v->text));
	if (v->len == 0)
		return shape_error(cv, path, NULL, "must not be empty");
	buf_put(&cv->out, v->text, v->len);
	return true;
}

static void
put_ident(Conv *cv, const JVal *v)
{
	buf_quoted(&cv->out, v->text, v->len, '"');
}

static bool
put_whole_number(Conv *cv, const JVal *obj, const char *path, const char *key)
{
	const JVal *v = get(obj, key);

	if (v == NULL)
		return shape_error(cv, path, NULL, "\"%s\" is missing", key);
	if (v->kind != J_NUMBER)
		return shape_error(cv, sub_path(cv, path, key, 0), NULL, "must be a number");
	buf_put(&cv->out, v->text, v->len);
	return true;
}

/* {"ago": n, "unit": u} | {"moment": "now"|"today"} */
static bool
conv_moment(Conv *cv, const JVal *v, const char *path)
{
	static const char *const keys_ago[] = {"ago", "unit", NULL};
	static const char *const keys_moment[] = {"moment", NULL};
	const JVal *m;

	if (get(v, "moment"))
	{
		if (!check_keys(cv, v, path, keys_moment, NULL) ||
			(m = get_string(cv, v, path, "moment", true)) == NULL)
			return false;
		if (strcmp(m->text, "now") != 0 && strcmp(m->text, "today") != 0)
			return shape_error(cv, sub_path(cv, path, "moment", 0), "A moment is \"now\" or \"today\".",
							   "unknown moment \"%s\"", clip(cv, m->text));
		buf_str(&cv->out, strcmp(m->text, "now") == 0 ? "NOW" : "TODAY");
		return true;
	}
	if (!check_keys(cv, v, path, keys_ago, "A moment is {\"ago\": n, \"unit\": \"day\"} or {\"moment\": \"now\"|\"today\"}.") ||
		!put_whole_number(cv, v, path, "ago") || (m = get_string(cv, v, path, "unit", true)) == NULL)
		return false;
	buf_put(&cv->out, " ", 1);
	if (!put_word(cv, m, sub_path(cv, path, "unit", 0)))
		return false;
	buf_str(&cv->out, " AGO");
	return true;
}

/* A literal: string, number, boolean or moment. */
static bool
conv_literal(Conv *cv, const JVal *v, const char *path)
{
	const JVal *num;

	switch (v->kind)
	{
		case J_STRING:
			buf_quoted(&cv->out, v->text, v->len, '\'');
			return true;
		case J_NUMBER:
			buf_put(&cv->out, v->text, v->len);
			return true;
		case J_TRUE:
		case J_FALSE:
			buf_str(&cv->out, v->kind == J_TRUE ? "true" : "false");
			return true;
		case J_OBJECT:
			if ((num = get(v, "number")) != NULL)
			{
				static const char *const keys[] = {"number", NULL};
				size_t		i;

				if (!check_keys(cv, v, path, keys, NULL) || num->kind != J_STRING)
					return shape_error(cv, path, NULL, "\"number\" must be a string");
				for (i = 0; i < num->len; i++)
					if (!strchr("0123456789+-.eE", num->text[i]))
						return shape_error(cv, path, NULL, "\"%s\" is not a number", clip(cv, num->text));
				buf_put(&cv->out, num->text, num->len);
				return true;
			}
			if (get(v, "prev") != NULL)
			{
				static const char *const keys[] = {"prev", NULL};
				const JVal *col;

				if (!check_keys(cv, v, path, keys, NULL) ||
					(col = get_string(cv, v, path, "prev", true)) == NULL)
					return false;
				buf_str(&cv->out, "prev.");
				put_ident(cv, col);
				return true;
			}
			return conv_moment(cv, v, path);
		default:
			return shape_error(cv, path, "Values are strings, numbers, booleans or moments; use the operator \"is null\" for NULL.",
							   "a value must not be %s", v->kind == J_NULL ? "null" : "an array");
	}
}

/* A window, or a date string / moment for SINCE and BEFORE. */
static bool
conv_point(Conv *cv, const JVal *v, const char *path)
{
	if (v == NULL)
		return shape_error(cv, path, NULL, "is missing");
	if (v->kind == J_STRING)
	{
		buf_quoted(&cv->out, v->text, v->len, '\'');
		return true;
	}
	if (v->kind == J_OBJECT)
		return conv_moment(cv, v, path);
	return shape_error(cv, path, NULL, "must be a date string or a moment");
}

static bool
conv_window(Conv *cv, const JVal *v, const char *path)
{
	static const char *const hint =
		"Window types: last, past, today, yesterday, this, previous, between, since, before.";
	static const char *const k_last[] = {"type", "count", "unit", NULL};
	static const char *const k_past[] = {"type", "from", "to", "unit", NULL};
	static const char *const k_type[] = {"type", NULL};
	static const char *const k_unit[] = {"type", "unit", NULL};
	static const char *const k_between[] = {"type", "from", "to", NULL};
	static const char *const k_since[] = {"type", "from", NULL};
	static const char *const k_before[] = {"type", "to", NULL};
	const JVal *t;
	const JVal *unit;
	const char *type;

	if (v->kind != J_OBJECT)
		return shape_error(cv, path, hint, "a window must be an object");
	if ((t = get_string(cv, v, path, "type", true)) == NULL)
		return false;
	type = t->text;
	if (strcmp(type, "last") == 0 || strcmp(type, "past") == 0)
	{
		bool		last = type[0] == 'l';

		if (!check_keys(cv, v, path, last ? k_last : k_past, NULL))
			return false;
		buf_str(&cv->out, last ? "LAST " : "PAST ");
		if (!put_whole_number(cv, v, path, last ? "count" : "from"))
			return false;
		if (!last && (buf_str(&cv->out, " TO "), !put_whole_number(cv, v, path, "to")))
			return false;
		buf_put(&cv->out, " ", 1);
		return (unit = get_string(cv, v, path, "unit", true)) != NULL &&
			put_word(cv, unit, sub_path(cv, path, "unit", 0));
	}
	if (strcmp(type, "today") == 0 || strcmp(type, "yesterday") == 0)
	{
		buf_str(&cv->out, type[0] == 't' ? "TODAY" : "YESTERDAY");
		return check_keys(cv, v, path, k_type, NULL);
	}
	if (strcmp(type, "this") == 0 || strcmp(type, "previous") == 0)
	{
		buf_str(&cv->out, type[0] == 't' ? "THIS " : "PREVIOUS ");
		return check_keys(cv, v, path, k_unit, NULL) &&
			(unit = get_string(cv, v, path, "unit", true)) != NULL &&
			put_word(cv, unit, sub_path(cv, path, "unit", 0));
	}
	if (strcmp(type, "between") == 0)
	{
		const JVal *from = get_string(cv, v, path, "from", true);
		const JVal *to = from ? get_string(cv, v, path, "to", true) : NULL;

		if (!check_keys(cv, v, path, k_between, NULL) || to == NULL)
			return false;
		buf_str(&cv->out, "BETWEEN ");
		buf_quoted(&cv->out, from->text, from->len, '\'');
		buf_str(&cv->out, " AND ");
		buf_quoted(&cv->out, to->text, to->len, '\'');
		return true;
	}
	if (strcmp(type, "since") == 0 || strcmp(type, "before") == 0)
	{
		bool		since = type[0] == 's';

		if (!check_keys(cv, v, path, since ? k_since : k_before, NULL))
			return false;
		buf_str(&cv->out, since ? "SINCE " : "BEFORE ");
		return conv_point(cv, get(v, since ? "from" : "to"), sub_path(cv, path, since ? "from" : "to", 0));
	}
	return shape_error(cv, sub_path(cv, path, "type", 0), hint, "unknown window type \"%s\"", clip(cv, type));
}

/* The values array of a predicate, with between min and max items. */
static const JVal *
get_values(Conv *cv, const JVal *obj, const char *path, int min, int max, const char *op)
{
	const JVal *v = get(obj, "values");

	if (v == NULL || v->kind != J_ARRAY)
	{
		shape_error(cv, path, NULL, "\"values\" must be an array for operator \"%s\"", op);
		return NULL;
	}
	if (v->n < min || v->n > max)
	{
		if (min == max)
			shape_error(cv, sub_path(cv, path, "values", 0), NULL, "operator \"%s\" takes %d value%s",
						op, min, min == 1 ? "" : "s");
		else
			shape_error(cv, sub_path(cv, path, "values", 0), NULL, "operator \"%s\" takes at least %d value",
						op, min);
		return NULL;
	}
	return v;
}

static bool
conv_values(Conv *cv, const JVal *values, const char *path, const char *sep)
{
	int			i;
	char	   *vpath = sub_path(cv, path, "values", 0);

	for (i = 0; i < values->n; i++)
	{
		if (i > 0)
			buf_str(&cv->out, sep);
		if (!conv_literal(cv, values->items[i], sub_path(cv, vpath, NULL, i)))
			return false;
	}
	return true;
}

/*
 * "operator": "[not ]in top|bottom", "values": [n], optional "percent":
 * true and "among": "segment".
 */
static bool
conv_rank(Conv *cv, const JVal *obj, const char *path, const char *op)
{
	const char *which = op + (op[0] == 'n' ? 7 : 3);
	const JVal *values;
	const JVal *n;
	const JVal *percent = get(obj, "percent");
	const JVal *among = get_string(cv, obj, path, "among", false);

	if (strcmp(which, "top") != 0 && strcmp(which, "bottom") != 0)
		return shape_error(cv, sub_path(cv, path, "operator", 0), RANK_OPERATORS_HINT,
						   "unknown operator \"%s\"", clip(cv, op));
	if (cv->failed || (values = get_values(cv, obj, path, 1, 1, op)) == NULL)
		return false;
	n = values->items[0];
	if (n->kind != J_NUMBER && !(n->kind == J_OBJECT && get(n, "number")))
		return shape_error(cv, sub_path(cv, sub_path(cv, path, "values", 0), NULL, 0), NULL,
						   "operator \"%s\" takes a number", op);
	if (percent && percent->kind != J_TRUE && percent->kind != J_FALSE)
		return shape_error(cv, sub_path(cv, path, "percent", 0), NULL, "must be true or false");
	buf_str(&cv->out, op[0] == 'n' ? " NOT IN " : " IN ");
	buf_str(&cv->out, which[0] == 't' ? "TOP " : "BOTTOM ");
	if (!conv_values(cv, values, path, ""))
		return false;
	if (percent && percent->kind == J_TRUE)
		buf_str(&cv->out, " PERCENT");
	if (among)
	{
		buf_str(&cv->out, " AMONG SEGMENT ");
		buf_quoted(&cv->out, among->text, among->len, '\'');
	}
	return true;
}

/* lhs <operator> <values|window>: the comparison part of a predicate. */
static bool
conv_operator(Conv *cv, const JVal *obj, const char *path)
{
	static const char *const cmp[] = {"=", "<>", "!=", "<", "<=", ">", ">=", NULL};
	static const char *const hint =
		"Operators: = <> < <= > >= in, not in, between, not between, like, not like, is null, is not null, during, not during, in top, not in top, in bottom, not in bottom.";
	const JVal *opv = get_string(cv, obj, path, "operator", true);
	const JVal *values;
	const char *op;
	int			k;

	if (opv == NULL)
		return false;
	op = opv->text;
	if (strncmp(op, "in ", 3) == 0 || strncmp(op, "not in ", 7) == 0)
		return conv_rank(cv, obj, path, op);
	if (get(obj, "percent") || get(obj, "among"))
		return shape_error(cv, path, "\"percent\" and \"among\" go with the operators in top, not in top, in bottom and not in bottom.",
						   "unknown key \"%s\" for operator \"%s\"",
						   get(obj, "percent") ? "percent" : "among", clip(cv, op));
	for (k = 0; cmp[k]; k++)
		if (strcmp(op, cmp[k]) == 0)
		{
			if ((values = get_values(cv, obj, path, 1, 1, op)) == NULL)
				return false;
			buf_put(&cv->out, " ", 1);
			buf_str(&cv->out, op);
			buf_put(&cv->out, " ", 1);
			return conv_values(cv, values, path, "");
		}
	if (strcmp(op, "in") == 0 || strcmp(op, "not in") == 0)
	{
		if ((values = get_values(cv, obj, path, 0, RULE_MAX_IN_LIST + 1, op)) == NULL)
			return false;
		buf_str(&cv->out, op[0] == 'n' ? " NOT IN (" : " IN (");
		if (!conv_values(cv, values, path, ", "))
			return false;
		buf_put(&cv->out, ")", 1);
		return true;
	}
	if (strcmp(op, "between") == 0 || strcmp(op, "not between") == 0)
	{
		if ((values = get_values(cv, obj, path, 2, 2, op)) == NULL)
			return false;
		buf_str(&cv->out, op[0] == 'n' ? " NOT BETWEEN " : " BETWEEN ");
		return conv_values(cv, values, path, " AND ");
	}
	if (strcmp(op, "like") == 0 || strcmp(op, "not like") == 0)
	{
		if ((values = get_values(cv, obj, path, 1, 1, op)) == NULL)
			return false;
		buf_str(&cv->out, op[0] == 'n' ? " NOT LIKE " : " LIKE ");
		return conv_values(cv, values, path, "");
	}
	if (strcmp(op, "is null") == 0 || strcmp(op, "is not null") == 0)
	{
		if ((values = get(obj, "values")) != NULL && (values->kind != J_ARRAY || values->n > 0))
			return shape_error(cv, sub_path(cv, path, "values", 0), NULL, "operator \"%s\" takes no values", op);
		buf_str(&cv->out, strcmp(op, "is null") == 0 ? " IS NULL" : " IS NOT NULL");
		return true;
	}
	if (strcmp(op, "during") == 0 || strcmp(op, "not during") == 0)
	{
		/* the window is the one value (an aggregate's "window" is its own) */
		if ((values = get_values(cv, obj, path, 1, 1, op)) == NULL)
			return false;
		buf_str(&cv->out, op[0] == 'n' ? " NOT DURING " : " DURING ");
		return conv_window(cv, values->items[0], sub_path(cv, sub_path(cv, path, "values", 0), NULL, 0));
	}
	return shape_error(cv, sub_path(cv, path, "operator", 0), hint, "unknown operator \"%s\"", clip(cv, op));
}

/* " WHERE (filter)" and " DURING window" when present. */
static bool
conv_filter_window(Conv *cv, const JVal *obj, const char *path)
{
	const JVal *f = get(obj, "filter");
	const JVal *w = get(obj, "window");

	if (f)
	{
		/* no parentheses, as the printer writes it: they would count as nesting */
		buf_str(&cv->out, " WHERE ");
		if (!conv_node(cv, f, sub_path(cv, path, "filter", 0), true, PREC_ANY))
			return false;
	}
	if (w)
	{
		buf_str(&cv->out, " DURING ");
		if (!conv_window(cv, w, sub_path(cv, path, "window", 0)))
			return false;
	}
	return true;
}

static bool
conv_group(Conv *cv, const JVal *v, const char *path, bool filter, int need)
{
	static const char *const keys[] = {"group", "conditions", NULL};
	const JVal *g = get_string(cv, v, path, "group", true);
	const JVal *conds = get(v, "conditions");
	char	   *cpath = sub_path(cv, path, "conditions", 0);
	bool		and;
	int			i;

	if (g == NULL || !check_keys(cv, v, path, keys, NULL))
		return false;
	if (strcmp(g->text, "and") != 0 && strcmp(g->text, "or") != 0)
		return shape_error(cv, sub_path(cv, path, "group", 0), "A group is \"and\" or \"or\".",
						   "unknown group \"%s\"", clip(cv, g->text));
	and = g->text[0] == 'a';
	if (conds == NULL || conds->kind != J_ARRAY || conds->n == 0)
		return shape_error(cv, cpath, NULL, "must be a non-empty array of conditions");
	/* parentheses only where the printer puts them (they count as nesting) */
	if ((and ? PREC_AND : PREC_OR) < need)
		buf_put(&cv->out, "(", 1);
	for (i = 0; i < conds->n; i++)
	{
		if (i > 0)
			buf_str(&cv->out, and ? " AND " : " OR ");
		/* a child of the same kind needs none: the parser flattens it */
		if (!conv_node(cv, conds->items[i], sub_path(cv, cpath, NULL, i), filter, and ? PREC_AND : PREC_OR))
			return false;
	}
	if ((and ? PREC_AND : PREC_OR) < need)
		buf_put(&cv->out, ")", 1);
	return true;
}

static bool
conv_aggregate(Conv *cv, const JVal *v, const char *path)
{
	static const char *const keys[] = {"type", "function", "source", "field", "filter", "window",
	"operator", "values", "percent", "among", NULL};
	static const char *const funcs[] = {"count", "sum", "avg", "min", "max", "count_distinct",
	"first", "last", "mode", "active_days", "active_weeks", "active_months", NULL};
	const JVal *fn = get_string(cv, v, path, "function", true);
	const JVal *src = fn ? get_string(cv, v, path, "source", true) : NULL;
	const JVal *field = src ? get_string(cv, v, path, "field", false) : NULL;
	int			k;

	if (src == NULL || cv->failed || !check_keys(cv, v, path, keys, NULL))
		return false;
	for (k = 0; funcs[k]; k++)
		if (strcmp(fn->text, funcs[k]) == 0)
			break;
	if (!funcs[k])
		return shape_error(cv, sub_path(cv, path, "function", 0),
						   "Functions: count, sum, avg, min, max, count_distinct, first, last, mode, active_days, active_weeks, active_months.",
						   "unknown function \"%s\"", clip(cv, fn->text));
	buf_str(&cv->out, funcs[k]);
	buf_put(&cv->out, "(", 1);
	put_ident(cv, src);
	if (field)
	{
		buf_put(&cv->out, ".", 1);
		put_ident(cv, field);
	}
	if (!conv_filter_window(cv, v, path))
		return false;
	buf_put(&cv->out, ")", 1);
	return conv_operator(cv, v, path);
}

/* {"type": "exists", "source", "filter", "window"}, alone or as a step. */
static bool
conv_exists(Conv *cv, const JVal *v, const char *path)
{
	static const char *const k_exists[] = {"type", "source", "filter", "window", NULL};
	const JVal *s;

	if (!check_keys(cv, v, path, k_exists, NULL) || (s = get_string(cv, v, path, "source", true)) == NULL)
		return false;
	buf_str(&cv->out, "EXISTS ");
	put_ident(cv, s);
	return conv_filter_window(cv, v, path);
}

/* One step: an exists condition, or {"not": exists} after the first. */
static bool
conv_step(Conv *cv, const JVal *v, const char *path, int index)
{
	static const char *const hint =
		"A step is {\"type\": \"exists\", \"source\": ..., \"filter\": ..., \"window\": ...}, after the first also {\"not\": {...}}.";
	static const char *const k_not[] = {"not", NULL};
	const JVal *t;

	if (v->kind != J_OBJECT)
		return shape_error(cv, path, hint, "a step must be an object");
	if (index > 0)
		buf_str(&cv->out, " THEN ");
	if (get(v, "not") && !get(v, "type"))
	{
		if (index == 0)
			return shape_error(cv, path, "A sequence starts with an event that happened; put {\"not\": ...} around the whole sequence for customers without it.",
							   "the first step of a sequence cannot be negated");
		if (!check_keys(cv, v, path, k_not, hint))
			return false;
		buf_str(&cv->out, "NOT ");
		path = sub_path(cv, path, "not", 0);
		v = get(v, "not");
		if (v->kind != J_OBJECT)
			return shape_error(cv, path, hint, "a step must be an object");
	}
	if ((t = get_string(cv, v, path, "type", true)) == NULL)
		return false;
	if (strcmp(t->text, "exists") != 0)
		return shape_error(cv, sub_path(cv, path, "type", 0), hint,
						   "a step must be an exists condition, not \"%s\"", clip(cv, t->text));
	return conv_exists(cv, v, path);
}

/* {"type": "sequence", "steps": [...], "within": {"count", "unit"}} */
static bool
conv_sequence(Conv *cv, const JVal *v, const char *path)
{
	static const char *const keys[] = {"type", "steps", "within", NULL};
	static const char *const k_within[] = {"count", "unit", NULL};
	const JVal *steps = get(v, "steps");
	const JVal *within = get(v, "within");
	char	   *spath = sub_path(cv, path, "steps", 0);
	const JVal *unit;
	int			i;

	if (!check_keys(cv, v, path, keys, NULL))
		return false;
	if (steps == NULL || steps->kind != J_ARRAY || steps->n < 2)
		return shape_error(cv, spath, NULL, "must be an array of at least two steps");
	for (i = 0; i < steps->n; i++)
		if (!conv_step(cv, steps->items[i], sub_path(cv, spath, NULL, i), i))
			return false;
	if (within == NULL)
		return true;
	path = sub_path(cv, path, "within", 0);
	if (within->kind != J_OBJECT)
		return shape_error(cv, path, NULL, "must be an object {\"count\": n, \"unit\": \"day\"}");
	if (!check_keys(cv, within, path, k_within, NULL))
		return false;
	buf_str(&cv->out, " WITHIN ");
	if (!put_whole_number(cv, within, path, "count"))
		return false;
	buf_put(&cv->out, " ", 1);
	return (unit = get_string(cv, within, path, "unit", true)) != NULL &&
		put_word(cv, unit, sub_path(cv, path, "unit", 0));
}

/* One condition of the rule (or of a filter, where conditions are on fields). */
static bool
conv_node(Conv *cv, const JVal *v, const char *path, bool filter, int need)
{
	static const char *const hint =
		"Condition types: attribute, aggregate, exists, sequence, tag, segment, snapshot; or {\"group\": ...} / {\"not\": ...}.";
	static const char *const k_not[] = {"not", NULL};
	static const char *const k_field[] = {"field", "operator", "values", NULL};
	static const char *const k_attr[] = {"type", "field", "operator", "values", "percent", "among", NULL};
	static const char *const k_tag[] = {"type", "group", "operator", "values", NULL};
	static const char *const k_segment[] = {"type", "name", NULL};
	static const char *const k_snapshot[] = {"type", "label", NULL};
	const JVal *t;
	const JVal *s;

	if (v->kind != J_OBJECT)
		return shape_error(cv, path, hint, "a condition must be an object");
	if (get(v, "group") && !get(v, "type"))
		return conv_group(cv, v, path, filter, need);
	if (get(v, "not"))
	{
		if (!check_keys(cv, v, path, k_not, NULL))
			return false;
		buf_str(&cv->out, "NOT ");
		return conv_node(cv, get(v, "not"), sub_path(cv, path, "not", 0), filter, PREC_NOT);
	}
	if (filter)
	{
		if (!check_keys(cv, v, path, k_field, "A filter condition is {\"field\", \"operator\", \"values\"}.") ||
			(s = get_string(cv, v, path, "field", true)) == NULL)
			return false;
		put_ident(cv, s);
		return conv_operator(cv, v, path);
	}
	if ((t = get_string(cv, v, path, "type", true)) == NULL)
		return false;
	if (strcmp(t->text, "attribute") == 0)
	{
		if (!check_keys(cv, v, path, k_attr, NULL) || (s = get_string(cv, v, path, "field", true)) == NULL)
			return false;
		buf_str(&cv->out, "customer.");
		put_ident(cv, s);
		return conv_operator(cv, v, path);
	}
	if (strcmp(t->text, "aggregate") == 0)
		return conv_aggregate(cv, v, path);
	if (strcmp(t->text, "exists") == 0)
		return conv_exists(cv, v, path);
	if (strcmp(t->text, "sequence") == 0)
		return conv_sequence(cv, v, path);
	if (strcmp(t->text, "tag") == 0)
	{
		const JVal *op;

		if (!check_keys(cv, v, path, k_tag, NULL) || (s = get_string(cv, v, path, "group", true)) == NULL ||
			(op = get_string(cv, v, path, "operator", true)) == NULL)
			return false;
		buf_str(&cv->out, "TAG ");
		buf_quoted(&cv->out, s->text, s->len, '\'');
		if (strcmp(op->text, "is empty") == 0 || strcmp(op->text, "is not empty") == 0)
		{
			if (get(v, "values") && (get(v, "values")->kind != J_ARRAY || get(v, "values")->n > 0))
				return shape_error(cv, sub_path(cv, path, "values", 0), NULL, "operator \"%s\" takes no values", op->text);
			buf_str(&cv->out, op->text[3] == 'n' ? " IS NOT EMPTY" : " IS EMPTY");
			return true;
		}
		if (strcmp(op->text, "in") != 0 && strcmp(op->text, "not in") != 0)
			return shape_error(cv, sub_path(cv, path, "operator", 0),
							   "Tag operators: in, not in, is empty, is not empty.",
							   "unknown tag operator \"%s\"", clip(cv, op->text));
		return conv_operator(cv, v, path);
	}
	if (strcmp(t->text, "segment") == 0)
	{
		if (!check_keys(cv, v, path, k_segment, NULL) || (s = get_string(cv, v, path, "name", true)) == NULL)
			return false;
		buf_str(&cv->out, "IN SEGMENT ");
		buf_quoted(&cv->out, s->text, s->len, '\'');
		return true;
	}
	if (strcmp(t->text, "snapshot") == 0)
	{
		if (!check_keys(cv, v, path, k_snapshot, NULL) || (s = get_string(cv, v, path, "label", true)) == NULL)
			return false;
		buf_str(&cv->out, "IN SNAPSHOT ");
		buf_quoted(&cv->out, s->text, s->len, '\'');
		return true;
	}
	return shape_error(cv, sub_path(cv, path, "type", 0), hint, "unknown condition type \"%s\"", clip(cv, t->text));
}

RuleNode *
rule_from_json(const char *json, size_t len, RuleArena *arena, RuleError *err)
{
	Reader		r;
	Conv		cv;
	JVal	   *root;
	size_t		bad,
				badlen;

	if (len > RULE_JSON_MAX_LEN)
	{
		rule_error_set(err, RULE_ERR_LIMIT, 0, "rule JSON exceeds the maximum length of %d bytes",
					   RULE_JSON_MAX_LEN);
		return NULL;
	}
	if (!rule_utf8_valid(json, len, &bad, &badlen))
	{
		rule_error_set(err, RULE_ERR_ENCODING, 0,
					   "invalid byte sequence for encoding \"UTF8\" in rule JSON at byte %zu", bad + 1);
		return NULL;
	}
	memset(&r, 0, sizeof(r));
	r.s = json;
	r.len = len;
	r.arena = arena;
	r.err = err;
	root = read_value(&r);
	if (root != NULL)
	{
		skip_ws(&r);
		if (r.i < r.len)
			read_error(&r, "unexpected text after the JSON value");
	}
	if (r.failed)
		return NULL;

	memset(&cv, 0, sizeof(cv));
	buf_init(&cv.out, arena);
	cv.err = err;
	if (!conv_node(&cv, root, "$", false, PREC_ANY))
		return NULL;
	if (cv.out.oom)
	{
		rule_error_set(err, RULE_ERR_OUT_OF_MEMORY, 0, "out of memory");
		return NULL;
	}
	root = NULL;
	{
		RuleNode   *rule = rule_parse(cv.out.data, cv.out.len, arena, err);

		/* a position in the generated text would mislead: the JSON has none */
		if (rule == NULL && err != NULL)
			err->position = 0;
		return rule;
	}
}

/* ---------------------------------------------------------------------
 * Tree -> canonical JSON
 * ---------------------------------------------------------------------
 */

/* A JSON string: quotes, escapes for " \ and control characters. */
static void
put_json_string(Buf *b, const char *s)
{
	const char *start = s;

	buf_put(b, "\"", 1);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_put(b, start, s - start);
		if (c == '"' || c == '\\')
		{
			buf_put(b, "\\", 1);
			buf_put(b, s, 1);
		}
		else
		{
			char		esc[8];

			snprintf(esc, sizeof(esc), "\\u%04x", c);
			buf_str(b, esc);
		}
		start = s + 1;
	}
	buf_put(b, start, s - start);
	buf_put(b, "\"", 1);
}

/* ,"key": */
static void
put_key(Buf *b, const char *key, bool first)
{
	if (!first)
		buf_put(b, ",", 1);
	put_json_string(b, key);
	buf_put(b, ":", 1);
}

static void write_node(Buf *b, const RuleNode *n);

static void
write_moment(Buf *b, const RuleMoment *m)
{
	switch (m->kind)
	{
		case RULE_MOMENT_AGO:
			buf_str(b, "{\"ago\":");
			buf_int(b, m->count);
			buf_str(b, ",\"unit\":");
			put_json_string(b, rule_unit_name(m->unit, false));
			buf_put(b, "}", 1);
			break;
		case RULE_MOMENT_NOW:
			buf_str(b, "{\"moment\":\"now\"}");
			break;
		case RULE_MOMENT_TODAY:
			buf_str(b, "{\"moment\":\"today\"}");
			break;
		case RULE_MOMENT_DATETIME:
			put_json_string(b, m->text);
			break;
	}
}

static void
write_window(Buf *b, const RuleWindow *w)
{
	static const char *const names[] = {NULL, "last", "past", "today", "yesterday", "this",
	"previous", "between", "since", "before"};

	buf_str(b, "{\"type\":");
	put_json_string(b, names[w->kind]);
	switch (w->kind)
	{
		case RULE_WINDOW_LAST:
			buf_str(b, ",\"count\":");
			buf_int(b, w->n);
			break;
		case RULE_WINDOW_PAST:
			buf_str(b, ",\"from\":");
			buf_int(b, w->n);
			buf_str(b, ",\"to\":");
			buf_int(b, w->m);
			break;
		case RULE_WINDOW_BETWEEN:
		case RULE_WINDOW_SINCE:
			buf_str(b, ",\"from\":");
			write_moment(b, &w->from);
			if (w->kind == RULE_WINDOW_BETWEEN)
			{
				buf_str(b, ",\"to\":");
				write_moment(b, &w->to);
			}
			break;
		case RULE_WINDOW_BEFORE:
			buf_str(b, ",\"to\":");
			write_moment(b, &w->to);
			break;
		default:
			break;
	}
	if (w->kind == RULE_WINDOW_LAST || w->kind == RULE_WINDOW_PAST ||
		w->kind == RULE_WINDOW_THIS || w->kind == RULE_WINDOW_PREVIOUS)
	{
		buf_str(b, ",\"unit\":");
		put_json_string(b, rule_unit_name(w->unit, false));
	}
	buf_put(b, "}", 1);
}

static void
write_literal(Buf *b, const RuleLiteral *lit)
{
	switch (lit->kind)
	{
		case RULE_LIT_STRING:
			put_json_string(b, lit->text);
			break;
		case RULE_LIT_NUMBER:
			/* numbers JSON cannot spell as written (1., .5, +1) stay text */
			if (json_number_len(lit->text, strlen(lit->text)) == strlen(lit->text))
				buf_str(b, lit->text);
			else
			{
				buf_str(b, "{\"number\":");
				put_json_string(b, lit->text);
				buf_put(b, "}", 1);
			}
			break;
		case RULE_LIT_BOOL:
			buf_str(b, lit->boolval ? "true" : "false");
			break;
		case RULE_LIT_MOMENT:
			write_moment(b, &lit->moment);
			break;
		case RULE_LIT_PREV:
			buf_str(b, "{\"prev\":");
			put_json_string(b, lit->text);
			buf_put(b, "}", 1);
			break;
	}
}

static void
write_values(Buf *b, const RuleLiteral *args, int n)
{
	int			i;

	buf_str(b, ",\"values\":[");
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			buf_put(b, ",", 1);
		write_literal(b, &args[i]);
	}
	buf_put(b, "]", 1);
}

/* "operator" and "values" / "window" of a predicate. */
static void
write_operator(Buf *b, const RuleNode *n)
{
	const char *op;

	switch (n->kind)
	{
		case RULE_CMP:
			op = rule_op_name(n->op);
			break;
		case RULE_IN:
		case RULE_TAG_IN:
			op = n->negated ? "not in" : "in";
			break;
		case RULE_BETWEEN:
			op = n->negated ? "not between" : "between";
			break;
		case RULE_LIKE:
			op = n->negated ? "not like" : "like";
			break;
		case RULE_IS_NULL:
			op = n->negated ? "is not null" : "is null";
			break;
		case RULE_TAG_EMPTY:
			op = n->negated ? "is not empty" : "is empty";
			break;
		case RULE_RANK:
			op = n->rank->top ? (n->negated ? "not in top" : "in top") :
				(n->negated ? "not in bottom" : "in bottom");
			break;
		default:
			op = n->negated ? "not during" : "during";
			break;
	}
	put_key(b, "operator", false);
	put_json_string(b, op);
	if (n->kind == RULE_DURING)
	{
		buf_str(b, ",\"values\":[");
		write_window(b, n->window);
		buf_put(b, "]", 1);
	}
	else if (n->kind == RULE_RANK)
	{
		RuleLiteral size;

		/* the size is a number as written: {"number": "007"} if JSON can't */
		memset(&size, 0, sizeof(size));
		size.kind = RULE_LIT_NUMBER;
		size.text = n->rank->n;
		write_values(b, &size, 1);
		if (n->rank->percent)
			buf_str(b, ",\"percent\":true");
		if (n->name)
		{
			put_key(b, "among", false);
			put_json_string(b, n->name);
		}
	}
	else if (n->kind != RULE_IS_NULL && n->kind != RULE_TAG_EMPTY)
		write_values(b, n->args, n->nargs);
}

/* "filter" and "window" of an aggregate or EXISTS, when present. */
static void
write_filter_window(Buf *b, const RuleNode *filter, const RuleWindow *window)
{
	if (filter)
	{
		put_key(b, "filter", false);
		write_node(b, filter);
	}
	if (window)
	{
		put_key(b, "window", false);
		write_window(b, window);
	}
}

static void
write_predicate(Buf *b, const RuleNode *n)
{
	const RuleValue *v = n->value;

	buf_put(b, "{", 1);
	switch (v->kind)
	{
		case RULE_VALUE_CUSTOMER:
			buf_str(b, "\"type\":\"attribute\"");
			put_key(b, "field", false);
			put_json_string(b, v->column);
			break;
		case RULE_VALUE_FIELD:
			put_key(b, "field", true);
			put_json_string(b, v->column);
			break;
		case RULE_VALUE_AGG:
			buf_str(b, "\"type\":\"aggregate\"");
			put_key(b, "function", false);
			put_json_string(b, rule_agg_name(v->agg));
			put_key(b, "source", false);
			put_json_string(b, v->source);
			if (v->column)
			{
				put_key(b, "field", false);
				put_json_string(b, v->column);
			}
			write_filter_window(b, v->filter, v->window);
			break;
	}
	write_operator(b, n);
	buf_put(b, "}", 1);
}

static void
write_exists(Buf *b, const RuleNode *n)
{
	buf_str(b, "{\"type\":\"exists\",\"source\":");
	put_json_string(b, n->name);
	write_filter_window(b, n->filter, n->window);
	buf_put(b, "}", 1);
}

/* Steps as exists conditions, {"not": ...} for THEN NOT, then "within". */
static void
write_sequence(Buf *b, const RuleNode *n)
{
	int			i;

	buf_str(b, "{\"type\":\"sequence\",\"steps\":[");
	for (i = 0; i < n->nchildren; i++)
	{
		if (i > 0)
			buf_put(b, ",", 1);
		if (n->children[i]->negated)
			buf_str(b, "{\"not\":");
		write_exists(b, n->children[i]);
		if (n->children[i]->negated)
			buf_put(b, "}", 1);
	}
	buf_put(b, "]", 1);
	if (n->within)
	{
		buf_str(b, ",\"within\":{\"count\":");
		buf_int(b, n->within->n);
		buf_str(b, ",\"unit\":");
		put_json_string(b, rule_unit_name(n->within->unit, false));
		buf_put(b, "}", 1);
	}
	buf_put(b, "}", 1);
}

static void
write_node(Buf *b, const RuleNode *n)
{
	int			i;

	switch (n->kind)
	{
		case RULE_AND:
		case RULE_OR:
			buf_str(b, n->kind == RULE_AND ? "{\"group\":\"and\",\"conditions\":["
					: "{\"group\":\"or\",\"conditions\":[");
			for (i = 0; i < n->nchildren; i++)
			{
				if (i > 0)
					buf_put(b, ",", 1);
				write_node(b, n->children[i]);
			}
			buf_str(b, "]}");
			break;
		case RULE_NOT:
			buf_str(b, "{\"not\":");
			write_node(b, n->children[0]);
			buf_put(b, "}", 1);
			break;
		case RULE_TAG_IN:
		case RULE_TAG_EMPTY:
			buf_str(b, "{\"type\":\"tag\",\"group\":");
			put_json_string(b, n->name);
			write_operator(b, n);
			buf_put(b, "}", 1);
			break;
		case RULE_EXISTS:
			write_exists(b, n);
			break;
		case RULE_SEQUENCE:
			write_sequence(b, n);
			break;
		case RULE_IN_SEGMENT:
			buf_str(b, "{\"type\":\"segment\",\"name\":");
			put_json_string(b, n->name);
			buf_put(b, "}", 1);
			break;
		case RULE_IN_SNAPSHOT:
			buf_str(b, "{\"type\":\"snapshot\",\"label\":");
			put_json_string(b, n->name);
			buf_put(b, "}", 1);
			break;
		default:
			write_predicate(b, n);
	}
}

char *
rule_to_json(const RuleNode *rule, RuleArena *arena, size_t *len)
{
	Buf			b;

	buf_init(&b, arena);
	write_node(&b, rule);
	if (b.oom)
		return NULL;
	if (len)
		*len = b.len;
	return b.data;
}
