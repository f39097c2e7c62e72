/*
 * rule_ast.h
 *		The tree of a parsed segment_rule, shared by the parser, printer,
 *		serializer, window resolver and the PostgreSQL glue (compiler, JSON).
 *
 * Plain C99 structs, no PostgreSQL headers.  A tree lives in one RuleArena
 * (rule_arena.h); all pointers point into it.  Trees come from
 * rule_parse() (rule_parser.h) or rule_deserialize() (rule_serial.h), or
 * are built by hand (JSON input) and then checked with rule_validate().
 *
 * Shape of a rule
 * ---------------
 * A rule is a RuleNode.  Boolean nodes:
 *
 *	RULE_AND, RULE_OR	children[0 .. nchildren-1], nchildren >= 2.  Never a
 *						child of the same kind: "a and (b and c)" is
 *						flattened to and(a, b, c) when parsed.
 *	RULE_NOT			children[0], nchildren = 1.  "not x" is the universe
 *						(all registered customers) minus x.
 *
 * Predicates (leaves); "negated" is the NOT written inside the predicate
 * (x NOT IN, IS NOT NULL, NOT BETWEEN, NOT LIKE, NOT DURING, TAG .. NOT IN,
 * IS NOT EMPTY), which for NULLs differs from a RULE_NOT around it:
 *
 *	RULE_CMP			value op args[0]			nargs = 1; the literal may be
 *													any kind, a moment meaning
 *													a time comparison
 *	RULE_IN				value [not] in (args...)	1 <= nargs <= RULE_MAX_IN_LIST;
 *													string, number or bool
 *	RULE_IS_NULL		value is [not] null
 *	RULE_BETWEEN		value [not] between args[0] and args[1]
 *	RULE_LIKE			value [not] like args[0]	nargs = 1, a string
 *	RULE_DURING			value [not] during *window	value is a customer
 *													column or min()/max()
 *	RULE_TAG_IN			tag 'name' [not] in (args...)  args are strings
 *	RULE_TAG_EMPTY		tag 'name' is [not] empty
 *	RULE_EXISTS			exists name [where *filter] [during *window]
 *						(name is the source; filter and window may be NULL;
 *						"not exists" is a RULE_NOT around it; negated only
 *						as a step of a RULE_SEQUENCE)
 *	RULE_IN_SEGMENT		in segment 'name'
 *	RULE_IN_SNAPSHOT	in snapshot 'label' (name is the label)
 *	RULE_SEQUENCE		exists a ... then [not] exists b ... [within *within]
 *						children[0 .. nchildren-1] are the steps, RULE_EXISTS
 *						nodes, 2 <= nchildren <= RULE_MAX_SEQUENCE_STEPS.
 *						A step's "negated" is THEN NOT EXISTS: no matching
 *						event after the previous step's event.  The first
 *						step is never negated.  The "previous step" of a
 *						step is the nearest positive step before it (a NOT
 *						step has no event of its own), so in "a then not b
 *						then c" both b and c are searched after a's event.
 *						within (or NULL) bounds every step from that event.
 *	RULE_RANK			value [not] in (top|bottom) *rank [among segment
 *						'name']		value is a customer column or an
 *						aggregate; name is the AMONG segment or NULL;
 *						"not in" (negated) holds for non-NULL values outside
 *						the selection, as "not in (...)" skips NULLs.
 *
 * Values (RuleValue) are RULE_VALUE_CUSTOMER (customer.column) or
 * RULE_VALUE_AGG (agg(source[.column] [where filter] [during window]));
 * column is NULL only for count(source), which counts rows.
 *
 * Filters (the WHERE of an aggregate or EXISTS) are RuleNode trees over the
 * source's own columns: only RULE_AND, RULE_OR, RULE_NOT, RULE_CMP, RULE_IN,
 * RULE_IS_NULL, RULE_BETWEEN and RULE_LIKE, whose values are all
 * RULE_VALUE_FIELD (column only; the source is the enclosing aggregate's or
 * EXISTS's).  Conversely RULE_VALUE_FIELD never appears outside a filter.
 * Filter comparisons may use moments too (paid_at > 3 days ago); windows
 * (DURING) belong to the aggregate or EXISTS, after the filter.  In the
 * filters of the steps after the first of a RULE_SEQUENCE, the literal of a
 * RULE_CMP may be RULE_LIT_PREV (sku = prev.sku): a column of the previous
 * (positive) step's event, of that step's source.
 *
 * Names (identifiers, tag groups, tag values, segment names, strings) are
 * NUL-terminated UTF-8.  Identifiers are already case-folded as PostgreSQL
 * folds unquoted names (ASCII only) or kept as written when double-quoted;
 * string contents have quotes removed and '' undone.
 *
 * Numeric values of the enums below are part of the binary format
 * (rule_serial.h): append new values, never renumber.
 */
#ifndef RULE_AST_H
#define RULE_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rule_arena.h"
#include "rule_error.h"

/*
 * Limits.  The parser reports exceeding them as RULE_ERR_LIMIT, and
 * rule_validate()/rule_deserialize() enforce the same ones, so a stored rule
 * always prints to text that parses back.
 */
#define RULE_MAX_TEXT_LEN		65536	/* bytes of rule text, both the input
										 * and its canonical form */
#define RULE_MAX_DEPTH			64	/* nesting of '(' groups, NOT and WHERE
									 * filters, counted as the parser meets
									 * them */
#define RULE_MAX_IN_LIST		10000	/* literals in one IN / TAG IN list */
#define RULE_MAX_WINDOW_COUNT	1000000 /* n and m of LAST n, PAST n TO m and
										 * n unit AGO; n of WITHIN n unit */
#define RULE_MAX_SEQUENCE_STEPS 16	/* steps of one THEN sequence */
#define RULE_MAX_RANK_COUNT		1000000000	/* n of TOP n / BOTTOM n */

/*
 * Recursion guard for trees not yet known to be valid (deserialization,
 * validation of hand-built trees).  A valid tree is at most about twice
 * RULE_MAX_DEPTH levels deep (an OR inside an AND costs one parenthesis but
 * two levels), so this never refuses one.
 */
#define RULE_MAX_TREE_LEVELS	(4 * RULE_MAX_DEPTH + 16)

typedef enum RuleNodeKind
{
	RULE_AND = 1,
	RULE_OR = 2,
	RULE_NOT = 3,
	RULE_CMP = 4,
	RULE_IN = 5,
	RULE_IS_NULL = 6,
	RULE_BETWEEN = 7,
	RULE_LIKE = 8,
	RULE_DURING = 9,
	RULE_TAG_IN = 10,
	RULE_TAG_EMPTY = 11,
	RULE_EXISTS = 12,
	RULE_IN_SEGMENT = 13,
	RULE_SEQUENCE = 14,
	RULE_RANK = 15,
	RULE_IN_SNAPSHOT = 16		/* appended: stored rules keep their numbers */
} RuleNodeKind;

typedef enum RuleCmpOp
{
	RULE_OP_EQ = 0,				/* = */
	RULE_OP_NE = 1,				/* <> (also written !=) */
	RULE_OP_LT = 2,				/* < */
	RULE_OP_LE = 3,				/* <= */
	RULE_OP_GT = 4,				/* > */
	RULE_OP_GE = 5				/* >= */
} RuleCmpOp;

typedef enum RuleUnit
{
	RULE_UNIT_MINUTE = 0,		/* minute and hour windows roll */
	RULE_UNIT_HOUR = 1,
	RULE_UNIT_DAY = 2,			/* the rest are calendar-aligned */
	RULE_UNIT_WEEK = 3,
	RULE_UNIT_MONTH = 4,
	RULE_UNIT_YEAR = 5
} RuleUnit;

typedef enum RuleValueKind
{
	RULE_VALUE_CUSTOMER = 1,	/* customer.column */
	RULE_VALUE_AGG = 2,			/* agg(source[.column] ...) */
	RULE_VALUE_FIELD = 3		/* column of the filter's source */
} RuleValueKind;

typedef enum RuleAggKind
{
	RULE_AGG_COUNT = 0,			/* count(src): rows; count(src.col): non-null */
	RULE_AGG_SUM = 1,
	RULE_AGG_AVG = 2,
	RULE_AGG_MIN = 3,
	RULE_AGG_MAX = 4,
	RULE_AGG_COUNT_DISTINCT = 5,
	RULE_AGG_FIRST = 6,			/* first(src.col): on the earliest event */
	RULE_AGG_LAST = 7,			/* last(src.col): on the latest event */
	RULE_AGG_MODE = 8,			/* mode(src.col): the most frequent value */
	RULE_AGG_ACTIVE_DAYS = 9,	/* active_days(src): distinct days with an
								 * event; column always NULL */
	RULE_AGG_ACTIVE_WEEKS = 10,
	RULE_AGG_ACTIVE_MONTHS = 11
} RuleAggKind;

typedef enum RuleLiteralKind
{
	RULE_LIT_STRING = 1,		/* text: contents; the compiler decides from
								 * the column type whether it is a date */
	RULE_LIT_NUMBER = 2,		/* text: exactly as written, e.g. "-199.90",
								 * "1e3" */
	RULE_LIT_BOOL = 3,			/* boolval */
	RULE_LIT_MOMENT = 4,		/* moment: 15 days ago, now, today */
	RULE_LIT_PREV = 5			/* text: prev.column, a column of the previous
								 * sequence step's event */
} RuleLiteralKind;

typedef enum RuleMomentKind
{
	RULE_MOMENT_AGO = 1,		/* count unit ago */
	RULE_MOMENT_NOW = 2,
	RULE_MOMENT_TODAY = 3,		/* start of today */
	RULE_MOMENT_DATETIME = 4	/* a quoted date or timestamp literal */
} RuleMomentKind;

typedef enum RuleWindowKind
{
	RULE_WINDOW_LAST = 1,		/* last n unit */
	RULE_WINDOW_PAST = 2,		/* past n to m unit, n <= m */
	RULE_WINDOW_TODAY = 3,
	RULE_WINDOW_YESTERDAY = 4,
	RULE_WINDOW_THIS = 5,		/* this week|month|year */
	RULE_WINDOW_PREVIOUS = 6,	/* previous week|month|year */
	RULE_WINDOW_BETWEEN = 7,	/* between 'from' and 'to' */
	RULE_WINDOW_SINCE = 8,		/* since from */
	RULE_WINDOW_BEFORE = 9		/* before to */
} RuleWindowKind;

/*
 * A date or timestamp literal, already checked to be a real calendar date.
 * Accepted text: 'YYYY-MM-DD', or 'YYYY-MM-DD HH:MM[:SS[.f{1,6}]]' (space
 * or T) with an optional 'Z' or +-HH[:MM] / +-HHMM offset.
 */
typedef struct RuleDateTime
{
	int			year;			/* 1 .. 9999 */
	int			month;			/* 1 .. 12 */
	int			day;			/* 1 .. days in month */
	int			hour;			/* 0 .. 23; the fields below are 0 for a date */
	int			minute;
	int			second;
	int			microsecond;
	bool		has_time;		/* false: a plain date */
	bool		has_offset;		/* explicit Z or offset: an absolute instant */
	int			offset_seconds; /* east of UTC, when has_offset */
} RuleDateTime;

/* A point in time: "count unit ago", now, today or a literal. */
typedef struct RuleMoment
{
	RuleMomentKind kind;
	int32_t		count;			/* AGO: 0 .. RULE_MAX_WINDOW_COUNT */
	RuleUnit	unit;			/* AGO */
	const char *text;			/* DATETIME: literal as written, unquoted */
	RuleDateTime datetime;		/* DATETIME: text parsed */
} RuleMoment;

/* A time window; see rule_window.h for what each resolves to. */
typedef struct RuleWindow
{
	RuleWindowKind kind;
	int32_t		n;				/* LAST n; PAST n TO m */
	int32_t		m;				/* PAST n TO m (n <= m) */
	RuleUnit	unit;			/* LAST, PAST; THIS/PREVIOUS: week, month,
								 * year */
	RuleMoment	from;			/* BETWEEN (a DATETIME), SINCE */
	RuleMoment	to;				/* BETWEEN (a DATETIME), BEFORE */
} RuleWindow;

/* WITHIN n unit of a sequence: a span after the previous step's event. */
typedef struct RuleDuration
{
	int32_t		n;				/* 1 .. RULE_MAX_WINDOW_COUNT */
	RuleUnit	unit;
} RuleDuration;

/*
 * TOP / BOTTOM n [PERCENT] of a RULE_RANK.  n is kept as written, like
 * number literals: digits, and for PERCENT optionally a fraction
 * ("0.5"); a count is a whole number 1 .. RULE_MAX_RANK_COUNT, a
 * percentage is above 0 and at most 100 (rule_rank_size_check()).
 */
typedef struct RuleRank
{
	bool		top;			/* TOP (largest values first) or BOTTOM */
	bool		percent;		/* n is a percentage of the population */
	const char *n;
} RuleRank;

typedef struct RuleLiteral
{
	RuleLiteralKind kind;
	const char *text;			/* STRING, NUMBER; PREV: the column */
	bool		boolval;		/* BOOL */
	RuleMoment	moment;			/* MOMENT (never a DATETIME: a quoted string
								 * after an operator stays a STRING) */
} RuleLiteral;

struct RuleNode;

typedef struct RuleValue
{
	RuleValueKind kind;
	RuleAggKind agg;			/* AGG */
	const char *source;			/* AGG: the source name */
	const char *column;			/* CUSTOMER, FIELD; AGG: NULL = count rows */
	struct RuleNode *filter;	/* AGG: WHERE, or NULL */
	RuleWindow *window;			/* AGG: DURING, or NULL */
} RuleValue;

typedef struct RuleNode
{
	RuleNodeKind kind;
	bool		negated;		/* predicate-level NOT (see above) */
	int			nchildren;		/* AND, OR, NOT, SEQUENCE */
	struct RuleNode **children;
	RuleValue  *value;			/* CMP, IN, IS_NULL, BETWEEN, LIKE, DURING,
								 * RANK */
	RuleCmpOp	op;				/* CMP */
	int			nargs;			/* CMP, IN, BETWEEN, LIKE, TAG_IN */
	RuleLiteral *args;
	RuleWindow *window;			/* DURING (required), EXISTS (optional) */
	const char *name;			/* TAG_IN, TAG_EMPTY: group; EXISTS: source;
								 * IN_SEGMENT: segment; IN_SNAPSHOT: label;
								 * RANK: the AMONG segment or NULL */
	struct RuleNode *filter;	/* EXISTS: WHERE, or NULL */
	RuleDuration *within;		/* SEQUENCE: WITHIN, or NULL */
	RuleRank   *rank;			/* RANK (required) */
} RuleNode;

/*
 * Names of the language's words, lower case, for messages and the printer.
 * Out-of-range values give "?".
 */
extern const char *rule_unit_name(RuleUnit unit, bool plural);
extern const char *rule_agg_name(RuleAggKind agg);
extern const char *rule_op_name(RuleCmpOp op);

/* Aggregates that take the source only (count may, active_* must). */
extern bool rule_agg_takes_source_only(RuleAggKind agg);

/*
 * Checks the n of TOP n / BOTTOM n [PERCENT] (text as written), for the
 * parser and the validator alike.
 */
typedef enum RuleRankSize
{
	RULE_RANK_SIZE_OK = 0,
	RULE_RANK_SIZE_SYNTAX,		/* not digits[.digits], or a fraction
								 * without PERCENT */
	RULE_RANK_SIZE_ZERO,		/* a count below 1 or a percentage of 0 */
	RULE_RANK_SIZE_TOO_BIG,		/* a count over RULE_MAX_RANK_COUNT */
	RULE_RANK_SIZE_OVER_100		/* a percentage over 100 */
} RuleRankSize;

extern RuleRankSize rule_rank_size_check(const char *n, bool percent);

/*
 * Checks every invariant documented above, the limits, the literals
 * (number syntax, real dates, valid UTF-8) and that the canonical text is
 * within RULE_MAX_TEXT_LEN and RULE_MAX_DEPTH, i.e. that the tree is one the
 * parser could have produced.  Trees built by hand (JSON) must pass this
 * before being printed, serialized or compiled; rule_deserialize() calls it.
 * Kind RULE_ERR_LIMIT / RULE_ERR_INVALID_LITERAL with the parser's messages
 * where there is one, otherwise RULE_ERR_CORRUPT.
 */
extern bool rule_validate(const RuleNode *rule, RuleError *err);

/*
 * Flattens AND-in-AND and OR-in-OR in place (children arrays are
 * reallocated in the arena), as the parser does; for hand-built trees.
 * False only when out of memory or the tree is deeper than the validator
 * accepts.
 */
extern bool rule_normalize(RuleNode *rule, RuleArena *arena);

/* Structural equality (names, literal texts, windows, flags). */
extern bool rule_equal(const RuleNode *a, const RuleNode *b);

/* Equality of windows (NULL equals only NULL). */
extern bool rule_window_equal(const RuleWindow *a, const RuleWindow *b);

/*
 * Whether the rule may complement: hold for customers that no source row
 * and no tag it reads picks out, so that its audience is drawn from the
 * whole customer table.  True when it contains a NOT, TAG .. NOT IN / IS
 * EMPTY, or a comparison of an aggregate (count(orders) < 3 holds for no
 * orders), or a TOP / BOTTOM rank (which may pick customers without
 * events, and moves when others change).  A sequence does not: it needs
 * its first step's event.  Judged on the tree alone, so "may": false means
 * certainly not.
 * A new customer can join such a rule's audience, so auto-tagging watches
 * the customer table for them.
 */
extern bool rule_may_complement(const RuleNode *rule);

/*
 * Enumerating what a rule references, for validation against the registry.
 * One callback per occurrence (duplicates included), in text order:
 *
 *	RULE_REF_CUSTOMER_COLUMN  column		customer.column
 *	RULE_REF_SOURCE			  source		count(source ...), exists source
 *	RULE_REF_SOURCE_COLUMN	  source column	agg(source.column), every
 *											column used in a filter of source,
 *											and prev.column (of the previous
 *											positive step's source)
 *	RULE_REF_TAG_GROUP		  name			TAG 'name'
 *	RULE_REF_TAG_VALUE		  name value	each value of TAG 'name' IN (...)
 *	RULE_REF_SEGMENT		  name			IN SEGMENT 'name', AMONG SEGMENT
 *											'name'
 *	RULE_REF_SNAPSHOT		  name			IN SNAPSHOT 'label'
 *
 * node is the predicate the reference occurs in.  The callback returns
 * false to stop; rule_collect_refs then returns false.
 */
typedef enum RuleRefKind
{
	RULE_REF_CUSTOMER_COLUMN = 1,
	RULE_REF_SOURCE,
	RULE_REF_SOURCE_COLUMN,
	RULE_REF_TAG_GROUP,
	RULE_REF_TAG_VALUE,
	RULE_REF_SEGMENT,
	RULE_REF_SNAPSHOT
} RuleRefKind;

typedef struct RuleRef
{
	RuleRefKind kind;
	const char *source;			/* SOURCE, SOURCE_COLUMN */
	const char *column;			/* CUSTOMER_COLUMN, SOURCE_COLUMN */
	const char *name;			/* TAG_GROUP, TAG_VALUE (the group), SEGMENT,
								 * SNAPSHOT (the label) */
	const char *value;			/* TAG_VALUE */
	const RuleNode *node;		/* the predicate */
} RuleRef;

typedef bool (*RuleRefCallback) (const RuleRef *ref, void *ctx);

extern bool rule_collect_refs(const RuleNode *rule, RuleRefCallback callback,
							  void *ctx);

#endif							/* RULE_AST_H */
