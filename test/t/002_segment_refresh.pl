# Saved-segment refresh with real sessions and the real pg_cron:
#  - a refresh is atomic: other sessions see the old members until it commits;
#  - a second refresh of the same segment is refused at once (no wait, no
#    deadlock), refresh_all() skips it with a notice;
#  - a refresh scheduled with pg_cron runs and lands in segment.history and
#    cron.job_run_details.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('refresh');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 20
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION segment;
CREATE EXTENSION pg_cron;
CREATE TABLE customers (id int PRIMARY KEY);
CREATE TABLE orders (customer_id int, paid_at timestamptz DEFAULT now());
INSERT INTO customers SELECT generate_series(1, 1000);
INSERT INTO orders (customer_id) SELECT generate_series(1, 100);
SELECT segment.register_customers('customers', 'id');
SELECT segment.register_source('orders', 'orders', 'customer_id', 'paid_at');
SELECT segment.create_segment('buyers', 'EXISTS orders');
SELECT segment.create_segment('others', 'NOT IN SEGMENT ''buyers''');
});

my $count = sub {
	return $node->safe_psql('postgres',
		q{SELECT member_count FROM segment.segments WHERE name = 'buyers'});
};
is($count->(), '100', 'first refresh: 100 buyers');

# Session A refreshes inside an open transaction after 50 more buyers appear.
$node->safe_psql('postgres',
	q{INSERT INTO orders (customer_id) SELECT generate_series(101, 150)});
my $a = $node->background_psql('postgres');
$a->query_safe('BEGIN');
is($a->query_safe(q{SELECT segment.refresh('buyers')}), '150', 'session A computes 150 members');

# Readers still see the committed membership.
is($count->(), '100', 'other sessions see the old count until A commits');
is( $node->safe_psql('postgres',
		q{SELECT segment.is_member('buyers', 120)}),
	'f', 'and the old members');
like(
	$node->safe_psql('postgres',
		q{SELECT segment_name || ' ' || (pid > 0) FROM segment.running_refreshes}),
	qr/^buyers true$/,
	'running_refreshes shows the refresh in progress');

# A second refresh of the same segment is refused immediately.
my ($rc, $out, $err) = $node->psql('postgres',
	q{SET lock_timeout = '2s'; SELECT segment.refresh('buyers')});
isnt($rc, 0, 'concurrent refresh fails');
like($err, qr/segment "buyers" is already being refreshed/, 'with a clear error');
unlike($err, qr/lock timeout|deadlock/, 'without waiting for the lock');

# refresh_all() skips the busy segment and refreshes the rest.
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT name || ':' || coalesce(members::text, 'skipped') FROM segment.refresh_all() ORDER BY name});
is($rc, 0, 'refresh_all during a refresh succeeds');
is($out, "buyers:skipped\nothers:900", 'and skips the busy segment');
like($err, qr/segment "buyers" is being refreshed by another session, skipped/, 'with a notice');

$a->query_safe('COMMIT');
is($count->(), '150', 'after commit everyone sees the new members');
is( $node->safe_psql('postgres',
		q{SELECT string_agg(coalesce(h.member_count::text, 'error'), ',' ORDER BY h.id)
          FROM segment.history h JOIN segment.segments s ON s.id = h.segment_id WHERE s.name = 'buyers'}),
	'100,150', 'history has one row per completed refresh');

# A refresh that fails keeps the old members and is visible as failed.
# (the rename breaks the source's registration, which the dependency check
# refuses: a superuser turns it off for the experiment)
$node->safe_psql('postgres', q{ALTER EVENT TRIGGER segment_dependencies_alter DISABLE;
ALTER TABLE orders RENAME COLUMN paid_at TO paid_on});
($rc, $out, $err) = $node->psql('postgres', q{SELECT segment.refresh('buyers')});
like($err, qr/refresh of segment "buyers" failed/, 'a failed refresh warns');
is( $node->safe_psql('postgres',
		q{SELECT status || ' ' || member_count FROM segment.segments WHERE name = 'buyers'}),
	'failed 150', 'and keeps the previous members');
$node->safe_psql('postgres', q{ALTER TABLE orders RENAME COLUMN paid_on TO paid_at;
ALTER EVENT TRIGGER segment_dependencies_alter ENABLE});

# pg_cron: schedule every minute, wait for a run (minute granularity).
$node->safe_psql('postgres',
	q{INSERT INTO orders (customer_id) SELECT generate_series(151, 175)});
my $job = $node->safe_psql('postgres', q{SELECT segment.schedule_refresh('buyers', '* * * * *')});
ok($job > 0, 'schedule_refresh returns the pg_cron job id');
my $ran = $node->poll_query_until('postgres',
	qq{SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $job AND status IN ('succeeded', 'failed')},
	't');
SKIP:
{
	skip 'pg_cron did not run the job in time', 3 unless $ran;
	is( $node->safe_psql('postgres',
			qq{SELECT status FROM cron.job_run_details WHERE jobid = $job ORDER BY runid LIMIT 1}),
		'succeeded', 'cron.job_run_details: the job succeeded');
	is($count->(), '175', 'the scheduled refresh updated the members');
	is( $node->safe_psql('postgres',
			q{SELECT h.member_count FROM segment.history h JOIN segment.segments s ON s.id = h.segment_id
              WHERE s.name = 'buyers' ORDER BY h.id DESC LIMIT 1}),
		'175', 'and wrote segment.history');
}
ok($ran, 'pg_cron ran the scheduled refresh within the wait');
is($node->safe_psql('postgres', q{SELECT segment.unschedule_refresh('buyers')}), 't', 'unschedule_refresh');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job}), '0', 'no job left');

$a->quit;
$node->stop;
done_testing();
