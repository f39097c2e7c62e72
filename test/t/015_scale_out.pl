# Scale-out over postgres_fdw (issue 17, doc/scale-out.md): a coordinator
# and two shard clusters.  The differential test's data (test/t/Differential.pm)
# is loaded once into a single-node database on the coordinator, and once
# into a sharded database whose customer table and sources are partitioned
# by hash of the customer key into postgres_fdw foreign partitions
# (extensions 'segment', async_capable) made by create_foreign_partitions().
#  - every generated rule (and the behavioural pass's rules) gives the same
#    members sharded as single-node, at two as-of instants;
#  - the plans run the shards' audience_agg remotely, in async foreign scans;
#  - saved segments refresh (refresh_all() with shared sub-conditions) to the
#    same members, read through is_member() and the membership view;
#  - retag() gives auto tags the single node's customers;
#  - a refresh with a shard down fails with the connection error and keeps
#    the old membership;
#  - a third shard added later (every table re-partitioned over three
#    servers) gives the same members after a refresh;
#  - the helpers' bad input errors.
#
#   SHARD_SEED   seed of the data and the rules (default 17)
#   SHARD_RULES  generated rules (default 300), plus SHARD_RULES / 6 behavioural ones
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Differential;

my $seed   = $ENV{SHARD_SEED}  // 17;
my $nrules = $ENV{SHARD_RULES} // 300;
my $ncust  = 320;
my @instants = @Differential::AS_OF[ 0, 1 ];
my $z = $Differential::ZONE;

sub node
{
	my $n = PostgreSQL::Test::Cluster->new(shift);
	$n->init;
	$n->append_conf('postgresql.conf', "timezone = '$z'\nfsync = off\nsynchronous_commit = off\n");
	$n->start;
	return $n;
}
my $coord  = node('coordinator');
my @shards = (node('shard1'), node('shard2'));

# The tables of Differential::data_sql, as each shard holds them.
my $tables = <<'SQL';
CREATE TABLE customers (id int PRIMARY KEY, name text, city text, age int, score numeric(6,2), vip boolean,
                        birthday date, registered_at timestamptz, "Nick Name" text);
CREATE TABLE orders (id int, customer_id int, status text, amount numeric, channel text, note text, paid_at timestamptz);
CREATE TABLE page_views (customer_id bigint, url text, seconds int, viewed_at timestamp without time zone);
CREATE TABLE messages (customer_id int, campaign text, kind text, button text, sent_on date);
SQL
my %key = (customers => 'id', orders => 'customer_id', page_views => 'customer_id', messages => 'customer_id');
my @tables = sort keys %key;

# --- the single node: data, registration, tags and segments of the differential test
$coord->safe_psql('postgres', 'CREATE DATABASE single');
$coord->safe_psql('postgres', 'CREATE DATABASE sharded');
$coord->safe_psql('single', "CREATE EXTENSION segment;\n" . Differential::data_sql($seed, $ncust)
	  . Differential::setup_sql('int', $seed));

# --- the shards: the extension and empty tables
for my $s (@shards)
{
	$s->safe_psql('postgres', "CREATE EXTENSION segment;\n$tables");
}

# --- the coordinator: servers, partitioned tables of foreign partitions
sub server_sql
{
	my ($name, $node) = @_;
	return sprintf(q{CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '%s', port '%d', dbname 'postgres',
                     extensions 'segment', async_capable 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER %s;
}, $name, $node->host, $node->port, $name);
}
my $dir = $coord->basedir;
my $setup = "CREATE EXTENSION segment;\nCREATE EXTENSION postgres_fdw;\n"
  . server_sql('s1', $shards[0]) . server_sql('s2', $shards[1]);
for my $t (@tables)
{
	(my $ddl) = $tables =~ /(CREATE TABLE $t \(.*?\));/s;
	$ddl =~ s/ PRIMARY KEY//;
	$setup .= "$ddl PARTITION BY HASH ($key{$t});\n"
	  . "SELECT count(*) FROM segment.create_foreign_partitions('$t', ARRAY['s1', 's2']);\n";
	$coord->safe_psql('single', "COPY $t TO '$dir/$t.copy'");
}
$setup .= "COPY $_ FROM '$dir/$_.copy';\n" for @tables;
# foreign partitions are analyzed only when named (doc/scale-out.md)
my $analyze = q{DO $$ DECLARE r regclass; BEGIN
FOR r IN SELECT c.oid FROM pg_class c WHERE c.relkind = 'f' LOOP EXECUTE format('ANALYZE %s', r); END LOOP; END $$;
};
$setup .= "ANALYZE;\n$analyze" . <<'SQL';
SELECT segment.register_customers('customers', 'id');
SELECT segment.register_source('orders', 'orders', 'customer_id', 'paid_at');
SELECT segment.register_source('page_views', 'page_views', 'customer_id', 'viewed_at');
SELECT segment.register_source('messages', 'messages', 'customer_id', 'sent_on');
SELECT segment.create_tag_group('tier', exclusive => true);
SELECT segment.add_tag('tier', v) FROM unnest(ARRAY['gold', 'silver', 'bronze']) v;
SELECT segment.create_tag_group('退订标签');
SELECT segment.add_tag('退订标签', v) FROM unnest(ARRAY['已退订', 'другое']) v;
SELECT segment.create_tag_group('leer');
SELECT segment.add_tag('leer', 'x');
SQL
$coord->safe_psql('sharded', $setup);
for my $s (@shards) { $s->safe_psql('postgres', 'ANALYZE') }

# the single node's tags (held by ordinal, some of customers since deleted)
$coord->safe_psql('single', qq{COPY (SELECT g.name, t.value, m.ordinal, m.source FROM segment.tag_members m
    JOIN segment.tags t ON t.id = m.tag_id JOIN segment.tag_groups g ON g.id = t.group_id) TO '$dir/tags.copy'});
$coord->safe_psql('sharded', qq{
CREATE TEMP TABLE x (g text, v text, ordinal bigint, source text);
COPY x FROM '$dir/tags.copy';
INSERT INTO segment.tag_members (tag_id, ordinal, source)
SELECT t.id, x.ordinal, x.source FROM x JOIN segment.tags t ON t.value = x.v
JOIN segment.tag_groups g ON g.id = t.group_id AND g.name = x.g;
SELECT segment.create_segment('vip', 'customer.vip = true OR customer.score > 90');
SELECT segment.create_segment('上海 客户', 'customer.city = ''上海'' OR EXISTS orders WHERE channel = ''store''');
});

is( $coord->safe_psql('sharded', q{SELECT string_agg(format('%s %s %s %s', name, relation, shards, coalesce(reason, '-')), ', ') FROM segment.sharding()}),
	'customer customers 2 -, messages messages 2 -, orders orders 2 -, page_views page_views 2 -',
	'sharding(): the customer table and every source on 2 shards');
is( $coord->safe_psql('sharded', q{SELECT format('%s/%s', (SELECT count(*) FROM orders), (SELECT count(*) FROM orders_s1))}),
	$coord->safe_psql('single', q{SELECT count(*) FROM orders}) . '/' . $shards[0]->safe_psql('postgres', 'SELECT count(*) FROM orders'),
	'the rows are spread over the shards');

# --- the rules: generated, plus the behavioural pass's
my @rules;
my $gen = Differential->new(seed => $seed * 3, mode => 'int', strict => 1);
push @rules, $gen->gen_rule->{text} for 1 .. $nrules;
my $beh = Differential->new(seed => $seed * 3 + 4, mode => 'int', strict => 1, behaviour => 1);
push @rules, $beh->gen_rule->{text} for 1 .. int($nrules / 6);
push @rules, map { $_->{text} } $beh->pinned_rules;
push @rules, 'EXISTS orders', 'NOT EXISTS orders', 'count(orders) = 0', 'count(orders WHERE status = \'paid\') >= 3',
  'sum(orders.amount) < 300 OR EXISTS page_views', 'TAG \'tier\' IN (\'gold\') AND EXISTS messages',
  'IN SEGMENT \'上海 客户\' AND NOT IN SEGMENT \'vip\'', 'customer.age > 30', 'NOT customer.city = \'上海\'';
# s9-shagg: every kind and comparison grouped_audience_agg() answers per shard
push @rules, 'avg(orders.amount) BETWEEN 20 AND 200', 'avg(page_views.seconds) NOT BETWEEN 10 AND 60',
  'min(orders.paid_at) < \'2024-06-01\'', 'max(messages.sent_on) >= \'2024-07-01\'', 'max(page_views.seconds) NOT IN (0, 5)',
  'first(orders.channel) = \'store\'', 'last(orders.status) IS NULL', 'first(messages.kind) <> \'clicked\'',
  'last(page_views.url) IN (\'/\', \'/cart\')', 'count(orders.note) <= 1', 'sum(page_views.seconds) > 100',
  'sum(orders.amount WHERE status = \'paid\') = 0', 'count(messages WHERE kind = \'clicked\') < 2',
  'last(orders.amount) > 50 AND first(page_views.viewed_at) IS NOT NULL', 'NOT min(orders.amount) <= 10',
  'last(orders.paid_at) < 30 days ago', 'first(messages.sent_on) > \'2024-05-01\'',
  'sum(orders.amount) < 300 AND count(orders) >= 1', 'sum(orders.amount) < 300 OR count(orders WHERE status = \'paid\') >= 2',
  'count(page_views) = 0 OR NOT EXISTS page_views WHERE seconds > 30', 'avg(orders.amount) >= 100 AND sum(orders.amount) <= 500';
# s10-shkinds: count_distinct, mode and active_* answered per shard too
# (count_distinct = 0 becomes NOT EXISTS: not among them)
my @shkinds = (
	q{count_distinct(orders.channel) >= 2}, q{count_distinct(page_views.url WHERE seconds > 5) < 2},
	q{count_distinct(messages.sent_on) BETWEEN 2 AND 4}, q{mode(orders.channel) = 'store'},
	q{mode(messages.kind) IN ('read', 'clicked')}, q{mode(orders.amount) > 50}, q{mode(messages.sent_on) < '2024-06-01'},
	q{mode(orders.note) IS NULL}, q{mode(page_views.viewed_at) >= '2024-07-01'}, q{active_days(orders) >= 2},
	q{active_days(page_views DURING LAST 90 days) = 0}, q{active_days(messages WHERE kind = 'read') > 1},
	q{active_weeks(orders WHERE status = 'paid') BETWEEN 1 AND 2}, q{active_weeks(page_views) < 3},
	q{active_weeks(messages) NOT IN (1, 2)}, q{active_months(orders) >= 2}, q{active_months(page_views) <= 1},
	q{active_months(messages DURING LAST 6 months) = 1},
	q{active_days(orders) >= 2 AND mode(orders.channel) <> 'web' AND count_distinct(orders.status) = 1},
	q{active_weeks(page_views) > 1 OR count_distinct(page_views.url) >= 3});
push @rules, @shkinds;

my $driver = <<'SQL';
CREATE TABLE shard_rules (id int PRIMARY KEY, rule text NOT NULL);
-- one line per rule and instant: the members' md5, or the error
CREATE FUNCTION shard_members(lo int, hi int, instants timestamptz[]) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    r record;
    t timestamptz;
    a segment.audience;
BEGIN
    FOR r IN SELECT * FROM shard_rules WHERE id BETWEEN lo AND hi ORDER BY id LOOP
        FOREACH t IN ARRAY instants LOOP
            BEGIN
                a := segment.evaluate(r.rule::segment.segment_rule, t);
                RETURN NEXT format('%s %s %s %s', r.id, t, segment.cardinality(a), md5(segment.to_bigint_array(a)::text));
            EXCEPTION WHEN OTHERS THEN
                RETURN NEXT format('%s %s error %s', r.id, t, SQLERRM);
            END;
        END LOOP;
    END LOOP;
END $$;
SQL
my $k = 0;
my $load = 'INSERT INTO shard_rules VALUES ' . join(",\n", map { $k++; "($k, " . Differential::ql($_) . ')' } @rules);
for my $db ('single', 'sharded') { $coord->safe_psql($db, "$driver$load") }
my $inst = 'ARRAY[' . join(', ', map { Differential::ql($_) } @instants) . ']::timestamptz[]';

# compares rules lo..hi between the databases; returns the number that differ
sub compare_rules
{
	my ($lo, $hi, $what) = @_;
	my @a = split /\n/, $coord->safe_psql('single',  "SELECT shard_members($lo, $hi, $inst)");
	my @b = split /\n/, $coord->safe_psql('sharded', "SELECT shard_members($lo, $hi, $inst)");
	my $bad = 0;
	for my $i (0 .. $#a)
	{
		next if defined $b[$i] && $a[$i] eq $b[$i];
		$bad++;
		my ($id) = $a[$i] =~ /^(\d+)/;
		diag("$what: rule $id: $rules[$id - 1]\n  single:  $a[$i]\n  sharded: " . ($b[$i] // 'missing')) if $bad <= 5;
	}
	if (@a != @b)
	{
		$bad++;
		diag("$what: " . scalar(@a) . " lines single, " . scalar(@b) . " sharded");
	}
	return $bad;
}
my $n = @rules;
is(compare_rules(1, $n, 'two shards'), 0, "$n rules at two instants: the same members sharded as on one node");
is( $coord->safe_psql('single', "SELECT count(*) FROM shard_members(1, $n, $inst) m WHERE m LIKE '% error %'"),
	'0', 'no rule fails');

# --- the plans: audiences computed on the shards, concurrently
my $plan = $coord->safe_psql('sharded', q{
SELECT segment.compile('EXISTS orders WHERE status = ''paid'' AND NOT EXISTS page_views', '2024-08-09 11:00+02') AS q \gset
EXPLAIN (VERBOSE, COSTS OFF) :q
});
my @remote = $plan =~ /Remote SQL: SELECT segment\.audience_agg\(/g;
is(scalar @remote, 6, 'EXPLAIN (VERBOSE): six remote audience_agg calls (universe, orders, page_views on 2 shards)');
my @async = $plan =~ /Async Foreign Scan/g;
is(scalar @async, 6, 'each in an async foreign scan');

# --- s9-shagg: aggregates answered by each shard with one audience
# (grouped_audience_agg(), doc/scale-out.md): the Remote SQL holds the whole
# aggregate and no GROUP BY; a condition that holds over no rows asks for
# the customers that do not satisfy it; two aggregates of one source in one
# rule share a grouped scan, which still ships one row per customer.
sub plan_of
{
	my ($rule) = @_;
	return $coord->safe_psql('sharded', qq{
SELECT segment.compile(\$r\$$rule\$r\$, '2024-08-09 11:00+02') AS q \\gset
EXPLAIN (VERBOSE, COSTS OFF) :q
});
}
for my $case (
	[ q{count(orders WHERE status = 'paid') >= 2}, qr/grouped_audience_agg\(customer_id, 1, NULL::date, 0, 5, '\{2\}'::bigint\[\], true\)/ ],
	[ q{sum(orders.amount) < 300}, qr/grouped_audience_agg\(customer_id, amount, NULL::date, 1, 2, '\{300\}'::numeric\[\], false\)/ ],
	[ q{avg(page_views.seconds) BETWEEN 10 AND 100}, qr/grouped_audience_agg\(customer_id, seconds, NULL::date, 2, 8, '\{10,100\}'::numeric\[\], true\)/ ],
	[ q{first(orders.channel) IN ('store', 'web')}, qr/grouped_audience_agg\(customer_id, channel, paid_at, 5, 6, '\{store,web\}'::text\[\], true\)/ ],
	[ q{last(messages.kind) IS NOT NULL}, qr/grouped_audience_agg\(customer_id, kind, sent_on, 6, 11, NULL::text\[\], true\)/ ])
{
	my ($rule, $call) = @$case;
	my $p = plan_of($rule);
	my @calls = $p =~ /Remote SQL: SELECT segment\.grouped_audience_agg\(/g;
	is(scalar @calls, 2, "$rule: one grouped_audience_agg per shard in the Remote SQL");
	like($p, $call, "$rule: the aggregate, comparison and values shipped as constants");
	unlike($p, qr/GROUP BY/, "$rule: no GROUP BY shipped");
	my @async = $p =~ /Async Foreign Scan/g;
	cmp_ok(scalar @async, '>=', 2, "$rule: in async foreign scans");
}
my $p = plan_of(q{count(orders) >= 2 AND avg(orders.amount WHERE status = 'paid') > 50 AND NOT EXISTS orders WHERE channel = 'store'});
my @merged = $p =~ /Remote SQL: SELECT segment\.grouped_audience_agg\(customer_id, 1, .*, segment\.grouped_audience_agg\(customer_id, amount, .* FILTER \(WHERE \(status = 'paid'\)\).*, segment\.audience_agg\(customer_id::bigint\) FILTER \(WHERE \(channel = 'store'\)\)/g;
is(scalar @merged, 2, 'predicates of one source in one scan: each shard sends an audience per predicate');
unlike($p, qr/GROUP BY/, 'no GROUP BY shipped for the merged scan');
$p = $coord->safe_psql('sharded', q{SET segment.shard_aggregates = off;
SELECT segment.compile('count(orders WHERE status = ''paid'') >= 2', '2024-08-09 11:00+02') AS q \gset
EXPLAIN (VERBOSE, COSTS OFF) :q
});
like($p, qr/Remote SQL: SELECT customer_id, count\(\*\) FROM public\.orders WHERE .* GROUP BY 1/,
	'segment.shard_aggregates = off: the GROUP BY is pushed down (one row per customer shipped)');
my $pushed = $coord->safe_psql('sharded', q{
SELECT count(*) FROM shard_rules WHERE segment.compile(rule::segment.segment_rule, now()) LIKE '%grouped_audience_agg%'});
cmp_ok($pushed, '>=', 20, "$pushed of the compared rules have an aggregate answered per shard");
# --- end s9-shagg

# --- s10-shkinds: count_distinct, mode and active_* in grouped_audience_agg()
# (kinds 7 .. 11); active_* of a timestamptz gets the rule's zone as a
# bytea constant (Europe/Berlin), which postgres_fdw ships
my $berlin = q{E?'\\\\{1,2}x4575726f70652f4265726c696e'::bytea};
for my $case (
	[ q{count_distinct(orders.channel) >= 2}, qr/grouped_audience_agg\(customer_id, channel, NULL::date, 7, 5, '\{2\}'::bigint\[\], true\)/ ],
	[ q{count_distinct(page_views.url WHERE seconds > 5) < 2}, qr/grouped_audience_agg\(customer_id, url, NULL::date, 7, 2, '\{2\}'::bigint\[\], false\)/ ],
	[ q{mode(orders.channel) = 'store'}, qr/grouped_audience_agg\(customer_id, channel, NULL::date, 8, 0, '\{store\}'::text\[\], true\)/ ],
	[ q{mode(messages.sent_on) < '2024-06-01'}, qr/grouped_audience_agg\(customer_id, \(?sent_on\)?::timestamp without time zone, NULL::date, 8, 2, /],
	[ q{active_days(orders) >= 2}, qr/grouped_audience_agg\(customer_id, paid_at, $berlin, 9, 5, '\{2\}'::bigint\[\], true\)/ ],
	[ q{active_weeks(page_views) < 3}, qr/grouped_audience_agg\(customer_id, viewed_at, $berlin, 10, 2, '\{3\}'::bigint\[\], false\)/ ],
	[ q{active_months(messages DURING LAST 6 months) = 1}, qr/grouped_audience_agg\(customer_id, sent_on, $berlin, 11, 0, '\{1\}'::bigint\[\], true\)/ ])
{
	my ($rule, $call) = @$case;
	my $p = plan_of($rule);
	my @calls = $p =~ /Remote SQL: SELECT segment\.grouped_audience_agg\(/g;
	is(scalar @calls, 2, "$rule: one grouped_audience_agg per shard in the Remote SQL");
	like($p, qr/Remote SQL: SELECT segment\.$call/, "$rule: the kind, zone and values shipped as constants");
	unlike($p, qr/GROUP BY/, "$rule: no GROUP BY shipped");
}
$p = plan_of(q{active_days(orders) >= 2 AND mode(orders.channel) <> 'web' AND count_distinct(orders.status) = 1});
@merged = $p =~ /Remote SQL: SELECT segment\.grouped_audience_agg\(customer_id, paid_at, .*, 9, .*segment\.grouped_audience_agg\(customer_id, channel, NULL::date, 8, .*segment\.grouped_audience_agg\(customer_id, status, NULL::date, 7, /g;
is(scalar @merged, 2, 'active_days, mode and count_distinct of one source in one scan per shard');
unlike($p, qr/GROUP BY/, 'no GROUP BY shipped for them');
my $s10 = join(', ', map { Differential::ql($_) } @shkinds);
is( $coord->safe_psql('sharded', qq{
SELECT count(*) FROM unnest(ARRAY[$s10]) r WHERE segment.compile(r::segment.segment_rule, now()) NOT LIKE '%grouped_audience_agg%'}),
	'0', 'every count_distinct, mode and active_* rule compiles to grouped_audience_agg()');
# --- end s10-shkinds

# --- s9-shseq: two-step sequences, one join per pair of co-located shards
my @seq = (
	# shipped: both sources on the same shards, no zone conversion
	q{EXISTS orders WHERE status = 'paid' THEN EXISTS orders WHERE channel = 'store'},
	q{EXISTS orders THEN NOT EXISTS orders WHERE status = 'paid'},
	q{EXISTS orders DURING LAST 90 days THEN NOT EXISTS orders WITHIN 36 hours},
	q{EXISTS orders THEN EXISTS orders WHERE amount > prev.amount WITHIN 12 hours},
	q{EXISTS orders WHERE channel = '电话' THEN NOT EXISTS orders WHERE channel = prev.channel},
	q{EXISTS messages WHERE kind = 'delivered' THEN NOT EXISTS messages WHERE kind = 'read' WITHIN 3 days},
	q{EXISTS messages WHERE campaign = '春节' THEN EXISTS messages WHERE button = prev.button AND campaign <> prev.campaign},
	q{EXISTS messages THEN EXISTS messages WHERE kind = 'read' DURING LAST 90 days WITHIN 2 days},
	q{EXISTS orders WHERE note = '' THEN EXISTS orders WHERE status = 'nope'},
	q{customer.age > 30 AND NOT (EXISTS orders THEN EXISTS orders WITHIN 7 hours)},
	# WITHIN days on timestamptz: shipped where the zone's offset is fixed over
	# the span (August), not across the DST change of 2024-03-31 (Europe/Berlin)
	q{EXISTS orders DURING LAST 30 days THEN NOT EXISTS orders WHERE status = 'paid' WITHIN 2 days},
	q{EXISTS orders DURING LAST 2 weeks THEN EXISTS orders WHERE channel = 'online' WITHIN 1 month},
	# the nested form: a zone conversion, keys of different types, three steps
	q{EXISTS orders THEN NOT EXISTS orders WHERE status = 'paid' WITHIN 30 days},
	q{EXISTS messages WHERE kind = 'clicked' THEN EXISTS orders WHERE status = 'paid'},
	q{EXISTS messages THEN NOT EXISTS messages WHERE campaign = prev.campaign WITHIN 1 hour},
	q{EXISTS orders THEN EXISTS page_views WITHIN 3 days},
	q{EXISTS orders THEN EXISTS messages THEN NOT EXISTS orders},
);
# postgres_fdw ships a join only when it can cost it: remote estimates
my $estimates = 'ALTER SERVER s1 OPTIONS (%1$s use_remote_estimate %2$s); ALTER SERVER s2 OPTIONS (%1$s use_remote_estimate %2$s);';
$coord->safe_psql('sharded', sprintf($estimates, 'ADD', q{'true'}));
my $s0 = @rules;
push @rules, @seq;
$k = $s0;
my $seqload = 'INSERT INTO shard_rules VALUES ' . join(",\n", map { $k++; "($k, " . Differential::ql($_) . ')' } @seq);
$coord->safe_psql($_, $seqload) for 'single', 'sharded';
is(compare_rules($s0 + 1, $s0 + @seq, 'sequences'), 0, scalar(@seq) . ' sequence rules at two instants: the same members sharded');
is( $coord->safe_psql('single', sprintf(q{SELECT count(*) FROM shard_members(%d, %d, %s) m WHERE m LIKE '%% error %%' OR m LIKE '%% 0 %%'},
			$s0 + 1, $s0 + @seq - 0, $inst)),
	'2', 'none fails, two are empty (the status no order has, once per instant)');
sub seq_plan
{
	my $rule = Differential::ql(shift);
	my $at = shift // '2024-08-09 11:00+02';
	return $coord->safe_psql('sharded', qq{
SELECT segment.compile($rule, '$at') AS q \\gset
EXPLAIN (VERBOSE, COSTS OFF) :q
});
}
$plan = seq_plan($seq[3]);
@remote = $plan =~ /Remote SQL: SELECT segment\.audience_agg\(r\d+\.customer_id::bigint\)::bytea FROM \(public\.orders r\d+ INNER JOIN public\.orders r\d+ ON /g;
is(scalar @remote, 2, 'THEN EXISTS ... WITHIN hours, prev.: each shard runs the join and audience_agg');
like($plan, qr/Remote SQL: .*INNER JOIN .*r\d+\.amount > r\d+\.amount/, 'the prev. filter is in the shipped join');
@async = $plan =~ /Async Foreign Scan/g;
is(scalar @async, 4, 'the shards run concurrently (async foreign scans: universe and sequence on 2 shards)');
$plan = seq_plan($seq[4]);
@remote = $plan =~ /Remote SQL: SELECT segment\.audience_agg\(r\d+\.customer_id::bigint\) FILTER \(WHERE \(r\d+\.paid_at IS NULL\)\)::bytea FROM \(public\.orders r\d+ LEFT JOIN public\.orders r\d+ ON /g;
is(scalar @remote, 2, 'THEN NOT EXISTS: a left join with a FILTERed audience_agg on each shard');
$plan = seq_plan($seq[5]);
like($plan, qr/Remote SQL: SELECT segment\.audience_agg\(.*LEFT JOIN public\.messages/, 'a date source WITHIN days is shipped too');
$plan = seq_plan($seq[10]);
like($plan, qr/Remote SQL: SELECT segment\.audience_agg\(.*LEFT JOIN public\.orders r\d+ ON .*timezone\('02:00:00'::interval, /,
	'WITHIN days on timestamptz, no DST change in reach: shipped, with the zone\'s offset');
$plan = seq_plan($seq[10], $instants[0]);
unlike($plan, qr/Remote SQL: SELECT segment\.audience_agg\(.*JOIN/, 'across a DST change: the nested form');
like(seq_plan($seq[11]), qr/Remote SQL: SELECT segment\.audience_agg\(.*INNER JOIN public\.orders/, 'WITHIN 1 month: shipped');
for my $i (12 .. 16)
{
	$plan = seq_plan($seq[$i]);
	unlike($plan, qr/Remote SQL: SELECT segment\.audience_agg\(.*JOIN/, "the nested form: $seq[$i]");
}
# --- s12-shjoin: customer conditions AND [NOT] EXISTS, one join per co-located shard
my @join = (
	q{customer.registered_at DURING LAST 15 days AND count(orders) = 0},
	q{customer.age > 60 AND NOT EXISTS orders},
	q{customer.age > 60 AND EXISTS orders WHERE status = 'paid' DURING LAST 30 days},
	q{customer.city IN ('上海', '北京') AND customer.age < 40 AND NOT EXISTS messages DURING LAST 7 days},
	q{customer.name IS NULL AND NOT EXISTS orders WHERE note = ''},
	q{NOT customer.age > 30 AND NOT EXISTS orders WHERE amount > 100},
	q{customer."Nick Name" = '昵称' AND EXISTS messages},
	q{customer.age > 200 AND NOT EXISTS orders},
	# not co-located (bigint keys beside int ones): set algebra
	q{customer.age > 60 AND NOT EXISTS page_views},
);
my $j0 = @rules;
push @rules, @join;
$k = $j0;
my $joinload = 'INSERT INTO shard_rules VALUES ' . join(",\n", map { $k++; "($k, " . Differential::ql($_) . ')' } @join);
$coord->safe_psql($_, $joinload) for 'single', 'sharded';
is(compare_rules($j0 + 1, $j0 + @join, 'joins'), 0, scalar(@join) . ' customer-and-EXISTS rules at two instants: the same members sharded');
$coord->safe_psql('sharded', 'ALTER DATABASE sharded SET segment.rule_form = per_customer');
is(compare_rules($j0 + 1, $j0 + @join, 'joins forced'), 0, '... and with the join per shard forced (segment.rule_form = per_customer)');
my @forms = map { $coord->safe_psql('sharded', 'SELECT split_part(segment.compile(' . Differential::ql($_) . q{, '2024-08-09 11:00+02'), E'\n', 1)}) } @join;
is(scalar(grep { /^-- customer conditions and (NOT )?EXISTS on 2 co-located shards: a (left|inner) join per shard/ } @forms), 7,
	'forced: every co-located rule with shippable conditions is a join per shard')
  or diag(join("\n", @forms));
like($forms[5], qr/^-- universe/, 'a negated customer condition ("IS NOT TRUE", not shipped by postgres_fdw 15) keeps set algebra');
like($forms[-1], qr/^-- universe/, 'a source not co-located keeps set algebra');
$coord->safe_psql('sharded', 'ALTER DATABASE sharded RESET segment.rule_form');
$plan = seq_plan($join[1]);
@remote = $plan =~ /Remote SQL: SELECT segment\.audience_agg\(r\d+\.id::bigint\) FILTER \(WHERE \(r\d+\.customer_id IS NULL\)\)::bytea FROM \(public\.customers r\d+ LEFT JOIN public\.orders r\d+ ON /g;
is(scalar @remote, 2, 'NOT EXISTS: each shard runs a left join of its customers and orders with a FILTERed audience_agg')
  or diag($plan);
like($coord->safe_psql('sharded', 'SELECT segment.compile(' . Differential::ql($join[1]) . q{, '2024-08-09 11:00+02')}),
	qr/^-- customer conditions and NOT EXISTS on 2 co-located shards: a left join per shard, its audience computed there \(estimated cost on a shard \d+; set algebra \d+\)/m,
	'the choice and both costs are in compile()');
@async = $plan =~ /Async Foreign Scan/g;
is(scalar @async, 2, 'the two shards run concurrently');
$plan = seq_plan($join[2]);
like($plan, qr/Remote SQL: SELECT segment\.audience_agg\(r\d+\.id::bigint\)::bytea FROM \(public\.customers r\d+ INNER JOIN public\.orders r\d+ ON /,
	'EXISTS: an inner join per shard');
# --- end s12-shjoin

$coord->safe_psql('sharded', sprintf($estimates, 'DROP', ''));
$plan = seq_plan($seq[4]);
unlike($plan, qr/Remote SQL: SELECT segment\.audience_agg\(.*JOIN/, 'without remote estimates: the nested form');
like($plan, qr/Anti Join/, '(an anti-join on the coordinator)');

# --- saved segments
my @segs = (
	[ 'loyal',  q{count(orders WHERE status = 'paid') >= 2 AND customer.age > 30} ],
	[ 'loyal2', q{count(orders WHERE status = 'paid') >= 2 AND EXISTS page_views} ],
	[ 'quiet',  q{NOT EXISTS messages DURING LAST 30 days AND customer.age > 30} ],
	[ 'tiered', q{TAG 'tier' IN ('gold', 'silver') OR IN SEGMENT 'vip'} ],
	[ 'buyers', q{EXISTS orders} ],
);
my $members = q{SELECT string_agg(format('%s %s %s', name, member_count, md5(segment.to_bigint_array(members)::text)), ', ' ORDER BY name) FROM segment.segments};
for my $db ('single', 'sharded')
{
	$coord->safe_psql($db, join('', map { "SELECT segment.create_segment('$_->[0]', " . Differential::ql($_->[1]) . ", refresh => false);\n" } @segs)
		  . "SELECT count(*) FROM segment.refresh_all();");
}
my $before = $coord->safe_psql('sharded', $members);
is($before, $coord->safe_psql('single', $members), 'refresh_all(): every saved segment has the single node\'s members');
my $member = $coord->safe_psql('sharded', q{SELECT min(m) FROM segment.ids((SELECT members FROM segment.segments WHERE name = 'buyers')) m});
is($coord->safe_psql('sharded', "SELECT segment.is_member('buyers', $member)"), 't', 'is_member() on the coordinator');
is( $coord->safe_psql('sharded', q{SELECT count(*) FROM segment.membership WHERE segment_name = 'loyal'}),
	$coord->safe_psql('single', q{SELECT count(*) FROM segment.membership WHERE segment_name = 'loyal'}),
	'the membership view');

# auto tags: retag() evaluates the groups' rules shard by shard
my $tagged = q{SELECT string_agg(format('%s %s', t.value, m.ordinal), ',' ORDER BY t.value, m.ordinal)
    FROM segment.tag_members m JOIN segment.tags t ON t.id = m.tag_id JOIN segment.tag_groups g ON g.id = t.group_id WHERE g.name = 'value'};
for my $db ('single', 'sharded')
{
	$coord->safe_psql($db, q{SELECT segment.create_tag_group('value', exclusive => true, allow_auto => true);
SELECT segment.add_tag('value', 'high', rule => 'sum(orders.amount WHERE status = ''paid'') >= 1000');
SELECT segment.add_tag('value', 'none', rule => 'count(orders) = 0 AND NOT customer.age < 20');
SELECT segment.retag();});
}
my $tags = $coord->safe_psql('sharded', $tagged);
ok(length($tags) > 0, 'retag() tags customers on the sharded layout');
is($tags, $coord->safe_psql('single', $tagged), 'the same customers as on one node');

# --- a shard down: a clear error, the old membership stays
$coord->safe_psql('sharded', q{INSERT INTO orders (id, customer_id, status, paid_at) SELECT 100000 + id, id, 'paid', '2024-08-01' FROM customers WHERE id % 5 = 1});
$shards[1]->stop;
my ($rc, $out, $err) = $coord->psql('sharded', q{SELECT segment.refresh('buyers')});
like($err, qr/refresh of segment "buyers" failed/, 'a refresh with a shard down fails');
like($err, qr/could not connect to server "s2"/, 'naming the shard that cannot be reached');
is($coord->safe_psql('sharded', q{SELECT status FROM segment.segments WHERE name = 'buyers'}), 'failed', 'the segment shows the failure');
is($coord->safe_psql('sharded', $members), $before, 'every segment keeps its members');
is($coord->safe_psql('sharded', "SELECT segment.is_member('buyers', $member)"), 't', 'is_member() still answers');
$shards[1]->start;
$coord->safe_psql('single', q{INSERT INTO orders (id, customer_id, status, paid_at) SELECT 100000 + id, id, 'paid', '2024-08-01' FROM customers WHERE id % 5 = 1});
$coord->safe_psql($_, 'SELECT count(*) FROM segment.refresh_all()') for 'single', 'sharded';
isnt($coord->safe_psql('sharded', $members), $before, 'with the shard back, a refresh sees the new orders');
is($coord->safe_psql('sharded', $members), $coord->safe_psql('single', $members), 'and gives the single node\'s members');

# --- a third shard, every table re-partitioned over three servers
push @shards, node('shard3');
$shards[2]->safe_psql('postgres', 'CREATE EXTENSION segment');
for my $s (@shards) { $s->safe_psql('postgres', "CREATE SCHEMA v2; SET search_path = v2;\n$tables") }
my $move = server_sql('s3', $shards[2]);
for my $t (@tables)
{
	$move .= "ALTER TABLE $t DETACH PARTITION ${t}_s1; ALTER TABLE $t DETACH PARTITION ${t}_s2;\n"
	  . "ALTER FOREIGN TABLE ${t}_s1 RENAME TO ${t}_old1; ALTER FOREIGN TABLE ${t}_s2 RENAME TO ${t}_old2;\n"
	  . "SELECT count(*) FROM segment.create_foreign_partitions('$t', ARRAY['s1', 's2', 's3'], remote_schema => 'v2');\n"
	  . "INSERT INTO $t SELECT * FROM ${t}_old1 UNION ALL SELECT * FROM ${t}_old2;\n"
	  . "DROP FOREIGN TABLE ${t}_old1, ${t}_old2;\n";
}
$coord->safe_psql('sharded', "BEGIN;\n${move}COMMIT;\n$analyze");
is( $coord->safe_psql('sharded', q{SELECT string_agg(format('%s %s', name, shards), ', ') FROM segment.sharding()}),
	'customer 3, messages 3, orders 3, page_views 3', 'sharding(): three shards after the re-partitioning');
ok($shards[2]->safe_psql('postgres', 'SELECT count(*) FROM v2.orders') > 0, 'the new shard holds rows');
$coord->safe_psql('sharded', 'SELECT count(*) FROM segment.refresh_all()');
is($coord->safe_psql('sharded', $members), $coord->safe_psql('single', $members),
	'after a refresh, every saved segment has the single node\'s members');
my $some = $n < 80 ? $n : 80;
is(compare_rules(1, $some, 'three shards'), 0, "$some rules at two instants: the same members on three shards");

# --- the helpers' bad input
sub fails
{
	my ($sql, $re, $what) = @_;
	my ($rc, $out, $err) = $coord->psql('sharded', "\\set VERBOSITY verbose\n$sql");
	like($err, $re, $what);
}
fails(q{SELECT segment.shard_reason(NULL)}, qr/22004: relation must not be NULL/, 'shard_reason(NULL)');
fails(q{SELECT segment.shard_reason('orders', 'nope')}, qr/42703: column "nope" of relation "orders" does not exist/,
	'shard_reason() of a column that does not exist');
is($coord->safe_psql('sharded', q{CREATE TABLE plain (id int); SELECT segment.shard_reason('plain')}),
	'not a partitioned table', 'shard_reason() of a plain table');
is( $coord->safe_psql('sharded', q{CREATE TABLE by_list (id int, k int) PARTITION BY LIST (k); SELECT segment.shard_reason('by_list', 'id')}),
	'not partitioned on its customer column', 'shard_reason() of a table partitioned on another column');
is( $coord->safe_psql('sharded', q{CREATE TABLE p_local (id int) PARTITION BY HASH (id);
CREATE TABLE p_local_0 PARTITION OF p_local FOR VALUES WITH (MODULUS 1, REMAINDER 0); SELECT segment.shard_reason('p_local')}),
	'a partition is not a foreign table', 'shard_reason() of a table with a local partition');
is( $coord->safe_psql('sharded', q{CREATE SERVER plain_srv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (extensions '"Segment"');
CREATE TABLE p_plain (id int) PARTITION BY HASH (id);
SELECT FROM segment.create_foreign_partitions('p_plain', ARRAY['plain_srv']) \\g /dev/null
SELECT segment.shard_reason('p_plain')}),
	"a partition's server has no extensions 'segment' option", 'shard_reason(): a server without the extension');
is($coord->safe_psql('sharded', q{SELECT segment.shard_reason('p_plain_plain_srv')}), 'not a partitioned table',
	'create_foreign_partitions() names partitions <table>_<server>');
fails(q{SELECT segment.create_foreign_partitions('plain', ARRAY['s1'])}, qr/42809: table public.plain is not partitioned by hash/,
	'create_foreign_partitions() of a plain table');
fails(q{SELECT segment.create_foreign_partitions('by_list', ARRAY['s1'])}, qr/42809: table public.by_list is not partitioned by hash.*\n.*HINT:  Create it with PARTITION BY HASH \(customer column\)\./,
	'create_foreign_partitions() of a list-partitioned table');
fails(q{SELECT segment.create_foreign_partitions('p_plain', '{}')}, qr/22023: servers must be a non-empty array without NULLs/,
	'create_foreign_partitions() without servers');
fails(q{SELECT segment.create_foreign_partitions('p_plain', ARRAY['s1', NULL])}, qr/22023: servers must be a non-empty array without NULLs/,
	'create_foreign_partitions() with a NULL server');
fails(q{SELECT segment.create_foreign_partitions(NULL, ARRAY['s1'])}, qr/22004: parent must not be NULL/,
	'create_foreign_partitions(NULL, ...)');

$_->stop for @shards;
$coord->stop;
done_testing();
