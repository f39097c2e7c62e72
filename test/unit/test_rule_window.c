/*
 * test_rule_window.c
 *		Unit tests of civil-time arithmetic, date literals and the
 *		resolution of windows and moments (SPEC section 4).  TAP.
 *
 * Cases are written as text: the as-of local time, its UTC offset (the
 * zone's, as the glue would compute it), the window, and the expected
 * bounds, civil ones as "YYYY-MM-DD HH:MM:SS" and absolute ones as UTC
 * "YYYY-MM-DD HH:MM:SSZ".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_parser.h"
#include "rule_window.h"
#include "tap.h"
#include "rule_cases.h"

typedef struct WindowCase
{
	const char *as_of;			/* local civil time */
	int			offset_hours;	/* of the zone at as_of, east of UTC */
	const char *window;
	const char *lo;
	const char *hi;
} WindowCase;

static const WindowCase window_cases[] = {
	/* SPEC section 4, verbatim */
	{"2024-08-09 11:00", 8, "LAST 3 days", "2024-08-06 00:00:00", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "PAST 0 TO 1 days", "2024-08-08 00:00:00", "2024-08-10 00:00:00"},
	{"2024-03-31 12:00", 8, "LAST 1 month", "2024-02-29 00:00:00", "2024-04-01 00:00:00"},
	{"2024-02-29 12:00", 8, "LAST 1 year", "2023-02-28 00:00:00", "2024-03-01 00:00:00"},
	{"2024-08-09 11:00", 8, "LAST 3 hours", "2024-08-09 00:00:00Z", "2024-08-09 03:00:00Z"},

	/* days */
	{"2024-08-09 11:00", 8, "LAST 0 days", "2024-08-09 00:00:00", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "LAST 90 days", "2024-05-11 00:00:00", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "PAST 25 TO 35 days", "2024-07-05 00:00:00", "2024-07-16 00:00:00"},
	{"2024-08-09 11:00", 8, "PAST 2 TO 2 days", "2024-08-07 00:00:00", "2024-08-08 00:00:00"},
	{"2024-08-09 00:00", 8, "TODAY", "2024-08-09 00:00:00", "2024-08-10 00:00:00"},
	{"2024-08-09 23:59:59.999999", 8, "YESTERDAY", "2024-08-08 00:00:00", "2024-08-09 00:00:00"},
	{"2024-01-01 00:30", 8, "YESTERDAY", "2023-12-31 00:00:00", "2024-01-01 00:00:00"},
	{"2023-12-31 23:00", 8, "TODAY", "2023-12-31 00:00:00", "2024-01-01 00:00:00"},
	{"2024-03-01 08:00", 8, "LAST 1 days", "2024-02-29 00:00:00", "2024-03-02 00:00:00"},
	{"2023-03-01 08:00", 8, "LAST 1 day", "2023-02-28 00:00:00", "2023-03-02 00:00:00"},

	/* weeks: calendar steps from today, and Monday-based periods */
	{"2024-08-09 11:00", 8, "LAST 2 weeks", "2024-07-26 00:00:00", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "THIS week", "2024-08-05 00:00:00", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "PREVIOUS week", "2024-07-29 00:00:00", "2024-08-05 00:00:00"},
	{"2024-08-05 00:00", 8, "THIS week", "2024-08-05 00:00:00", "2024-08-06 00:00:00"},
	{"2024-08-11 23:00", 8, "THIS week", "2024-08-05 00:00:00", "2024-08-12 00:00:00"},
	{"2024-08-11 23:00", 8, "PREVIOUS week", "2024-07-29 00:00:00", "2024-08-05 00:00:00"},
	{"2025-01-01 09:00", 8, "THIS week", "2024-12-30 00:00:00", "2025-01-02 00:00:00"},
	{"2025-01-01 09:00", 8, "PREVIOUS week", "2024-12-23 00:00:00", "2024-12-30 00:00:00"},

	/* months: clamped to the month's end */
	{"2024-05-31 10:00", 8, "LAST 3 months", "2024-02-29 00:00:00", "2024-06-01 00:00:00"},
	{"2023-05-31 10:00", 8, "LAST 3 months", "2023-02-28 00:00:00", "2023-06-01 00:00:00"},
	{"2024-07-31 10:00", 8, "LAST 1 month", "2024-06-30 00:00:00", "2024-08-01 00:00:00"},
	{"2024-01-31 10:00", 8, "LAST 2 months", "2023-11-30 00:00:00", "2024-02-01 00:00:00"},
	{"2024-03-31 10:00", 8, "PAST 0 TO 1 months", "2024-02-29 00:00:00", "2024-04-01 00:00:00"},
	{"2024-03-31 10:00", 8, "PAST 1 TO 2 months", "2024-01-31 00:00:00", "2024-03-01 00:00:00"},
	{"2024-03-15 10:00", 8, "THIS month", "2024-03-01 00:00:00", "2024-03-16 00:00:00"},
	{"2024-03-15 10:00", 8, "PREVIOUS month", "2024-02-01 00:00:00", "2024-03-01 00:00:00"},
	{"2024-01-10 10:00", 8, "PREVIOUS month", "2023-12-01 00:00:00", "2024-01-01 00:00:00"},

	/* years */
	{"2024-02-29 12:00", 8, "LAST 4 years", "2020-02-29 00:00:00", "2024-03-01 00:00:00"},
	{"2024-02-29 12:00", 8, "PAST 1 TO 1 years", "2023-02-28 00:00:00", "2023-03-01 00:00:00"},
	{"2024-01-01 00:00", 8, "THIS year", "2024-01-01 00:00:00", "2024-01-02 00:00:00"},
	{"2024-01-01 00:00", 8, "PREVIOUS year", "2023-01-01 00:00:00", "2024-01-01 00:00:00"},
	{"2024-12-31 23:59", 8, "THIS year", "2024-01-01 00:00:00", "2025-01-01 00:00:00"},

	/* rolling minutes and hours */
	{"2024-08-09 11:00", 8, "LAST 90 minutes", "2024-08-09 01:30:00Z", "2024-08-09 03:00:00Z"},
	{"2024-08-09 11:00", 8, "PAST 1 TO 2 hours", "2024-08-09 01:00:00Z", "2024-08-09 02:00:00Z"},
	{"2024-08-09 11:00", 8, "PAST 0 TO 0 minutes", "2024-08-09 03:00:00Z", "2024-08-09 03:00:00Z"},
	{"2024-01-01 01:00", -5, "LAST 2 hours", "2024-01-01 04:00:00Z", "2024-01-01 06:00:00Z"},

	/* literals */
	{"2024-08-09 11:00", 8, "BETWEEN '2023-12-01' AND '2023-12-31'", "2023-12-01 00:00:00", "2024-01-01 00:00:00"},
	{"2024-08-09 11:00", 8, "BETWEEN '2024-02-28' AND '2024-02-29'", "2024-02-28 00:00:00", "2024-03-01 00:00:00"},
	{"2024-08-09 11:00", 8, "BETWEEN '2024-01-01 10:00' AND '2024-01-01 18:30:15.25'", "2024-01-01 10:00:00", "2024-01-01 18:30:15.250000"},
	{"2024-08-09 11:00", 8, "BETWEEN '2024-01-01 10:00+08' AND '2024-01-01T12:00:00Z'", "2024-01-01 02:00:00Z", "2024-01-01 12:00:00Z"},
	{"2024-08-09 11:00", 8, "BETWEEN '2024-01-01' AND '2024-01-01 12:00-0530'", "2024-01-01 00:00:00", "2024-01-01 17:30:00Z"},
	{"2024-08-09 11:00", 8, "SINCE '2024-01-01'", "2024-01-01 00:00:00", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "SINCE '2024-01-01 09:30'", "2024-01-01 09:30:00", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "SINCE 15 days ago", "2024-07-25 00:00:00", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "SINCE 3 hours ago", "2024-08-09 00:00:00Z", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "SINCE TODAY", "2024-08-09 00:00:00", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "SINCE NOW", "2024-08-09 03:00:00Z", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "BEFORE '2024-01-01'", "-infinity", "2024-01-01 00:00:00"},
	{"2024-08-09 11:00", 8, "BEFORE NOW", "-infinity", "2024-08-09 03:00:00Z"},
	{"2024-03-31 11:00", 8, "BEFORE 1 month ago", "-infinity", "2024-02-29 00:00:00"},
	{"2024-08-09 11:00", 8, "BEFORE 2 weeks ago", "-infinity", "2024-07-26 00:00:00"},

	/* out of range */
	{"2024-08-09 11:00", 8, "LAST 1000000 years", "-infinity", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "LAST 1000000 days", "-0714-09-12 00:00:00", "2024-08-10 00:00:00"},
	{"2024-08-09 11:00", 8, "LAST 1000000 hours", "1910-07-12 11:00:00Z", "2024-08-09 03:00:00Z"},
	{"294276-12-31 11:00", 0, "TODAY", "294276-12-31 00:00:00", "+infinity"},
};

/* ---------- formatting ---------- */

/* Parses "YYYY-MM-DD HH:MM[:SS[.ffffff]]" with a possibly long year. */
static RuleCivilTime
civil(const char *s)
{
	RuleCivilTime t;
	double		sec = 0;

	memset(&t, 0, sizeof(t));
	sscanf(s, "%d-%d-%d %d:%d:%lf", &t.year, &t.month, &t.day, &t.hour,
		   &t.minute, &sec);
	t.second = (int) sec;
	t.microsecond = (int) ((sec - t.second) * 1e6 + 0.5);
	return t;
}

/* Microseconds since the epoch of a civil time read as UTC (0 if huge). */
static int64_t
civil_usec(const RuleCivilTime *t)
{
	if (t->year > 200000 || t->year < -200000)
		return 0;
	return rule_days_from_civil(t->year, t->month, t->day) * RULE_USECS_PER_DAY +
		((int64_t) t->hour * 3600 + t->minute * 60 + t->second) * 1000000 +
		t->microsecond;
}

static void
format_civil(char *out, size_t size, int64_t year, int month, int day,
			 int hour, int minute, int second, int usec, const char *suffix)
{
	int			n = snprintf(out, size, "%s%04lld-%02d-%02d %02d:%02d:%02d",
							 year < 0 ? "-" : "", (long long) (year < 0 ? -year : year),
							 month, day, hour, minute, second);

	if (usec)
		n += snprintf(out + n, size - n, ".%06d", usec);
	snprintf(out + n, size - n, "%s", suffix);
}

static void
format_bound(char *out, size_t size, const RuleBound *b)
{
	int64_t		days,
				rest,
				y;
	int			m,
				d;

	switch (b->kind)
	{
		case RULE_BOUND_NEG_INFINITY:
			snprintf(out, size, "-infinity");
			break;
		case RULE_BOUND_POS_INFINITY:
			snprintf(out, size, "+infinity");
			break;
		case RULE_BOUND_CIVIL:
			format_civil(out, size, b->civil.year, b->civil.month, b->civil.day,
						 b->civil.hour, b->civil.minute, b->civil.second,
						 b->civil.microsecond, "");
			break;
		case RULE_BOUND_ABSOLUTE:
			days = b->epoch_usec / RULE_USECS_PER_DAY;
			rest = b->epoch_usec % RULE_USECS_PER_DAY;
			if (rest < 0)
			{
				days--;
				rest += RULE_USECS_PER_DAY;
			}
			rule_civil_from_days(days, &y, &m, &d);
			format_civil(out, size, y, m, d, (int) (rest / 3600000000),
						 (int) (rest / 60000000 % 60), (int) (rest / 1000000 % 60),
						 (int) (rest % 1000000), "Z");
			break;
	}
}

/* ---------- calendar helpers ---------- */

static void
test_calendar(void)
{
	int64_t		d,
				y,
				oy;
	int			m,
				dd,
				om,
				od,
				bad = 0;
	int64_t		prev_y = 0;
	int			prev_m = 0,
				prev_d = 0;

	ok(rule_days_from_civil(1970, 1, 1) == 0, "1970-01-01 is day 0");
	ok(rule_days_from_civil(2000, 3, 1) == 11017, "2000-03-01 is day 11017");
	ok(rule_days_from_civil(1969, 12, 31) == -1, "1969-12-31 is day -1");
	ok(rule_days_from_civil(0, 1, 1) == -719528, "0000-01-01 is day -719528");
	ok(rule_is_leap_year(2000) && !rule_is_leap_year(1900) &&
	   rule_is_leap_year(2024) && !rule_is_leap_year(2023) &&
	   rule_is_leap_year(0) && rule_is_leap_year(-4) && !rule_is_leap_year(-100),
	   "leap years, including astronomical ones");
	ok(rule_days_in_month(2024, 2) == 29 && rule_days_in_month(2023, 2) == 28 &&
	   rule_days_in_month(2024, 4) == 30 && rule_days_in_month(2024, 12) == 31 &&
	   rule_days_in_month(2024, 13) == 0, "days in month");

	/* every day over five millennia round-trips and follows the previous */
	for (d = rule_days_from_civil(-1000, 1, 1); d < rule_days_from_civil(4000, 1, 1); d++)
	{
		rule_civil_from_days(d, &y, &m, &dd);
		if (rule_days_from_civil(y, m, dd) != d || dd < 1 ||
			dd > rule_days_in_month(y, m))
			bad++;
		else if (prev_m != 0 &&
				 !((y == prev_y && m == prev_m && dd == prev_d + 1) ||
				   (y == prev_y && m == prev_m + 1 && dd == 1 &&
					prev_d == rule_days_in_month(prev_y, prev_m)) ||
				   (y == prev_y + 1 && m == 1 && dd == 1 && prev_m == 12 &&
					prev_d == 31)))
			bad++;
		prev_y = y;
		prev_m = m;
		prev_d = dd;
	}
	ok(bad == 0, "civil_from_days is the inverse of days_from_civil, day by day");

	ok(rule_iso_weekday(0) == 4, "1970-01-01 was a Thursday");
	ok(rule_iso_weekday(rule_days_from_civil(2024, 8, 5)) == 1, "2024-08-05 is a Monday");
	ok(rule_iso_weekday(rule_days_from_civil(2024, 8, 9)) == 5, "2024-08-09 is a Friday");
	ok(rule_iso_weekday(rule_days_from_civil(2024, 8, 11)) == 7, "2024-08-11 is a Sunday");
	ok(rule_iso_weekday(rule_days_from_civil(1969, 12, 29)) == 1, "1969-12-29 was a Monday");

	rule_add_months(2024, 3, 31, -1, &oy, &om, &od);
	ok(oy == 2024 && om == 2 && od == 29, "2024-03-31 - 1 month = 2024-02-29");
	rule_add_months(2024, 2, 29, -12, &oy, &om, &od);
	ok(oy == 2023 && om == 2 && od == 28, "2024-02-29 - 12 months = 2023-02-28");
	rule_add_months(2023, 1, 31, 1, &oy, &om, &od);
	ok(oy == 2023 && om == 2 && od == 28, "2023-01-31 + 1 month = 2023-02-28");
	rule_add_months(2024, 12, 15, 1, &oy, &om, &od);
	ok(oy == 2025 && om == 1 && od == 15, "2024-12-15 + 1 month = 2025-01-15");
	rule_add_months(2024, 1, 15, -1, &oy, &om, &od);
	ok(oy == 2023 && om == 12 && od == 15, "2024-01-15 - 1 month = 2023-12-15");
	rule_add_months(1, 1, 31, -13, &oy, &om, &od);
	ok(oy == -1 && om == 12 && od == 31, "0001-01-31 - 13 months = -0001-12-31");
	rule_add_months(2024, 8, 9, -12000000, &oy, &om, &od);
	ok(oy == -997976 && om == 8 && od == 9, "a million years back does not overflow");
}

/* ---------- literals ---------- */

typedef struct DtCase
{
	const char *text;
	RuleDateTimeStatus status;
	const char *civil;			/* as format_civil writes it, or NULL */
	int			offset;			/* seconds, when it has one */
} DtCase;

static const DtCase dt_cases[] = {
	{"2024-01-01", RULE_DT_OK, "2024-01-01 00:00:00", -1},
	{"2024-02-29", RULE_DT_OK, "2024-02-29 00:00:00", -1},
	{"2000-02-29", RULE_DT_OK, "2000-02-29 00:00:00", -1},
	{"0001-01-01", RULE_DT_OK, "0001-01-01 00:00:00", -1},
	{"9999-12-31 23:59:59.999999", RULE_DT_OK, "9999-12-31 23:59:59.999999", -1},
	{"2024-01-01 10:00", RULE_DT_OK, "2024-01-01 10:00:00", -1},
	{"2024-01-01T10:00:05", RULE_DT_OK, "2024-01-01 10:00:05", -1},
	{"2024-01-01t10:00:05.1", RULE_DT_OK, "2024-01-01 10:00:05.100000", -1},
	{"2024-01-01 10:00Z", RULE_DT_OK, "2024-01-01 10:00:00", 0},
	{"2024-01-01 10:00+08", RULE_DT_OK, "2024-01-01 10:00:00", 28800},
	{"2024-01-01 10:00-05:30", RULE_DT_OK, "2024-01-01 10:00:00", -19800},
	{"2024-01-01 10:00:00+0545", RULE_DT_OK, "2024-01-01 10:00:00", 20700},
	{"2024-01-01 10:00+15:59", RULE_DT_OK, "2024-01-01 10:00:00", 57540},
	{"2024-02-30", RULE_DT_BAD_VALUE, NULL, 0},
	{"2023-02-29", RULE_DT_BAD_VALUE, NULL, 0},
	{"1900-02-29", RULE_DT_BAD_VALUE, NULL, 0},
	{"2024-13-01", RULE_DT_BAD_VALUE, NULL, 0},
	{"2024-00-10", RULE_DT_BAD_VALUE, NULL, 0},
	{"2024-04-31", RULE_DT_BAD_VALUE, NULL, 0},
	{"0000-01-01", RULE_DT_BAD_VALUE, NULL, 0},
	{"2024-01-01 24:00", RULE_DT_BAD_VALUE, NULL, 0},
	{"2024-01-01 23:60", RULE_DT_BAD_VALUE, NULL, 0},
	{"2024-01-01 23:59:60", RULE_DT_BAD_VALUE, NULL, 0},
	{"2024-01-01 10:00+16", RULE_DT_BAD_VALUE, NULL, 0},
	{"2024-01-01 10:00+00:60", RULE_DT_BAD_VALUE, NULL, 0},
	{"2024-1-01", RULE_DT_BAD_FORMAT, NULL, 0},
	{"24-01-01", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024/01/01", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024-01-01 ", RULE_DT_BAD_FORMAT, NULL, 0},
	{" 2024-01-01", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024-01-01 10", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024-01-01 10:0", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024-01-01 10:00:00.", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024-01-01 10:00:00.1234567", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024-01-01 10:00+8", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024-01-01 10:00+08:0", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024-01-01 10:00 +08", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024-01-01Z", RULE_DT_BAD_FORMAT, NULL, 0},
	{"2024-01-01 10:00ZZ", RULE_DT_BAD_FORMAT, NULL, 0},
	{"yesterday", RULE_DT_BAD_FORMAT, NULL, 0},
	{"", RULE_DT_BAD_FORMAT, NULL, 0},
};

static void
test_datetime_literals(void)
{
	size_t		i;

	for (i = 0; i < sizeof(dt_cases) / sizeof(dt_cases[0]); i++)
	{
		const DtCase *c = &dt_cases[i];
		RuleDateTime dt;
		RuleDateTimeStatus st = rule_parse_datetime(c->text, strlen(c->text), &dt);
		char		buf[64] = "";
		bool		good = st == c->status;

		if (good && st == RULE_DT_OK)
		{
			format_civil(buf, sizeof(buf), dt.year, dt.month, dt.day, dt.hour,
						 dt.minute, dt.second, dt.microsecond, "");
			good = strcmp(buf, c->civil) == 0 &&
				dt.has_offset == (c->offset != -1) &&
				(!dt.has_offset || dt.offset_seconds == c->offset) &&
				dt.has_time == (strlen(c->text) > 10);
		}
		ok(good, "date literal '%s' %s", c->text,
		   c->status == RULE_DT_OK ? "parses" :
		   c->status == RULE_DT_BAD_VALUE ? "is out of range" : "is malformed");
		if (!good)
			printf("#   got status %d, %s\n", (int) st, buf);
	}
}

/* ---------- windows ---------- */

/* Resolves a window text as of a local time in a zone of fixed offset. */
static bool
resolve_text(const char *as_of, int offset_hours, const char *text,
			 char *lo, char *hi, size_t size)
{
	RuleArena	a;
	RuleError	err;
	RuleWindow *w;
	RuleCivilTime now = civil(as_of);
	int64_t		epoch = civil_usec(&now) - (int64_t) offset_hours * 3600000000;
	RuleBound	l,
				h;
	bool		res;

	rule_arena_init_malloc(&a);
	w = rule_parse_window(text, strlen(text), &a, &err);
	res = w != NULL && rule_resolve_window(w, &now, epoch, &l, &h);
	if (res)
	{
		format_bound(lo, size, &l);
		format_bound(hi, size, &h);
	}
	else
		snprintf(lo, size, "error: %s", w ? "resolve" : err.message);
	rule_arena_destroy(&a);
	return res;
}

static void
test_windows(void)
{
	size_t		i;

	for (i = 0; i < sizeof(window_cases) / sizeof(window_cases[0]); i++)
	{
		const WindowCase *c = &window_cases[i];
		char		lo[96] = "",
					hi[96] = "";
		bool		good;

		good = resolve_text(c->as_of, c->offset_hours, c->window, lo, hi, sizeof(lo)) &&
			strcmp(lo, c->lo) == 0 && strcmp(hi, c->hi) == 0;
		ok(good, "as of %s: %s = [%s, %s)", c->as_of, c->window, c->lo, c->hi);
		if (!good)
			printf("#   got [%s, %s)\n", lo, hi);
	}
}

/* Resolves a moment taken from a parsed comparison "customer.x < m". */
static bool
resolve_moment_text(const char *as_of, int offset_hours, const char *moment,
					char *out, size_t size)
{
	RuleArena	a;
	RuleError	err;
	char		rule[128];
	RuleNode   *r;
	RuleCivilTime now = civil(as_of);
	int64_t		epoch = civil_usec(&now) - (int64_t) offset_hours * 3600000000;
	RuleBound	b;
	bool		res;

	snprintf(rule, sizeof(rule), "customer.x < %s", moment);
	rule_arena_init_malloc(&a);
	r = rule_parse(rule, strlen(rule), &a, &err);
	res = r != NULL && r->args[0].kind == RULE_LIT_MOMENT &&
		rule_resolve_moment(&r->args[0].moment, &now, epoch, &b);
	if (res)
		format_bound(out, size, &b);
	rule_arena_destroy(&a);
	return res;
}

static void
test_moments(void)
{
	static const struct
	{
		const char *as_of;
		const char *moment;
		const char *expect;
	}			cases[] = {
		{"2024-08-09 11:00", "90 days ago", "2024-05-11 00:00:00"},
		{"2024-08-09 11:00", "0 days ago", "2024-08-09 00:00:00"},
		{"2024-08-09 11:00", "1 week ago", "2024-08-02 00:00:00"},
		{"2024-03-31 11:00", "1 month ago", "2024-02-29 00:00:00"},
		{"2024-02-29 11:00", "1 year ago", "2023-02-28 00:00:00"},
		{"2024-08-09 11:00", "3 hours ago", "2024-08-09 00:00:00Z"},
		{"2024-08-09 11:00", "30 minutes ago", "2024-08-09 02:30:00Z"},
		{"2024-08-09 11:00", "now", "2024-08-09 03:00:00Z"},
		{"2024-08-09 11:00", "today", "2024-08-09 00:00:00"},
	};
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char		got[96] = "";
		bool		good = resolve_moment_text(cases[i].as_of, 8, cases[i].moment,
											   got, sizeof(got)) &&
			strcmp(got, cases[i].expect) == 0;

		ok(good, "as of %s: %s = %s", cases[i].as_of, cases[i].moment, cases[i].expect);
		if (!good)
			printf("#   got %s\n", got);
	}
}

/*
 * "max(x) < n days ago" must be the exact complement of "x DURING LAST n
 * days" among rows up to now: the moment equals the window's start.
 */
static void
test_ago_complements_last(void)
{
	const char *units[] = {"days", "weeks", "months", "years", "hours", "minutes"};
	int			n,
				u,
				bad = 0;
	char		lo[96],
				hi[96],
				ago[96],
				text[64];

	for (u = 0; u < 6; u++)
		for (n = 0; n < 400; n += 7)
		{
			snprintf(text, sizeof(text), "LAST %d %s", n, units[u]);
			resolve_text("2024-03-31 11:00", 8, text, lo, hi, sizeof(lo));
			snprintf(text, sizeof(text), "%d %s ago", n, units[u]);
			resolve_moment_text("2024-03-31 11:00", 8, text, ago, sizeof(ago));
			if (strcmp(lo, ago) != 0)
				bad++;
		}
	ok(bad == 0, "n units ago is the start of LAST n units, for every unit");
}

/* Windows by hand: malformed input and the infinities of absolute bounds. */
static void
test_edge_cases(void)
{
	RuleWindow	w;
	RuleCivilTime now = civil("2024-08-09 11:00");
	RuleCivilTime badnow = civil("2024-02-30 11:00");
	RuleBound	lo,
				hi;
	char		a[96],
				b[96];

	memset(&w, 0, sizeof(w));
	w.kind = RULE_WINDOW_LAST;
	w.n = 3;
	w.unit = RULE_UNIT_DAY;
	ok(!rule_resolve_window(&w, &badnow, 0, &lo, &hi), "an impossible as-of date is refused");
	w.kind = RULE_WINDOW_THIS;
	ok(!rule_resolve_window(&w, &now, 0, &lo, &hi), "THIS day is refused");
	w.kind = (RuleWindowKind) 42;
	ok(!rule_resolve_window(&w, &now, 0, &lo, &hi), "an unknown window kind is refused");

	w.kind = RULE_WINDOW_LAST;
	w.n = RULE_MAX_WINDOW_COUNT;
	w.unit = RULE_UNIT_HOUR;
	ok(rule_resolve_window(&w, &now, INT64_MIN + 5, &lo, &hi) &&
	   lo.kind == RULE_BOUND_NEG_INFINITY && hi.kind == RULE_BOUND_ABSOLUTE &&
	   hi.epoch_usec == INT64_MIN + 5,
	   "a rolling start before the int64 range is -infinity");
	w.kind = RULE_WINDOW_LAST;
	w.n = 5;
	w.unit = RULE_UNIT_DAY;
	now = civil("-4713-01-03 10:00");
	ok(rule_resolve_window(&w, &now, 0, &lo, &hi) &&
	   lo.kind == RULE_BOUND_NEG_INFINITY && hi.kind == RULE_BOUND_CIVIL,
	   "a civil start before year -4713 is -infinity");
	format_bound(a, sizeof(a), &lo);
	format_bound(b, sizeof(b), &hi);
	ok(strcmp(b, "-4713-01-04 00:00:00") == 0, "the end stays civil (%s, %s)", a, b);
}

/* Rules whose compiled form depends on the time of day, not only the date. */
static void
test_uses_clock(void)
{
	static const RuleCase cases[] = {
		{"count(orders) > 3", false},
		{"EXISTS orders DURING LAST 30 days", false},
		{"EXISTS orders DURING LAST 2 hours", true},
		{"count(orders DURING PAST 5 TO 10 minutes) = 0", true},
		{"count(orders DURING THIS month) >= 1 AND customer.city = 'x'", false},
		{"customer.registered_at > 3 days ago", false},
		{"customer.registered_at > 3 hours ago", true},
		{"NOT (customer.registered_at < now)", true},
		{"customer.registered_at BETWEEN today AND now", true},
		{"EXISTS orders WHERE paid_at > 90 minutes ago", true},
		{"EXISTS orders WHERE paid_at > 1 day ago DURING LAST 1 year", false},
		{"sum(orders.amount DURING SINCE 2 hours ago) > 5", true},
		{"sum(orders.amount DURING SINCE '2024-01-01') > 5", false},
		{"count(orders DURING BEFORE now) > 5", true},
		{"count(orders DURING BETWEEN '2024-01-01 10:00' AND '2024-02-01') > 5", false},
		{"customer.birthday DURING TODAY OR TAG 'vip' IN ('gold')", false},
		{"customer.last_seen NOT DURING LAST 15 minutes", true},
	};
	check_rule_cases(cases, sizeof(cases) / sizeof(cases[0]), rule_uses_clock, "uses the clock", "does not use the clock");
}

int
main(void)
{
	test_calendar();
	test_datetime_literals();
	test_windows();
	test_moments();
	test_ago_complements_last();
	test_edge_cases();
	test_uses_clock();
	return tap_done();
}
