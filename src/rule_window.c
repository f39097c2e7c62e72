/*
 * rule_window.c
 *		Calendar arithmetic, date/timestamp literals and window resolution
 *		(see rule_window.h for the semantics).
 */
#include "rule_window.h"

#include <string.h>

#define USECS_PER_SEC	INT64_C(1000000)
#define USECS_PER_MIN	(60 * USECS_PER_SEC)
#define USECS_PER_HOUR	(60 * USECS_PER_MIN)

/* Gregorian leap year rule, valid for negative (astronomical) years. */
bool
rule_is_leap_year(int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Length of a month; 0 for a month outside 1..12. */
int
rule_days_in_month(int64_t year, int month)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && rule_is_leap_year(year))
		return 29;
	return len[month - 1];
}

/*
 * Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), exact for any year an int64 day count can hold.
 */
int64_t
rule_days_from_civil(int64_t year, int month, int day)
{
	int64_t		y = year - (month <= 2);
	int64_t		era = (y >= 0 ? y : y - 399) / 400;
	int64_t		yoe = y - era * 400;
	int64_t		doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* Inverse of rule_days_from_civil. */
void
rule_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
	int64_t		z = days + 719468;
	int64_t		era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t		doe = z - era * 146097;
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;
	int			m = (int) (mp < 10 ? mp + 3 : mp - 9);

	*day = (int) (doy - (153 * mp + 2) / 5 + 1);
	*month = m;
	*year = yoe + era * 400 + (m <= 2);
}

/* ISO weekday; 1970-01-01 was a Thursday. */
int
rule_iso_weekday(int64_t days)
{
	int64_t		wd = ((days % 7) + 7) % 7;	/* 0 = Thursday */

	return (int) ((wd + 3) % 7) + 1;
}

/* Month arithmetic with the day clamped to the target month's end. */
void
rule_add_months(int64_t year, int month, int day, int64_t months,
				int64_t *oyear, int *omonth, int *oday)
{
	int64_t		total = year * 12 + (month - 1) + months;
	int64_t		y = total >= 0 ? total / 12 : -((-total + 11) / 12);
	int			m = (int) (total - y * 12) + 1;
	int			dim = rule_days_in_month(y, m);

	*oyear = y;
	*omonth = m;
	*oday = day > dim ? dim : day;
}

/* Reads exactly n digits; -1 if any is not a digit. */
static int
read_digits(const char *s, size_t len, size_t pos, int n)
{
	int			v = 0;
	int			i;

	if (pos + n > len)
		return -1;
	for (i = 0; i < n; i++)
	{
		char		c = s[pos + i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	return v;
}

/* Parses "HH:MM[:SS[.ffffff]]" at *pos; false when the shape is wrong. */
static bool
parse_clock(const char *s, size_t len, size_t *pos, RuleDateTime *dt)
{
	size_t		p = *pos;

	dt->hour = read_digits(s, len, p, 2);
	if (dt->hour < 0 || p + 2 >= len || s[p + 2] != ':')
		return false;
	dt->minute = read_digits(s, len, p + 3, 2);
	if (dt->minute < 0)
		return false;
	p += 5;
	if (p < len && s[p] == ':')
	{
		dt->second = read_digits(s, len, p + 1, 2);
		if (dt->second < 0)
			return false;
		p += 3;
		if (p < len && s[p] == '.')
		{
			int			ndig = 0;
			int			usec = 0;

			p++;
			while (p < len && s[p] >= '0' && s[p] <= '9' && ndig < 6)
			{
				usec = usec * 10 + (s[p++] - '0');
				ndig++;
			}
			if (ndig == 0 || (p < len && s[p] >= '0' && s[p] <= '9'))
				return false;
			while (ndig++ < 6)
				usec *= 10;
			dt->microsecond = usec;
		}
	}
	*pos = p;
	return true;
}

/* Parses "Z", "+HH", "+HH:MM" or "+HHMM" at *pos into seconds east of UTC. */
static bool
parse_offset(const char *s, size_t len, size_t *pos, RuleDateTime *dt)
{
	size_t		p = *pos;
	int			sign,
				hh,
				mm = 0;

	if (s[p] == 'Z' || s[p] == 'z')
	{
		dt->has_offset = true;
		dt->offset_seconds = 0;
		*pos = p + 1;
		return true;
	}
	sign = s[p] == '+' ? 1 : s[p] == '-' ? -1 : 0;
	if (sign == 0)
		return false;
	hh = read_digits(s, len, p + 1, 2);
	if (hh < 0)
		return false;
	p += 3;
	if (p < len && s[p] == ':')
	{
		mm = read_digits(s, len, p + 1, 2);
		if (mm < 0)
			return false;
		p += 3;
	}
	else if (p < len)
	{
		mm = read_digits(s, len, p, 2);
		if (mm < 0)
			return false;
		p += 2;
	}
	dt->has_offset = true;
	/* an impossible minute lands outside the range checked by the caller */
	dt->offset_seconds = sign * (mm > 59 ? 99 * 3600 : hh * 3600 + mm * 60);
	*pos = p;
	return true;
}

/* The accepted literal shapes, then range checks on the fields. */
RuleDateTimeStatus
rule_parse_datetime(const char *s, size_t len, RuleDateTime *out)
{
	RuleDateTime dt;
	size_t		p = 10;

	memset(&dt, 0, sizeof(dt));
	dt.year = read_digits(s, len, 0, 4);
	if (dt.year < 0 || len < 10 || s[4] != '-' || s[7] != '-')
		return RULE_DT_BAD_FORMAT;
	dt.month = read_digits(s, len, 5, 2);
	dt.day = read_digits(s, len, 8, 2);
	if (dt.month < 0 || dt.day < 0)
		return RULE_DT_BAD_FORMAT;
	if (p < len)
	{
		if (s[p] != ' ' && s[p] != 'T' && s[p] != 't')
			return RULE_DT_BAD_FORMAT;
		p++;
		if (!parse_clock(s, len, &p, &dt))
			return RULE_DT_BAD_FORMAT;
		dt.has_time = true;
		if (p < len && !parse_offset(s, len, &p, &dt))
			return RULE_DT_BAD_FORMAT;
		if (p != len)
			return RULE_DT_BAD_FORMAT;
	}
	if (dt.year < 1 || dt.month < 1 || dt.month > 12 || dt.day < 1 ||
		dt.day > rule_days_in_month(dt.year, dt.month) ||
		dt.hour > 23 || dt.minute > 59 || dt.second > 59 ||
		dt.offset_seconds > 15 * 3600 + 59 * 60 ||
		dt.offset_seconds < -(15 * 3600 + 59 * 60))
		return RULE_DT_BAD_VALUE;
	*out = dt;
	return RULE_DT_OK;
}

/* Microseconds of a literal on its own time line (local or UTC). */
static int64_t
datetime_key(const RuleDateTime *dt, bool next_day)
{
	int64_t		days = rule_days_from_civil(dt->year, dt->month, dt->day);
	int64_t		us;

	if (next_day && !dt->has_time)
		days++;
	us = days * RULE_USECS_PER_DAY + dt->hour * USECS_PER_HOUR +
		dt->minute * USECS_PER_MIN + dt->second * USECS_PER_SEC +
		dt->microsecond;
	if (dt->has_offset)
		us -= dt->offset_seconds * USECS_PER_SEC;
	return us;
}

/* Compares literals when no time zone is needed to do so. */
bool
rule_datetime_compare(const RuleDateTime *a, const RuleDateTime *b,
					  bool end_of_b, int *cmp)
{
	int64_t		ka,
				kb;

	if (a->has_offset != b->has_offset)
		return false;
	ka = datetime_key(a, false);
	kb = datetime_key(b, end_of_b);
	*cmp = ka < kb ? -1 : ka > kb ? 1 : 0;
	return true;
}

/* Is the as-of civil time a real one? */
static bool
civil_valid(const RuleCivilTime *t)
{
	return t->month >= 1 && t->month <= 12 && t->day >= 1 &&
		t->day <= rule_days_in_month(t->year, t->month) &&
		t->hour >= 0 && t->hour <= 23 && t->minute >= 0 && t->minute <= 59 &&
		t->second >= 0 && t->second <= 60 &&
		t->microsecond >= 0 && t->microsecond <= 999999;
}

/* A civil bound at a given time of a day, or the infinity it falls into. */
static void
bound_civil(RuleBound *b, int64_t days, int hour, int minute, int second,
			int usec)
{
	int64_t		y;
	int			m,
				d;

	memset(b, 0, sizeof(*b));
	rule_civil_from_days(days, &y, &m, &d);
	if (y < RULE_CIVIL_MIN_YEAR)
		b->kind = RULE_BOUND_NEG_INFINITY;
	else if (y > RULE_CIVIL_MAX_YEAR)
		b->kind = RULE_BOUND_POS_INFINITY;
	else
	{
		b->kind = RULE_BOUND_CIVIL;
		b->civil.year = (int) y;
		b->civil.month = m;
		b->civil.day = d;
		b->civil.hour = hour;
		b->civil.minute = minute;
		b->civil.second = second;
		b->civil.microsecond = usec;
	}
}

/* Local midnight starting a day. */
static void
bound_day(RuleBound *b, int64_t days)
{
	bound_civil(b, days, 0, 0, 0, 0);
}

/* base - delta as an absolute bound, saturating to infinity. */
static void
bound_abs(RuleBound *b, int64_t base, int64_t delta)
{
	memset(b, 0, sizeof(*b));
	if (delta > 0 && base < INT64_MIN + delta)
		b->kind = RULE_BOUND_NEG_INFINITY;
	else if (delta < 0 && base > INT64_MAX + delta)
		b->kind = RULE_BOUND_POS_INFINITY;
	else
	{
		b->kind = RULE_BOUND_ABSOLUTE;
		b->epoch_usec = base - delta;
	}
}

/* An infinite bound. */
static void
bound_inf(RuleBound *b, RuleBoundKind kind)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
}

/* Minute and hour windows roll from now instead of aligning to days. */
static bool
unit_rolls(RuleUnit unit)
{
	return unit == RULE_UNIT_MINUTE || unit == RULE_UNIT_HOUR;
}

/* Length of a rolling unit in microseconds. */
static int64_t
unit_usecs(RuleUnit unit)
{
	return unit == RULE_UNIT_MINUTE ? USECS_PER_MIN : USECS_PER_HOUR;
}

/*
 * The day n calendar units before today; *ok is false when the unit is
 * not calendar-aligned.
 */
static int64_t
days_back(int64_t today, RuleUnit unit, int64_t n, bool *ok)
{
	int64_t		y,
				oy;
	int			m,
				d,
				om,
				od;

	*ok = true;
	switch (unit)
	{
		case RULE_UNIT_DAY:
			return today - n;
		case RULE_UNIT_WEEK:
			return today - 7 * n;
		case RULE_UNIT_MONTH:
		case RULE_UNIT_YEAR:
			rule_civil_from_days(today, &y, &m, &d);
			rule_add_months(y, m, d, unit == RULE_UNIT_MONTH ? -n : -12 * n,
							&oy, &om, &od);
			return rule_days_from_civil(oy, om, od);
		default:
			*ok = false;
			return 0;
	}
}

/* First day of the week, month or year containing a day. */
static int64_t
period_start(int64_t day, RuleUnit unit)
{
	int64_t		y;
	int			m,
				d;

	if (unit == RULE_UNIT_WEEK)
		return day - (rule_iso_weekday(day) - 1);
	rule_civil_from_days(day, &y, &m, &d);
	return rule_days_from_civil(y, unit == RULE_UNIT_MONTH ? m : 1, 1);
}

/* First day of the period before the one starting at start. */
static int64_t
previous_period_start(int64_t start, RuleUnit unit)
{
	return period_start(start - 1, unit);
}

/* Moments are resolved against the as-of day and instant. */
static bool
resolve_moment(const RuleMoment *m, int64_t today, int64_t now,
			   RuleBound *out)
{
	bool		ok;
	int64_t		day;

	switch (m->kind)
	{
		case RULE_MOMENT_AGO:
			if (m->count < 0)
				return false;
			if (unit_rolls(m->unit))
			{
				bound_abs(out, now, m->count * unit_usecs(m->unit));
				return true;
			}
			day = days_back(today, m->unit, m->count, &ok);
			if (!ok)
				return false;
			bound_day(out, day);
			return true;
		case RULE_MOMENT_NOW:
			bound_abs(out, now, 0);
			return true;
		case RULE_MOMENT_TODAY:
			bound_day(out, today);
			return true;
		case RULE_MOMENT_DATETIME:
			if (m->datetime.has_offset)
				bound_abs(out, datetime_key(&m->datetime, false), 0);
			else
				bound_civil(out, rule_days_from_civil(m->datetime.year,
													  m->datetime.month,
													  m->datetime.day),
							m->datetime.hour, m->datetime.minute,
							m->datetime.second, m->datetime.microsecond);
			return true;
	}
	return false;
}

/* Public wrapper: checks the as-of time, writes *out only on success. */
bool
rule_resolve_moment(const RuleMoment *m, const RuleCivilTime *as_of_local,
					int64_t as_of_epoch_usec, RuleBound *out)
{
	RuleBound	b;

	if (!civil_valid(as_of_local))
		return false;
	if (!resolve_moment(m, rule_days_from_civil(as_of_local->year,
												as_of_local->month,
												as_of_local->day),
						as_of_epoch_usec, &b))
		return false;
	*out = b;
	return true;
}

/* LAST and PAST share everything but the inner end. */
static bool
resolve_last_past(const RuleWindow *w, int64_t today, int64_t now,
				  RuleBound *lo, RuleBound *hi)
{
	bool		past = w->kind == RULE_WINDOW_PAST;
	int64_t		far = past ? w->m : w->n;
	bool		ok;

	if (w->n < 0 || (past && w->m < w->n))
		return false;
	if (unit_rolls(w->unit))
	{
		bound_abs(lo, now, far * unit_usecs(w->unit));
		bound_abs(hi, now, past ? w->n * unit_usecs(w->unit) : 0);
		return true;
	}
	bound_day(lo, days_back(today, w->unit, far, &ok));
	if (!ok)
		return false;
	if (past)
		bound_day(hi, days_back(today, w->unit, w->n, &ok) + 1);
	else
		bound_day(hi, today + 1);
	return true;
}

/* THIS and PREVIOUS calendar periods. */
static bool
resolve_period(const RuleWindow *w, int64_t today, RuleBound *lo,
			   RuleBound *hi)
{
	int64_t		start;

	if (w->unit != RULE_UNIT_WEEK && w->unit != RULE_UNIT_MONTH &&
		w->unit != RULE_UNIT_YEAR)
		return false;
	start = period_start(today, w->unit);
	if (w->kind == RULE_WINDOW_THIS)
	{
		bound_day(lo, start);
		bound_day(hi, today + 1);
	}
	else
	{
		bound_day(lo, previous_period_start(start, w->unit));
		bound_day(hi, start);
	}
	return true;
}

/* Dispatch on the window kind; bounds are written to locals first. */
static bool
resolve_window(const RuleWindow *w, int64_t today, int64_t now,
			   RuleBound *lo, RuleBound *hi)
{
	switch (w->kind)
	{
		case RULE_WINDOW_LAST:
		case RULE_WINDOW_PAST:
			return resolve_last_past(w, today, now, lo, hi);
		case RULE_WINDOW_TODAY:
			bound_day(lo, today);
			bound_day(hi, today + 1);
			return true;
		case RULE_WINDOW_YESTERDAY:
			bound_day(lo, today - 1);
			bound_day(hi, today);
			return true;
		case RULE_WINDOW_THIS:
		case RULE_WINDOW_PREVIOUS:
			return resolve_period(w, today, lo, hi);
		case RULE_WINDOW_BETWEEN:
			if (w->from.kind != RULE_MOMENT_DATETIME ||
				w->to.kind != RULE_MOMENT_DATETIME)
				return false;
			if (!resolve_moment(&w->from, today, now, lo))
				return false;
			if (w->to.datetime.has_time)
				return resolve_moment(&w->to, today, now, hi);
			/* a date as the end includes that whole day */
			bound_day(hi, rule_days_from_civil(w->to.datetime.year,
											   w->to.datetime.month,
											   w->to.datetime.day) + 1);
			return true;
		case RULE_WINDOW_SINCE:
			bound_day(hi, today + 1);
			return resolve_moment(&w->from, today, now, lo);
		case RULE_WINDOW_BEFORE:
			bound_inf(lo, RULE_BOUND_NEG_INFINITY);
			return resolve_moment(&w->to, today, now, hi);
	}
	return false;
}

/* Public wrapper: checks the as-of time, writes the bounds only on success. */
bool
rule_resolve_window(const RuleWindow *w, const RuleCivilTime *as_of_local,
					int64_t as_of_epoch_usec, RuleBound *lo, RuleBound *hi)
{
	RuleBound	l,
				h;

	if (!civil_valid(as_of_local))
		return false;
	if (!resolve_window(w, rule_days_from_civil(as_of_local->year,
												as_of_local->month,
												as_of_local->day),
						as_of_epoch_usec, &l, &h))
		return false;
	*lo = l;
	*hi = h;
	return true;
}

static bool
moment_uses_clock(const RuleMoment *m)
{
	return m->kind == RULE_MOMENT_NOW ||
		(m->kind == RULE_MOMENT_AGO && (m->unit == RULE_UNIT_MINUTE || m->unit == RULE_UNIT_HOUR));
}

static bool
window_uses_clock(const RuleWindow *w)
{
	if (w == NULL)
		return false;
	switch (w->kind)
	{
		case RULE_WINDOW_LAST:
		case RULE_WINDOW_PAST:
			return w->unit == RULE_UNIT_MINUTE || w->unit == RULE_UNIT_HOUR;
		case RULE_WINDOW_SINCE:
			return moment_uses_clock(&w->from);
		case RULE_WINDOW_BEFORE:
			return moment_uses_clock(&w->to);
		default:
			return false;
	}
}

bool
rule_uses_clock(const RuleNode *n)
{
	int			i;

	if (n == NULL)
		return false;
	for (i = 0; i < n->nchildren; i++)
		if (rule_uses_clock(n->children[i]))
			return true;
	for (i = 0; i < n->nargs; i++)
		if (n->args[i].kind == RULE_LIT_MOMENT && moment_uses_clock(&n->args[i].moment))
			return true;
	if (n->value != NULL &&
		(window_uses_clock(n->value->window) || rule_uses_clock(n->value->filter)))
		return true;
	return window_uses_clock(n->window) || rule_uses_clock(n->filter);
}
