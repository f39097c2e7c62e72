/*
 * rule_compile_shard.h
 *		Scans of tables sharded over postgres_fdw (rule_compile_shard.c).
 */
#ifndef RULE_COMPILE_SHARD_H
#define RULE_COMPILE_SHARD_H

#include "nodes/pg_list.h"

#include "rule_compile_int.h"

extern char *rc_qualified_name(Oid rel);
extern List *rc_shard_partitions(Oid rel, const char *key, const char **why);
extern bool rc_has_foreign_partitions(Oid rel);
extern char *RcShardSource(Compiler *c, const char *source, const char *sql);
extern char *RcShardCustomers(Compiler *c, const char *sql);
extern bool RcShardedCustomers(Compiler *c);
extern bool RcShardLeaf(Compiler *c, const RuleNode *n, bool complement);
extern bool RcGroupedCalls(Compiler *c, const RuleNode *n, const Source *s, char **yes, char **no, bool *holds);
extern char *RcShardMerged(Compiler *c, Merged *m);
extern bool RcShardAggregates(Compiler *c, const char *source);

#endif							/* RULE_COMPILE_SHARD_H */
