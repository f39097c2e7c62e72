# Resident memory stays flat over 100k audience operations in one backend,
# including operations that fail with an ERROR while CRoaring memory is live.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('memory');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION segment');

# One backend runs: a warm-up, an RSS reading, 100k more operations, a second
# reading.  Everything happens in a single psql call, hence a single backend.
my $rss = q{SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'),
                                 'VmRSS:\s+(\d+)'))[1]::bigint};
my $loop = sub {
	my ($n) = @_;
	return qq{
DO \$\$
DECLARE
    a segment.audience := segment.audience(ARRAY(SELECT g * 3 FROM generate_series(1, 20000) g));
    b segment.audience := '{1-100000}';
    c segment.audience;
    big segment.audience := '{1-70000,3000000000}';
    n bigint;
BEGIN
    FOR i IN 1 .. $n LOOP
        c := (a | b) & (a # segment.add(b, i)) - '{5-10}';
        n := segment.cardinality(c) + segment.intersect_cardinality(a, b);
        IF i % 10 = 0 THEN
            BEGIN
                -- fails while a decoded bitmap is live in the SRF's context
                SELECT count(*) INTO n FROM segment.ids(big);
            EXCEPTION WHEN numeric_value_out_of_range THEN
                n := 0;
            END;
            BEGIN
                PERFORM segment.audience_agg(x) FROM (VALUES (1), (-1)) v(x);
            EXCEPTION WHEN numeric_value_out_of_range THEN
                n := 0;
            END;
        END IF;
    END LOOP;
END \$\$;};
};

my $out = $node->safe_psql('postgres',
	"SET search_path = segment, public;\n" . $loop->(10000) . "\n$rss;\n" . $loop->(100000) . "\n$rss;");
my ($before, $after) = split /\n/, $out;
note "VmRSS after warm-up: $before kB, after 100k more operations: $after kB";
ok($before > 0 && $after > 0, 'read resident memory of the backend');
cmp_ok($after - $before, '<', 20 * 1024, 'resident memory grows less than 20 MB over 100k operations');

# Aggregates that fail half-way free their state.
$out = $node->safe_psql('postgres', qq{
DO \$\$
BEGIN
    FOR i IN 1 .. 300 LOOP
        BEGIN
            PERFORM segment.audience_agg(CASE WHEN g = 199999 THEN -1 ELSE g END)
            FROM generate_series(1, 200000) g;
        EXCEPTION WHEN numeric_value_out_of_range THEN NULL;
        END;
    END LOOP;
END \$\$;
$rss;
DO \$\$
BEGIN
    FOR i IN 1 .. 300 LOOP
        BEGIN
            PERFORM segment.audience_agg(CASE WHEN g = 199999 THEN -1 ELSE g END)
            FROM generate_series(1, 200000) g;
        EXCEPTION WHEN numeric_value_out_of_range THEN NULL;
        END;
    END LOOP;
END \$\$;
$rss;});
($before, $after) = split /\n/, $out;
note "VmRSS after 300 failed aggregates: $before kB, after 300 more: $after kB";
cmp_ok($after - $before, '<', 20 * 1024, 'failed aggregates leak nothing');

$node->stop;
done_testing();
