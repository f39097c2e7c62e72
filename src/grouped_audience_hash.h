/*
 * grouped_audience_hash.h
 *		Which value types grouped_audience_agg() can keep distinct values of
 *		(count_distinct, mode), asked by the aggregate and by the compiler
 *		before it emits such a call (rule_compile_shard.c), so that the two
 *		agree.  Backend only (grouped_audience_agg.h stays pure C).
 */
#ifndef GROUPED_AUDIENCE_HASH_H
#define GROUPED_AUDIENCE_HASH_H

#include "fmgr.h"

extern FmgrInfo *ga_value_hash(Oid type);

#endif							/* GROUPED_AUDIENCE_HASH_H */
