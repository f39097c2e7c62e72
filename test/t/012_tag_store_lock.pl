# segment.tag_members.tag_id behaves as a foreign key: the statement check
# of new members locks their tag rows FOR KEY SHARE, so a concurrent
# delete of the tag waits for the tagging transaction and then removes its
# members, instead of leaving orphan members behind.  The same for an
# application role (grant_usage), whose writes run as the extension owner.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('tag_lock');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION segment;
CREATE TABLE customers (id int PRIMARY KEY);
INSERT INTO customers SELECT generate_series(1, 100);
SELECT segment.register_customers('customers', 'id');
SELECT segment.create_tag_group('g');
SELECT segment.add_tag('g', 'v');
SELECT segment.add_tag('g', 'w');
CREATE ROLE tagger LOGIN;
SELECT segment.grant_usage('tagger');
GRANT SELECT ON customers TO tagger;
});

my $orphans = q{SELECT count(*) FROM segment.tag_members m WHERE NOT EXISTS (SELECT FROM segment.tags t WHERE t.id = m.tag_id)};

for my $case (['postgres', 'v', 'the tag\'s owner'], ['tagger', 'w', 'a role that may not lock the tags'])
{
	my ($user, $value, $who) = @$case;
	my $a = $node->background_psql('postgres', on_error_stop => 1, extra_params => ['-U', $user]);
	# A tags a customer and keeps its transaction open
	$a->query_safe(qq{BEGIN; SELECT segment.tag_customer('g', '$value', 7)});
	# B deletes the tag meanwhile: it must wait for A
	my $b = $node->background_psql('postgres');
	$b->query_until(qr/started/, qq{\\echo started
DELETE FROM segment.tags WHERE value = '$value';
});
	ok( $node->poll_query_until('postgres',
			q{SELECT count(*) > 0 FROM pg_locks WHERE locktype IN ('transactionid', 'tuple') AND NOT granted}),
		"$who: the tag's delete waits for the tagging transaction");
	$a->query_safe('COMMIT');
	$b->query_safe('SELECT 1');
	is($node->safe_psql('postgres', $orphans), '0', "$who: no orphan member after both commit");
	is($node->safe_psql('postgres', qq{SELECT count(*) FROM segment.tags WHERE value = '$value'}), '0',
		"$who: and the tag is gone");
	$a->quit;
	$b->quit;
}

# the lookup still reports a missing tag
my ($rc, $out, $err) = $node->psql('postgres',
	q{INSERT INTO segment.tag_members (tag_id, ordinal, source) VALUES (424242, 1, 'manual')});
like($err, qr/tag 424242 does not exist/, 'a member of a missing tag is still refused');

# the dependency check never refuses dropping the extension itself, with
# registrations, triggers and tags in place
$node->safe_psql('postgres', q{CREATE TABLE orders (customer_id int, at timestamptz);
SELECT segment.register_source('orders', 'orders', 'customer_id', 'at')});
($rc, $out, $err) = $node->psql('postgres', q{DROP EXTENSION segment CASCADE});
is($rc, 0, 'DROP EXTENSION segment succeeds with registrations in place');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_event_trigger}), '0', 'and leaves no event trigger');
$node->safe_psql('postgres', q{DROP TABLE orders, customers});

$node->stop;
done_testing();
