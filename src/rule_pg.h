/*
 * rule_pg.h
 *		PostgreSQL glue of the rule core: the segment_rule varlena, arenas
 *		in memory contexts, and RuleError -> ereport.
 */
#ifndef RULE_PG_H
#define RULE_PG_H

#include "postgres.h"
#include "fmgr.h"
#include "pgtime.h"
#include "nodes/pg_list.h"

#include "rule_ast.h"
#include "rule_window.h"

/* A stored rule: the versioned binary AST of rule_serial.c. */
typedef struct SegmentRule
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint8		data[FLEXIBLE_ARRAY_MEMBER];
} SegmentRule;

#define PG_GETARG_SEGMENT_RULE_P(n)	((SegmentRule *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n)))

extern void rule_pg_arena(RuleArena *arena);
extern void rule_pg_report(const RuleError *err, const char *rule_text) pg_attribute_noreturn();
extern RuleNode *rule_pg_decode(const SegmentRule *r, RuleArena *arena);
extern SegmentRule *rule_pg_encode(const RuleNode *rule);

/* Appends "customer", "source:x", "tag:g", "segment:s" (each once) to refs. */
extern List *rule_pg_refs(const RuleNode *rule, List *refs);

/* Time zone of windows: the given name, else segment.timezone, else the session's. */
extern pg_tz *rule_pg_zone(const char *name);
extern void rule_pg_as_of(TimestampTz as_of, pg_tz *tz, RuleCivilTime *local, int64 *epoch_usec);
extern TimestampTz rule_pg_bound(const RuleBound *b, pg_tz *tz);

#endif							/* RULE_PG_H */
