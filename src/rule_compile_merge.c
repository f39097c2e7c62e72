/*
 * rule_compile_merge.c
 *		The predicates of one source merged into one scan (alias sN, a
 *		column per predicate), and how a source's predicates are grouped
 *		into scans, chosen by the planner's estimated costs.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "key_dictionary.h"
#include "rule_choice.h"
#include "rule_compile_int.h"
#include "rule_compile_shard.h"
#include "rule_pg.h"
#include "rule_print.h"
#include "rule_share.h"
#include "segment.h"

static void FindFold(Compiler *c, const RuleNode *rule);

/* The source an EXISTS or aggregate predicate scans; NULL for other leaves. */
static const char *
LeafSource(const RuleNode *n)
{
	switch (n->kind)
	{
		case RULE_EXISTS:
			return n->name;
		case RULE_TAG_IN:
		case RULE_TAG_EMPTY:
		case RULE_IN_SEGMENT:
		case RULE_IN_SNAPSHOT:
		case RULE_SEQUENCE:		/* nested EXISTS of their own */
		case RULE_RANK:			/* a scan of the whole population */
		case RULE_AND:
		case RULE_OR:
		case RULE_NOT:
			return NULL;
		default:
			return n->value->kind == RULE_VALUE_AGG ? n->value->source : NULL;
	}
}

/* Groups the source predicates of the tree by source. */
static void
CollectLeaves(Compiler *c, const RuleNode *n, int maxleaves)
{
	const char *source;
	int			i;

	check_stack_depth();
	if (n->kind == RULE_AND || n->kind == RULE_OR || n->kind == RULE_NOT)
	{
		for (i = 0; i < n->nchildren; i++)
			CollectLeaves(c, n->children[i], maxleaves);
		return;
	}
	if ((source = LeafSource(n)) == NULL)
		return;
	/* among keys, each EXISTS is a semi-join from the keys (RcCompileExists) */
	if (c->among_keys && n->kind == RULE_EXISTS)
		return;
	for (i = 0; i < c->nmerged; i++)
		if (strcmp(c->merged[i].source, source) == 0)
			break;
	if (i == c->nmerged)
	{
		c->merged[i].source = source;
		c->merged[i].nleaves = 0;
		c->merged[i].leaves = palloc(sizeof(RuleNode *) * maxleaves);
		c->merged[i].holds = palloc0(sizeof(bool) * maxleaves);
		c->merged[i].grouped = false;
		c->merged[i].fold = NULL;
		c->nmerged++;
	}
	c->merged[i].leaves[c->merged[i].nleaves++] = n;
}

/*
 * The inner select list of a merged scan: expressions by text, each
 * computed once however many predicates use it (13's two sums of paid
 * amounts are one column).  Returns the column's name.
 */
typedef struct Columns
{
	StringInfoData list;
	char	  **exprs;
	int			n;
} Columns;

static const char *
Column(Columns *cols, const char *expr)
{
	int			i;

	for (i = 0; i < cols->n; i++)
		if (strcmp(cols->exprs[i], expr) == 0)
			return psprintf("c%d", i + 1);
	cols->exprs[cols->n++] = pstrdup(expr);
	appendStringInfo(&cols->list, ", %s AS c%d", expr, cols->n);
	return psprintf("c%d", cols->n);
}

/*
 * The one audience of a folded AND (Merged.fold): the groups with a row
 * for every EXISTS, none for every NOT EXISTS and a value satisfying every
 * aggregate's condition, so that only they are mapped to ordinals
 * ("max(views.viewed_at) < 60 days ago": 146k customers, where the two
 * audiences subtracted had 700k and 550k; "first(orders.channel) =
 * 'store' AND last(orders.placed_at) < 60 days ago": 41k, where the two
 * intersected had 529k each).
 */
static void
FoldColumn(Compiler *c, const Merged *m, const Source *s, char **conds, Columns *cols,
		   StringInfo needed)
{
	int			i,
				j;

	for (i = 0; i < m->fold->nchildren; i++)
	{
		const RuleNode *child = m->fold->children[i];
		bool		negated = child->kind == RULE_NOT;
		const RuleNode *leaf = negated ? child->children[0] : child;

		for (j = 0; j < m->nleaves && m->leaves[j] != leaf; j++)
			;
		if (j == m->nleaves)
			elog(ERROR, "folded predicate not in its scan");
		if (i > 0)
			appendStringInfoString(needed, " AND ");
		if (leaf->kind == RULE_EXISTS)
			appendStringInfo(needed, "g.%s%s", Column(cols, psprintf("bool_or(%s)", conds[j])),
							 negated ? " IS NOT TRUE" : "");
		else
		{
			AggInfo		a;
			const char *value;

			/* positive, false over no rows or covered (FoldableLeaf): exact on the groups */
			RcCheckAggregate(c, leaf->value, s, &a);
			value = Column(cols, RcAggSql(&a, leaf->value->agg, conds[j]));
			appendStringInfo(needed, "(%s)", RcGroupCondition(c, leaf, &a, psprintf("g.%s", value)));
		}
	}
	appendStringInfo(&c->sql, "coalesce(%s FILTER (WHERE %s), '{}') AS fold",
					 RcOuterAudience(c), needed->data);
}

/*
 * Whether a merged grouped scan reads its rows behind OFFSET 0 (a subquery
 * the planner cannot flatten), so that it sorts or hashes them: when one
 * of its aggregates takes grouped input and has no partial form
 * (RcSortedInput).  Without it, the GroupAggregate of
 * "first(orders.channel) = 'store' AND last(orders.placed_at) < 60 days
 * ago" was fed by a Merge Append of index scans on the customer column of
 * 25 monthly partitions (random heap reads: 18 of its 20.7 s at 1M
 * customers; behind the fence 8.0 s, the hand-written DISTINCT ON 5.8 s).
 * Scans of count, sum, max... stay as they are: the planner aggregates
 * them in parallel.  The filter and window stay inside, where an index on
 * the time column can serve them.  Among candidates the scans are small
 * and an index on the customer is right: left to the planner (then
 * dictionary keys are mapped in the scan, whose columns the subquery would
 * hide).  A source whose rows lie in customer order (RcCustomerOrdered)
 * is read by its customer index sequentially: no fence.
 */
static bool
FencedRows(Compiler *c, const Merged *m, const Source *s)
{
	int			j;

	if (c->among || !m->grouped || s->customer_ordered)
		return false;
	for (j = 0; j < m->nleaves; j++)
	{
		const RuleNode *n = m->leaves[j];
		AggInfo		a;

		if (n->kind == RULE_EXISTS)
			continue;
		RcCheckAggregate(c, n->value, s, &a);
		if (RcSortedInput(n->value, &a))
			return true;
	}
	return false;
}

/*
 * One scan for several predicates of a source (alias sN): the rows any of
 * them needs, then per-predicate audiences yesJ (and seenJ for
 * zero-inclusive aggregates).  Grouped (GROUP BY customer), with one
 * column per distinct aggregate or condition, when a predicate needs an
 * aggregate's value; otherwise (EXISTS only) no grouping at all: one
 * audience per predicate, FILTERed by its condition.  A window all
 * predicates share is hoisted into the WHERE clause, where an index on the
 * time column serves it once.  Returns the subquery.
 */
static char *
MergedSql(Compiler *c, Merged *m)
{
	StringInfoData saved = c->sql;
	Source		s;
	char	  **filters = palloc(sizeof(char *) * m->nleaves);
	char	  **windows = palloc(sizeof(char *) * m->nleaves);
	char	  **conds = palloc(sizeof(char *) * m->nleaves);
	const char *shared_window;
	Columns		cols;
	StringInfoData needed;		/* groups some audience needs */
	char	   *text;
	int			list_end;
	bool		fenced;
	int			j;

	if ((text = RcShardMerged(c, m)) != NULL)
		return text;			/* scale-out: audiences per shard */
	initStringInfo(&needed);
	RcLoadSource(c, m->source, &s);
	c->unchecked |= !s.references_customers;
	for (j = 0; j < m->nleaves; j++)
	{
		const RuleNode *n = m->leaves[j];
		bool		exists = n->kind == RULE_EXISTS;

		filters[j] = RcFilterText(c, &s, exists ? n->name : n->value->source,
								exists ? n->filter : n->value->filter);
		windows[j] = RcWindowText(c, &s, exists ? n->window : n->value->window);
	}
	shared_window = windows[0];
	for (j = 1; j < m->nleaves && shared_window; j++)
		if (windows[j] == NULL || strcmp(windows[j], shared_window) != 0)
			shared_window = NULL;
	for (j = 0; j < m->nleaves; j++)
		conds[j] = RcConjoin(filters[j], shared_window ? NULL : windows[j]);

	initStringInfo(&cols.list);
	cols.exprs = palloc(sizeof(char *) * 2 * m->nleaves);
	cols.n = 0;
	initStringInfo(&c->sql);
	appendStringInfoString(&c->sql, "SELECT ");
	if (m->fold)
		FoldColumn(c, m, &s, conds, &cols, &needed);
	for (j = 0; j < m->nleaves && !m->fold; j++)
	{
		const RuleNode *n = m->leaves[j];
		const char *suffix = psprintf("%d", j + 1);

		if (j > 0)
			appendStringInfoString(&c->sql, ", ");
		if (n->kind == RULE_EXISTS && !m->grouped)
			appendStringInfo(&c->sql, "coalesce(%s%s, '{}') AS yes%s",
							 RcSourceAudience(c, &s),
							 strcmp(conds[j], "true") == 0 ? "" : psprintf(" FILTER (WHERE %s)", conds[j]), suffix);
		else if (n->kind == RULE_EXISTS)
		{
			const char *col = Column(&cols, psprintf("bool_or(%s)", conds[j]));

			appendStringInfo(&c->sql, "coalesce(%s FILTER (WHERE g.%s), '{}') AS yes%s",
							 RcOuterAudience(c), col, suffix);
			appendStringInfo(&needed, "%sg.%s", needed.len > 0 ? " OR " : "", col);
		}
		else
		{
			AggInfo		a;
			const char *value;
			const char *seen = NULL;

			RcCheckAggregate(c, n->value, &s, &a);
			m->holds[j] = RcEmptyHolds(c, n, &a);
			value = Column(&cols, RcAggSql(&a, n->value->agg, conds[j]));
			if (m->holds[j])
				seen = Column(&cols, psprintf("bool_or(%s)", conds[j]));
			RcAppendAggColumns(c, n, &a, value, seen, suffix, m->holds[j]);
			appendStringInfo(&needed, "%s%s", needed.len > 0 ? " OR " : "",
							 RcGroupCondition(c, n, &a, psprintf("g.%s", value)));
			if (seen)
				appendStringInfo(&needed, " OR g.%s", seen);
		}
	}
	list_end = c->sql.len;
	fenced = FencedRows(c, m, &s);
	if (m->grouped)
		appendStringInfo(&c->sql, " FROM (SELECT %s AS k%s", RcInnerKey(c, &s), cols.list.data);
	if (fenced)
		appendStringInfoString(&c->sql, " FROM (SELECT *");
	RcAppendSourceFrom(c, &s);
	appendStringInfo(&c->sql, " WHERE %s", shared_window ? shared_window : "true");
	for (j = 0; j < m->nleaves && strcmp(conds[j], "true") != 0; j++)
		;
	if (j == m->nleaves)		/* no predicate reads every row */
	{
		appendStringInfoString(&c->sql, " AND (");
		for (j = 0; j < m->nleaves; j++)
		{
			int			k;

			/* each condition once ("sum(...) >= 300 AND sum(...) < 2000") */
			for (k = 0; k < j && strcmp(conds[k], conds[j]) != 0; k++)
				;
			if (k == j)
				appendStringInfo(&c->sql, "%s%s", j > 0 ? " OR " : "", conds[j]);
		}
		appendStringInfoChar(&c->sql, ')');
	}
	if (!m->grouped)
		RcAppendKeyRange(c, &s);
	RcAppendAmongKey(c, psprintf("e.%s", s.customer),
				   c->reg.dictionary ? RcDictOrdinal(&c->reg, "e", s.customer) : psprintf("e.%s", s.customer));
	if (fenced)
		appendStringInfoString(&c->sql, " OFFSET 0) e");
	if (m->grouped)
	{
		const char *where = needed.data;

		RcAppendGroupEnd(c, &s);
		for (j = 0; j < m->nleaves; j++)
			if (c->key_checked == m->leaves[j] && !m->holds[j])
			{
				/* the groups some audience needs, if registered (RcKeyRegistered) */
				where = psprintf("(%s) AND %s", needed.data, RcKeyRegistered(c, "g.k"));
				if (c->reg.cached)
					appendStringInfo(&c->sql, " WHERE %s", where);
				break;
			}
		RcFenceGrouped(c, list_end, where);
	}
	text = RcShardSource(c, m->source, c->sql.data);	/* scale-out: per shard */
	c->sql = saved;
	return text;
}

static void
CompileMerged(Compiler *c, Merged *m, int alias)
{
	appendStringInfo(&c->from, ",\n  (%s) s%d", MergedSql(c, m), alias);
}

/* Finds a predicate's merged scan: its alias and column number, or NULL. */
const Merged *
RcFindMerged(Compiler *c, const RuleNode *n, int *alias, int *column)
{
	int			i,
				j;

	for (i = 0; i < c->nmerged; i++)
		for (j = 0; c->merged[i].nleaves > 1 && j < c->merged[i].nleaves; j++)
			if (c->merged[i].leaves[j] == n)
			{
				*alias = i + 1;
				*column = j + 1;
				return &c->merged[i];
			}
	return NULL;
}

/* Counts the leaves of a tree (an upper bound of any group's size). */
static int
CountLeaves(const RuleNode *n)
{
	int			i,
				total = 0;

	if (n->kind != RULE_AND && n->kind != RULE_OR && n->kind != RULE_NOT)
		return 1;
	for (i = 0; i < n->nchildren; i++)
		total += CountLeaves(n->children[i]);
	return total;
}

/*
 * The planner's estimates for a query's top plan node, from a plan made but
 * not run: its total cost, rows and node type (each may be NULL).
 */
void
RcPlanEstimate(const char *query, double *cost, double *rows, NodeTag *top)
{
	SPIPlanPtr	plan = SPI_prepare(query, 0, NULL);
	CachedPlan *cplan;
	Plan	   *tree;

	if (plan == NULL || (cplan = SPI_plan_get_cached_plan(plan)) == NULL)
		elog(ERROR, "could not plan %s", query);
	tree = linitial_node(PlannedStmt, cplan->stmt_list)->planTree;
	if (cost)
		*cost = tree->total_cost;
	if (rows)
		*rows = tree->plan_rows;
	if (top)
		*top = nodeTag(tree);
	/* an unsaved SPI plan's cached plan belongs to no resource owner */
	ReleaseCachedPlan(cplan, NULL);
	SPI_freeplan(plan);
}

/* The planner's total cost of a query. */
double
RcPlanCost(const char *query)
{
	double		cost;

	RcPlanEstimate(query, &cost, NULL, NULL);
	return cost;
}

/* A predicate's own subquery (as CompileLeaf writes it), for costing. */
static char *
LeafSql(Compiler *c, const RuleNode *n)
{
	StringInfoData saved = c->sql;
	char	   *text;

	initStringInfo(&c->sql);
	if (n->kind == RULE_EXISTS)
		RcCompileExists(c, n);
	else
		(void) RcCompileAggregate(c, n);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/* A group of some of a source's predicates, scanned together. */
static Merged
Subgroup(const Merged *all, bool exists, bool aggregates, bool grouped)
{
	Merged		m = *all;
	int			j;

	m.leaves = palloc(sizeof(RuleNode *) * all->nleaves);
	m.holds = palloc0(sizeof(bool) * all->nleaves);
	m.nleaves = 0;
	m.grouped = grouped;
	m.fold = NULL;
	for (j = 0; j < all->nleaves; j++)
		if (all->leaves[j]->kind == RULE_EXISTS ? exists : aggregates)
			m.leaves[m.nleaves++] = all->leaves[j];
	return m;
}

/* Cost of evaluating the leaves of groups: merged scans or one by one. */
static double
GroupCost(Compiler *c, Merged *m, const double *leafcost, const Merged *all)
{
	double		total = 0;
	int			i,
				j;

	if (m->nleaves > 1)
		return RcPlanCost(MergedSql(c, m));
	for (i = 0; i < m->nleaves; i++)
		for (j = 0; j < all->nleaves; j++)
			if (all->leaves[j] == m->leaves[i])
				total += leafcost[j];
	return total;
}

/* Appends the groups of a choice to out; returns how it reads in the notes. */
static const char *
TakeChoice(RuleScanChoice choice, const Merged *one, const Merged *ex, const Merged *ag,
		   Merged *out, int *nout)
{
	switch (choice)
	{
		case RULE_SCAN_ONE:
			out[(*nout)++] = *one;
			return one->grouped ? "one grouped scan" : "one scan, no grouping";
		case RULE_SCAN_HYBRID:
			out[(*nout)++] = *ex;
			if (ag->nleaves > 1)
				out[(*nout)++] = *ag;
			return "EXISTS in one scan, aggregates in one grouped scan";
		case RULE_SCAN_SPLIT:
			break;
	}
	if (ag->nleaves > 1)
		out[(*nout)++] = *ag;
	return ag->nleaves > 1 ? "one scan per EXISTS, aggregates in one grouped scan" : "one scan per predicate";
}

/*
 * Decides how a source's predicates are scanned, by the planner's
 * estimates of each alternative:
 *	 one:	 one scan for all (grouped if any needs an aggregate's value);
 *	 split:	 each EXISTS its own scan (an index range scan on the time
 *			 column reads only its window), the aggregates one grouped scan;
 *	 hybrid: the EXISTS in one plain scan, the aggregates in a grouped one.
 * Appends the chosen groups of two or more predicates to out; the others
 * are compiled alone.  The choice goes into the notes.
 */
static void
ChooseScans(Compiler *c, const Merged *all, Merged *out, int *nout)
{
	int			nexists = 0,
				j;
	bool		dict = c->reg.dictionary;
	double	   *leafcost = palloc(sizeof(double) * all->nleaves);
	Merged		one = Subgroup(all, true, true, true),
				ex = Subgroup(all, true, false, dict),
				ag = Subgroup(all, false, true, true);
	double		cost_one,
				cost_split,
				cost_hybrid = -1,
				cost_ag;
	const char *choice;

	for (j = 0; j < all->nleaves; j++)
		nexists += all->leaves[j]->kind == RULE_EXISTS;
	one.grouped = dict || nexists < all->nleaves;
	if (!c->choose)
	{
		out[(*nout)++] = one;
		return;
	}
	for (j = 0; j < all->nleaves; j++)
		leafcost[j] = RcPlanCost(LeafSql(c, all->leaves[j]));
	cost_one = RcPlanCost(MergedSql(c, &one));
	cost_ag = GroupCost(c, &ag, leafcost, all);
	cost_split = cost_ag;
	for (j = 0; j < all->nleaves; j++)
		if (all->leaves[j]->kind == RULE_EXISTS)
			cost_split += leafcost[j];
	if (nexists >= 2 && nexists < all->nleaves)
		cost_hybrid = RcPlanCost(MergedSql(c, &ex)) + cost_ag;

	choice = TakeChoice(rule_choose_scans(cost_one, cost_split, cost_hybrid), &one, &ex, &ag, out, nout);
	appendStringInfo(&c->notes, "-- %s: %d predicates: %s (estimated cost: one scan %.0f, one per predicate %.0f",
					 all->source, all->nleaves, choice, cost_one, cost_split);
	if (cost_hybrid >= 0)
		appendStringInfo(&c->notes, ", EXISTS together %.0f", cost_hybrid);
	appendStringInfoString(&c->notes, ")\n");
}

/*
 * Merges the source predicates of a rule, source by source, when not
 * sharing (refresh_all() shares whole predicates across rules instead,
 * which merging would defeat).  Outside the auto-tagging triggers, how
 * they are grouped is chosen by cost.
 */
void
RcCompileMergedScans(Compiler *c, const RuleNode *rule)
{
	int			nleaves = CountLeaves(rule);
	Merged	   *groups;
	int			ngroups = 0;
	int			i;

	if (c->share)
		return;
	c->merged = palloc0(sizeof(Merged) * nleaves);
	CollectLeaves(c, rule, nleaves);
	groups = palloc0(sizeof(Merged) * (nleaves + 1));
	for (i = 0; i < c->nmerged; i++)
		if (c->merged[i].nleaves > 1)
			ChooseScans(c, &c->merged[i], groups, &ngroups);
	c->merged = groups;
	c->nmerged = ngroups;
	FindFold(c, rule);
	for (i = 0; i < c->nmerged; i++)
		CompileMerged(c, &c->merged[i], i + 1);
}

/* The folded AND's scan (alias), or NULL. */
const Merged *
RcFoldedScan(Compiler *c, const RuleNode *and, int *alias)
{
	int			i;

	for (i = 0; i < c->nmerged; i++)
		if (c->merged[i].fold == and)
		{
			*alias = i + 1;
			return &c->merged[i];
		}
	return NULL;
}

/*
 * Whether an AND's child can be one condition on the groups of a folded
 * scan: EXISTS and NOT EXISTS, and aggregate predicates whose condition is
 * false over no rows (max(...) < x, count(...) >= 2), which no customer
 * without rows satisfies, or true over no rows but covered by a sibling
 * ("sum(...) >= 300 AND sum(...) < 2000").  A NOT of an aggregate, or an
 * uncovered one true over no rows (count(...) = 0), also holds for
 * customers outside the scan.
 */
static bool
FoldableLeaf(Compiler *c, const RuleNode *and, const RuleNode *leaf, bool negated)
{
	if (leaf->kind == RULE_EXISTS)
		return true;
	if (negated)
		return false;
	return !RcAggregateHolds(c, leaf) || RcCoveredInAnd(c, and, leaf);
}

/*
 * An AND of nothing but EXISTS, NOT EXISTS and aggregate predicates false
 * over no rows or covered (FoldableLeaf) of one source, at least one positive, all in
 * one grouped scan (dictionary keys group): folded into one audience of
 * that scan (FoldColumn).  Without grouping, each EXISTS is its own
 * FILTERed audience of a plain scan, and there is nothing per customer to
 * fold.
 */
static void
FindFold(Compiler *c, const RuleNode *rule)
{
	const Merged *m = NULL;
	int			alias,
				column,
				i,
				positive = 0;

	if (rule->kind != RULE_AND)
		return;
	for (i = 0; i < rule->nchildren; i++)
	{
		const RuleNode *child = rule->children[i];
		const RuleNode *leaf = child->kind == RULE_NOT ? child->children[0] : child;
		const Merged *in;

		if ((in = RcFindMerged(c, leaf, &alias, &column)) == NULL || (m != NULL && in != m) ||
			!FoldableLeaf(c, rule, leaf, child->kind == RULE_NOT))
			return;
		m = in;
		positive += child->kind != RULE_NOT;
	}
	if (m == NULL || positive == 0 || !m->grouped || m->nleaves != rule->nchildren)
		return;
	if (RcShardAggregates(c, m->source))
		return;					/* scale-out: audiences per shard instead */
	((Merged *) m)->fold = rule;
}
