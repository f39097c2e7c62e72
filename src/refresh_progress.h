/*
 * refresh_progress.h
 *		Progress of refresh() and refresh_all() in shared memory, readable
 *		from other sessions (segment.refresh_progress).
 */
#ifndef REFRESH_PROGRESS_H
#define REFRESH_PROGRESS_H

/* From _PG_init: shared memory hooks when preloaded, the end-of-transaction release. */
extern void progress_init(void);

#endif							/* REFRESH_PROGRESS_H */
