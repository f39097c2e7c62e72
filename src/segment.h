/*
 * segment.h
 *		Settings shared by the extension's C files.
 */
#ifndef SEGMENT_H
#define SEGMENT_H

extern char *segment_timezone;
extern char *segment_tenant;
extern int	segment_max_segments_per_tenant;
extern bool segment_shard_aggregates;	/* rule_compile_shard.c */
extern bool segment_grouped_aggregates;	/* rule_compile_agg.c */

/* segment.rule_form: which compiled form of a rule is run */
typedef enum SegmentRuleForm
{
	SEGMENT_FORM_AUTO,
	SEGMENT_FORM_SET_ALGEBRA,
	SEGMENT_FORM_PER_CUSTOMER,
	SEGMENT_FORM_REDUCED
} SegmentRuleForm;

extern int	segment_rule_form;

#endif							/* SEGMENT_H */
