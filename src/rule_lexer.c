/*
 * rule_lexer.c
 *		On-demand tokenizer of segment_rule text (see rule_lexer.h).
 */
#include "rule_lexer.h"

#include <stdio.h>
#include <string.h>

/* Longest token text quoted in an "at or near" message, in bytes. */
#define NEAR_MAX_BYTES	96

/* Words that can never be bare identifiers, sorted for the reader. */
static const char *const reserved_words[] = {
	"and", "between", "during", "exists", "false", "in", "is", "like",
	"not", "null", "or", "tag", "true", "where"
};

/* PostgreSQL's ident_start: letters, underscore, any non-ASCII byte. */
static bool
is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		c >= 0x80;
}

/* PostgreSQL's ident_cont: ident_start, digits and dollar. */
static bool
is_ident_cont(unsigned char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* ASCII digits only, independent of the C locale. */
static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* PostgreSQL's whitespace set. */
static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
		c == '\v';
}

/* Bytes PostgreSQL's pg_utf8_mblen assigns to a lead byte. */
static size_t
utf8_seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		return 2;
	if ((c & 0xF0) == 0xE0)
		return 3;
	if ((c & 0xF8) == 0xF0)
		return 4;
	return 1;
}

/* pg_utf8_islegal for one sequence of the given length. */
static bool
utf8_seq_legal(const unsigned char *s, size_t n)
{
	unsigned char a;

	switch (n)
	{
		case 4:
			a = s[3];
			if (a < 0x80 || a > 0xBF)
				return false;
			/* FALLTHROUGH */
		case 3:
			a = s[2];
			if (a < 0x80 || a > 0xBF)
				return false;
			/* FALLTHROUGH */
		case 2:
			a = s[1];
			switch (s[0])
			{
				case 0xE0:
					if (a < 0xA0 || a > 0xBF)
						return false;
					break;
				case 0xED:
					if (a < 0x80 || a > 0x9F)
						return false;
					break;
				case 0xF0:
					if (a < 0x90 || a > 0xBF)
						return false;
					break;
				case 0xF4:
					if (a < 0x80 || a > 0x8F)
						return false;
					break;
				default:
					if (a < 0x80 || a > 0xBF)
						return false;
					break;
			}
			/* FALLTHROUGH */
		case 1:
			a = s[0];
			if (a >= 0x80 && a < 0xC2)
				return false;
			if (a > 0xF4)
				return false;
			break;
		default:
			return false;
	}
	return true;
}

/* Validates a whole buffer as UTF-8, reporting the first bad sequence. */
bool
rule_utf8_valid(const char *str, size_t len, size_t *bad, size_t *badlen)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		i = 0;

	while (i < len)
	{
		size_t		n = utf8_seq_len(s[i]);

		if (s[i] == 0 || n > len - i || !utf8_seq_legal(s + i, n))
		{
			if (bad)
				*bad = i;
			if (badlen)
				*badlen = n > len - i ? len - i : n;
			return false;
		}
		i += n;
	}
	return true;
}

/* Character position, 1-based, of a byte offset in validated input. */
int
rule_lexer_char_position(const RuleLexer *lx, int byte_offset)
{
	int			chars = 0;
	int			i;

	if (byte_offset > lx->len)
		byte_offset = lx->len;
	for (i = 0; i < byte_offset; i++)
		if (((unsigned char) lx->input[i] & 0xC0) != 0x80)
			chars++;
	return chars + 1;
}

/* Reports an error naming the token text as PostgreSQL's lexer does. */
static void
lex_error(RuleLexer *lx, const char *what, int start, int end)
{
	char		near[NEAR_MAX_BYTES + 8];

	rule_error_clip(near, sizeof(near), lx->input + start, end - start,
					NEAR_MAX_BYTES);
	rule_error_set(lx->err, RULE_ERR_SYNTAX,
				   rule_lexer_char_position(lx, start),
				   "%s at or near \"%s\"", what, near);
}

/* Checks the whole input once, so the parser can trust it is UTF-8. */
bool
rule_lexer_init(RuleLexer *lx, const char *input, size_t len,
				RuleArena *arena, RuleError *err)
{
	size_t		bad,
				badlen;

	memset(lx, 0, sizeof(*lx));
	lx->arena = arena;
	lx->err = err;
	if (len > RULE_MAX_TEXT_LEN)
	{
		rule_error_set(err, RULE_ERR_LIMIT, 0,
					   "rule text exceeds the maximum length of %d bytes",
					   RULE_MAX_TEXT_LEN);
		rule_error_detail(err, "The text is %zu bytes long.", len);
		return false;
	}
	lx->input = input;
	lx->len = (int) len;
	if (!rule_utf8_valid(input, len, &bad, &badlen))
	{
		char		bytes[4 * 5 + 1];
		size_t		i;
		int			n = 0;

		for (i = 0; i < badlen; i++)
			n += snprintf(bytes + n, sizeof(bytes) - n, "%s0x%02x",
						  i ? " " : "", (unsigned char) input[bad + i]);
		rule_error_set(err, RULE_ERR_ENCODING,
					   rule_lexer_char_position(lx, (int) bad),
					   "invalid byte sequence for encoding \"UTF8\": %s", bytes);
		return false;
	}
	return true;
}

/* Copies a word folding ASCII upper case, as downcase_identifier does. */
static char *
fold_word(RuleLexer *lx, int start, int end)
{
	char	   *s = rule_arena_strndup(lx->arena, lx->input + start, end - start);
	char	   *p;

	if (s == NULL)
		return NULL;
	for (p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	return s;
}

/*
 * Copies the inside of a quoted token undoing the doubled quote; returns
 * NULL when out of memory.
 */
static char *
unquote(RuleLexer *lx, int start, int end, char q)
{
	char	   *s = rule_arena_alloc(lx->arena, end - start + 1);
	int			n = 0;
	int			i;

	if (s == NULL)
		return NULL;
	for (i = start; i < end; i++)
	{
		s[n++] = lx->input[i];
		if (lx->input[i] == q)
			i++;				/* skip the second quote of a pair */
	}
	s[n] = '\0';
	return s;
}

/*
 * Finds the closing quote of a token starting at pos (the opening quote);
 * returns its offset or -1 when the input ends first.
 */
static int
find_close_quote(const char *in, int len, int pos, char q)
{
	int			i = pos + 1;

	while (i < len)
	{
		if (in[i] == q)
		{
			if (i + 1 < len && in[i + 1] == q)
			{
				i += 2;
				continue;
			}
			return i;
		}
		i++;
	}
	return -1;
}

/*
 * Scans a number at s[0..len) and returns the bytes it spans (0 if none),
 * the same rule for the lexer and for checking stored number literals.
 */
static size_t
scan_number(const char *s, size_t len)
{
	size_t		i = 0;
	size_t		digits = 0;

	if (i < len && s[i] == '-')
		i++;
	while (i < len && is_digit(s[i]))
	{
		i++;
		digits++;
	}
	if (i < len && s[i] == '.')
	{
		size_t		frac = 0;

		if (i + 1 < len && is_digit(s[i + 1]))
			frac = 1;
		if (digits == 0 && frac == 0)
			return 0;
		i++;
		while (i < len && is_digit(s[i]))
		{
			i++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		size_t		j = i + 1;

		if (j < len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < len && is_digit(s[j]))
		{
			while (j < len && is_digit(s[j]))
				j++;
			i = j;
		}
	}
	return i;
}

/* Whole-text check used by the validator for stored number literals. */
bool
rule_lex_is_number(const char *s, size_t len)
{
	return len > 0 && scan_number(s, len) == len;
}

/* Lexes a number; letters glued to it are PostgreSQL 16's trailing junk. */
static bool
lex_number(RuleLexer *lx, RuleToken *t)
{
	int			start = lx->pos;
	int			end = start + (int) scan_number(lx->input + start, lx->len - start);

	if (end < lx->len && is_ident_cont((unsigned char) lx->input[end]))
	{
		int			j = end;

		while (j < lx->len && is_ident_cont((unsigned char) lx->input[j]))
			j++;
		lex_error(lx, "trailing junk after numeric literal", start, j);
		return false;
	}
	t->kind = RULE_TOK_NUMBER;
	t->text = rule_arena_strndup(lx->arena, lx->input + start, end - start);
	lx->pos = end;
	return t->text != NULL;
}

/* Lexes a 'string' or "identifier". */
static bool
lex_quoted(RuleLexer *lx, RuleToken *t, char q)
{
	int			start = lx->pos;
	int			close = find_close_quote(lx->input, lx->len, start, q);

	if (close < 0)
	{
		lex_error(lx, q == '\'' ? "unterminated quoted string" :
				  "unterminated quoted identifier", start, lx->len);
		return false;
	}
	if (q == '"' && close == start + 1)
	{
		lex_error(lx, "zero-length delimited identifier", start, close + 1);
		return false;
	}
	t->kind = q == '\'' ? RULE_TOK_STRING : RULE_TOK_QIDENT;
	t->text = unquote(lx, start + 1, close, q);
	lx->pos = close + 1;
	return t->text != NULL;
}

/* Two-character operators first, so "<=" is not "<" then "=". */
static const struct
{
	const char *text;
	RuleCmpOp	op;
}			operators[] =
{
	{"<>", RULE_OP_NE}, {"!=", RULE_OP_NE}, {"<=", RULE_OP_LE},
	{">=", RULE_OP_GE}, {"<", RULE_OP_LT}, {">", RULE_OP_GT}, {"=", RULE_OP_EQ}
};

/* Lexes a comparison operator; false if the bytes are none of ours. */
static bool
lex_operator(RuleLexer *lx, RuleToken *t)
{
	const char *s = lx->input + lx->pos;
	size_t		rest = (size_t) (lx->len - lx->pos);
	size_t		i;

	for (i = 0; i < sizeof(operators) / sizeof(operators[0]); i++)
	{
		size_t		n = strlen(operators[i].text);

		if (n <= rest && memcmp(s, operators[i].text, n) == 0)
		{
			t->kind = RULE_TOK_OP;
			t->op = operators[i].op;
			lx->pos += (int) n;
			return true;
		}
	}
	return false;
}

/* Lexes the token at lx->pos into t. */
static bool
lex_one(RuleLexer *lx, RuleToken *t)
{
	const char *in = lx->input;
	unsigned char c,
				c1,
				c2;

	while (lx->pos < lx->len && is_space((unsigned char) in[lx->pos]))
		lx->pos++;
	memset(t, 0, sizeof(*t));
	t->start = lx->pos;
	if (lx->pos >= lx->len)
	{
		t->kind = RULE_TOK_EOF;
		lx->done = true;
		return true;
	}
	c = in[lx->pos];
	c1 = lx->pos + 1 < lx->len ? in[lx->pos + 1] : 0;
	c2 = lx->pos + 2 < lx->len ? in[lx->pos + 2] : 0;

	if (is_ident_start(c))
	{
		int			end = lx->pos + 1;

		while (end < lx->len && is_ident_cont((unsigned char) in[end]))
			end++;
		t->kind = RULE_TOK_IDENT;
		t->text = fold_word(lx, lx->pos, end);
		lx->pos = end;
		if (t->text == NULL)
			goto oom;
	}
	else if (c == '"' || c == '\'')
	{
		if (!lex_quoted(lx, t, (char) c))
			goto fail;
	}
	else if (is_digit(c) || (c == '.' && is_digit(c1)) ||
			 (c == '-' && (is_digit(c1) || (c1 == '.' && is_digit(c2)))))
	{
		if (!lex_number(lx, t))
			goto fail;
	}
	else if (c == '(' || c == ')' || c == ',' || c == '.')
	{
		t->kind = c == '(' ? RULE_TOK_LPAREN : c == ')' ? RULE_TOK_RPAREN :
			c == ',' ? RULE_TOK_COMMA : RULE_TOK_DOT;
		lx->pos++;
	}
	else if (!lex_operator(lx, t))
	{
		/* a stray character (one whole UTF-8 character) */
		lex_error(lx, "syntax error", lx->pos,
				  lx->pos + (int) utf8_seq_len(c));
		return false;
	}
	t->len = lx->pos - t->start;
	return true;

fail:
	if (lx->err && lx->err->kind != RULE_ERR_NONE)
		return false;
oom:
	rule_error_set(lx->err, RULE_ERR_OUT_OF_MEMORY, 0, "out of memory");
	return false;
}

/* Appends one more token to the buffer, growing it in the arena. */
static bool
lex_next(RuleLexer *lx)
{
	if (lx->ntokens == lx->cap)
	{
		int			ncap = lx->cap ? lx->cap * 2 : 32;
		RuleToken  *nt = rule_arena_alloc(lx->arena, sizeof(RuleToken) * ncap);

		if (nt == NULL)
		{
			rule_error_set(lx->err, RULE_ERR_OUT_OF_MEMORY, 0, "out of memory");
			return false;
		}
		if (lx->ntokens)
			memcpy(nt, lx->tokens, sizeof(RuleToken) * lx->ntokens);
		lx->tokens = nt;
		lx->cap = ncap;
	}
	if (!lex_one(lx, &lx->tokens[lx->ntokens]))
		return false;
	lx->ntokens++;
	return true;
}

/* Lexes lazily up to the wanted token. */
const RuleToken *
rule_lexer_peek(RuleLexer *lx, int k)
{
	int			want = lx->cursor + k;

	while (lx->ntokens <= want)
	{
		if (lx->done)
			return &lx->tokens[lx->ntokens - 1];	/* EOF repeats */
		if (!lex_next(lx))
			return NULL;
	}
	return &lx->tokens[want];
}

/* Steps to the next token; EOF is sticky. */
void
rule_lexer_advance(RuleLexer *lx)
{
	if (lx->cursor < lx->ntokens &&
		lx->tokens[lx->cursor].kind != RULE_TOK_EOF)
		lx->cursor++;
}

/* Reserved words need quotes wherever an identifier is expected. */
bool
rule_is_reserved_word(const char *word)
{
	size_t		i;

	for (i = 0; i < sizeof(reserved_words) / sizeof(reserved_words[0]); i++)
		if (strcmp(word, reserved_words[i]) == 0)
			return true;
	return false;
}

/* Mirrors quote_identifier's notion of a safe identifier. */
bool
rule_ident_is_plain(const char *ident)
{
	const char *p;

	if (ident[0] == '\0' || !((ident[0] >= 'a' && ident[0] <= 'z') ||
							  ident[0] == '_'))
		return false;
	for (p = ident; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || is_digit(*p) || *p == '_'))
			return false;
	return !rule_is_reserved_word(ident);
}
