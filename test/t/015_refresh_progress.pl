# Progress of refresh_all() and refresh() seen from another session while
# they run (segment.refresh_progress, src/refresh_progress.c):
#  - refresh_all() over three segments, held on the second one by a lock
#    another session holds on the table its rule reads: the view shows the
#    command, that segment, its phase, the segments done and left and the
#    elapsed times, also to a granted role; nothing once it has finished;
#  - a single refresh() shows its phase too;
#  - a refreshing session that is killed leaves no progress behind;
#  - the same with segment in shared_preload_libraries (the array reserved
#    at startup) as without it (allocated on first use).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $setup = q{
CREATE EXTENSION segment;
CREATE TABLE customers (id bigint PRIMARY KEY, score int NOT NULL);
CREATE TABLE orders (customer_id bigint, amount int, paid_at timestamptz DEFAULT now());
INSERT INTO customers SELECT g, g % 100 FROM generate_series(1, 2000) g;
INSERT INTO orders (customer_id, amount) SELECT g, g FROM generate_series(1, 2000) g;
SELECT segment.register_customers('customers', 'id');
SELECT segment.register_source('orders', 'orders', 'customer_id', 'paid_at');
SELECT segment.create_segment('a_first', 'customer.score >= 50');
SELECT segment.create_segment('b_orders', 'sum(orders.amount) >= 1000');
SELECT segment.create_segment('c_last', 'customer.score < 10');
CREATE ROLE watcher LOGIN;
SELECT segment.grant_usage('watcher');
};

my $columns = q{command || ' ' || coalesce(segment_name, '-') || ' ' || phase || ' ' || segments_done || ' '
  || segments_total || ' ' || segments_left || ' ' || (elapsed >= segment_elapsed) || ' ' || (segment_elapsed > '0')};

sub check_node
{
	my ($node, $label) = @_;

	# refresh_all() held on b_orders: orders is locked by another session
	my $locker = $node->background_psql('postgres');
	$locker->query_safe('BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
	my $refresher = $node->background_psql('postgres');
	$refresher->query_until(qr/started/, q{\echo started
SELECT count(*) FROM segment.refresh_all();
});
	ok( $node->poll_query_until('postgres',
			q{SELECT count(*) = 1 FROM segment.refresh_progress WHERE segment_name = 'b_orders'}),
		"$label: refresh_all() is seen from another session");
	is($node->safe_psql('postgres', "SELECT $columns FROM segment.refresh_progress"),
		'refresh_all b_orders evaluating 1 3 2 true true',
		"$label: command, segment, phase, segments done, total and left, elapsed times");
	is($node->safe_psql('postgres', q{SELECT count(*) FROM segment.refresh_progress p
JOIN pg_stat_activity a ON a.pid = p.pid WHERE a.query LIKE '%segment.refresh_all()%' AND a.state = 'active'}),
		'1', "$label: the pid is the refreshing session's");
	is($node->safe_psql('postgres', 'SET ROLE watcher; SELECT count(*) FROM segment.refresh_progress'),
		'1', "$label: a granted role sees it");
	$locker->query_safe('COMMIT');
	ok( $node->poll_query_until('postgres',
			q{SELECT count(*) = 0 FROM segment.refresh_progress}),
		"$label: nothing is left once refresh_all() has finished");
	$refresher->quit;

	# a single refresh() shows its phase
	$locker->query_safe('BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
	$refresher = $node->background_psql('postgres');
	$refresher->query_until(qr/started/, q{\echo started
SELECT segment.refresh('b_orders');
});
	ok( $node->poll_query_until('postgres',
			q{SELECT count(*) = 1 FROM segment.refresh_progress WHERE phase = 'evaluating'}),
		"$label: a single refresh() is seen");
	is($node->safe_psql('postgres', "SELECT $columns FROM segment.refresh_progress"),
		'refresh b_orders evaluating 0 1 1 true true', "$label: a single refresh's phase");

	# killed while refreshing: its slot is released
	$node->safe_psql('postgres',
		q{SELECT pg_terminate_backend(pid) FROM segment.refresh_progress});
	ok( $node->poll_query_until('postgres',
			q{SELECT count(*) = 0 FROM segment.refresh_progress}),
		"$label: a killed refresh leaves no progress behind");
	eval { $refresher->quit; };
	$locker->query_safe('COMMIT');
	$locker->quit;

	# and the next refresh_all() reports again, and finishes
	is($node->safe_psql('postgres', 'SELECT count(*) FROM segment.refresh_all()'), '3',
		"$label: refresh_all() refreshes every segment");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM segment.refresh_progress'), '0',
		"$label: and reports nothing afterwards");
}

my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', $setup);
check_node($plain, 'not preloaded');
is($plain->safe_psql('postgres',
		q{SELECT count(*) FROM pg_shmem_allocations WHERE name = 'segment refresh progress'}),
	'1', 'not preloaded: the array was allocated on first use');
$plain->stop;

my $preloaded = PostgreSQL::Test::Cluster->new('preloaded');
$preloaded->init;
$preloaded->append_conf('postgresql.conf', "shared_preload_libraries = 'segment'");
$preloaded->start;
is($preloaded->safe_psql('postgres',
		q{SELECT count(*) FROM pg_shmem_allocations WHERE name = 'segment refresh progress'}),
	'1', 'preloaded: the array is reserved at startup');
$preloaded->safe_psql('postgres', $setup);
check_node($preloaded, 'preloaded');
$preloaded->stop;

done_testing();
