/*
 * rule_error.c
 *		Filling RuleError reports (see rule_error.h).
 */
#include "rule_error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/*
 * vsnprintf may cut a multibyte character; drop a partial sequence at the
 * end so the text stays valid UTF-8.
 */
static void
trim_partial_utf8(char *s)
{
	size_t		len = strlen(s);
	size_t		start = len;
	int			need;

	while (start > 0 && ((unsigned char) s[start - 1] & 0xC0) == 0x80)
		start--;
	if (start == 0)
		return;
	start--;
	if (((unsigned char) s[start] & 0x80) == 0)
		return;
	if (((unsigned char) s[start] & 0xE0) == 0xC0)
		need = 2;
	else if (((unsigned char) s[start] & 0xF0) == 0xE0)
		need = 3;
	else
		need = 4;
	if (len - start < (size_t) need)
		s[start] = '\0';
}

/* Formats into one of the fixed-size text fields. */
static void format_text(char *dst, const char *fmt, va_list ap)
			__attribute__((format(printf, 2, 0)));

static void
format_text(char *dst, const char *fmt, va_list ap)
{
	vsnprintf(dst, RULE_ERROR_TEXT_LEN, fmt, ap);
	trim_partial_utf8(dst);
}

/* Resets a report so the first rule_error_set() wins. */
void
rule_error_clear(RuleError *err)
{
	if (err == NULL)
		return;
	err->kind = RULE_ERR_NONE;
	err->position = 0;
	err->message[0] = '\0';
	err->detail[0] = '\0';
	err->hint[0] = '\0';
}

/* Records an error unless one is already recorded. */
void
rule_error_set(RuleError *err, RuleErrorKind kind, int position,
			   const char *fmt,...)
{
	va_list		ap;

	if (err == NULL || err->kind != RULE_ERR_NONE)
		return;
	err->kind = kind;
	err->position = position;
	err->detail[0] = '\0';
	err->hint[0] = '\0';
	va_start(ap, fmt);
	format_text(err->message, fmt, ap);
	va_end(ap);
}

/* Adds the detail sentence to the recorded error. */
void
rule_error_detail(RuleError *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	format_text(err->detail, fmt, ap);
	va_end(ap);
}

/* Adds the hint sentence to the recorded error. */
void
rule_error_hint(RuleError *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	format_text(err->hint, fmt, ap);
	va_end(ap);
}

/* Copies a token for quoting in a message, cut at a character boundary. */
void
rule_error_clip(char *out, int outsize, const char *s, int len, int maxbytes)
{
	int			n = len;
	bool		cut = false;

	if (maxbytes > outsize - 4)
		maxbytes = outsize - 4;
	if (maxbytes < 0)
		maxbytes = 0;
	if (n > maxbytes)
	{
		n = maxbytes;
		/* back up over continuation bytes to the start of a character */
		while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
			n--;
		cut = true;
	}
	if (n > 0)
		memcpy(out, s, n);
	if (cut)
	{
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}
