# The change feed with real sessions:
#  - a consumer in its own session follows two segments while another
#    session refreshes them; it acknowledges a page only after applying it
#    to its replica; some of its sessions are killed after reading a page
#    and before acknowledging it;
#  - the changes it applied replay to exactly the final membership, and
#    every acknowledged position was delivered once;
#  - a refresh still open is invisible to the consumer, and one that waited
#    for it to commit comes after it (positions commit in order);
#  - a listener on channel segment_refresh gets a payload per refresh, and
#    reading from its position gives exactly that refresh's changes;
#  - tag changes: a tag consumer in its own session follows an auto-tagged
#    group while three sessions change customers concurrently and commit
#    in an order unlike the order of their tag_log ids; its sessions are
#    killed before acknowledging now and then; the delivered tagged /
#    untagged changes replay to exactly the tags the customers hold, and a
#    transaction that took its ids first but committed last is delivered.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('changes');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION segment;
CREATE TABLE customers (id bigint PRIMARY KEY, score int NOT NULL);
INSERT INTO customers SELECT g, (g * 37) % 100 FROM generate_series(1, 3000) g;
SELECT segment.register_customers('customers', 'id');
SELECT segment.create_consumer('sync', start => 'now');
SELECT segment.create_segment('high', 'customer.score >= 70');
SELECT segment.create_segment('low', 'customer.score < 20');
});

# The replica the consumer maintains, and what it acknowledged.
my %replica;           # "segment key" => 1
my %acked;             # position => times acknowledged after delivery
my $pages = 0;
my $killed = 0;

my $consumer = $node->background_psql('postgres');

# Reads one page; applies it; acknowledges it unless told to die first.
# Returns the number of changes read.
my $read_page = sub {
	my ($die_before_ack) = @_;
	my $out = $consumer->query_safe(
		q{SELECT position || ' ' || segment_name || ' ' || customer_key || ' ' || change
		  FROM segment.read_changes('sync', 97)});
	my @rows = grep { /\S/ } split /\n/, $out;
	my $last;
	for my $row (@rows)
	{
		my ($pos, $seg, $key, $change) = split / /, $row;
		if ($change eq 'entered') { $replica{"$seg $key"} = 1; }
		else { delete $replica{"$seg $key"}; }
		$last = $pos;
	}
	return 0 unless @rows;
	if ($die_before_ack)
	{
		# delivered, then the session dies: nothing is acknowledged
		my $pid = $consumer->query_safe('SELECT pg_backend_pid()');
		$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
		eval { $consumer->quit; };
		$consumer = $node->background_psql('postgres');
		$killed++;
		return scalar @rows;
	}
	$consumer->query_safe("SELECT segment.ack_changes('sync', $last)");
	for my $row (@rows) { $acked{ (split / /, $row)[0] }++; }
	$pages++;
	return scalar @rows;
};

my $drain = sub { my $n; do { $n = $read_page->(0) } while ($n > 0); };

# Rounds of changes and refreshes in another session, with the consumer
# reading part of the feed in between (and dying now and then).
my $refresher = $node->background_psql('postgres');
for my $round (1 .. 12)
{
	$refresher->query_safe(sprintf(q{
UPDATE customers SET score = (score + %d * id) %% 100 WHERE id %% %d = 0;
SELECT segment.refresh('high'), segment.refresh('low');}, $round * 7, 2 + $round % 5));
	$read_page->(0);
	$read_page->($round % 4 == 0);
	$read_page->(0) if $round % 3 == 0;
}
$drain->();
ok($killed >= 3, "consumer sessions were killed before acknowledging ($killed)");
ok($pages > 20, "the feed was read in many pages ($pages)");

my $members = $node->safe_psql('postgres',
	q{SELECT segment_name || ' ' || customer_key FROM segment.membership ORDER BY 1});
is(join("\n", sort keys %replica), join("\n", sort split /\n/, $members),
	'the delivered changes replay to exactly the final membership');
is(scalar(grep { $_ != 1 } values %acked), 0,
	'every acknowledged change was delivered once (no duplicates after acknowledgement)');

# A refresh still open is invisible; a second one, waiting on the change
# log's lock, commits after it with a larger position.
$node->safe_psql('postgres', q{UPDATE customers SET score = 99 WHERE id <= 10;
                               UPDATE customers SET score = 0 WHERE id BETWEEN 11 AND 20});
my $a = $node->background_psql('postgres');
$a->query_safe(q{BEGIN; SELECT segment.refresh('high')});
my $b = $node->background_psql('postgres');
$b->query_until(qr/started/, q{\echo started
SELECT segment.refresh('low');
});
is($consumer->query_safe(q{SELECT count(*) FROM segment.read_changes('sync')}), '0',
	'changes of refreshes not yet committed are not read');
$node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted})
  or diag('the second refresh did not wait');
$a->query_safe('COMMIT');
$b->quit;
is( $consumer->query_safe(q{
SELECT string_agg(DISTINCT segment_name, ',') FROM segment.read_changes('sync')}),
	'high,low', 'both refreshes are read once committed');
is( $consumer->query_safe(q{
SELECT max(position) FILTER (WHERE segment_name = 'high') < min(position) FILTER (WHERE segment_name = 'low')
FROM segment.read_changes('sync')}),
	't', 'the refresh that waited has the larger positions');
$drain->();

# NOTIFY: the payload names the segment, the counts and the position from
# which exactly this refresh's changes are read.
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN segment_refresh');
$node->safe_psql('postgres', q{UPDATE customers SET score = 75 WHERE id BETWEEN 21 AND 25;
                               SELECT segment.refresh('high')});
my $note = $listener->query_safe('SELECT 1');
$note .= $listener->{stderr} // '';
like($note, qr/Asynchronous notification "segment_refresh" with payload "(\{.*?\})"/,
	'a listener is notified after the refresh commits');
my ($payload) = $note =~ /payload "(\{.*?\})"/;
$payload //= '{}';
my $check = $node->safe_psql('postgres', qq{
WITH p AS (SELECT '$payload'::json AS j)
SELECT (j->>'segment') || ' ' || (j->>'entered') || ' ' || (j->>'exited') || ' '
       || (j->>'members' = (SELECT member_count::text FROM segment.segments WHERE name = 'high'))
FROM p});
my ($seg, $entered) = split / /, $check;
is($seg, 'high', 'the payload names the segment');
my $from = $node->safe_psql('postgres', qq{SELECT ('$payload'::json->>'position')::bigint});
is( $node->safe_psql('postgres', qq{
SELECT count(*) FROM segment.read_changes('sync', 100000) WHERE position >= $from AND position < (($from >> 33) + 1) << 33}),
	$entered, 'reading from the notified position gives exactly that refresh\'s changes');
like($check, qr/ true$/, 'the payload has the member count') or diag("$check / $payload");

# Tag changes through a tag consumer.
$node->safe_psql('postgres', q{
SELECT segment.create_tag_group('band', exclusive => true, allow_auto => true);
SELECT segment.create_tag_consumer('tags', 'band');
SELECT segment.add_tag('band', 'hot', rule => 'customer.score >= 70');
SELECT segment.add_tag('band', 'cold', rule => 'customer.score < 20');
});
my %tags;              # "tag key" => 1
my %tag_acked;
my $tag_killed = 0;
my $tagger = $node->background_psql('postgres');
my $read_tags = sub {
	my ($die_before_ack) = @_;
	my $out = $tagger->query_safe(
		q{SELECT position || ' ' || segment_name || ' ' || customer_key || ' ' || change
		  FROM segment.read_changes('tags', 89)});
	my @rows = grep { /\S/ } split /\n/, $out;
	my $last;
	for my $row (@rows)
	{
		my ($pos, $tag, $key, $change) = split / /, $row;
		if ($change eq 'tagged') { $tags{"$tag $key"} = 1; }
		else { delete $tags{"$tag $key"}; }
		$last = $pos;
	}
	return 0 unless @rows;
	if ($die_before_ack)
	{
		my $pid = $tagger->query_safe('SELECT pg_backend_pid()');
		$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
		eval { $tagger->quit; };
		$tagger = $node->background_psql('postgres');
		$tag_killed++;
		return scalar @rows;
	}
	$tagger->query_safe("SELECT segment.ack_changes('tags', $last)");
	for my $row (@rows) { $tag_acked{ (split / /, $row)[0] }++; }
	return scalar @rows;
};
my $drain_tags = sub { my $n; do { $n = $read_tags->(0) } while ($n > 0); };

# Three writers on disjoint customers (and disjoint buckets of the
# auto-tagging's per-customer locks, ordinal % 256); each round they open
# their transactions in one order and commit in the reverse one, so the
# first to take tag_log ids commits last.
my @writers = map { $node->background_psql('postgres') } 0 .. 2;
my $late_seen = 0;
for my $round (1 .. 9)
{
	for my $w (0 .. 2)
	{
		$writers[$w]->query_safe(sprintf(q{BEGIN;
UPDATE customers SET score = (score + %d) %% 100 WHERE (id %% 256) %% 3 = %d AND id %% %d = 0;},
			$round * 13 + $w * 5, $w, 2 + ($round + $w) % 4));
	}
	# who took which tag_log ids
	my @span = map {
		[ split / /, $writers[$_]->query_safe(q{
SELECT pg_current_xact_id() || ' ' || coalesce(min(id), 0) || ' ' || coalesce(max(id), 0)
FROM segment.tag_log WHERE xid = pg_current_xact_id()}) ]
	} 0 .. 2;
	$writers[2]->query_safe('COMMIT');
	$writers[1]->query_safe('COMMIT');
	$read_tags->($round % 3 == 0);
	$read_tags->(0);
	# writer 0 took ids before the others' last ones; it commits now
	$writers[0]->query_safe('COMMIT');
	my $n = $tagger->query_safe(qq{
SELECT count(*) FROM segment.read_changes('tags', 100000) r
JOIN segment.tag_changes t ON t.position = r.position >> 33 WHERE t.xid = '$span[0][0]'::xid8});
	$late_seen++ if $n > 0 && $span[0][1] > 0 && $span[0][1] < ($span[1][2] > $span[2][2] ? $span[1][2] : $span[2][2]);
	$read_tags->(0);
}
$drain_tags->();
ok($tag_killed >= 2, "tag consumer sessions were killed before acknowledging ($tag_killed)");
ok($late_seen >= 3, "a transaction that wrote tag_log first and committed last is delivered ($late_seen rounds)");
my $held = $node->safe_psql('postgres',
	q{SELECT group_name || '-' || value || ' ' || customer_key FROM segment.customer_tags WHERE group_name = 'band' ORDER BY 1});
ok($held ne '', 'customers hold band tags');
is(join("\n", sort keys %tags), join("\n", sort split /\n/, $held),
	'the delivered tag changes replay to exactly the tags the customers hold');
is(scalar(grep { $_ != 1 } values %tag_acked), 0,
	'every acknowledged tag change was delivered once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM segment.tag_feed_pending'), '0',
	'no transaction is left pending');

$_->quit for ($consumer, $refresher, $a, $listener, $tagger, @writers);
$node->stop;
done_testing();
