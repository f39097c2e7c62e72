-- resolve_window: calendar-aware relative windows.
SET search_path = segment, public;
SET TimeZone = 'Asia/Shanghai';

-- the two everyday windows, as of 2024-08-09 11:00
SELECT resolve_window('LAST 3 days', '2024-08-09 11:00');
SELECT resolve_window('PAST 0 TO 1 days', '2024-08-09 11:00');

-- every window form, as of Friday 2024-08-09 11:00 in Shanghai
SELECT w, resolve_window(w, '2024-08-09 11:00') FROM (VALUES
    ('LAST 1 day'), ('LAST 0 days'), ('PAST 25 TO 35 days'), ('TODAY'), ('YESTERDAY'),
    ('LAST 2 weeks'), ('THIS week'), ('PREVIOUS week'), ('THIS month'), ('PREVIOUS month'),
    ('THIS year'), ('PREVIOUS year'), ('LAST 1 month'), ('LAST 1 year'),
    ('LAST 90 minutes'), ('LAST 3 hours'), ('PAST 1 TO 2 hours'),
    ('BETWEEN ''2023-12-01'' AND ''2023-12-31'''),
    ('BETWEEN ''2024-01-01 08:00'' AND ''2024-01-01 09:30'''),
    ('BETWEEN ''2024-01-01T00:00Z'' AND ''2024-01-01 09:30+08'''),
    ('SINCE ''2024-01-01'''), ('SINCE 3 days ago'), ('SINCE NOW'), ('SINCE TODAY'),
    ('BEFORE ''2024-01-01'''), ('BEFORE 90 days ago'), ('BEFORE 2 hours ago')) v(w);

-- month-end arithmetic and leap days
SELECT resolve_window('LAST 1 month', '2024-03-31 12:00');
SELECT resolve_window('LAST 1 month', '2023-03-31 12:00');
SELECT resolve_window('LAST 1 year', '2024-02-29 12:00');
SELECT resolve_window('PREVIOUS month', '2024-03-15 12:00');
SELECT resolve_window('LAST 12 months', '2024-02-29 00:00');
-- weeks start on Monday: a Sunday and a Monday
SELECT resolve_window('THIS week', '2024-08-11 23:59'), resolve_window('THIS week', '2024-08-12 00:00');
SELECT resolve_window('PREVIOUS week', '2024-08-12 00:00');
-- year boundary
SELECT resolve_window('PREVIOUS year', '2024-01-01 00:30'), resolve_window('YESTERDAY', '2024-01-01 00:30');

-- DST: days are 23 or 25 hours long but windows start at local midnight
SET TimeZone = 'America/New_York';
SELECT w, upper(w) - lower(w) AS length FROM (VALUES
    (resolve_window('TODAY', '2024-03-10 12:00')),        -- spring forward: 23 hours
    (resolve_window('TODAY', '2024-11-03 12:00')),        -- fall back: 25 hours
    (resolve_window('LAST 1 day', '2024-03-11 12:00')),
    (resolve_window('THIS month', '2024-11-15 12:00'))) v(w);
SET TimeZone = 'Europe/Berlin';
SELECT w, upper(w) - lower(w) AS length FROM (VALUES
    (resolve_window('TODAY', '2024-03-31 12:00')),
    (resolve_window('YESTERDAY', '2024-10-28 12:00')),
    (resolve_window('PAST 0 TO 1 days', '2024-10-28 01:00'))) v(w);
-- rolling hours ignore DST: exactly 3 hours across the 02:00 -> 03:00 jump
SELECT w, upper(w) - lower(w) AS length FROM (SELECT resolve_window('LAST 3 hours', '2024-03-31 04:30') w) s;
SET TimeZone = 'Asia/Shanghai';

-- segment.timezone is the default zone; an explicit zone wins
SET segment.timezone = 'America/New_York';
SELECT resolve_window('TODAY', '2024-08-09 11:00+08');
SELECT resolve_window('TODAY', '2024-08-09 11:00+08', 'Asia/Shanghai');
RESET segment.timezone;

-- NULL in, NULL out; bad input
SELECT resolve_window(NULL), resolve_window('TODAY', NULL);
SELECT resolve_window('TODAY', 'infinity');
SELECT resolve_window('TODAY', now(), 'Mars/Olympus');
SELECT resolve_window('LAST 3 fortnights');
SELECT resolve_window('NEXT 3 days');
SELECT resolve_window('PAST 5 TO 2 days');
SELECT resolve_window('BETWEEN ''2024-02-30'' AND ''2024-03-01''');
SELECT resolve_window('BETWEEN ''2024-03-02'' AND ''2024-03-01''');
SELECT resolve_window('LAST 1000001 days');
SELECT resolve_window('');
-- SINCE a moment after today holds nothing: an empty range, as rules read it
SELECT resolve_window('SINCE ''2024-08-01''', '2024-03-31 12:00') AS since_future,
       isempty(resolve_window('SINCE ''2024-04-01''', '2024-03-31 12:00')) AS since_tomorrow_empty;
