/*
 * rule_parser.h
 *		Parser of the segment_rule language (doc/rules.md).
 *
 *	rule	  := term (OR term)*
 *	term	  := factor (AND factor)*
 *	factor	  := NOT factor | '(' rule ')' | predicate
 *	predicate := value cmp literal | value [NOT] IN (literal, ...)
 *			   | value IS [NOT] NULL | value [NOT] BETWEEN literal AND literal
 *			   | value [NOT] LIKE 'pattern' | value [NOT] DURING window
 *			   | TAG 'group' [NOT] IN ('value', ...) | TAG 'group' IS [NOT] EMPTY
 *			   | exists (THEN [NOT] exists)* [WITHIN n unit]
 *			   | value [NOT] IN (TOP | BOTTOM) n [PERCENT] [AMONG SEGMENT 'name']
 *			   | IN SEGMENT 'name'
 *	exists	  := EXISTS source [WHERE filter] [DURING window]
 *	value	  := customer.column
 *			   | agg '(' source[.column] [WHERE filter] [DURING window] ')'
 *	agg		  := count | sum | avg | min | max | count_distinct
 *			   | first | last | mode | active_days | active_weeks | active_months
 *	cmp		  := = | <> | != | < | <= | > | >=
 *	literal   := 'string' | number | true | false | moment
 *			   | prev.column	(after cmp, in a later sequence step's filter)
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
 *	 year, customer, ...) work bare wherever a name is expected.  The words
 *	 of sequences and ranks (then, within, prev, top, bottom, percent,
 *	 among, first, mode, active_*) are deliberately not reserved, so rules
 *	 stored with such names keep their canonical text: none of them can
 *	 continue what precedes it where it is a keyword (THEN and WITHIN
 *	 after a complete EXISTS, TOP/BOTTOM after IN, prev followed by '.'
 *	 in a literal's place).
 * - A filter is a boolean expression over the source's columns (column cmp
 *	 literal, [NOT] IN, IS [NOT] NULL, [NOT] BETWEEN, [NOT] LIKE, AND, OR,
 *	 NOT, parentheses); columns are bare or qualified by the source's own
 *	 name.  It ends at DURING, at ')' or at an AND/OR whose right side
 *	 starts (after any NOT and '(') a rule predicate: customer.column, an
 *	 aggregate call, TAG, EXISTS or IN SEGMENT.  So
 *	 "EXISTS order_lines WHERE sku = 'A' AND NOT EXISTS order_lines WHERE
 *	 sku = 'B'" is two EXISTS predicates.  A filter also ends at THEN and
 *	 WITHIN, which never continue a filter predicate.
 * - THEN binds tighter than NOT, AND and OR: a sequence is one predicate,
 *	 so "NOT EXISTS a THEN EXISTS b" is NOT (sequence), and a step that
 *	 follows THEN is [NOT] EXISTS; WITHIN ends the sequence.  At most
 *	 RULE_MAX_SEQUENCE_STEPS steps; WITHIN n is 1 .. RULE_MAX_WINDOW_COUNT.
 * - prev.column only on the right of a comparison in the filter of a step
 *	 after the first; it names a column of the previous positive step's
 *	 source.
 * - TOP/BOTTOM n: a whole number 1 .. RULE_MAX_RANK_COUNT, or with PERCENT
 *	 digits[.digits] above 0 and at most 100, kept as written; not inside
 *	 filters.
 * - Moments are literals only after a comparison operator or in BETWEEN;
 *	 IN lists take strings, numbers and booleans.  A quoted string after an
 *	 operator stays a string literal.
 * - Only count() may omit the column, and active_*() take none; DURING
 *	 applies to customer columns and min()/max() (put other windows inside
 *	 the aggregate).
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
