/*
 * rule_privilege.h
 *		Acting for the calling role, and as a rule's author
 *		(rule_privilege.c).
 */
#ifndef RULE_PRIVILEGE_H
#define RULE_PRIVILEGE_H

#include "postgres.h"

/* What segment_become() replaced, for segment_restore(). */
typedef struct SegmentUserSwitch
{
	Oid			user;
	int			sec_context;
	Oid			caller;
	Oid			switched_to;
} SegmentUserSwitch;

/* The role the current segment function acts for (see rule_privilege.c). */
extern Oid	segment_caller(void);

/*
 * Runs as role, acting for caller, until segment_restore(); an error if
 * the role no longer exists.  restricted: as a security-restricted
 * operation (for running a rule as its author).  Pair them with PG_TRY /
 * PG_FINALLY.
 */
extern void segment_become(Oid role, Oid caller, bool restricted, SegmentUserSwitch *s);
extern void segment_restore(const SegmentUserSwitch *s);

#endif							/* RULE_PRIVILEGE_H */
