/*
 * rule_compile_colocated.h
 *		Co-located partitions of sharded tables (rule_compile_colocated.c).
 */
#ifndef RULE_COMPILE_COLOCATED_H
#define RULE_COMPILE_COLOCATED_H

#include "nodes/pg_list.h"

/* A partition of the first table and its partner of the second. */
typedef struct ShardPair
{
	char	   *first;			/* qualified, quoted */
	char	   *second;
} ShardPair;

extern List *rc_colocated_pairs(Oid a, const char *key_a, Oid b, const char *key_b);
extern bool rc_shipped(const char *branch, double *cost);
extern char *rc_union_branches(List *branches);

#endif							/* RULE_COMPILE_COLOCATED_H */
