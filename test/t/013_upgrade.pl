# ALTER EXTENSION segment UPDATE from 0.1 to the current version:
#  - a cluster runs release 0.1 (its library and install script, built from
#    its commit by scripts/test.sh: SEGMENT_RELEASE_0_1 is that install);
#    customers, sources, segments, tags, auto-tagging rules and contacts are
#    made and refreshed with it;
#  - the server is restarted on the current build and the extension updated;
#  - the data is intact, the functions work (old segments refresh to the
#    same members, new functions run), and the extension's objects equal a
#    fresh install's, object by object (definitions, columns, constraints,
#    indexes, triggers, policies, privileges, comments).
# Where the release cannot be built (no git history), the current library
# runs the 0.1 script instead, and the test says so.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old_install = $ENV{SEGMENT_RELEASE_0_1};
my $node;
if ($old_install && -x "$old_install/bin/postgres")
{
	$node = PostgreSQL::Test::Cluster->new('upgrade', install_path => $old_install);
}
else
{
	diag('release 0.1 was not built (no git history?): its install script runs on the current library');
	$node = PostgreSQL::Test::Cluster->new('upgrade');
}
my $new_install = $ENV{SEGMENT_CURRENT_INSTALL};
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
max_worker_processes = 16
});
$node->start;

# The same shop twice: in "shop" made by 0.1 and updated, in "fresh" made
# by the current version.  The registration is the same, so the views typed
# by the key are comparable.
my $shop_schema = q{
CREATE TABLE customers (id bigint PRIMARY KEY, name text, city text, age int);
CREATE TABLE orders (id serial, customer_id bigint, amount numeric, status text, paid_at timestamptz);
CREATE TABLE clicks (customer_id bigint, url text, at timestamptz);
INSERT INTO customers SELECT i, '客户 ' || i, (ARRAY['北京', '上海', 'Zürich'])[1 + i % 3], 18 + i % 60
FROM generate_series(1, 300) i;
INSERT INTO orders (customer_id, amount, status, paid_at)
SELECT 1 + (i * 7) % 250, (i % 50) * 25, CASE WHEN i % 9 = 0 THEN 'refunded' ELSE 'paid' END,
       timestamptz '2024-06-01 00:00+00' + i * interval '37 minutes'
FROM generate_series(1, 2000) i;
INSERT INTO clicks SELECT 1 + i % 120, '/p/' || i % 10, timestamptz '2024-06-20 00:00+00' + i * interval '1 hour'
FROM generate_series(1, 500) i;
};
$node->safe_psql('postgres', 'CREATE DATABASE shop');
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('shop', $shop_schema);
$node->safe_psql('fresh', $shop_schema);

# Release 0.1's API (add_tag's fourth parameter was the rule then).
$node->safe_psql('shop', q{
CREATE EXTENSION segment VERSION '0.1';
SET segment.timezone = 'Asia/Shanghai';
SELECT segment.register_customers('customers', 'id');
SELECT segment.register_source('orders', 'orders', 'customer_id', 'paid_at');
SELECT segment.register_source('clicks', 'clicks', 'customer_id', 'at');
SELECT segment.create_segment('buyers', 'EXISTS orders', 'ordered at least once');
SELECT segment.create_segment('big spenders', 'sum(orders.amount WHERE status = ''paid'') > 2000');
SELECT segment.create_segment('older buyers', 'IN SEGMENT ''buyers'' AND customer.age >= 50');
SELECT segment.create_segment('北京 clickers', 'customer.city = ''北京'' AND count(clicks) >= 3');
SELECT segment.create_segment('pending', 'NOT EXISTS orders', refresh => false);
SELECT segment.create_tag_group('价值等级', exclusive => true, allow_manual => false, allow_auto => true);
SELECT segment.add_tag('价值等级', '低', rule => 'sum(orders.amount WHERE status = ''paid'') < 1000');
SELECT segment.add_tag('价值等级', '高', rule => 'sum(orders.amount WHERE status = ''paid'') >= 1000');
SELECT segment.create_tag_group('退订标签');
SELECT segment.add_tag('退订标签', '已退订');
SELECT segment.tag_customer('退订标签', '已退订', c) FROM generate_series(1, 40) c;
SELECT segment.create_segment('reachable', 'TAG ''退订标签'' NOT IN (''已退订'') AND EXISTS orders');
SELECT segment.record_contact('{1-50}', 'coupon', '2024-07-01 10:00+08');
SELECT segment.record_contact('{5-6}', 'sms', '2024-07-02 10:00+08');
SELECT segment.refresh('buyers');
});
is($node->safe_psql('shop', q{SELECT extversion FROM pg_extension WHERE extname = 'segment'}),
	'0.1', 'release 0.1 installed');

# What 0.1 left: members, tags, the log, contacts, row counts of every catalog.
my $state_sql = q{
SELECT 'segment ' || name || ' ' || coalesce(member_count::text, '-') || ' '
       || coalesce(md5(members::text), '-') || ' ' || status
FROM segment.segments
UNION ALL SELECT 'tag ' || g.name || '/' || t.value || ' ' || count(m.ordinal) || ' ' || coalesce(sum(m.ordinal), 0)
          || ' ' || string_agg(DISTINCT m.source, ',')
FROM segment.tags t JOIN segment.tag_groups g ON g.id = t.group_id LEFT JOIN segment.tag_members m ON m.tag_id = t.id
GROUP BY g.name, t.value
UNION ALL SELECT 'membership ' || count(*) || ' ' || md5(string_agg(segment_name || ':' || customer_key::text, ','
                 ORDER BY segment_name, customer_key)) FROM segment.membership
UNION ALL SELECT 'customer_tags ' || count(*) FROM segment.customer_tags
UNION ALL SELECT 'history ' || count(*) FROM segment.history
UNION ALL SELECT 'tag_log ' || count(*) FROM segment.tag_log
UNION ALL SELECT 'contacts ' || count(*) FROM segment.contacts
UNION ALL SELECT 'contactable ' || segment.cardinality(segment.contactable('{1-60}', 'coupon', cooldown => '30 days',
                                                              as_of => '2024-07-10 10:00+08'))
UNION ALL SELECT 'sources ' || string_agg(name, ',' ORDER BY name) FROM segment.sources
ORDER BY 1
};
my $before = $node->safe_psql('shop', $state_sql);
like($before, qr/segment buyers 250 /, 'release 0.1 computed the segments');

# The new library, then the update.
$node->stop;
$node->{_install_path} = $new_install if $new_install;
$node->start;
my ($rc, $out, $err) = $node->psql('shop', q{
SET segment.timezone = 'Asia/Shanghai';    -- the zone the rules ran in
ALTER EXTENSION segment UPDATE;
});
is($rc, 0, 'ALTER EXTENSION segment UPDATE succeeds') or diag($err);
is($node->safe_psql('shop', q{SELECT extversion FROM pg_extension WHERE extname = 'segment'}),
	'0.2', 'the extension is at 0.2');

# The objects equal a fresh install's.
$node->safe_psql('fresh', q{
CREATE EXTENSION segment;
SET segment.timezone = 'Asia/Shanghai';
SELECT segment.register_customers('customers', 'id');
});
my $objects_sql = q{
WITH members AS (
    SELECT d.classid, d.objid
    FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'segment'
), funcs AS (
    SELECT p.* FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
), rels AS (
    SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
)
SELECT key, detail FROM (
    SELECT 'member ' || (pg_identify_object(classid, objid, 0)).type || ' '
           || (pg_identify_object(classid, objid, 0)).identity AS key, '' AS detail
    FROM members
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure,
           CASE WHEN p.prokind = 'a'
                THEN (SELECT format('aggregate sfunc=%s stype=%s final=%s combine=%s serial=%s deserial=%s init=%s',
                                    a.aggtransfn, format_type(a.aggtranstype, NULL), a.aggfinalfn, a.aggcombinefn,
                                    a.aggserialfn, a.aggdeserialfn, a.agginitval)
                      FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
                ELSE pg_get_functiondef(p.oid) END
           || ' acl=' || coalesce(p.proacl::text, 'default') || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '-')
    FROM funcs p
    UNION ALL
    SELECT 'relation ' || c.oid::regclass,
           format('kind=%s rls=%s force=%s acl=%s options=%s comment=%s', c.relkind, c.relrowsecurity,
                  c.relforcerowsecurity, coalesce(c.relacl::text, 'default'), c.reloptions,
                  coalesce(obj_description(c.oid, 'pg_class'), '-'))
           || E'\ncolumns: ' || coalesce((SELECT string_agg(format('%s %s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                                                           CASE WHEN a.attnotnull THEN ' not null' END,
                                                           ' default ' || pg_get_expr(ad.adbin, ad.adrelid),
                                                           ' -- ' || col_description(c.oid, a.attnum)),
                                                    ', ' ORDER BY a.attnum)
                                FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
           || E'\nconstraints: ' || coalesce((SELECT string_agg(x.conname || ' ' || pg_get_constraintdef(x.oid), ', ' ORDER BY x.conname)
                                    FROM pg_constraint x WHERE x.conrelid = c.oid), '')
           || E'\nindexes: ' || coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY 1)
                                FROM pg_index i WHERE i.indrelid = c.oid), '')
           || E'\ntriggers: ' || coalesce((SELECT string_agg(pg_get_triggerdef(t.oid), ', ' ORDER BY t.tgname)
                                 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '')
           || E'\npolicies: ' || coalesce((SELECT string_agg(format('%s %s %s using %s check %s', y.polname, y.polcmd, y.polroles,
                                                           pg_get_expr(y.polqual, y.polrelid), pg_get_expr(y.polwithcheck, y.polrelid)),
                                                    ', ' ORDER BY y.polname)
                                 FROM pg_policy y WHERE y.polrelid = c.oid), '')
           || CASE WHEN c.relkind = 'v' THEN E'\nview: ' || pg_get_viewdef(c.oid) ELSE '' END
           || CASE WHEN c.relkind = 'S' THEN E'\nsequence: ' || (SELECT format('%s %s %s %s', s.seqtypid::regtype, s.seqstart,
                                                                       s.seqincrement, s.seqcycle)
                                                                FROM pg_sequence s WHERE s.seqrelid = c.oid) ELSE '' END
    FROM rels c
    UNION ALL
    SELECT 'type ' || t.oid::regtype,
           format('%s len=%s in=%s out=%s recv=%s send=%s align=%s storage=%s category=%s comment=%s', t.typtype, t.typlen,
                  t.typinput, t.typoutput, t.typreceive, t.typsend, t.typalign, t.typstorage, t.typcategory,
                  coalesce(obj_description(t.oid, 'pg_type'), '-'))
    FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
    UNION ALL
    SELECT 'operator ' || o.oid::regoperator,
           format('code=%s com=%s neg=%s rest=%s join=%s comment=%s', o.oprcode, o.oprcom::regoper, o.oprnegate::regoper,
                  o.oprrest, o.oprjoin, coalesce(obj_description(o.oid, 'pg_operator'), '-'))
    FROM pg_operator o JOIN members m ON m.classid = 'pg_operator'::regclass AND m.objid = o.oid
    UNION ALL
    SELECT 'cast ' || format_type(k.castsource, NULL) || ' -> ' || format_type(k.casttarget, NULL),
           format('func=%s context=%s method=%s', k.castfunc::regprocedure, k.castcontext, k.castmethod)
    FROM pg_cast k JOIN members m ON m.classid = 'pg_cast'::regclass AND m.objid = k.oid
    UNION ALL
    SELECT 'opclass ' || oc.opcname || ' ' || am.amname,
           format('type=%s default=%s ops=%s procs=%s', format_type(oc.opcintype, NULL), oc.opcdefault,
                  (SELECT string_agg(ao.amopstrategy || ':' || ao.amopopr::regoperator, ',' ORDER BY ao.amopstrategy)
                   FROM pg_amop ao WHERE ao.amopfamily = oc.opcfamily),
                  (SELECT string_agg(ap.amprocnum || ':' || ap.amproc::regprocedure, ',' ORDER BY ap.amprocnum)
                   FROM pg_amproc ap WHERE ap.amprocfamily = oc.opcfamily))
    FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
    JOIN members m ON m.classid = 'pg_opclass'::regclass AND m.objid = oc.oid
    UNION ALL
    SELECT 'event trigger ' || v.evtname, format('%s %s %s %s', v.evtevent, v.evtfoid::regproc, v.evtenabled, v.evttags)
    FROM pg_event_trigger v JOIN members m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = v.oid
    UNION ALL
    SELECT 'schema ' || n.nspname, format('acl=%s comment=%s', coalesce(n.nspacl::text, 'default'),
                                          coalesce(obj_description(n.oid, 'pg_namespace'), '-'))
    FROM pg_namespace n JOIN members m ON m.classid = 'pg_namespace'::regclass AND m.objid = n.oid
    UNION ALL
    SELECT 'extension config', coalesce((SELECT string_agg(c::regclass::text || ' ' || coalesce(w, ''), ', ' ORDER BY c::regclass::text)
                                         FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(c, w)
                                         WHERE e.extname = 'segment'), '')
) x ORDER BY key, detail
};
my %objects;
for my $db ('shop', 'fresh')
{
	my $rows = $node->safe_psql('shop' eq $db ? 'shop' : 'fresh',
		"COPY ($objects_sql) TO STDOUT");
	for my $line (split /\n/, $rows)
	{
		my ($key, $detail) = split /\t/, $line, 2;
		$objects{$db}{$key} .= ($detail // '');
	}
}
my @differ = sort grep {
	($objects{shop}{$_} // "\0missing") ne ($objects{fresh}{$_} // "\0missing")
} (keys %{ { %{ $objects{shop} }, %{ $objects{fresh} } } });
ok(scalar(keys %{ $objects{fresh} }) > 300, 'the fresh install has its objects listed')
  or diag(scalar(keys %{ $objects{fresh} }));
is(scalar(@differ), 0, 'the updated extension has the objects of a fresh install')
  or diag(join("\n", map {
	"--- $_\n  updated: " . substr($objects{shop}{$_} // '(missing)', 0, 600)
	  . "\n  fresh:   " . substr($objects{fresh}{$_} // '(missing)', 0, 600)
  } @differ));

is($node->safe_psql('shop', $state_sql), $before, 'segments, tags, log, contacts and views are intact');
is($node->safe_psql('shop', q{SELECT time_zone FROM segment.customer_registry}),
	'Asia/Shanghai', 'the registration gets the zone its rules were evaluated in');
is($node->safe_psql('shop', q{SELECT count(*) FROM segment.segments WHERE owner IS NULL}),
	'0', 'every saved segment has an author');

# The functions work on the old catalogs' rows.
is( $node->safe_psql('shop', q{
SELECT string_agg(r.name || '=' || r.members, ' ' ORDER BY r.name) FROM segment.refresh_all() r}),
	'big spenders=' . $node->safe_psql('shop', q{
SELECT count(*) FROM (SELECT customer_id FROM orders WHERE status = 'paid' GROUP BY 1 HAVING sum(amount) > 2000) x})
	  . ' buyers=250 older buyers=' . $node->safe_psql('shop', q{
SELECT count(DISTINCT o.customer_id) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.age >= 50})
	  . ' pending=50 reachable=' . $node->safe_psql('shop', q{
SELECT count(DISTINCT customer_id) FROM orders WHERE customer_id > 40})
	  . ' 北京 clickers=' . $node->safe_psql('shop', q{
SELECT count(*) FROM (SELECT k.customer_id FROM clicks k JOIN customers c ON c.id = k.customer_id
                      WHERE c.city = '北京' GROUP BY 1 HAVING count(*) >= 3) x}),
	'refresh_all() refreshes every 0.1 segment, to the members hand-written SQL finds');
is( $node->safe_psql('shop', q{
SET segment.timezone = 'Asia/Shanghai';
SELECT segment.create_segment('new', 'EXISTS clicks AND NOT IN SEGMENT ''buyers''') > 0;
SELECT segment.add_tag('价值等级', '中', 'count(orders) = 0', true) > 0;
INSERT INTO customers VALUES (301, 'new', '上海', 30);
INSERT INTO orders (customer_id, amount, status, paid_at) VALUES (301, 5000, 'paid', now());
SELECT string_agg(value, ',') FROM segment.customer_tags WHERE customer_key = 301;
}), "t\nt\n高", 'new segments, the new add_tag, and auto-tagging by trigger work after the update');
is( $node->safe_psql('shop', q{SELECT segment.registered_time_zone() || ' ' || segment.is_member('buyers', 1::bigint)}),
	'Asia/Shanghai true', 'functions new in 0.2 work');

# Downgrade is not offered, and DROP EXTENSION still works.
($rc, $out, $err) = $node->psql('shop', q{ALTER EXTENSION segment UPDATE TO '0.1'});
like($err, qr/no update path from version "0.2" to version "0.1"/, 'no downgrade path');
$node->safe_psql('shop', 'DROP EXTENSION segment CASCADE');
# (as after a fresh install, the schema named in segment.control stays)
is( $node->safe_psql('shop', q{
SELECT string_agg(nspname, ',') FROM pg_namespace WHERE nspname LIKE 'segment%'
UNION ALL SELECT count(*)::text FROM pg_class WHERE relnamespace = 'segment'::regnamespace
UNION ALL SELECT count(*)::text FROM pg_proc WHERE pronamespace = 'segment'::regnamespace}),
	"segment\n0\n0", 'DROP EXTENSION removes the updated extension entirely');

$node->stop;
done_testing();
