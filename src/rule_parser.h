/*
 * rule_parser.h
 *		Parser of the segment_rule language (SPEC section 3).
 *
 *	rule	  := term (OR term)*
 *	term	  := factor (AND factor)*
 *	factor	  := NOT factor | '(' rule ')' | predicate
 *	predicate := value cmp literal | value [NOT] IN (literal, ...)
 *			   | value IS [NOT] NULL | value [NOT] BETWEEN literal AND literal
 *			   | value [NOT] LIKE 'pattern' | value [NOT] DURING window
 *			   | TAG 'group' [NOT] IN ('value', ...) | TAG 'group' IS [NOT] EMPTY
 *			   | EXISTS source [WHERE filter] [DURING window]
 *			   | IN SEGMENT 'name'
 *	value	  := customer.column
 *			   | agg '(' source[.column] [WHERE filter] [DURING window] ')'
 *	agg		  := count | sum | avg | min | max | count_distinct
 *	cmp		  := = | <> | != | < | <= | > | >=
 *	literal   := 'string' | number | true | false | moment
 *	window	  := LAST n unit | PAST n TO m unit | TODAY | YESTERDAY
 *			   | THIS (week|month|year) | PREVIOUS (week|month|year)
 *			   | BETWEEN 'date-or-timestamp' AND 'date-or-timestamp'
 *			   | SINCE moment | BEFORE moment
 *	moment	  := n unit AGO | NOW | TODAY | 'date-or-timestamp'
 *	unit	  := minute[s] | hour[s] | day[s] | week[s] | month[s] | year[s]
 *
 * Details the grammar leaves open:
 *
 * - Keywords are case-insensitive.  Reserved words (and, between, during,
 *	 exists, false, in, is, like, not, null, or, tag, true, where) must be
 *	 double-quoted to serve as identifiers; other keywords (count, last,
 *	 year, customer, ...) work bare wherever a name is expected.
 * - A filter is a boolean expression over the source's columns (column cmp
 *	 literal, [NOT] IN, IS [NOT] NULL, [NOT] BETWEEN, [NOT] LIKE, AND, OR,
 *	 NOT, parentheses); columns are bare or qualified by the source's own
 *	 name.  It ends at DURING, at ')' or at an AND/OR whose right side
 *	 starts (after any NOT and '(') a rule predicate: customer.column, an
 *	 aggregate call, TAG, EXISTS or IN SEGMENT.  So
 *	 "EXISTS order_lines WHERE sku = 'A' AND NOT EXISTS order_lines WHERE
 *	 sku = 'B'" is two EXISTS predicates.
 * - Moments are literals only after a comparison operator or in BETWEEN;
 *	 IN lists take strings, numbers and booleans.  A quoted string after an
 *	 operator stays a string literal.
 * - Only count() may omit the column; DURING applies to customer columns
 *	 and min()/max() (put other windows inside the aggregate).
 * - Window and AGO counts are whole numbers 0 .. RULE_MAX_WINDOW_COUNT;
 *	 PAST n TO m needs n <= m; BETWEEN needs start <= end when both
 *	 literals have an offset or neither has (otherwise the zone decides).
 * - "NOT EXISTS x" parses as a RULE_NOT around the EXISTS; "(a AND b)
 *	 AND c" is flattened to one AND; redundant parentheses vanish.
 *
 * Both functions return NULL and fill err (see rule_error.h) on any error;
 * the tree is allocated in arena.  err may be NULL.
 */
#ifndef RULE_PARSER_H
#define RULE_PARSER_H

#include <stddef.h>

#include "rule_ast.h"

/* Parses a whole rule (len bytes of UTF-8, need not be NUL-terminated). */
extern RuleNode *rule_parse(const char *text, size_t len, RuleArena *arena,
							RuleError *err);

/*
 * Parses a window on its own ("LAST 3 days"), for
 * segment.resolve_window(window text, ...).
 */
extern RuleWindow *rule_parse_window(const char *text, size_t len,
									 RuleArena *arena, RuleError *err);

#endif							/* RULE_PARSER_H */
