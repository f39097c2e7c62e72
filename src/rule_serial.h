/*
 * rule_serial.h
 *		Compact binary form of a segment_rule tree, stored by the glue as the
 *		body of the type's varlena.
 *
 * Format (version 1): one version byte, then the root node in preorder.
 *
 *	node	 := byte kind | 0x80 if negated (IN, IS_NULL, BETWEEN, LIKE,
 *				DURING, TAG_IN, TAG_EMPTY, RANK; EXISTS as a sequence step),
 *				then by kind:
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
 *				SEQUENCE	varint n (2 .. RULE_MAX_SEQUENCE_STEPS), node * n
 *							(the EXISTS steps), byte 1 if WITHIN, [varint
 *							count, byte unit]
 *				RANK		value, byte flags (1 top, 2 percent, 4 among),
 *							string n (as written), [string segment]
 *				IN_SNAPSHOT	string label (kind 16, after RANK: kinds are
 *							appended, never renumbered)
 *	value	 := byte kind; CUSTOMER, FIELD: string column;
 *				AGG: byte agg, byte flags (1 column, 2 filter, 4 window),
 *				string source, [string column], [node filter], [window]
 *	literal  := byte kind; STRING, NUMBER: string; BOOL: byte 0/1;
 *				MOMENT: moment; PREV: string column
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
 * Kinds 14 and 15, aggregates 6 .. 11, literal kind 5 and the negation bit
 * on EXISTS were added in 0.2 within version 1: bytes written before them
 * read as they always did (test_rule_serial_compat.c keeps such bytes).
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
