/*
 * audience_keys.h
 *		The customer keys of an audience's members: for the candidates of a
 *		reduced rule (rule_eval.c), the registered-customer check of few
 *		members (rule_compile_customer.c) and segment.audience_keys().
 */
#ifndef AUDIENCE_KEYS_H
#define AUDIENCE_KEYS_H

#include "audience.h"

/*
 * The keys as an array of the key type (the dictionary's keys, in ordinal
 * order, or the integers themselves as bigint), its array type in *type,
 * in the current memory context.  Queries the dictionary table (its own
 * SPI connection) only when the backend's cache lacks a member.
 */
extern Datum audience_member_keys(Audience *a, Oid *type);

#endif							/* AUDIENCE_KEYS_H */
