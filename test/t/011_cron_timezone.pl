# Scheduled work computes what the same work by hand computes, whatever the
# zone of the session that runs it:
#  - a segment refreshed by hand in an Asia/Shanghai session and by a real
#    pg_cron job in a UTC server has the same members (the zone is stored
#    with the registration);
#  - with pg_cron in another database (cron.database_name), the statement
#    schedule_refresh_command() prints, run there, schedules a job in the
#    shop's database that carries the scheduling session's explicit
#    segment.timezone, and gives the same members as by hand.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron_tz');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 20
timezone = 'UTC'
});
$node->start;
$node->safe_psql('postgres', q{CREATE EXTENSION pg_cron});
is($node->safe_psql('postgres', q{SHOW TimeZone}), 'UTC', 'the server runs in UTC');

# One order per hour over the last two days, customer i at now() - i hours:
# TODAY and a literal at the local date differ between UTC and Shanghai.
my $shop = q{
CREATE EXTENSION segment;
CREATE TABLE customers (id int PRIMARY KEY);
CREATE TABLE orders (customer_id int, paid_at timestamptz);
INSERT INTO customers SELECT generate_series(0, 50);
INSERT INTO orders SELECT g, now() - g * interval '1 hour' FROM generate_series(0, 47) g;
SELECT segment.register_customers('customers', 'id');
SELECT segment.register_source('orders', 'orders', 'customer_id', 'paid_at');
};

# the local date in Shanghai, to skip a comparison across its midnight
my $shanghai_date = sub {
	return $node->safe_psql('postgres', q{SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date});
};

# waits for the first run of a job; true when it succeeded
sub wait_job
{
	my ($job) = @_;
	my $ran = $node->poll_query_until('postgres',
		qq{SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $job AND status IN ('succeeded', 'failed')});
	return 0 unless $ran;
	my $status = $node->safe_psql('postgres',
		qq{SELECT status || ' ' || coalesce(return_message, '') FROM cron.job_run_details WHERE jobid = $job ORDER BY runid LIMIT 1});
	diag("job $job: $status") unless $status =~ /^succeeded/;
	return $status =~ /^succeeded/;
}

# 1. pg_cron and the shop in one database; registered from a Shanghai session
$node->safe_psql('postgres', "SET TimeZone = 'Asia/Shanghai';" . $shop);
is($node->safe_psql('postgres', q{SELECT segment.time_zone()}), 'Asia/Shanghai',
	'the registration keeps the zone of the session that registered');
my $today = $node->safe_psql('postgres', q{SET TimeZone = 'Asia/Shanghai'; SELECT current_date});
$node->safe_psql('postgres', qq{
SELECT segment.create_segment('today', 'EXISTS orders DURING TODAY', refresh => false);
SELECT segment.create_segment('since midnight', 'EXISTS orders WHERE paid_at >= ''$today''', refresh => false);
SELECT segment.create_segment('first today', 'min(orders.paid_at) >= ''$today'' OR NOT EXISTS orders WHERE paid_at < ''$today''',
                              refresh => false);
});
my $members = q{SELECT string_agg(name || ' ' || coalesce(members::text, '-'), '; ' ORDER BY name) FROM segment.segments};
my $date0 = $shanghai_date->();
$node->safe_psql('postgres', q{SET TimeZone = 'Asia/Shanghai'; SELECT count(segment.refresh(name)) FROM segment.segments});
my $by_hand = $node->safe_psql('postgres', $members);
my $in_utc = $node->safe_psql('postgres', q{SET segment.timezone = 'UTC';
SELECT string_agg(name || ' ' || segment.evaluate(rule)::text, '; ' ORDER BY name) FROM segment.segments});
isnt($by_hand, $in_utc, 'the rules give other members in UTC days (the test can tell)');
# clear the members, then let pg_cron refresh them from its UTC session
$node->safe_psql('postgres', q{UPDATE segment.segments SET members = NULL});
my @jobs = split /\n/, $node->safe_psql('postgres',
	q{SELECT segment.schedule_refresh(name, '* * * * *') FROM segment.segments ORDER BY name});
is(scalar(@jobs), 3, 'three refresh jobs scheduled');
my $ok = 1;
$ok &&= wait_job($_) for @jobs;
ok($ok, 'pg_cron ran the refresh jobs');
SKIP:
{
	skip 'the Shanghai date changed during the test', 1 if $shanghai_date->() ne $date0;
	is($node->safe_psql('postgres', $members), $by_hand,
		'refreshed by pg_cron in a UTC server: the same members as by hand in Asia/Shanghai');
}
like($node->safe_psql('postgres', q{SELECT string_agg(command, E'\n') FROM cron.job}),
	qr/^SET segment.tenant = ''; SELECT segment.refresh\('[a-z ]+'\)$/m,
	'the job command names the tenant and leaves the zone to the registration');
$node->safe_psql('postgres', q{SELECT segment.unschedule_refresh(name) FROM segment.segments});

# 2. the shop in its own database, pg_cron in "postgres"; registered in UTC,
# scheduled from a session that overrides the zone with segment.timezone
$node->safe_psql('postgres', q{CREATE DATABASE shop});
$node->safe_psql('shop', "SET TimeZone = 'UTC';" . $shop);
is($node->safe_psql('shop', q{SELECT segment.time_zone()}), 'UTC', 'the shop is registered in UTC');
my ($rc, $out, $err) = $node->psql('shop', q{SELECT segment.create_segment('today', 'EXISTS orders DURING TODAY', refresh => false);
SELECT segment.schedule_refresh('today', '* * * * *')});
like($err, qr/pg_cron is not installed in this database.*\n.*DETAIL:  pg_cron runs in database postgres/,
	'schedule_refresh in the shop database says where pg_cron runs');
like($err, qr/schedule_refresh_command/, 'and hints at the helper');
my $override = q{SET TimeZone = 'Asia/Shanghai'; SET segment.timezone = 'Asia/Shanghai';};
$date0 = $shanghai_date->();
$node->safe_psql('shop', $override . q{SELECT segment.refresh('today')});
$by_hand = $node->safe_psql('shop', q{SELECT members FROM segment.segments WHERE name = 'today'});
isnt($by_hand, $node->safe_psql('shop', q{SELECT segment.evaluate('EXISTS orders DURING TODAY')}),
	'the override gives other members than the registered UTC days');
my $statement = $node->safe_psql('shop', $override . q{SELECT segment.schedule_refresh_command('today', '* * * * *')});
like($statement, qr/^SELECT cron\.schedule_in_database\('segment refresh today', .*segment\.timezone = ''Asia\/Shanghai''.*'shop', 'postgres'\);$/,
	'schedule_refresh_command prints a schedule_in_database statement carrying the override');
$node->safe_psql('shop', q{UPDATE segment.segments SET members = NULL});
my $job = $node->safe_psql('postgres', $statement);
ok($job > 0, 'the statement, run in the pg_cron database, schedules a job');
ok(wait_job($job), 'pg_cron ran it in the shop database');
SKIP:
{
	skip 'the Shanghai date changed during the test', 1 if $shanghai_date->() ne $date0;
	is($node->safe_psql('shop', q{SELECT members FROM segment.segments WHERE name = 'today'}), $by_hand,
		'across databases: the same members as by hand with the override');
}
my $unschedule = $node->safe_psql('shop', q{SELECT segment.unschedule_refresh_command('today')});
$node->safe_psql('postgres', $unschedule);
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job}), '0', 'unschedule_refresh_command removes the job');

$node->stop;
done_testing();
