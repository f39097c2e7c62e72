/*
 * rule_error.h
 *		Error report of the segment_rule core.  The core never throws: a
 *		failing function returns NULL or false and fills a RuleError, which
 *		the PostgreSQL glue turns into ereport(ERROR, ...).
 *
 * Texts follow PostgreSQL's message style: message lower case without a
 * trailing period (syntax error at or near "xyz"); detail and hint are full
 * sentences.  All three are valid UTF-8 and NUL-terminated (empty when
 * unused); long quoted tokens are cut at a character boundary.
 *
 * position is the 1-based character (not byte) position in the input text
 * of the offending token, as PostgreSQL's errposition() counts; 0 when the
 * error has no position (input too long, binary input).
 */
#ifndef RULE_ERROR_H
#define RULE_ERROR_H

#include <stdarg.h>

/* Suggested SQLSTATEs for the glue in brackets. */
typedef enum RuleErrorKind
{
	RULE_ERR_NONE = 0,
	RULE_ERR_SYNTAX,			/* [42601 syntax_error] */
	RULE_ERR_INVALID_LITERAL,	/* bad date, unit, window numbers
								 * [22023 invalid_parameter_value, or 22008
								 * datetime_field_overflow for dates] */
	RULE_ERR_LIMIT,				/* a documented limit exceeded [54000
								 * program_limit_exceeded] */
	RULE_ERR_ENCODING,			/* input is not valid UTF-8 [22021
								 * character_not_in_repertoire] */
	RULE_ERR_OUT_OF_MEMORY,		/* the arena's allocator failed [53200] */
	RULE_ERR_CORRUPT			/* rule_deserialize/rule_validate rejected a
								 * tree [XX001 data_corrupted] */
} RuleErrorKind;

#define RULE_ERROR_TEXT_LEN 256

typedef struct RuleError
{
	int			kind;			/* a RuleErrorKind */
	int			position;		/* 1-based character position, 0 if none */
	char		message[RULE_ERROR_TEXT_LEN];
	char		detail[RULE_ERROR_TEXT_LEN];
	char		hint[RULE_ERROR_TEXT_LEN];
} RuleError;

/* Empties an error report (kind RULE_ERR_NONE, all texts ""). */
extern void rule_error_clear(RuleError *err);

/*
 * Sets kind, position and message (printf format), clearing detail and
 * hint.  Does nothing when err is NULL or already holds an error, so the
 * first (innermost) error wins.
 */
extern void rule_error_set(RuleError *err, RuleErrorKind kind, int position,
						   const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

/* Sets the detail / hint of the error just set. */
extern void rule_error_detail(RuleError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void rule_error_hint(RuleError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/*
 * Copies at most maxbytes bytes of a UTF-8 token into out (size outsize),
 * cutting at a character boundary and appending "..." when cut, so quoted
 * tokens in messages stay valid UTF-8 and fit.
 */
extern void rule_error_clip(char *out, int outsize, const char *s, int len,
							int maxbytes);

#endif							/* RULE_ERROR_H */
