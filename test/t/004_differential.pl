# Differential test of rule evaluation: thousands of random rules, each
# evaluated by segment.evaluate() and by a naive reference translation into
# SQL written from the documented semantics (test/t/Differential.pm, which
# lists the semantic decisions), compared as sets at several as-of instants.
#
#   DIFF_SEED        seed of the rules and the data (default 12)
#   DIFF_RULES       rules over integer customer keys (default 2000)
#   DIFF_TEXT_RULES  rules over text keys with a tenant column (default DIFF_RULES / 5)
#   DIFF_ZONE_RULES  rules over integer keys, session TimeZone America/New_York and
#                    segment.timezone Europe/Berlin (default DIFF_RULES / 5)
#   DIFF_SESSION_ZONE_RULES  rules over integer keys, zone Europe/Berlin
#                    registered, each batch in another session TimeZone
#                    (default DIFF_RULES / 5)
#   DIFF_INSTANTS    as-of instants per rule, 1 to 4 (default 3; @Differential::AS_OF)
#   DIFF_CUSTOMERS   customers (default 320)
#   DIFF_BATCH       rules per TAP assertion (default 100)
#   DIFF_SHRINK      differing rules to shrink to a minimal one (default 3)
#   DIFF_VERBOSE=1   print the reference query of every differing rule
#   DIFF_STRICT=0    leave out the rule shapes of known bugs (%Differential::KNOWN_BUGS; none open)
#   DIFF_BEHAVIOUR=0 leave out the three passes with the behavioural conditions
#                    (sequences, first/last/mode, active_days/weeks/months,
#                    IN TOP/BOTTOM; on by default)
#   DIFF_BEHAVIOUR_RULES  rules of the behavioural pass over integer keys (default
#                    DIFF_RULES / 12); the pass over text keys and tenants and the one with
#                    TimeZone America/New_York and segment.timezone Europe/Berlin have a third as many
#   DIFF_FUNNELS     random event_funnel() calls checked step by step (default
#                    DIFF_RULES / 20; with the behavioural passes only)
#   DIFF_REF_ONLY=1  run only the reference queries (no evaluate()): checks
#                    that every rule parses and every reference runs, e.g. for
#                    constructs the compiler does not evaluate yet
#
# A failure prints the seed, the rule, the as-of instant, the customers
# only one side has, the compiled SQL and a shrunk rule that still differs.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use JSON::PP;
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Differential;

my $seed      = $ENV{DIFF_SEED}       // 12;
my $nrules    = $ENV{DIFF_RULES}      // 2000;
my $ntext     = $ENV{DIFF_TEXT_RULES} // int($nrules / 5);
my $nzone     = $ENV{DIFF_ZONE_RULES} // int($nrules / 5);
my $split_zone = 'America/New_York';
# the fourth pass: no segment.timezone, the zone registered with the customer
# table ($Differential::ZONE), each batch in another session TimeZone, so
# that every literal is read in the registered zone whoever evaluates
my $nsessions = $ENV{DIFF_SESSION_ZONE_RULES} // int($nrules / 5);
my @session_zones = ('UTC', 'Asia/Shanghai', 'America/New_York', 'Pacific/Chatham', 'Asia/Kolkata');
my $ninstants = $ENV{DIFF_INSTANTS}   // 3;
my $ncust     = $ENV{DIFF_CUSTOMERS}  // 320;
my $batch     = $ENV{DIFF_BATCH}      // 100;
my $nshrink   = $ENV{DIFF_SHRINK}     // 3;
my $strict    = $ENV{DIFF_STRICT}     // 1;
my $behaviour = $ENV{DIFF_BEHAVIOUR}  // 1;
my $nbeh      = $behaviour ? ($ENV{DIFF_BEHAVIOUR_RULES} // int($nrules / 12)) : 0;
my $ref_only  = $ENV{DIFF_REF_ONLY}   // 0;
my $max_fail  = 25;                   # detailed failures printed, the rest counted
die "DIFF_INSTANTS must be 1 .. " . scalar(@Differential::AS_OF) . "\n"
  if $ninstants < 1 || $ninstants > @Differential::AS_OF;
my @instants = @Differential::AS_OF[ 0 .. $ninstants - 1 ];
my $started  = time;

diag("differential test: DIFF_SEED=$seed DIFF_RULES=$nrules DIFF_TEXT_RULES=$ntext DIFF_ZONE_RULES=$nzone "
	  . "DIFF_STRICT=$strict DIFF_BEHAVIOUR=$behaviour DIFF_BEHAVIOUR_RULES=$nbeh DIFF_INSTANTS=$ninstants DIFF_CUSTOMERS=$ncust"
	  . ($ref_only ? ' DIFF_REF_ONLY=1' : '') . " (rerun with the same values to reproduce)");

my $node = PostgreSQL::Test::Cluster->new('differential');
$node->init;
# the session zone is the segment zone; the third pass sets another
# TimeZone and segment.timezone per database
$node->append_conf('postgresql.conf', qq{
timezone = '$Differential::ZONE'
fsync = off
synchronous_commit = off
});
$node->start;

my $json = JSON::PP->new;
my %kinds;
my %forms;    # batches run in each segment.rule_form
my ($total_pairs, $total_rules, $failures, $detailed) = (0, 0, 0, 0);

# Runs one pass: $n rules in database $db, keys of $mode ('int' or 'text');
# $split: the session's TimeZone differs from segment.timezone; $sessions:
# session TimeZones the batches take in turn (segment.timezone unset).
sub run_mode
{
	my ($pass, $mode, $db, $n, $split, $sessions) = @_;
	return if $n <= 0;
	my $t0 = time;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	if ($split)
	{
		$node->safe_psql('postgres', "ALTER DATABASE $db SET timezone = '$split'");
		$node->safe_psql('postgres', "ALTER DATABASE $db SET segment.timezone = '$Differential::ZONE'");
	}
	my $setup = "CREATE EXTENSION segment;\n" . Differential::data_sql($seed, $ncust);
	$setup .= Differential::text_sql() if $mode eq 'text';
	$setup .= Differential::setup_sql($mode, $seed) . Differential::driver_sql();
	$node->safe_psql($db, $setup);

	# the rules: generated in Perl, loaded in chunks
	my $gen = Differential->new(
		seed => $seed * 3 + { int => 0, text => 1, zone => 2, zones => 3, behaviour => 4, behaviour_text => 5, behaviour_zone => 6 }->{$pass},
		mode => $mode, strict => $strict, zone_split => ($split || $sessions) ? 1 : 0,
		behaviour => $pass =~ /^behaviour/ ? 1 : 0);
	my (@rules, %depths);
	for my $i (1 .. $n)
	{
		my $r = $gen->gen_rule;
		# text keys: rules alternate between the two tenants
		$r->{tenant} = $mode eq 'text' ? ($i % 2 ? 'a' : 'b') : '';
		push @rules, $r;
		$depths{ $r->{depth} >= 4 ? '>=4' : $r->{depth} }++;
	}
	# the behavioural passes end with the hand-written rules (pinned_rules)
	if ($gen->{behaviour})
	{
		for my $r ($gen->pinned_rules)
		{
			$r->{tenant} = $mode eq 'text' ? 'a' : '';
			push @rules, $r;
		}
		$n = @rules;
	}
	for (my $i = 0; $i < @rules; $i += 250)
	{
		my @chunk = grep { defined } @rules[ $i .. $i + 249 ];
		my $k = $i;
		$node->safe_psql($db, 'INSERT INTO diff_rules VALUES '
			  . join(",\n", map { $k++; "($k, " . Differential::ql($_->{text}) . ', ' . Differential::ql($_->{ref}) . ', '
				  . Differential::ql($_->{tenant}) . ')' } @chunk));
	}
	$kinds{$_} += $gen->{kinds}{$_} for keys %{ $gen->{kinds} };
	note sprintf("%s: %d rules generated and loaded in %.1f s; nesting depth: %s", $pass, $n, time - $t0,
		join(', ', map { "$_: $depths{$_}" } sort keys %depths));

	# the harness itself: a reference that is wrong must be seen as different
	my $canary = sub {
		my ($rule, $sql) = @_;
		return $node->safe_psql($db, sprintf("SELECT diff_one(%s, %s, %s, %s)", Differential::ql($rule),
				Differential::ql($gen->ref_query({ sql => $sql })), Differential::ql($mode eq 'text' ? 'a' : ''),
				Differential::ql($instants[0])));
	};
	is($canary->('EXISTS orders', 'true') . $canary->('customer.age > 30', 'coalesce(c.age >= 30, false)')
		  . $canary->('customer.age >= 30', 'coalesce(c.age >= 30, false)'),
		'ttf', "$pass: the harness sees wrong references as different (and a right one as equal)");

	# known bugs: reported while they are there, never a failure (the
	# generator avoids their shapes unless DIFF_STRICT=1)
	{
		for my $kb (sort keys %Differential::KNOWN_BUGS)
		{
			my $b = $Differential::KNOWN_BUGS{$kb};
			next if $b->{pass} ne $pass;
			for my $case (@{ $b->{rules} })
			{
				my $res = $canary->(@$case);
				if ($res eq 't')
				{
					diag("known bug '$kb' is still there: $case->[0]\n  $b->{what}"
						  . ($strict ? '' : "\n  (rules of that shape are not generated; DIFF_STRICT=1 generates them)"));
				}
				else
				{
					diag("known bug '$kb' looks fixed (" . ($res eq 'f' ? 'same members' : 'error') . "): $case->[0]\n"
						  . "  remove it from %Differential::KNOWN_BUGS so that the generator covers it again");
				}
			}
		}
	}

	my $arr = 'ARRAY[' . join(', ', map { Differential::ql($_) } @instants) . ']::timestamptz[]';
	my $bs  = $pass eq 'int' ? $batch : $batch / 2;
	my ($pairs, $skipped, $strategy_checks) = (0, 0, 0);
	my $desc = $mode eq 'int' ? 'integer keys' : 'text keys, tenants';
	$desc .= $split ? ", TimeZone $split, segment.timezone $Differential::ZONE"
	  : $sessions ? ", registered zone $Differential::ZONE" : ", TimeZone $Differential::ZONE";
	my $shrunk = 0;
	my $bg;
	for (my $lo = 1; $lo <= $n; $lo += $bs)
	{
		my $hi = $lo + $bs - 1;
		$hi = $n if $hi > $n;
		my $keys = $mode eq 'text'
		  ? join(', ', map { "(SELECT array_agg(o.key ORDER BY o.ordinal) FROM segment.customer_ordinals o WHERE o.ordinal = ANY (d.only_$_\[1:5])) AS ${_}_keys" } qw(ext ref))
		  : 'NULL AS ext_keys, NULL AS ref_keys';
		# the other evaluation paths, in turn: predicate sharing or evaluation
		# among candidates, at one of the instants
		my $bn = int($lo / $bs);
		my $st = Differential::ql($instants[ $bn % @instants ]) . ', ' . ($bn % 2 ? "'among'" : "'shared'");
		# and each compiled form of evaluate() in turn (segment.rule_form)
		my $form = (qw(auto set_algebra per_customer reduced))[ $bn % 4 ];
		$forms{$form}++;
		my $session = $sessions ? "SET TimeZone = '$sessions->[$bn % @$sessions]';" : '';
		my $out = $node->safe_psql($db, qq{$session
SET segment.rule_form = $form;
SELECT diff_check($lo, $hi, $arr, ${ref_only}::boolean);
SELECT CASE WHEN ${ref_only}::boolean THEN 0 ELSE diff_strategies($lo, $hi, $st) END;
SELECT coalesce(json_agg(r ORDER BY r.id, r.as_of), '[]') FROM (
    SELECT d.*, to_char(d.as_of AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US+00') AS at, $keys
    FROM diff_results d WHERE d.id BETWEEN $lo AND $hi) r});
		my ($np, $ns, $rows) = split /\n/, $out, 3;
		$pairs += $np;
		$strategy_checks += $ns;
		my %by_rule;
		push @{ $by_rule{ $_->{id} } }, $_ for @{ $json->decode($rows) };
		my @bad;
		for my $id (sort { $a <=> $b } keys %by_rule)
		{
			my $rows = $by_rule{$id};
			my $r    = $rules[ $id - 1 ];
			my @gen_bug = grep { $_->{kind} eq 'parse' || $_->{kind} eq 'compile' } @$rows;
			$skipped++ if @gen_bug;
			push @bad, $id;
			$failures++;
			next if ++$detailed > $max_fail;
			my $msg = "seed $seed, pass $pass ($desc" . ($session ? ", session $session" : '') . "), segment.rule_form $form" . ($r->{tenant} ne '' ? ", tenant '$r->{tenant}'" : '') . ", rule $id:\n  $r->{text}\n";
			for my $d (@$rows)
			{
				if ($d->{kind} eq 'differ' || (!defined $d->{err} && ($d->{kind} eq 'shared' || $d->{kind} eq 'among')))
				{
					my $what = { differ => 'evaluate()', shared => 'evaluate() sharing predicates (_share_begin)',
						among => '_evaluate_among(rule, every third ordinal up to 1000 and a few more)' }->{ $d->{kind} };
					$msg .= sprintf("  as of %s: %s has %d members, the reference %d\n", $d->{at}, $what, $d->{ext_n}, $d->{ref_n});
					$msg .= sprintf("    only in %s: %d, first: %s%s\n", $what =~ s/ .*//r, scalar @{ $d->{only_ext} },
						join(', ', grep { defined } @{ $d->{only_ext} }[ 0 .. 4 ]),
						$d->{ext_keys} ? ' (keys ' . join(', ', @{ $d->{ext_keys} }) . ')' : '')
					  if @{ $d->{only_ext} // [] };
					$msg .= sprintf("    only in the reference: %d, first: %s%s\n", scalar @{ $d->{only_ref} // [] },
						join(', ', grep { defined } @{ $d->{only_ref} // [] }[ 0 .. 4 ]),
						$d->{ref_keys} ? ' (keys ' . join(', ', @{ $d->{ref_keys} }) . ')' : '')
					  if @{ $d->{only_ref} // [] };
				}
				else
				{
					$msg .= sprintf("  %s%s error: %s\n", $d->{at} ? "as of $d->{at}: " : '', $d->{kind}, $d->{err});
				}
			}
			my ($first) = grep { $_->{kind} eq 'differ' } @$rows;
			$msg .= "  compile() as of $first->{at}:\n    " . join("\n    ", split /\n/, $first->{compiled}) . "\n" if $first;
			if ($first && $shrunk < $nshrink)
			{
				$shrunk++;
				$bg //= $node->background_psql($db);
				my $small = shrink($bg, $gen, $r, $first->{as_of});
				$msg .= "  shrunk to a rule that still differs as of $first->{at}:\n    $small->{text}\n"
				  . "  its reference query (\$1 = as_of, \$2 = tenant):\n    $small->{ref}\n";
			}
			$msg .= "  reference query (\$1 = as_of, \$2 = tenant):\n    $r->{ref}\n" if $ENV{DIFF_VERBOSE};
			ok(0, "$pass: rule $id gives the reference's members") or diag($msg);
		}
		$node->safe_psql($db, "DELETE FROM diff_results WHERE id BETWEEN $lo AND $hi");
		ok(!@bad, sprintf("%s: rules %d-%d x %d instants agree with the reference%s", $pass, $lo, $hi,
				scalar @instants, @bad ? ' (' . scalar(@bad) . ' differ)' : ''));
	}
	$bg->quit if $bg;
	$total_pairs += $pairs;
	$total_rules += $n;
	my ($empty, $avg) = split /\|/, $node->safe_psql($db, 'SELECT sum(empty), round(sum(members)::numeric / greatest(sum(pairs), 1), 1) FROM diff_stats');
	note sprintf("%s: %d (rule, instant) pairs compared in %.1f s; %d with no member, %s members on average;"
		  . " %d evaluations sharing predicates or among candidates", $pass, $pairs, time - $t0, $empty, $avg, $strategy_checks);
	is($skipped, 0, "$pass: every generated rule parses and compiles (generator rules skipped: $skipped)");
	$node->safe_psql('postgres', "DROP DATABASE $db") unless $failures;
}

# Greedy shrinking: the smallest variant of the rule that still differs at
# instant $at, repeated until no smaller variant does (at most 200 checks).
sub shrink
{
	my ($bg, $gen, $r, $at) = @_;
	my $cur = $r->{node};
	my $checks = 0;
  STEP:
	while ($checks < 200)
	{
		for my $cand ($gen->shrink_candidates($cur))
		{
			last STEP if ++$checks > 200;
			my $q = sprintf("SELECT diff_one(%s, %s, %s, %s)", Differential::ql($cand->{text}),
				Differential::ql($gen->ref_query($cand)), Differential::ql($r->{tenant}), Differential::ql($at));
			my $res = $bg->query_safe($q);
			if ($res eq 't') { $cur = $cand; next STEP; }
		}
		last;
	}
	return { text => $cur->{text}, ref => $gen->ref_query($cur) };
}

run_mode('int',  'int',  'diff_int',  $nrules);
run_mode('text', 'text', 'diff_text', $ntext);
run_mode('zone', 'int',  'diff_zone', $nzone, $split_zone);
run_mode('zones', 'int', 'diff_zones', $nsessions, undef, \@session_zones);
run_mode('behaviour', 'int', 'diff_behaviour', $nbeh);
run_mode('behaviour_text', 'text', 'diff_behaviour_text', int($nbeh / 3));
run_mode('behaviour_zone', 'int', 'diff_behaviour_zone', int($nbeh / 3), $split_zone);

# event_funnel() (S25): random funnels over the integer-keyed data, each
# step's audience against a nested-EXISTS reference at every instant
sub run_funnels
{
	my ($n) = @_;
	return if $n <= 0;
	my $t0 = time;
	my $db = 'diff_funnel';
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION segment;\n" . Differential::data_sql($seed, $ncust)
		  . Differential::setup_sql('int', $seed) . Differential::driver_sql());
	my $gen = Differential->new(seed => $seed * 3 + 7, mode => 'int', strict => $strict, zone_split => 0, behaviour => 1);
	my @funnels = map { $gen->gen_funnel } 1 .. $n;
	my @rows;
	for my $i (0 .. $#funnels)
	{
		my $f = $funnels[$i];
		my $steps = 'ARRAY[' . join(', ', map { Differential::ql($_) } @{ $f->{steps} }) . ']';
		push @rows, sprintf("(%d, %d, %s, %s, %s)", $i + 1, $_ + 1, $steps, Differential::ql($f->{within}),
			Differential::ql($f->{refs}[$_])) for 0 .. $#{ $f->{refs} };
	}
	$node->safe_psql($db, 'INSERT INTO diff_funnels VALUES ' . join(",\n", @rows));
	$kinds{$_} += $gen->{kinds}{$_} for keys %{ $gen->{kinds} };
	my $arr = 'ARRAY[' . join(', ', map { Differential::ql($_) } @instants) . ']::timestamptz[]';
	my ($pairs, $rows) = split /\n/, $node->safe_psql($db, qq{SELECT diff_funnel_check($arr);
SELECT coalesce(json_agg(r ORDER BY r.id, r.step), '[]') FROM diff_funnel_results r}), 2;
	my @bad = @{ $json->decode($rows) };
	for my $d (@bad[ 0 .. ($#bad < 9 ? $#bad : 9) ])
	{
		my $f = $funnels[ $d->{id} - 1 ];
		diag(sprintf("seed %d, funnel %d: event_funnel(ARRAY[%s], '%s', '%s')\n  %s",
				$seed, $d->{id}, join(', ', map { Differential::ql($_) } @{ $f->{steps} }), $f->{within}, $d->{as_of},
				defined $d->{err} ? "error: $d->{err}"
				: sprintf("step %d: %d members, the reference %d; only in event_funnel: %s; only in the reference: %s\n  reference: %s",
					$d->{step}, $d->{ext_n}, $d->{ref_n}, join(', ', grep { defined } @{ $d->{only_ext} // [] }[ 0 .. 4 ]),
					join(', ', grep { defined } @{ $d->{only_ref} // [] }[ 0 .. 4 ]), $f->{refs}[ $d->{step} - 1 ])));
	}
	ok(!@bad && $pairs > 0, sprintf("event_funnel: %d funnels x %d instants, %d (funnel, step, instant) audiences agree with the reference%s",
			$n, scalar @instants, $pairs, @bad ? ' (' . scalar(@bad) . ' differ)' : ''));
	note sprintf("event_funnel: %d funnels compared in %.1f s", $n, time - $t0);
	$failures += @bad;
	$total_pairs += $pairs;
	$node->safe_psql('postgres', "DROP DATABASE $db") unless @bad;
}
run_funnels($behaviour ? ($ENV{DIFF_FUNNELS} // int($nrules / 20)) : 0);

note "batches per segment.rule_form: " . join(', ', map { "$_ $forms{$_}" } sort keys %forms);
note "predicate kinds generated (count):";
note join("\n", map { sprintf("  %-40s %d", $_, $kinds{$_}) } sort keys %kinds);
diag(sprintf("differential test: %d rules, %d (rule, instant) pairs compared, %d rules differ, %.0f s (seed %d)",
		$total_rules, $total_pairs, $failures, time - $started, $seed));
diag("only the first $max_fail differing rules are detailed") if $failures > $max_fail;

$node->stop;
done_testing();
