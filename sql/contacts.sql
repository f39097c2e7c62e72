-- Contact policy: record_contact, contactable, purge_contacts.
SET search_path = segment, public;
SET segment.timezone = 'Asia/Shanghai';
\set SHOW_CONTEXT never

-- a contact policy: at most one coupon message a day, none within 5 days of one
SELECT record_contact('{1-10}', 'coupon', '2024-08-01 10:00+08');
SELECT record_contact('{5-6}', 'coupon', '2024-08-01 18:00+08');   -- 5 and 6 twice that day
SELECT record_contact('{6}', 'coupon', '2024-08-01 20:00+08');     -- 6 three times
SELECT record_contact('{20}', 'sms', '2024-08-01 10:00+08');        -- another channel
SELECT channel, day, times, members FROM contacts ORDER BY channel, day, times;

-- later the same day: nobody contacted today may be contacted again
SELECT contactable('{1-20}', 'coupon', '5 days', 1, '2024-08-01 23:00+08');
-- with two a day allowed and no cooldown, only 5 and 6 (two contacts) are out
SELECT contactable('{1-20}', 'coupon', '0', 2, '2024-08-01 23:00+08');
SELECT contactable('{1-20}', 'coupon', '0', 3, '2024-08-01 23:00+08');
SELECT contactable('{1-20}', 'coupon', '0', NULL, '2024-08-01 23:00+08');
-- the cooldown counts whole calendar days, rounded up: blocked through 08-06, free on 08-07
SELECT contactable('{1-20}', 'coupon', '5 days', 1, '2024-08-05 12:00+08');
SELECT contactable('{1-20}', 'coupon', '5 days', 1, '2024-08-06 09:00+08');
SELECT contactable('{1-20}', 'coupon', '5 days', 1, '2024-08-07 00:00+08');
-- the day boundary is local: 2024-07-31 23:30 UTC is already 08-01 in Shanghai
SELECT record_contact('{30}', 'coupon', '2024-07-31 23:30+00');
SELECT day FROM contacts WHERE members @> 30;
-- other channels are independent
SELECT contactable('{20}', 'coupon', '5 days', 1, '2024-08-01 23:00+08'),
       contactable('{20}', 'sms', '5 days', 1, '2024-08-01 23:00+08');

-- empty and NULL
SELECT record_contact('{}', 'coupon', '2024-08-02 10:00+08');
SELECT contactable('{}', 'coupon', '5 days'), contactable(NULL, 'coupon', '5 days');
SELECT record_contact(NULL, 'coupon');
SELECT record_contact('{1}', '');

-- bad policy arguments
SELECT contactable('{1}', 'coupon', '-1 day');
SELECT contactable('{1}', 'coupon', '1 day', 0);

-- a large audience: a million customers are a few bitmaps per day
SELECT record_contact('{0-999999}', 'push', '2024-08-01 10:00+08');
SELECT record_contact(sample('{0-999999}', 1000, 1), 'push', '2024-08-01 11:00+08');
SELECT times, cardinality(members) FROM contacts WHERE channel = 'push' ORDER BY times;
SELECT cardinality(contactable('{0-1999999}', 'push', '1 day', 2, '2024-08-01 12:00+08'));
SELECT cardinality(contactable('{0-1999999}', 'push', '0', 2, '2024-08-01 12:00+08'));

-- retention: keep the last 3 days
SELECT record_contact('{1}', 'coupon', '2024-08-04 10:00+08');
SELECT purge_contacts('3 days', '2024-08-05 12:00+08');
SELECT channel, day, members FROM contacts;
SELECT count(*) FROM contacts;
SELECT purge_contacts('1 day', '2024-08-30 12:00+08');
SELECT count(*) FROM contacts;
SELECT purge_contacts('-1 day');
SELECT purge_contacts('1 day', NULL);
SELECT purge_contacts(NULL);
