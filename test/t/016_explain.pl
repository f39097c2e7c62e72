# explain_membership() and condition_counts() on the differential test's
# dataset and rules (test/t/Differential.pm):
#  - for every rule and EVERY customer of the dataset (of the rule's
#    tenant), each node of the explanation holds exactly for the members of
#    evaluate() of that node's own text, and the root for the members of
#    the rule's independent reference query;
#  - condition_counts(): each node's members are estimate() of the node,
#    and its running count estimate() of its parent's children 1 .. k
#    combined with the parent's AND / OR.
# Passes: integer keys; text keys through the dictionary with tenants; the
# behavioural conditions (sequences, first/last/mode, active_*, ranks) with
# the hand-written pinned rules.
#
#   EXPLAIN_SEED       seed (default 16)
#   EXPLAIN_RULES      rules of the integer pass (default 48; text and
#                      behavioural passes: a third as many, plus the pinned rules)
#   EXPLAIN_CUSTOMERS  customers of the dataset (default 120)
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Differential;

my $seed   = $ENV{EXPLAIN_SEED}      // 16;
my $nrules = $ENV{EXPLAIN_RULES}     // 48;
my $ncust  = $ENV{EXPLAIN_CUSTOMERS} // 120;
my $as_of  = $Differential::AS_OF[0];
my $started = time;

my $node = PostgreSQL::Test::Cluster->new('explain');
$node->init;
$node->append_conf('postgresql.conf', qq{
timezone = '$Differential::ZONE'
fsync = off
synchronous_commit = off
});
$node->start;

# Checks rules lo..hi at instant t; one row per disagreement, as text.
my $checker = <<'SQL';
CREATE TABLE explain_rules (id int PRIMARY KEY, rule text NOT NULL, ref text NOT NULL, tenant text NOT NULL);
-- the rule made of the children 1 .. k of the node at path p's parent
-- (the node itself for the root and the child of a NOT)
CREATE FUNCTION partial_rule(counts jsonb, p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    WITH c AS (SELECT r->>'path' AS path, r->>'condition' AS condition FROM jsonb_array_elements(counts) r),
         parent AS (SELECT c.condition::segment.segment_rule::jsonb AS j, c.path FROM c
                    WHERE c.path = regexp_replace(p, '\.[0-9]+$', '') AND p <> '1')
    SELECT CASE WHEN p = '1' OR (SELECT j ? 'not' FROM parent) THEN (SELECT condition FROM c WHERE path = p)
                ELSE (SELECT string_agg('(' || c.condition || ')', ' ' || (parent.j ->> 'group') || ' '
                                        ORDER BY substring(c.path FROM '[0-9]+$')::int)
                      FROM c, parent
                      WHERE c.path ~ ('^' || replace(parent.path, '.', '\.') || '\.[0-9]+$')
                        AND substring(c.path FROM '[0-9]+$')::int <= substring(p FROM '[0-9]+$')::int) END
$$;
CREATE FUNCTION explain_check(lo int, hi int, t timestamptz, text_keys boolean)
RETURNS TABLE(rule_id int, problem text) LANGUAGE plpgsql SET search_path = public, segment AS $f$
DECLARE
    r record;
    x record;
    rl segment.segment_rule;
    want segment.audience;
    counts jsonb;
    pairs bigint := 0;
    nodes bigint := 0;
BEGIN
    FOR r IN SELECT * FROM explain_rules WHERE id BETWEEN lo AND hi ORDER BY id LOOP
        PERFORM set_config('segment.tenant', r.tenant, true);
        rule_id := r.id;
        BEGIN
            rl := r.rule::segment.segment_rule;
            EXECUTE r.ref INTO want USING t, r.tenant;
            CREATE TEMP TABLE expl ON COMMIT DROP AS SELECT 0 AS ordinal, e.* FROM segment.explain_membership(rl, 0, t) e LIMIT 0;
            -- every customer of the dataset (of the tenant)
            IF text_keys THEN
                INSERT INTO expl SELECT segment.customer_ordinal(c.key), e.*
                FROM customers_t c, segment.explain_membership(rl, c.key, t) e WHERE c.tenant = r.tenant;
            ELSE
                INSERT INTO expl SELECT c.id, e.* FROM customers c, segment.explain_membership(rl, c.id, t) e;
            END IF;
            CREATE TEMP TABLE node_members ON COMMIT DROP AS
            SELECT d.condition, segment.evaluate(d.condition::segment.segment_rule, t) AS members
            FROM (SELECT DISTINCT condition FROM expl) d;
            FOR x IN SELECT e.path, e.condition, count(*) AS n, min(e.ordinal) AS first
                     FROM expl e JOIN node_members m USING (condition)
                     WHERE e.holds IS DISTINCT FROM (m.members @> e.ordinal::bigint)
                     GROUP BY 1, 2 LOOP
                problem := format('node %s (%s): holds disagrees with evaluate() for %s customers, first ordinal %s',
                                  x.path, x.condition, x.n, x.first);
                RETURN NEXT;
            END LOOP;
            FOR x IN SELECT count(*) AS n, min(e.ordinal) AS first FROM expl e
                     WHERE e.path = '1' AND e.holds IS DISTINCT FROM (want @> e.ordinal::bigint) HAVING count(*) > 0 LOOP
                problem := format('root: holds disagrees with the reference for %s customers, first ordinal %s', x.n, x.first);
                RETURN NEXT;
            END LOOP;
            IF (SELECT count(DISTINCT ordinal) FROM expl) <> (SELECT count(*) FROM expl WHERE path = '1') THEN
                problem := 'not one root row per customer';
                RETURN NEXT;
            END IF;
            -- the counts
            SELECT jsonb_agg(to_jsonb(k)) INTO counts FROM segment.condition_counts(rl, t) k;
            FOR x IN SELECT k->>'path' AS path, k->>'condition' AS condition, (k->>'members')::bigint AS members,
                            (k->>'running')::bigint AS running
                     FROM jsonb_array_elements(counts) k LOOP
                IF x.members IS DISTINCT FROM segment.estimate(x.condition::segment.segment_rule, t) THEN
                    problem := format('counts of node %s (%s): members %s, estimate() %s', x.path, x.condition, x.members,
                                      segment.estimate(x.condition::segment.segment_rule, t));
                    RETURN NEXT;
                END IF;
                IF x.running IS DISTINCT FROM segment.estimate(partial_rule(counts, x.path)::segment.segment_rule, t) THEN
                    problem := format('counts of node %s: running %s, estimate() of %s: %s', x.path, x.running,
                                      partial_rule(counts, x.path),
                                      segment.estimate(partial_rule(counts, x.path)::segment.segment_rule, t));
                    RETURN NEXT;
                END IF;
            END LOOP;
            IF (SELECT count(*) FROM jsonb_array_elements(counts)) <> (SELECT count(DISTINCT path) FROM expl) THEN
                problem := 'condition_counts() and explain_membership() list different nodes';
                RETURN NEXT;
            END IF;
            IF (counts->0->>'members')::bigint <> segment.cardinality(want) THEN
                problem := format('counts of the root: %s members, the reference %s', counts->0->>'members', segment.cardinality(want));
                RETURN NEXT;
            END IF;
            pairs := pairs + (SELECT count(*) FROM expl WHERE path = '1');
            nodes := nodes + jsonb_array_length(counts);
            DROP TABLE expl, node_members;
        EXCEPTION WHEN OTHERS THEN
            problem := SQLSTATE || ': ' || SQLERRM;
            RETURN NEXT;
        END;
    END LOOP;
    rule_id := 0;
    problem := format('checked %s %s', pairs, nodes);
    RETURN NEXT;
END $f$;
SQL

my ($total_rules, $total_pairs, $total_nodes) = (0, 0, 0);

sub run_pass
{
	my ($pass, $mode, $db, $n, $behaviour) = @_;
	my $t0 = time;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	my $setup = "CREATE EXTENSION segment;\n" . Differential::data_sql($seed, $ncust);
	$setup .= Differential::text_sql() if $mode eq 'text';
	$setup .= Differential::setup_sql($mode, $seed) . $checker;
	$node->safe_psql($db, $setup);
	my $gen = Differential->new(seed => $seed * 7 + length($pass), mode => $mode, strict => 1, behaviour => $behaviour);
	my @rules;
	for my $i (1 .. $n)
	{
		my $r = $gen->gen_rule;
		$r->{tenant} = $mode eq 'text' ? ($i % 2 ? 'a' : 'b') : '';
		push @rules, $r;
	}
	if ($behaviour)
	{
		for my $r ($gen->pinned_rules)
		{
			$r->{tenant} = $mode eq 'text' ? 'a' : '';
			push @rules, $r;
		}
	}
	# the harness itself: a wrong reference must be seen
	my $canary = $node->safe_psql($db, "INSERT INTO explain_rules VALUES (0, 'EXISTS orders', "
		  . "'SELECT ''{}''::segment.audience WHERE \$1 IS NOT NULL AND \$2 IS NOT NULL', "
		  . Differential::ql($mode eq 'text' ? 'a' : '') . ");\n"
		  . sprintf("SELECT count(*) FROM explain_check(0, 0, %s, %s) WHERE problem LIKE 'root: holds disagrees%%';\n",
			Differential::ql($as_of), $mode eq 'text' ? 'true' : 'false')
		  . "DELETE FROM explain_rules WHERE id = 0");
	is($canary, '1', "$pass: the harness sees a wrong reference as different");
	my $k = 0;
	$node->safe_psql($db, 'INSERT INTO explain_rules VALUES '
		  . join(",\n", map { $k++; "($k, " . Differential::ql($_->{text}) . ', ' . Differential::ql($_->{ref}) . ', '
			  . Differential::ql($_->{tenant}) . ')' } @rules));
	my $customers = $node->safe_psql($db, $mode eq 'text' ? 'SELECT count(*) FROM customers_t' : 'SELECT count(*) FROM customers');
	my $bs = 10;
	for (my $lo = 1; $lo <= @rules; $lo += $bs)
	{
		my $hi = $lo + $bs - 1;
		$hi = @rules if $hi > @rules;
		my $out = $node->safe_psql($db, sprintf("SELECT rule_id || ': ' || problem FROM explain_check(%d, %d, %s, %s)",
				$lo, $hi, Differential::ql($as_of), $mode eq 'text' ? 'true' : 'false'));
		my @bad = grep { length && !/^0: checked/ } split /\n/, $out;
		my ($pairs, $nodes) = $out =~ /^0: checked (\d+) (\d+)$/m;
		$total_pairs += $pairs // 0;
		$total_nodes += $nodes // 0;
		my %ids = map { (/^(\d+):/)[0] => 1 } @bad;
		ok(!@bad, sprintf("%s: rules %d-%d: explanations of all %d customers agree with evaluate() and the reference; counts with estimate()",
				$pass, $lo, $hi, $customers))
		  or diag(join("\n", map { "rule $_: $rules[$_ - 1]{text}" } sort { $a <=> $b } keys %ids) . "\n" . join("\n", @bad[ 0 .. ($#bad > 20 ? 20 : $#bad) ]));
	}
	$total_rules += @rules;
	note sprintf("%s: %d rules, %d customers, %.1f s", $pass, scalar @rules, $customers, time - $t0);
	$node->safe_psql('postgres', "DROP DATABASE $db");
}

run_pass('int', 'int', 'explain_int', $nrules, 0);
run_pass('text', 'text', 'explain_text', int($nrules / 3), 0);
run_pass('behaviour', 'int', 'explain_behaviour', int($nrules / 3), 1);

ok($total_pairs > 0 && $total_nodes >= $total_rules, "explained $total_pairs (rule, customer) pairs and counted $total_nodes nodes");
diag(sprintf("explain test: %d rules, %d (rule, customer) pairs explained, %d nodes counted, %.0f s (seed %d)",
		$total_rules, $total_pairs, $total_nodes, time - $started, $seed));
$node->stop;
done_testing();
