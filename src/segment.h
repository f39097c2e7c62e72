/*
 * segment.h
 *		Settings shared by the extension's C files.
 */
#ifndef SEGMENT_H
#define SEGMENT_H

extern char *segment_timezone;
extern char *segment_tenant;
extern int	segment_max_segments_per_tenant;

#endif							/* SEGMENT_H */
