/*
 * rule_window.h
 *		Civil-time calendar arithmetic, date/timestamp literals, and the
 *		resolution of windows and moments against an "as of" instant.
 *
 * Time zones stay in the glue.  It converts the as-of instant to local
 * civil time in the chosen zone and passes both; the resolver answers each
 * bound as one of
 *
 *	RULE_BOUND_NEG_INFINITY / RULE_BOUND_POS_INFINITY
 *	RULE_BOUND_CIVIL	a local date-time; the glue converts it to timestamptz
 *						with the zone's rules (so a window still starts at
 *						local midnight on 23- and 25-hour DST days)
 *	RULE_BOUND_ABSOLUTE	microseconds since 1970-01-01 00:00 UTC (rolling
 *						minute/hour windows, now, literals with an offset)
 *
 * Windows are half-open [lo, hi).  "today" is the as-of local date, "start
 * of d" is d 00:00 local, "d - n months" clamps the day to the month's end
 * (2024-03-31 - 1 month = 2024-02-29), weeks start on Monday:
 *
 *	last n days|weeks|months|years	[start of (today - n units), start of tomorrow)
 *	past n to m <those units>		[start of (today - m units),
 *									 start of (today - n units) + 1 day)
 *	last n minutes|hours			[now - n units, now)
 *	past n to m minutes|hours		[now - m units, now - n units)
 *	today / yesterday				[today, tomorrow) / [yesterday, today)
 *	this week|month|year			[start of the current one, start of tomorrow)
 *	previous week|month|year		the whole previous calendar period
 *	between 'a' and 'b'				[a, b), where a date a means its start and
 *									a date b means the start of the next day
 *	since m / before m				[m, start of tomorrow) / (-infinity, m)
 *
 * Moments: n days|weeks|months|years ago = start of (today - n units);
 * n minutes|hours ago = now - n units; now; today = start of today; a date
 * literal = its start; a timestamp literal = that local time, or that
 * instant when it has an offset.
 *
 * A civil bound whose year falls outside RULE_CIVIL_MIN_YEAR ..
 * RULE_CIVIL_MAX_YEAR (PostgreSQL's timestamp range, astronomical year
 * numbering) comes back as the matching infinity, as does an absolute bound
 * that would overflow; near those edges the glue should likewise treat a
 * conversion that is out of range as infinity.
 */
#ifndef RULE_WINDOW_H
#define RULE_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "rule_ast.h"

#define RULE_CIVIL_MIN_YEAR		(-4713)
#define RULE_CIVIL_MAX_YEAR		294276

#define RULE_USECS_PER_DAY		INT64_C(86400000000)

/* A local wall-clock time; year in astronomical numbering (0 = 1 BC). */
typedef struct RuleCivilTime
{
	int			year;
	int			month;			/* 1 .. 12 */
	int			day;			/* 1 .. 31 */
	int			hour;			/* 0 .. 23 */
	int			minute;
	int			second;			/* 0 .. 59 (60 accepted in as-of input) */
	int			microsecond;
} RuleCivilTime;

typedef enum RuleBoundKind
{
	RULE_BOUND_NEG_INFINITY = 1,
	RULE_BOUND_POS_INFINITY,
	RULE_BOUND_CIVIL,
	RULE_BOUND_ABSOLUTE
} RuleBoundKind;

typedef struct RuleBound
{
	RuleBoundKind kind;
	RuleCivilTime civil;		/* CIVIL */
	int64_t		epoch_usec;		/* ABSOLUTE */
} RuleBound;

/*
 * Resolves a window.  as_of_local is the as-of instant in local civil time,
 * as_of_epoch_usec the same instant as microseconds since the Unix epoch.
 * False (bounds untouched) only if the window or as_of_local is malformed.
 */
extern bool rule_resolve_window(const RuleWindow *w,
								const RuleCivilTime *as_of_local,
								int64_t as_of_epoch_usec,
								RuleBound *lo, RuleBound *hi);

/* Resolves one moment the same way (SINCE/BEFORE bounds, cmp literals). */
extern bool rule_resolve_moment(const RuleMoment *m,
								const RuleCivilTime *as_of_local,
								int64_t as_of_epoch_usec, RuleBound *out);

/*
 * Whether a rule's windows and moments need the time of day: minute and hour
 * units and "now".  Every other window and moment resolves from the as-of
 * local date alone, so what a rule without them compiles to stays the same
 * until the local date (or the zone) changes; auto-tagging keeps such
 * compiled rules for the day.
 */
extern bool rule_uses_clock(const RuleNode *rule);

/* Outcome of rule_parse_datetime. */
typedef enum RuleDateTimeStatus
{
	RULE_DT_OK = 0,
	RULE_DT_BAD_FORMAT,			/* not one of the accepted shapes */
	RULE_DT_BAD_VALUE			/* right shape, impossible date or time */
} RuleDateTimeStatus;

/*
 * Parses a date or timestamp literal (the text between the quotes; see
 * RuleDateTime in rule_ast.h for the accepted forms), checking it is a
 * real calendar date.  out is filled only on RULE_DT_OK.
 */
extern RuleDateTimeStatus rule_parse_datetime(const char *s, size_t len,
											  RuleDateTime *out);

/*
 * Orders two literals on one time line when that needs no time zone (both
 * with or both without an offset): sets *cmp to <0, 0, >0 and returns true;
 * false when they cannot be compared.  A date counts as its start, or the
 * start of the next day when end_of_b says b is an inclusive end.
 */
extern bool rule_datetime_compare(const RuleDateTime *a, const RuleDateTime *b,
								  bool end_of_b, int *cmp);

/* Proleptic Gregorian calendar helpers; days count from 1970-01-01. */
extern bool rule_is_leap_year(int64_t year);
extern int	rule_days_in_month(int64_t year, int month);
extern int64_t rule_days_from_civil(int64_t year, int month, int day);
extern void rule_civil_from_days(int64_t days, int64_t *year, int *month,
								 int *day);
extern int	rule_iso_weekday(int64_t days); /* 1 = Monday .. 7 = Sunday */

/*
 * Adds months to a date, clamping the day to the end of the target month;
 * months may be negative.  Works on any int64 year without overflow for
 * |months| up to 12 * RULE_MAX_WINDOW_COUNT.
 */
extern void rule_add_months(int64_t year, int month, int day, int64_t months,
							int64_t *oyear, int *omonth, int *oday);

#endif							/* RULE_WINDOW_H */
