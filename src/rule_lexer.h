/*
 * rule_lexer.h
 *		Tokens of the segment_rule language.
 *
 * The lexer works on demand with unbounded lookahead (the parser peeks
 * past NOT and '(' to see where a WHERE filter ends).  Tokens keep their
 * byte extent in the input for "at or near" messages.
 *
 * Words are not classified: a plain word is a RULE_TOK_IDENT whose text is
 * folded to lower case (ASCII only, as PostgreSQL folds identifiers in
 * UTF-8), and the parser decides from context whether it is a keyword.
 * A double-quoted identifier is RULE_TOK_QIDENT and never a keyword.
 * There are no comments in the language.
 */
#ifndef RULE_LEXER_H
#define RULE_LEXER_H

#include <stdbool.h>
#include <stddef.h>

#include "rule_ast.h"

typedef enum RuleTokenKind
{
	RULE_TOK_EOF = 0,
	RULE_TOK_IDENT,				/* plain word, folded */
	RULE_TOK_QIDENT,			/* "quoted identifier", "" undone */
	RULE_TOK_STRING,			/* 'string', '' undone */
	RULE_TOK_NUMBER,			/* -?digits[.digits][e[+-]digits], verbatim */
	RULE_TOK_LPAREN,
	RULE_TOK_RPAREN,
	RULE_TOK_COMMA,
	RULE_TOK_DOT,
	RULE_TOK_OP					/* comparison operator, see op */
} RuleTokenKind;

typedef struct RuleToken
{
	RuleTokenKind kind;
	int			start;			/* byte offset in the input */
	int			len;			/* bytes of input the token spans */
	const char *text;			/* IDENT, QIDENT, STRING, NUMBER */
	RuleCmpOp	op;				/* OP */
} RuleToken;

typedef struct RuleLexer
{
	const char *input;
	int			len;
	int			pos;			/* next byte to lex */
	int			cursor;			/* index of the current token */
	RuleToken  *tokens;			/* lexed so far */
	int			ntokens;
	int			cap;
	bool		done;			/* the EOF token has been lexed */
	RuleArena  *arena;
	RuleError  *err;
} RuleLexer;

/*
 * Checks the input as a whole (RULE_MAX_TEXT_LEN, then valid UTF-8 without
 * NUL bytes) and prepares to lex it.  False with err filled on failure.
 */
extern bool rule_lexer_init(RuleLexer *lx, const char *input, size_t len,
							RuleArena *arena, RuleError *err);

/*
 * The token k places after the current one (k = 0: current).  Past the end
 * it keeps returning the EOF token.  NULL when lexing failed (err filled).
 */
extern const RuleToken *rule_lexer_peek(RuleLexer *lx, int k);

/* Moves past the current token (which must have been peeked). */
extern void rule_lexer_advance(RuleLexer *lx);

/* 1-based character position of a byte offset of the input. */
extern int	rule_lexer_char_position(const RuleLexer *lx, int byte_offset);

/*
 * Checks UTF-8 as PostgreSQL does (no overlong forms, surrogates, values
 * above U+10FFFF or NUL).  On failure sets *bad to the offset of the first
 * bad sequence and *badlen to the bytes PostgreSQL would quote.
 */
extern bool rule_utf8_valid(const char *s, size_t len, size_t *bad,
							size_t *badlen);

/* Does s (len bytes) lex as exactly one number token? */
extern bool rule_lex_is_number(const char *s, size_t len);

/* Is the folded word a reserved keyword (never a bare identifier)? */
extern bool rule_is_reserved_word(const char *word);

/*
 * Can the identifier be printed bare: [a-z_][a-z0-9_]* and not reserved?
 * Otherwise the printer double-quotes it.
 */
extern bool rule_ident_is_plain(const char *ident);

#endif							/* RULE_LEXER_H */
