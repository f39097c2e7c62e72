/*
 * rule_compile_shard_seq.c
 *		Two-step sequences over co-located shards (doc/scale-out.md).
 *
 * A sequence reads several rows of a customer, from two sources.  When
 * both sources are sharded on their customer column by the same scheme,
 * and each partition of the first has a partition of the second with the
 * same bound on the same server, a customer's rows of both are on one
 * shard.  With postgres_fdw's use_remote_estimate on (see rc_colocated_pairs),
 * the sequence is run per pair of partitions, each branch one
 * query that postgres_fdw sends whole:
 *
 *	 a THEN EXISTS b:	  SELECT audience_agg(e.key) FROM ONLY pa e
 *						  JOIN ONLY pb e2 ON <b follows e> WHERE <e's own>
 *	 a THEN NOT EXISTS b: ... LEFT JOIN ONLY pb e2 ON <b follows e>
 *						  with audience_agg(...) FILTER (WHERE e2.time IS NULL)
 *
 * and the branches' audiences are united on the coordinator, as in
 * rule_compile_shard.c.  Joins, not EXISTS: PostgreSQL 15's postgres_fdw
 * ships inner and left joins of foreign tables of one server, and an
 * aggregate over them, but no semi- or anti-join (a "WHERE e2.x IS NULL"
 * would become one); the join's duplicate rows of a customer are one
 * member of the audience.  FILTER keeps the anti-join's meaning: an event
 * of a with no b after it leaves one row whose e2 columns are NULL (e2's
 * time is never NULL in a match: the join requires it to be later).
 *
 * The conditions must be ones postgres_fdw ships: WITHIN is written
 * without the zone's name where it can be (WithinEnd, FixedOffset), and
 * a planned branch must be one foreign scan (rc_shipped).  Everything else
 * keeps the nested EXISTS of rule_compile_sequence.c, whose steps' rows
 * travel: longer chains, sources not co-located, conditions that convert
 * through the zone's name, dictionary keys (a shard cannot map keys to
 * ordinals), and scans among candidates (their parameters and CTEs are
 * the coordinator's).
 */
#include "postgres.h"

#include <stdlib.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "nodes/plannodes.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/plancache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "rule_compile_int.h"
#include "rule_compile_shard.h"
#include "rule_pg.h"
#include "rule_compile_shard_seq.h"
#include "rule_compile_colocated.h"


/* The key range condition of a scan of s ("" when none is needed). */
static char *
KeyRange(Compiler *c, const Source *s)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	RcAppendKeyRange(c, s);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/*
 * The rule zone's UTC offset as an interval literal, when it is the same
 * at every instant the sequence's WITHIN span (in days or longer) can
 * reach from its first step's window, a day of margin on either side;
 * else "" (the zone's name, which postgres_fdw does not ship).  An offset
 * without DST (Asia/Shanghai) or a window between two DST changes lets a
 * WITHIN days between timestamptz columns run on the shards.
 */
static const char *
FixedOffset(Compiler *c, const RuleNode *n)
{
	const RuleWindow *w = n->children[0]->window;
	const RuleDuration *d = n->within;
	RuleBound	lo;
	RuleBound	hi;
	int64		reach;
	pg_time_t	from;
	pg_time_t	to;
	pg_time_t	boundary;
	long int	before;
	long int	after;
	int			before_dst;
	int			after_dst;
	int			found;

	if (d == NULL || w == NULL || d->unit == RULE_UNIT_MINUTE || d->unit == RULE_UNIT_HOUR ||
		!rule_resolve_window(w, &c->local, c->epoch, &lo, &hi) ||
		lo.kind == RULE_BOUND_NEG_INFINITY || lo.kind == RULE_BOUND_POS_INFINITY ||
		hi.kind == RULE_BOUND_NEG_INFINITY || hi.kind == RULE_BOUND_POS_INFINITY)
		return "";
	/* days the span can last: a month is at most 31, a year 366 */
	reach = (int64) d->n * (d->unit == RULE_UNIT_DAY ? 1 : d->unit == RULE_UNIT_WEEK ? 7 :
							d->unit == RULE_UNIT_MONTH ? 31 : 366) + 1;
	from = timestamptz_to_time_t(rule_pg_bound(&lo, c->tz)) - SECS_PER_DAY;
	to = timestamptz_to_time_t(rule_pg_bound(&hi, c->tz)) + reach * SECS_PER_DAY;
	found = pg_next_dst_boundary(&from, &before, &before_dst, &boundary, &after, &after_dst, c->tz);
	if (found < 0 || (found == 1 && boundary <= to))
		return "";
	/* an interval zone is east of UTC, as the offset is */
	return psprintf("'%s%02ld:%02ld:%02ld'::interval", before < 0 ? "-" : "",
					labs(before) / 3600, labs(before) % 3600 / 60, labs(before) % 60);
}


/*
 * A two-step sequence as a union of joins per pair of co-located shards
 * in c->sql (see the file's comment); false, with nothing written, when
 * it cannot be one.
 */
bool
RcShardSequence(Compiler *c, const RuleNode *n)
{
	const RuleNode *second;
	Source		a;
	Source		b;
	List	   *pairs;
	char	   *head;
	char	   *follows;
	char	   *agg;
	char	   *range;
	List	   *branches = NIL;
	ListCell   *lc;

	if (c->among || c->reg.dictionary || n->nchildren != 2)
		return false;
	second = n->children[1];
	RcLoadSource(c, n->children[0]->name, &a);
	RcLoadSource(c, second->name, &b);
	pairs = rc_colocated_pairs(a.rel, catalog_source(c->catalog, n->children[0]->name)->customer_column,
						   b.rel, catalog_source(c->catalog, second->name)->customer_column);
	if (pairs == NIL)
		return false;

	head = RcSequenceHead(c, n, &a);
	follows = RcAnchoredCondition(c, n, 1, 0, &a, "e", &b, FixedOffset(c, n));
	range = KeyRange(c, &a);
	/* bytea: the audience's roaring bytes travel, not its text (rule_compile_shard.c) */
	agg = psprintf("(segment.audience_agg(%s)%s)::bytea AS yes", RcSourceOrdinal(c, &a),
				   second->negated ? psprintf(" FILTER (WHERE e2.%s IS NULL)", b.time) : "");
	foreach(lc, pairs)
	{
		ShardPair  *p = lfirst(lc);

		branches = lappend(branches, psprintf("SELECT %s FROM ONLY %s e %s ONLY %s e2 ON %s WHERE %s%s",
											  agg, p->first, second->negated ? "LEFT JOIN" : "JOIN",
											  p->second, follows, head, range));
	}
	/* the branches differ only in their tables: one plan tells */
	if (!rc_shipped(linitial(branches), NULL))
		return false;

	c->unchecked |= !a.references_customers;
	appendStringInfoString(&c->sql, rc_union_branches(branches));
	appendStringInfo(&c->notes, "-- sequence of 2 steps from %s on %d co-located shards: a %s join per shard, "
					 "its audience computed there\n", n->children[0]->name, list_length(pairs),
					 second->negated ? "left" : "inner");
	return true;
}
