/*
 * rule_compile_int.h
 *		Internals of the rule compiler, split by concern:
 *
 *	rule_compile.c			the compiler's state from a catalog snapshot,
 *							tags, segments, sharing, the boolean
 *							structure, and the entry points
 *	rule_compile_cond.c		literals, windows and conditions
 *	rule_compile_source.c	source scans and EXISTS
 *	rule_compile_agg.c		aggregate predicates
 *	rule_compile_merge.c	predicates of one source merged into one scan,
 *							and the choice of scans by the planner's costs
 *	rule_compile_customer.c	customer-table conditions, the registered-
 *							customer check, set algebra or per customer
 *	rule_compile_split.c	semi-join reduction: a driver, then the rest
 *	rule_compile_sequence.c	sequences (THEN): nested correlated EXISTS
 *	rule_compile_rank.c		IN TOP / IN BOTTOM: rank() over a population
 *	rule_choice.c			the pure part of those decisions (unit-tested)
 *
 * Rc is the prefix of what these files share.
 */
#ifndef RULE_COMPILE_INT_H
#define RULE_COMPILE_INT_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/nodes.h"
#include "pgtime.h"

#include "catalog.h"
#include "rule_ast.h"
#include "rule_compile.h"
#include "rule_window.h"

/* What the registry says about the customer table. */
typedef struct Registry
{
	Oid			rel;
	char	   *relname;		/* qualified, quoted */
	char	   *key;			/* quoted key column */
	char	   *key_column;		/* the same, unquoted */
	char	   *key_ordinal;	/* cu.key: a customer row's ordinal (direct) */
	bool		dictionary;
	bool		cached;			/* dictionary read through customer_ordinal() */
	bool		unguarded;		/* integer keys of a view, foreign table...:
								 * no trigger keeps them in the ordinal range */
	char	   *key_type;		/* the dictionary's key type */
	char	   *tenant;			/* quoted tenant column, or NULL */
	char	   *tenant_value;	/* the current tenant, checked */
} Registry;

typedef struct Compiler
{
	const CatalogSnapshot *catalog; /* what the rule is compiled against */
	Registry	reg;
	TimestampTz as_of;
	pg_tz	   *tz;
	RuleCivilTime local;
	int64		epoch;
	StringInfoData sql;			/* where the current piece is written */
	StringInfoData from;		/* one single-row subquery per predicate */
	int			npred;
	bool		among;			/* restricted to the candidates in $1 */
	bool		among_customers;	/* ...which are registered customers */
	int64		among_count;	/* how many candidates (for the plan shape) */
	bool		among_keys;		/* $2 holds the candidates' keys */
	bool		share;			/* predicates from the refresh_all cache */
	RuleQuery  *query;			/* where shared results become parameters */
	struct Merged *merged;		/* predicates grouped by source */
	int			nmerged;
	bool		uses_universe;	/* the expression refers to u.a */
	bool		driver;			/* a reduced rule's driver: no registered-
								 * customer check (the rest among its
								 * members checks them) */
	bool		shard_joined;	/* one join per shard from the customer
								 * conditions (rule_compile_shard_join.c):
								 * already reduced, never split */
	bool		unchecked;		/* may yield customers not (or no longer)
								 * in the customer table */
	bool		post_join;		/* dictionary keys: group on the source's
								 * own key, map to ordinals afterwards */
	bool		key_check;		/* post_join: keep only keys of the customer
								 * table (RcKeyRegistered) before mapping */
	const RuleNode *key_checked;	/* the predicate whose scan does that */
	double		key_rows;		/* its customers, by the planner's estimate */
	bool		choose;			/* choose scans by the planner's costs */
	StringInfoData notes;		/* the choices made, as SQL comments */
	bool		key_indexed;	/* an index leads with it */
	char	   *check_body;		/* set algebra with a run-time check: the */
	char	   *check_scan;		/* rule's query and the check by scan */
	const RuleNode **covered;	/* zero-inclusive aggregates whose
								 * complement part an AND makes void */
	int			ncovered;
	struct CachedSource *sources;	/* sources read so far (RcLoadSource) */
	int			nsources;
	const char *alias;			/* the source row a filter reads (NULL: e) */
	const struct Source *prev;	/* a sequence step's filter: the previous */
	const char *prev_alias;		/* step's source and row, for prev.column */
	const char *prev_name;
} Compiler;

/*
 * The EXISTS and aggregate predicates of one source.  When a rule has two
 * or more over the same source, they share one grouped scan (alias sN)
 * with a column per predicate, as a hand-written GROUP BY ... HAVING would.
 */
typedef struct Merged
{
	const char *source;
	int			nleaves;
	const RuleNode **leaves;
	bool	   *holds;			/* per aggregate: true for no rows */
	bool		grouped;		/* GROUP BY customer; false: one plain scan
								 * with a FILTERed audience per EXISTS */
	const RuleNode *fold;		/* an AND of these EXISTS and NOT EXISTS:
								 * one audience (column fold) in place of
								 * one per predicate */
} Merged;

/* A source's relation and columns, or an error naming the sources. */
typedef struct Source Source;
struct Source
{
	Oid			rel;
	char	   *relname;
	char	   *customer;		/* quoted */
	char	   *time;			/* quoted */
	Oid			time_type;
	bool		references_customers;	/* a validated foreign key to the
										 * customer table's key: every row's
										 * customer is registered */
	bool		customer_ordered;	/* a plain table whose rows lie in
									 * customer order (RcCustomerOrdered) */
	char	   *key_collation;	/* the customer column's own collation, when
								 * it sorts alike under "C" (RcColumnCSortable),
								 * else NULL */
};

/* A source read once per compilation (RcLoadSource). */
typedef struct CachedSource
{
	const char *name;
	Source		source;
} CachedSource;

/* What an aggregate predicate computes, checked against its source. */
typedef struct AggInfo
{
	Oid			vtype;			/* type of the aggregate's value */
	char	   *what;			/* agg(source.column), for messages */
	const char *arg;			/* e.column, or NULL for count(source) */
	const char *empty;			/* the value over no rows, typed */
	const char *time;			/* e.time, which orders first() and last() */
	const char *period;			/* active_*(): the day, week or month of
								 * e.time in the rule's zone */
} AggInfo;

/* rule_compile.c */

extern const char *RcDictOrdinal(const Registry *reg, const char *alias, const char *col);
extern const char *RcDictJoin(const Registry *reg, const char *alias, const char *col);
extern const char *RcDictAudience(const Registry *reg, const char *alias, const char *col);
extern bool RcCustomerOrdered(Oid rel, const char *customer_column);
extern void RcLoadSource(Compiler *c, const char *name, Source *s);
extern Oid RcColumnType(Oid rel, const char *relname, const char *column);
extern char *RcColumnCSortable(Oid rel, const char *column);
extern char *RcTagGroupId(const char *name);
extern void RcAppendTagValues(Compiler *c, const RuleNode *n);
extern char *RcSegmentId(const char *name);
extern char *RcSnapshotId(const char *label);
extern void RcCompileNode(Compiler *c, const RuleNode *n);
extern const char *RcCustomerOrdinal(Compiler *c);
extern const char *RcCustomerAudience(Compiler *c);
extern void RcPrepare(Compiler *c, TimestampTz as_of);
extern const RuleNode *RcRewrite(Compiler *c, const RuleNode *rule);
extern void RcCompile(Compiler *c, const RuleNode *rule, TimestampTz as_of);

/* rule_compile_cond.c */

extern bool RcIsTimeType(Oid t);
extern char *RcZoneLiteral(Compiler *c);
extern char *RcTimeAs(Compiler *c, const char *expr, Oid from, Oid to);
extern void RcAppendWindowCond(Compiler *c, const char *expr, Oid type, const RuleWindow *w);
extern void RcAppendCondition(Compiler *c, const RuleNode *n, const char *expr, Oid type, const char *what);
extern void RcAppendLiteral(Compiler *c, const RuleLiteral *lit, Oid type, const char *what);
extern void RcAppendFilter(Compiler *c, const RuleNode *f, const Source *s, const char *source);

/* rule_compile_source.c */

extern void RcAppendAmong(Compiler *c, const char *key);
extern void RcAppendAmongKey(Compiler *c, const char *native, const char *ordinal);
extern void RcAppendSourceFrom(Compiler *c, const Source *s);
extern const char *RcSourceOrdinal(Compiler *c, const Source *s);
extern const char *RcSourceAudience(Compiler *c, const Source *s);
extern const char *RcInnerKey(Compiler *c, const Source *s);
extern const char *RcSortedKey(Compiler *c, const Source *s);
extern const char *RcSortedKeyOutput(const Source *s, const char *expr);
extern const char *RcOuterKey(Compiler *c);
extern const char *RcOuterAudience(Compiler *c);
extern void RcFenceGrouped(Compiler *c, int list_end, const char *where);
extern char *RcFilterText(Compiler *c, const Source *s, const char *name, const RuleNode *filter);
extern char *RcWindowText(Compiler *c, const Source *s, const RuleWindow *window);
extern char *RcConjoin(const char *a, const char *b);
extern char *RcLeafCondition(Compiler *c, const Source *s, const char *name, const RuleNode *filter, const RuleWindow *window);
extern void RcAppendKeyRange(Compiler *c, const Source *s);
extern void RcAppendGroupEnd(Compiler *c, const Source *s);
extern void RcAppendGroupEndBy(Compiler *c, const Source *s, const char *what);
extern void RcAppendSourceWhere(Compiler *c, const Source *s, const char *name, const RuleNode *filter, const RuleWindow *window, bool grouped);
extern void RcCompileExists(Compiler *c, const RuleNode *n);
extern void RcCompileSourceSet(Compiler *c, const Source *s, const char *cond);

/* rule_compile_agg.c */

extern const char *RcAggSql(const AggInfo *a, RuleAggKind agg, const char *cond);
extern void RcCheckAggregate(Compiler *c, const RuleValue *v, const Source *s, AggInfo *a);
extern bool RcEmptyHolds(Compiler *c, const RuleNode *n, const AggInfo *a);
extern void RcAppendAggColumns(Compiler *c, const RuleNode *n, const AggInfo *a, const char *value, const char *seen, const char *suffix, bool holds);
extern void RcAppendAggExpr(Compiler *c, const char *alias, const char *suffix, bool holds);
extern char *RcGroupCondition(Compiler *c, const RuleNode *n, const AggInfo *a, const char *value);
extern bool RcSortedInput(const RuleValue *v, const AggInfo *a);
extern bool RcCompileAggregate(Compiler *c, const RuleNode *n);
extern bool RcAggregateHolds(Compiler *c, const RuleNode *n);
extern bool RcCoveredInAnd(Compiler *c, const RuleNode *and, const RuleNode *leaf);
extern bool RcLocalGroupedAggregate(Compiler *c, const RuleNode *n, bool covered, bool *holds);

/* rule_compile_merge.c */

extern const Merged *RcFindMerged(Compiler *c, const RuleNode *n, int *alias, int *column);
extern const Merged *RcFoldedScan(Compiler *c, const RuleNode *and, int *alias);
extern double RcPlanCost(const char *query);
extern void RcPlanEstimate(const char *query, double *cost, double *rows, NodeTag *top);
extern void RcCompileMergedScans(Compiler *c, const RuleNode *rule);

/* rule_compile_customer.c */

extern void RcAppendCustomerFrom(Compiler *c);
extern void RcCompileCustomer(Compiler *c, const RuleNode *n);
extern char *RcCustomerWhere(Compiler *c, const RuleNode *cond);
extern bool RcHasCustomerConjunct(const RuleNode *rule);
extern double RcExpectedCustomers(Compiler *c, const RuleNode *n);
extern double RcCustomerRows(Compiler *c);
extern char *RcKeyRegistered(Compiler *c, const char *key);
extern void RcCompilePlain(Compiler *c, const RuleNode *rule);

/* rule_compile_sequence.c */

extern char *RcSequenceCondition(Compiler *c, const RuleNode *n, Source *first);
extern void RcCompileSequence(Compiler *c, const RuleNode *n);

/* rule_compile_rank.c */

extern char *RcRankSql(Compiler *c, const RuleNode *n);
extern void RcCompileRank(Compiler *c, const RuleNode *n);

#endif							/* RULE_COMPILE_INT_H */
