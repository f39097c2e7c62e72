/*
 * segment.c
 *		Module entry point of the segment extension.
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Settings are defined here as features that need them arrive. */
void
_PG_init(void)
{
}
