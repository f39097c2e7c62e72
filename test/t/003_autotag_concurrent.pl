# Auto-tagging stays consistent under load: after a bulk insert of 100k
# orders in one statement, and after two sessions inserting orders for the
# same customers at the same time, the tags equal what a full retag()
# computes (retag finds nothing to change).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('autotag');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION segment;
CREATE TABLE customers (id int PRIMARY KEY);
CREATE TABLE orders (customer_id int NOT NULL, status text NOT NULL, amount numeric, paid_at timestamptz DEFAULT now());
INSERT INTO customers SELECT generate_series(1, 5000);
SELECT segment.register_customers('customers', 'id');
SELECT segment.register_source('orders', 'orders', 'customer_id', 'paid_at');
SELECT segment.create_tag_group('tier', exclusive => true, allow_manual => false, allow_auto => true);
SELECT segment.add_tag('tier', 'low', rule => 'sum(orders.amount WHERE status = ''paid'') < 300');
SELECT segment.add_tag('tier', 'mid', rule => 'sum(orders.amount WHERE status = ''paid'') < 2000');
SELECT segment.add_tag('tier', 'high', rule => 'sum(orders.amount WHERE status = ''paid'') >= 2000');
SELECT segment.create_tag_group('band', exclusive => true, allow_auto => true);
SELECT segment.add_tag('band', '1-3', rule => 'count(orders WHERE status = ''paid'') BETWEEN 1 AND 3');
SELECT segment.add_tag('band', '4-6', rule => 'count(orders WHERE status = ''paid'') BETWEEN 4 AND 6');
SELECT segment.add_tag('band', '7+', rule => 'count(orders WHERE status = ''paid'') >= 7');
});

my $retag_changes = q{SELECT coalesce(sum(added + removed), 0) FROM segment.retag()};
my $by_hand = q{
SELECT count(*) FROM customers c
LEFT JOIN (SELECT customer_id, sum(amount) FILTER (WHERE status = 'paid') s,
                  count(*) FILTER (WHERE status = 'paid') n FROM orders GROUP BY 1) o ON o.customer_id = c.id
LEFT JOIN segment.customer_tags t ON t.customer_key = c.id AND t.group_name = 'tier'
LEFT JOIN segment.customer_tags b ON b.customer_key = c.id AND b.group_name = 'band'
WHERE t.value IS DISTINCT FROM CASE WHEN coalesce(o.s, 0) < 300 THEN 'low' WHEN o.s < 2000 THEN 'mid' ELSE 'high' END
   OR b.value IS DISTINCT FROM CASE WHEN coalesce(o.n, 0) = 0 THEN NULL WHEN o.n <= 3 THEN '1-3' WHEN o.n <= 6 THEN '4-6' ELSE '7+' END};

# one statement, 100k orders
$node->safe_psql('postgres', q{
INSERT INTO orders (customer_id, status, amount)
SELECT 1 + (g * 7919) % 5000, CASE WHEN g % 9 = 0 THEN 'refunded' ELSE 'paid' END, (g % 13) * 15
FROM generate_series(1, 100000) g});
is($node->safe_psql('postgres', $by_hand), '0', '100k-row insert: every customer tagged as the rules say');
is($node->safe_psql('postgres', $retag_changes), '0', 'and a full retag changes nothing');

# two sessions, the same customers: each round, session 0 inserts and keeps
# its transaction open, session 1 inserts for overlapping customers (and
# waits for session 0's re-tagging), then both commit
my @s = map { $node->background_psql('postgres') } 1 .. 2;
for my $round (1 .. 20)
{
	$s[0]->query_safe(sprintf(q{BEGIN; INSERT INTO orders (customer_id, status, amount)
		SELECT 1 + (g + %d) %% 40, 'paid', 40 FROM generate_series(1, 25) g}, $round));
	$s[1]->query_until(qr/sent/, sprintf(q{\echo sent
BEGIN; INSERT INTO orders (customer_id, status, amount) SELECT 1 + (g + %d) %% 40, 'paid', 45 FROM generate_series(1, 25) g; COMMIT;
}, $round + 7));
	$s[0]->query_safe('COMMIT');
	$s[1]->query_safe('SELECT 1');
}
is($node->safe_psql('postgres', $by_hand), '0', 'concurrent sessions: every customer tagged as the rules say');
is($node->safe_psql('postgres', $retag_changes), '0', 'and a full retag changes nothing');
# truly interleaved: session 0 inserts and waits, session 1 inserts for the
# same customer (blocks on the re-tagging lock), then 0 commits
$s[0]->query_safe(q{BEGIN; INSERT INTO orders (customer_id, status, amount) VALUES (4999, 'paid', 1500)});
$s[1]->query_until(qr/started/, q{\echo started
BEGIN; INSERT INTO orders (customer_id, status, amount) VALUES (4999, 'paid', 1500); COMMIT;
});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted}),
	'the second session waits for the first one\'s re-tagging of the same customer');
$s[0]->query_safe('COMMIT');
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted}),
	'and proceeds when it commits');
$s[1]->query_safe('SELECT 1');
is( $node->safe_psql('postgres',
		q{SELECT value FROM segment.customer_tags WHERE customer_key = 4999 AND group_name = 'tier'}),
	'high', 'the second transaction saw the first one\'s order: 4999 crossed 2000 and is high');
is($node->safe_psql('postgres', $retag_changes), '0', 'a full retag agrees');

# the backends cache groups and prepared queries: a rule another session
# changes (and commits) applies to this session's very next statement
# (customers without orders: the bulk insert above gave everyone else some)
$node->safe_psql('postgres', q{INSERT INTO customers VALUES (6001), (6002)});
$s[0]->query_safe(q{INSERT INTO orders (customer_id, status, amount) VALUES (6001, 'paid', 10)});
is( $node->safe_psql('postgres',
		q{SELECT value FROM segment.customer_tags WHERE customer_key = 6001 AND group_name = 'tier'}),
	'low', 'session 0 tags with the cached rules');
$s[1]->query_safe(q{SELECT count(*) FROM segment.set_tag_rule('tier', 'low', 'sum(orders.amount WHERE status = ''paid'') < 5')});
$s[0]->query_safe(q{INSERT INTO orders (customer_id, status, amount) VALUES (6001, 'paid', 1)});
is( $node->safe_psql('postgres',
		q{SELECT value FROM segment.customer_tags WHERE customer_key = 6001 AND group_name = 'tier'}),
	'mid', 'after session 1 changed the low rule, session 0 follows the new one at once');
# a rolled-back change leaves the old rule in force in the other session
$s[1]->query_safe(q{BEGIN; SELECT count(*) FROM segment.set_tag_rule('tier', 'mid', NULL); ROLLBACK});
$s[0]->query_safe(q{INSERT INTO orders (customer_id, status, amount) VALUES (6002, 'paid', 100)});
is( $node->safe_psql('postgres',
		q{SELECT value FROM segment.customer_tags WHERE customer_key = 6002 AND group_name = 'tier'}),
	'mid', 'a rule change rolled back elsewhere changes nothing here');
is($node->safe_psql('postgres', $retag_changes), '0', 'a full retag agrees');

$_->quit for @s;
$node->stop;
done_testing();
