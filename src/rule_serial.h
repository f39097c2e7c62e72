/*
 * rule_serial.h
 *		Compact binary form of a segment_rule tree, stored by the glue as the
 *		body of the type's varlena.
 *
 * Format (version 1): one version byte, then the root node in preorder.
 *
 *	node	 := byte kind | 0x80 if negated (IN, IS_NULL, BETWEEN, LIKE,
 *				DURING, TAG_IN, TAG_EMPTY), then by kind:
 *				AND, OR		varint n (>= 2), node * n
 *				NOT			node
 *				CMP			value, byte op, literal
 *				IN			value, varint n, literal * n
 *				IS_NULL		value
 *				BETWEEN		value, literal, literal
 *				LIKE		value, string pattern
 *				DURING		value, window
 *				TAG_IN		string group, varint n, string * n
 *				TAG_EMPTY	string group
 *				EXISTS		string source, byte flags (1 filter, 2 window),
 *							[node filter], [window]
 *				IN_SEGMENT	string name
 *	value	 := byte kind; CUSTOMER, FIELD: string column;
 *				AGG: byte agg, byte flags (1 column, 2 filter, 4 window),
 *				string source, [string column], [node filter], [window]
 *	literal  := byte kind; STRING, NUMBER: string; BOOL: byte 0/1;
 *				MOMENT: moment
 *	moment	 := byte kind; AGO: varint count, byte unit; NOW; TODAY;
 *				DATETIME: string text
 *	window	 := byte kind; LAST: varint n, byte unit; PAST: varint n,
 *				varint m, byte unit; TODAY; YESTERDAY; THIS, PREVIOUS: byte
 *				unit; BETWEEN: string, string; SINCE, BEFORE: moment
 *	string	 := varint byte length, UTF-8 bytes (no NUL)
 *	varint	 := unsigned LEB128, shortest form, at most 5 bytes
 *
 * Kind, op, agg and unit bytes are the enum values of rule_ast.h.  The
 * encoding is canonical: equal trees give equal bytes, and
 * rule_deserialize() accepts only bytes rule_serialize() could have
 * written (so re-serializing what it returns gives back the same bytes).
 * A future version 2 changes the first byte; readers dispatch on it.
 */
#ifndef RULE_SERIAL_H
#define RULE_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "rule_ast.h"

#define RULE_SERIAL_VERSION		1

/*
 * Upper bound on the binary form of any valid rule; the encoding is never
 * longer than the canonical text, which is at most RULE_MAX_TEXT_LEN.
 */
#define RULE_MAX_SERIAL_LEN		(2 * RULE_MAX_TEXT_LEN)

/* Bytes rule_serialize_to() writes; the tree must be valid. */
extern size_t rule_serialized_size(const RuleNode *rule);

/* Writes exactly rule_serialized_size(rule) bytes to buf. */
extern void rule_serialize_to(const RuleNode *rule, uint8_t *buf);

/* Same, into the arena; NULL only when out of memory. */
extern uint8_t *rule_serialize(const RuleNode *rule, RuleArena *arena,
							   size_t *len);

/*
 * Rebuilds a tree from untrusted bytes: never reads outside
 * [bytes, bytes + len), bounds recursion and allocation by len, and runs
 * rule_validate() on the result.  On failure returns NULL with err kind
 * RULE_ERR_CORRUPT (or RULE_ERR_OUT_OF_MEMORY), message "invalid
 * segment_rule binary data" and the reason in detail.
 */
extern RuleNode *rule_deserialize(const uint8_t *bytes, size_t len,
								  RuleArena *arena, RuleError *err);

#endif							/* RULE_SERIAL_H */
