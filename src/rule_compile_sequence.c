/*
 * rule_compile_sequence.c
 *		Sequences (EXISTS a ... THEN [NOT] EXISTS b ... [WITHIN n unit]) as
 *		nested correlated EXISTS / NOT EXISTS, which the planner runs as
 *		semi- and anti-joins over each source's customer and time columns:
 *		no procedural loop.
 *
 * The first step's row is alias e; step k's is ek.  A positive step's
 * condition holds its filter, its window, and the steps anchored at its
 * event: each NOT step up to the next positive step as NOT EXISTS, then
 * that positive step as EXISTS with its own condition, nested.  So in
 * "a THEN NOT b THEN c" both b and c are searched after a's event.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "rule_compile_int.h"
#include "rule_compile_shard_seq.h"

/* A window condition on a step's row (alias), as text. */
static char *
StepWindow(Compiler *c, const Source *s, const char *alias, const RuleWindow *w)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	RcAppendWindowCond(c, psprintf("%s.%s", alias, s->time), s->time_type, w);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/* A step's filter on its row (alias), prev.column read from the anchor. */
static char *
StepFilter(Compiler *c, const RuleNode *step, const Source *s, const char *alias,
		   const Source *prev, const char *prev_alias, const char *prev_name)
{
	const char *saved_alias = c->alias;
	char	   *text;

	if (step->filter == NULL)
		return NULL;
	c->alias = alias;
	c->prev = prev;
	c->prev_alias = prev_alias;
	c->prev_name = prev_name;
	text = RcFilterText(c, s, step->name, step->filter);
	c->alias = saved_alias;
	c->prev = NULL;
	return text;
}

/*
 * The end of the span WITHIN bounds, for a column of type to: minutes and
 * hours are elapsed time (an instant plus the interval), days and larger
 * are calendar units of the rule's zone (the local wall-clock time plus
 * the interval, so "within 1 day" across a DST change is 23 or 25 hours).
 *
 * ship, when not NULL, asks for a form postgres_fdw sends to a shard: only
 * IMMUTABLE steps, and no zone name (it ships no function of a text
 * constant, for its collation).  timestamptz + interval is STABLE, but
 * elapsed time added in UTC is the same instant.  Calendar units between
 * timestamptz values take ship as the zone when it is an interval literal
 * (the zone's UTC offset, the same at every instant the span can reach:
 * the caller checks that), the zone's name when it is "".
 */
static char *
WithinEnd(Compiler *c, const char *anchor, Oid from, Oid to, const RuleDuration *d, const char *ship)
{
	char	   *iv = psprintf("'%d %s'::interval", d->n, rule_unit_name(d->unit, d->n != 1));
	bool		elapsed = d->unit == RULE_UNIT_MINUTE || d->unit == RULE_UNIT_HOUR;

	if (elapsed && ship)
		return RcTimeAs(c, psprintf("(((%s AT TIME ZONE '00:00'::interval) + %s) AT TIME ZONE '00:00'::interval)",
									RcTimeAs(c, anchor, from, TIMESTAMPTZOID), iv),
						TIMESTAMPTZOID, to);
	if (elapsed)
		return RcTimeAs(c, psprintf("%s + %s", RcTimeAs(c, anchor, from, TIMESTAMPTZOID), iv),
						TIMESTAMPTZOID, to);
	if (ship && *ship && from == TIMESTAMPTZOID && to == TIMESTAMPTZOID)
		return psprintf("(((%s AT TIME ZONE %s) + %s) AT TIME ZONE %s)", anchor, ship, iv, ship);
	return RcTimeAs(c, psprintf("%s + %s", RcTimeAs(c, anchor, from, TIMESTAMPOID), iv), TIMESTAMPOID, to);
}

static char *StepCondition(Compiler *c, const RuleNode *seq, int j, const Source *s, const char *alias);

/*
 * What step k's row (alias ek, its source in *s) must satisfy to follow
 * the event of step j (its anchor): same customer, later, within the
 * span, its filter, and for a positive step its window and the steps
 * anchored at it.  ship: not NULL for the form that postgres_fdw sends
 * to a shard (WithinEnd; rule_compile_shard_seq.c).
 */
char *
RcAnchoredCondition(Compiler *c, const RuleNode *seq, int k, int j, const Source *anchor,
					const char *anchor_alias, Source *s, const char *ship)
{
	const RuleNode *step = seq->children[k];
	char	   *alias = psprintf("e%d", k + 1);
	char	   *at = psprintf("%s.%s", anchor_alias, anchor->time);
	char	   *cond;
	char	   *own;

	RcLoadSource(c, step->name, s);
	if (!RcIsTimeType(s->time_type) || !RcIsTimeType(anchor->time_type))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("a sequence needs date or timestamp time columns, but %s has type %s",
						RcIsTimeType(s->time_type) ? seq->children[j]->name : step->name,
						format_type_be(RcIsTimeType(s->time_type) ? anchor->time_type : s->time_type))));
	cond = psprintf("%s.%s = %s.%s AND %s.%s > %s", alias, s->customer, anchor_alias, anchor->customer,
					alias, s->time, RcTimeAs(c, at, anchor->time_type, s->time_type));
	if (seq->within)
		cond = psprintf("%s AND %s.%s <= %s", cond, alias, s->time,
						WithinEnd(c, at, anchor->time_type, s->time_type, seq->within, ship));
	/* the filter's prev.column is the anchor's; the steps after, this one's */
	own = RcConjoin(StepFilter(c, step, s, alias, anchor, anchor_alias, seq->children[j]->name),
					step->negated ? (step->window ? StepWindow(c, s, alias, step->window) : NULL)
					: StepCondition(c, seq, k, s, alias));
	if (strcmp(own, "true") != 0)
		cond = psprintf("%s AND %s", cond, own);
	return cond;
}

/* Step k searched after the event of step j, as [NOT] EXISTS. */
static char *
AnchoredStep(Compiler *c, const RuleNode *seq, int k, int j, const Source *anchor, const char *anchor_alias)
{
	Source		s;
	char	   *cond = RcAnchoredCondition(c, seq, k, j, anchor, anchor_alias, &s, NULL);

	return psprintf("%sEXISTS (SELECT FROM %s e%d WHERE %s)", seq->children[k]->negated ? "NOT " : "",
					s.relname, k + 1, cond);
}

/*
 * What positive step j's event (alias) must satisfy besides its filter:
 * its window, and the steps anchored at it (NULL: nothing).
 */
static char *
StepCondition(Compiler *c, const RuleNode *seq, int j, const Source *s, const char *alias)
{
	const RuleNode *step = seq->children[j];
	char	   *cond = step->window ? StepWindow(c, s, alias, step->window) : NULL;
	int			k;

	check_stack_depth();
	for (k = j + 1; k < seq->nchildren; k++)
	{
		cond = RcConjoin(cond, AnchoredStep(c, seq, k, j, s, alias));
		if (!seq->children[k]->negated)
			break;
	}
	return cond;
}

/*
 * What the first step's row (alias e) must satisfy by itself: its filter,
 * a time, its window; its source in *first.
 */
char *
RcSequenceHead(Compiler *c, const RuleNode *n, Source *first)
{
	const RuleNode *step = n->children[0];

	RcLoadSource(c, step->name, first);
	return RcConjoin(RcConjoin(StepFilter(c, step, first, "e", NULL, NULL, NULL),
							   psprintf("e.%s IS NOT NULL", first->time)),
					 step->window ? StepWindow(c, first, "e", step->window) : NULL);
}

/*
 * The condition on the first step's row (alias e) of a sequence, and its
 * source in *first.  A row without a time takes no part: nothing is
 * "after" it.
 */
char *
RcSequenceCondition(Compiler *c, const RuleNode *n, Source *first)
{
	const RuleNode *step = n->children[0];

	RcLoadSource(c, step->name, first);
	return RcConjoin(RcConjoin(StepFilter(c, step, first, "e", NULL, NULL, NULL),
							   psprintf("e.%s IS NOT NULL", first->time)),
					 StepCondition(c, n, 0, first, "e"));
}

/* A sequence: the customers with a first-step row satisfying the chain. */
void
RcCompileSequence(Compiler *c, const RuleNode *n)
{
	Source		s;
	char	   *cond;

	if (RcShardSequence(c, n))	/* scale-out: a join per pair of shards */
		return;
	cond = RcSequenceCondition(c, n, &s);
	appendStringInfo(&c->notes, "-- sequence of %d steps from %s: nested EXISTS / NOT EXISTS "
					 "(semi- and anti-joins on each source's customer and time columns)\n",
					 n->nchildren, n->children[0]->name);
	RcCompileSourceSet(c, &s, cond);
}
