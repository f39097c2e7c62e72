/*
 * audience_agg.h
 *		The transition state of audience_agg, for aggregates of other files
 *		that end in an audience (audience_agg_keys, key_dictionary_agg.c).
 */
#ifndef AUDIENCE_AGG_H
#define AUDIENCE_AGG_H

#include "audience.h"

typedef struct AggState AudienceAggState;

/*
 * Called before the state is read (serialized, combined or finished): a
 * state that buffers its input elsewhere adds it then.
 */
typedef void (*AudienceAggFlush) (void *arg);

extern AudienceAggState *audience_agg_state_new(MemoryContext aggctx);
extern void audience_agg_state_add(AudienceAggState *st, const uint32 *ids, int n);
extern void audience_agg_state_set_flush(AudienceAggState *st, AudienceAggFlush flush, void *arg);
extern void *audience_agg_state_flush_arg(AudienceAggState *st);
extern bool audience_agg_state_empty(AudienceAggState *st);
extern Audience *audience_agg_state_result(AudienceAggState *st);
extern uint8 *audience_agg_state_bytes(AudienceAggState *st, size_t reserve, size_t *len);
extern void audience_agg_state_add_bytes(AudienceAggState *st, const uint8 *bytes, size_t len);

/* audience_agg's final function, for final functions that end in it */
extern Datum audience_agg_final(PG_FUNCTION_ARGS);

#endif							/* AUDIENCE_AGG_H */
