/*
 * rule_print.h
 *		Canonical text of a segment_rule (the type's output function).
 *
 * Keywords in lower case, one space between tokens, ", " in lists,
 * identifiers double-quoted only when they are not [a-z_][a-z0-9_]* or are
 * reserved words, strings single-quoted with '' doubling, numbers and date
 * literals exactly as written, units singular when the count is 1, filter
 * columns bare, and only the parentheses precedence needs (OR < AND < NOT).
 * For any tree the parser produced (or rule_validate() accepted),
 * rule_parse(rule_print(t)) is a tree equal to t, so printing is idempotent.
 *
 * The printers never fail on valid trees; the *_buf forms work like
 * snprintf (return the full length, write at most size - 1 bytes and a NUL
 * when size > 0) so the glue can palloc the exact size.
 */
#ifndef RULE_PRINT_H
#define RULE_PRINT_H

#include <stddef.h>

#include "rule_ast.h"

extern size_t rule_print_buf(const RuleNode *rule, char *buf, size_t size);
extern size_t rule_print_window_buf(const RuleWindow *window, char *buf,
									size_t size);
extern size_t rule_print_value_buf(const RuleValue *value, char *buf,
								   size_t size);
extern size_t rule_print_literal_buf(const RuleLiteral *lit, char *buf,
									 size_t size);

/* Whole text in the arena, NUL-terminated; NULL only when out of memory. */
extern char *rule_print(const RuleNode *rule, RuleArena *arena, size_t *len);
extern char *rule_print_window(const RuleWindow *window, RuleArena *arena,
							   size_t *len);

/*
 * Length of the canonical text and the nesting depth ('(' groups, NOT,
 * WHERE) the parser will meet reading it; used to enforce the limits on
 * the canonical form.
 */
extern void rule_print_measure(const RuleNode *rule, size_t *len, int *depth);

#endif							/* RULE_PRINT_H */
