/*
 * rule_compile_shard_seq.h
 *		Sequences over co-located shards (rule_compile_shard_seq.c), and
 *		what rule_compile_sequence.c lends them.
 */
#ifndef RULE_COMPILE_SHARD_SEQ_H
#define RULE_COMPILE_SHARD_SEQ_H

#include "rule_compile_int.h"

/* rule_compile_shard_seq.c */
extern bool RcShardSequence(Compiler *c, const RuleNode *n);

/* rule_compile_sequence.c */
extern char *RcSequenceHead(Compiler *c, const RuleNode *n, Source *first);
extern char *RcAnchoredCondition(Compiler *c, const RuleNode *seq, int k, int j, const Source *anchor,
								 const char *anchor_alias, Source *s, const char *ship);

#endif							/* RULE_COMPILE_SHARD_SEQ_H */
