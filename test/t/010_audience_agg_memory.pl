# Hash aggregation of many groups stays within bounds at PostgreSQL's
# default work_mem: every byte of an aggregate's state must be visible to
# the executor's memory accounting (palloc'ed), or it never spills.  CRoaring
# allocates with malloc, which the accounting does not see.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('aggmem');
$node->init;
$node->append_conf('postgresql.conf', "work_mem = '4MB'\nmax_parallel_workers_per_gather = 0\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION segment');

# Peak resident memory of the backend (VmHWM) after one query, in MB, and
# whether the query's hash aggregate spilled; one psql call, one backend.
my $hwm = q{SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                                 'VmHWM:\s+(\d+)'))[1]::bigint / 1024};
my $run = sub {
	my ($query) = @_;
	my $out = $node->safe_psql('postgres', qq{
SET search_path = segment, public;
SET enable_sort = off;
SELECT count(*), sum(n) FROM ($query) s;
$hwm;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*), sum(n) FROM ($query) s;});
	my @lines = split /\n/, $out;
	my ($counts, $peak) = @lines[0, 1];
	my $plan = join("\n", @lines[2 .. $#lines]);
	return ($counts, $peak, $plan);
};

# A baseline in a fresh backend: the same grouping with a plain aggregate.
my ($base_counts, $base_peak) = $run->(
	'SELECT g % 1000000 AS k, count(*) AS n FROM generate_series(1, 3000000) g GROUP BY 1');
note "count(*) over 1M groups: peak $base_peak MB";

# 1M groups of 3 members: the states are small, so they must be palloc'ed.
my ($counts, $peak, $plan) = $run->(
	'SELECT g % 1000000 AS k, cardinality(audience_agg(g)) AS n FROM generate_series(1, 3000000) g GROUP BY 1');
is($counts, '1000000|3000000', 'audience_agg over 1M groups: every group and member');
like($plan, qr/Batches: [1-9][0-9]*/, 'the hash aggregate reports its batches');
unlike($plan, qr/Batches: 1\b/, 'the hash aggregate spilled at work_mem 4MB (its state memory is accounted)');
note "audience_agg over 1M groups: peak $peak MB";
cmp_ok($peak, '<', $base_peak + 100, 'audience_agg over 1M groups peaks within 100 MB of count(*)');

# The same for union_agg, whose input is an audience per row.
($counts, $peak, $plan) = $run->(
	q{SELECT g % 1000000 AS k, cardinality(union_agg(audience(ARRAY[g, g + 1]))) AS n
	  FROM generate_series(1, 2000000) g GROUP BY 1});
is($counts, '1000000|4000000', 'union_agg over 1M groups: every group and member');
unlike($plan, qr/Batches: 1\b/, 'union_agg: the hash aggregate spilled at work_mem 4MB');
note "union_agg over 1M groups: peak $peak MB";
cmp_ok($peak, '<', $base_peak + 100, 'union_agg over 1M groups peaks within 100 MB of count(*)');

# 2000 groups whose sets are 128 dense bitset chunks (1 MB each).  With
# CRoaring's malloc'ed states, memory that hash aggregation does not see,
# the backend peaked ~300 MB above count(*) at work_mem 4MB; with every
# byte palloc'ed, each batch holds what work_mem allows.
$node->safe_psql('postgres', q{
CREATE TABLE dense AS SELECT segment.audience(ARRAY(SELECT g * 2 FROM generate_series(0, 4194303) g)) a;
VACUUM ANALYZE dense;});
($counts, $peak, $plan) = $run->(
	q{SELECT k, cardinality(union_agg(a)) AS n FROM generate_series(1, 2000) k, dense GROUP BY k});
is($counts, '2000|8388608000', 'union_agg of dense sets over 2000 groups: every group and member');
unlike($plan, qr/Batches: 1\b/, 'dense union_agg: the hash aggregate spilled at work_mem 4MB');
note "union_agg of dense 1 MB sets over 2000 groups: peak $peak MB";
cmp_ok($peak, '<', $base_peak + 100, 'dense union_agg over 2000 groups peaks within 100 MB of count(*)');

$node->stop;
done_testing();
