# explain_membership() on the sample CRM (demo/sample_data.sql) for every
# scenario rule: the brief's 18 typical scenarios (bench/scenarios.sql) and
# the behavioural ones (bench/behaviour_rules.sql).  For EVERY customer and
# every node of every rule, the node holds exactly when the customer is a
# member of evaluate() of the node's own text, and the root exactly when
# the customer is a member of the rule; condition_counts() gives each
# node's members as estimate() of the node.
#
#   SCENARIO_CUSTOMERS  customers of the sample (default 400)
use strict;
use warnings;
use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $ncust = $ENV{SCENARIO_CUSTOMERS} // 400;
my $root  = "$FindBin::RealBin/../..";
# the sample's "now"
my $as_of = '2024-08-09 11:00+08';

my $node = PostgreSQL::Test::Cluster->new('scenarios');
$node->init;
$node->append_conf('postgresql.conf', "timezone = 'Asia/Shanghai'\nfsync = off\n");
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION segment');
my ($rc, $out, $err) = $node->psql('postgres', undef,
	extra_params => [ '-v', "customers=$ncust", '-v', 'ON_ERROR_STOP=1', '-f', "$root/demo/sample_data.sql" ]);
is($rc, 0, "sample CRM of $ncust customers loaded") or diag($err);

$node->safe_psql('postgres', q{
SET search_path = public, segment;
SELECT register_customers('customers', 'id');
SELECT register_source('orders', 'orders', 'customer_id', 'paid_at');
SELECT register_source('order_lines', 'order_lines', 'customer_id', 'paid_at');
SELECT register_source('messages', 'messages', 'customer_id', 'sent_at');
SELECT register_source('page_views', 'page_views', 'customer_id', 'viewed_at');
SELECT create_tag_group('退订标签'), add_tag('退订标签', '已退订');
SELECT count(tag_customer('退订标签', '已退订', id)) FROM customers WHERE id % 7 = 0;
CREATE SCHEMA bench;
CREATE TABLE public.all_rules (name text PRIMARY KEY, rule text NOT NULL);
});

for my $file ('scenarios.sql', 'behaviour_rules.sql')
{
	my $sql = slurp_file("$root/bench/$file");
	$sql =~ s/^CREATE TABLE bench\.shared_segments.*//ms;    # only the scenarios
	$node->safe_psql('postgres', "$sql\n"
		  . "INSERT INTO all_rules SELECT '$file ' || n, rule FROM bench.scenarios;\n"
		  . "DROP TABLE bench.scenarios;");
}
my $nrules = $node->safe_psql('postgres', 'SELECT count(*) FROM all_rules');
ok($nrules >= 25, "$nrules scenario rules");

# One row per disagreement: rule, customer, path, what explain said.
my $problems = $node->safe_psql('postgres', qq{
SET search_path = public, segment;
CREATE TABLE public.explained AS
    SELECT r.name, c.id, x.path, x.condition, x.holds
    FROM all_rules r, customers c, explain_membership(r.rule::segment_rule, c.id, '$as_of') x;
CREATE TABLE public.node_members AS
    SELECT condition, evaluate(condition::segment_rule, '$as_of') AS a
    FROM (SELECT DISTINCT condition FROM explained) d;
SELECT e.name || ' customer ' || e.id || ' node ' || e.path || ': holds ' || coalesce(e.holds::text, 'NULL')
FROM explained e JOIN node_members m USING (condition)
WHERE e.holds IS DISTINCT FROM (m.a @> e.id)
UNION ALL
SELECT r.name || ': no explanation of customer ' || c.id
FROM all_rules r, customers c
WHERE NOT EXISTS (SELECT FROM explained e WHERE e.name = r.name AND e.id = c.id AND e.path = '1')
ORDER BY 1 LIMIT 20;
});
is($problems, '', 'every node of every scenario rule holds exactly for the members of its evaluate(), for every customer');

my $checked = $node->safe_psql('postgres', q{
SELECT count(*) FROM explained});
ok($checked >= $nrules * $ncust, "$checked explanation rows checked");

# the root against the rule's own evaluation (not only its text's)
my $roots = $node->safe_psql('postgres', qq{
SET search_path = public, segment;
SELECT count(*) FROM explained e JOIN all_rules r USING (name)
WHERE e.path = '1' AND e.holds IS DISTINCT FROM (evaluate(r.rule::segment_rule, '$as_of') @> e.id);
});
is($roots, '0', 'each root agrees with evaluate() of the rule');

# the test can fail: a member that explain_membership says is out
my $members = $node->safe_psql('postgres', q{
SELECT count(*) FROM explained WHERE path = '1' AND holds});
ok($members > 0, "the rules have members ($members root rows hold)");

my $counts = $node->safe_psql('postgres', qq{
SET search_path = public, segment;
SELECT r.name || ' ' || k.path || ': ' || k.members || ' <> ' || estimate(k.condition::segment_rule, '$as_of')
FROM all_rules r, condition_counts(r.rule::segment_rule, '$as_of') k
WHERE k.members <> estimate(k.condition::segment_rule, '$as_of')
ORDER BY 1 LIMIT 20;
});
is($counts, '', 'condition_counts() gives every node of every scenario rule its estimate()');

$node->stop;
done_testing();
