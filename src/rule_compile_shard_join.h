/*
 * rule_compile_shard_join.h
 *		Customer conditions AND [NOT] EXISTS as one join per co-located
 *		shard (rule_compile_shard_join.c).
 */
#ifndef RULE_COMPILE_SHARD_JOIN_H
#define RULE_COMPILE_SHARD_JOIN_H

#include "rule_compile_int.h"

extern void RcShardChooseJoin(Compiler *c, const RuleNode *rule);

#endif							/* RULE_COMPILE_SHARD_JOIN_H */
