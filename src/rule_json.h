/*
 * rule_json.h
 *		JSON form of a segment_rule, for application rule builders (the casts
 *		segment_rule <-> jsonb).  doc/rules-json.md documents the shape.
 *
 * Pure C, no PostgreSQL headers.  The JSON carries the same tree as the
 * text language:
 *
 *	{"group": "and"|"or", "conditions": [c, ...]}			AND / OR
 *	{"not": c}												NOT
 *	{"type": "attribute", "field", "operator", "values"}
 *	{"type": "aggregate", "function", "source", "field", "filter", "window",
 *	 "operator", "values"}									agg(source...)
 *	{"type": "exists", "source", "filter", "window"}
 *	{"type": "sequence", "steps": [exists, {"not": exists}, ...],
 *	 "within": {"count", "unit"}}							exists .. then ..
 *	{"type": "tag", "group", "operator", "values"}
 *	{"type": "segment", "name"}
 *	{"field", "operator", "values"}						inside a filter
 *
 * "values" holds the operands: strings, numbers, booleans, moments
 * ({"ago": 90, "unit": "day"}, {"moment": "now"|"today"}), prev.column
 * ({"prev": "sku"}), or for the operators "during" / "not during" one
 * window object.  The rank operators "[not ]in top|bottom" take one number
 * and the optional keys "percent": true and "among": "segment".
 *
 * Reading JSON builds the rule's text in the language and parses it with
 * rule_parse(), so a rule read from JSON obeys exactly the checks, limits
 * and error messages of one typed as text; shape errors name the JSON
 * location ($.conditions[1].operator).  Writing walks the tree and emits one
 * canonical JSON text (fixed key order, no whitespace, optional keys left
 * out), so rule -> json -> rule -> json is idempotent.
 */
#ifndef RULE_JSON_H
#define RULE_JSON_H

#include <stddef.h>

#include "rule_ast.h"

/*
 * Longest JSON text accepted.  JSON is wordier than the language (a filter
 * "a = 1" is {"field":"a","operator":"=","values":[1]}), so the JSON of any
 * rule within RULE_MAX_TEXT_LEN fits.
 */
#define RULE_JSON_MAX_LEN		(16 * RULE_MAX_TEXT_LEN)

/* Deepest JSON nesting accepted (a valid rule nests far less). */
#define RULE_JSON_MAX_DEPTH		(2 * RULE_MAX_TREE_LEVELS + 16)

/*
 * Canonical JSON of a valid tree, NUL-terminated, in the arena; *len (when
 * not NULL) gets its length.  NULL only when out of memory.
 */
extern char *rule_to_json(const RuleNode *rule, RuleArena *arena, size_t *len);

/*
 * Builds a tree from len bytes of JSON (need not be NUL-terminated).  On
 * failure returns NULL and fills err (may be NULL): malformed JSON is
 * RULE_ERR_SYNTAX "invalid JSON at character N: ..."; a JSON of the wrong
 * shape is RULE_ERR_SYNTAX "invalid rule JSON at $.path: ..." with a hint
 * naming what is allowed; what the language itself rejects (bad dates,
 * units, limits, encoding) keeps the parser's kind and message.
 */
extern RuleNode *rule_from_json(const char *json, size_t len, RuleArena *arena,
								RuleError *err);

#endif							/* RULE_JSON_H */
