/*
 * rule_rewrite.c
 *		Equivalent, cheaper trees for the compiler (see rule_rewrite.h).
 */
#include "rule_rewrite.h"

#include <stdio.h>
#include <string.h>

bool
rule_is_customer_only(const RuleNode *n)
{
	int			i;

	switch (n->kind)
	{
		case RULE_AND:
		case RULE_OR:
		case RULE_NOT:
			for (i = 0; i < n->nchildren; i++)
				if (!rule_is_customer_only(n->children[i]))
					return false;
			return true;
		case RULE_TAG_IN:
		case RULE_TAG_EMPTY:
		case RULE_EXISTS:
		case RULE_IN_SEGMENT:
		case RULE_IN_SNAPSHOT:
		case RULE_SEQUENCE:
			return false;
		case RULE_RANK:
			/* a rank on a customer column still ranks the whole population */
			return false;
		default:
			return n->value != NULL && n->value->kind == RULE_VALUE_CUSTOMER;
	}
}

/* The rows an EXISTS or aggregate predicate reads; false for others. */
static bool
Scope(const RuleNode *n, const char **source, const RuleNode **filter, const RuleWindow **window)
{
	if (n->kind == RULE_EXISTS)
	{
		*source = n->name;
		*filter = n->filter;
		*window = n->window;
		return true;
	}
	if (n->kind == RULE_AND || n->kind == RULE_OR || n->kind == RULE_NOT ||
		n->kind == RULE_RANK || n->kind == RULE_SEQUENCE || n->value == NULL || n->value->kind != RULE_VALUE_AGG)
		return false;
	*source = n->value->source;
	*filter = n->value->filter;
	*window = n->value->window;
	return true;
}

bool
rule_same_scope(const RuleNode *a, const RuleNode *b)
{
	const char *sa,
			   *sb;
	const RuleNode *fa,
			   *fb;
	const RuleWindow *wa,
			   *wb;

	return Scope(a, &sa, &fa, &wa) && Scope(b, &sb, &fb, &wb) && strcmp(sa, sb) == 0 &&
		rule_equal(fa, fb) && rule_window_equal(wa, wb);
}

static RuleNode *
NewNode(RuleArena *arena, RuleNodeKind kind, int nchildren)
{
	RuleNode   *n = rule_arena_alloc(arena, sizeof(RuleNode));

	if (n == NULL)
		return NULL;
	n->kind = kind;
	n->nchildren = nchildren;
	if (nchildren > 0 &&
		(n->children = rule_arena_alloc(arena, sizeof(RuleNode *) * nchildren)) == NULL)
		return NULL;
	return n;
}

/* A filter condition "column IS NOT NULL" or "column op literal". */
static RuleNode *
FieldCondition(RuleArena *arena, const char *column, RuleNodeKind kind, RuleCmpOp op,
			   const RuleLiteral *lit)
{
	RuleNode   *n = NewNode(arena, kind, 0);
	RuleValue  *v = rule_arena_alloc(arena, sizeof(RuleValue));

	if (n == NULL || v == NULL)
		return NULL;
	v->kind = RULE_VALUE_FIELD;
	v->column = column;
	n->value = v;
	n->negated = kind == RULE_IS_NULL;	/* IS NOT NULL */
	if (kind == RULE_CMP)
	{
		n->op = op;
		n->nargs = 1;
		n->args = (RuleLiteral *) lit;
	}
	return n;
}

/* EXISTS source WHERE filter [AND extra] DURING window. */
static RuleNode *
Exists(RuleArena *arena, const RuleValue *v, RuleNode *extra)
{
	RuleNode   *n = NewNode(arena, RULE_EXISTS, 0);

	if (n == NULL)
		return NULL;
	n->name = v->source;
	n->window = v->window;
	if (extra == NULL)
		n->filter = v->filter;
	else if (v->filter == NULL)
		n->filter = extra;
	else
	{
		RuleNode   *and = NewNode(arena, RULE_AND, 2);

		if (and == NULL)
			return NULL;
		and->children[0] = v->filter;
		and->children[1] = extra;
		n->filter = and;
	}
	return n;
}

static RuleNode *
Not(RuleArena *arena, RuleNode *child)
{
	RuleNode   *n;

	if (child == NULL || (n = NewNode(arena, RULE_NOT, 1)) == NULL)
		return NULL;
	n->children[0] = child;
	return n;
}

/* 0 or 1 as a number literal ("0", "1"), else -1. */
static int
ZeroOrOne(const RuleLiteral *lit)
{
	if (lit->kind != RULE_LIT_NUMBER)
		return -1;
	if (strcmp(lit->text, "0") == 0)
		return 0;
	if (strcmp(lit->text, "1") == 0)
		return 1;
	return -1;
}

/* The opposite comparison: not (c < x) is c >= x for non-null c. */
static RuleCmpOp
Complement(RuleCmpOp op)
{
	switch (op)
	{
		case RULE_OP_LT:
			return RULE_OP_GE;
		case RULE_OP_LE:
			return RULE_OP_GT;
		case RULE_OP_GT:
			return RULE_OP_LE;
		case RULE_OP_GE:
			return RULE_OP_LT;
		default:
			return op;
	}
}

/*
 * count(...) compared with 0 or 1: 1 for "some row", 0 for "no row", -1
 * when the comparison asks something else.
 */
static int
CountExistence(RuleCmpOp op, int k)
{
	if ((op == RULE_OP_GT && k == 0) || (op == RULE_OP_GE && k == 1) || (op == RULE_OP_NE && k == 0))
		return 1;
	if ((op == RULE_OP_EQ && k == 0) || (op == RULE_OP_LT && k == 1) || (op == RULE_OP_LE && k == 0))
		return 0;
	return -1;
}

/*
 * A resolved window bound as a literal moment: a local date-time of the
 * rule's zone, or an instant in UTC.  False when it has no such literal
 * (infinite, or a year outside 1 .. 9999).
 */
static bool
BoundLiteral(const RuleBound *b, RuleArena *arena, RuleLiteral *lit)
{
	RuleDateTime *dt = &lit->moment.datetime;
	char	   *text;

	memset(lit, 0, sizeof(*lit));
	lit->kind = RULE_LIT_MOMENT;
	lit->moment.kind = RULE_MOMENT_DATETIME;
	dt->has_time = true;
	if (b->kind == RULE_BOUND_CIVIL)
	{
		dt->year = b->civil.year;
		dt->month = b->civil.month;
		dt->day = b->civil.day;
		dt->hour = b->civil.hour;
		dt->minute = b->civil.minute;
		dt->second = b->civil.second;
		dt->microsecond = b->civil.microsecond;
	}
	else if (b->kind == RULE_BOUND_ABSOLUTE)
	{
		int64_t		days = b->epoch_usec / RULE_USECS_PER_DAY;
		int64_t		usec = b->epoch_usec % RULE_USECS_PER_DAY;
		int64_t		year;

		if (usec < 0)
		{
			usec += RULE_USECS_PER_DAY;
			days--;
		}
		rule_civil_from_days(days, &year, &dt->month, &dt->day);
		if (year < 1 || year > 9999)
			return false;
		dt->year = (int) year;
		dt->hour = (int) (usec / INT64_C(3600000000));
		dt->minute = (int) (usec / 60000000 % 60);
		dt->second = (int) (usec / 1000000 % 60);
		dt->microsecond = (int) (usec % 1000000);
		dt->has_offset = true;
	}
	else
		return false;
	if (dt->year < 1 || dt->year > 9999 || (text = rule_arena_alloc(arena, 40)) == NULL)
		return false;
	snprintf(text, 40, "%04d-%02d-%02d %02d:%02d:%02d.%06d%s", dt->year, dt->month, dt->day,
			 dt->hour, dt->minute, dt->second, dt->microsecond, dt->has_offset ? "+00" : "");
	lit->moment.text = text;
	return true;
}

/* An AND of two conditions, either of which may be missing. */
static RuleNode *
And2(RuleArena *arena, RuleNode *a, RuleNode *b)
{
	RuleNode   *and;

	if (a == NULL || b == NULL)
		return a ? a : b;
	if ((and = NewNode(arena, RULE_AND, 2)) == NULL)
		return NULL;
	and->children[0] = a;
	and->children[1] = b;
	return and;
}

/*
 * max(c) / min(c) DURING w over a time column: some row inside w, and
 * none after it (max) or before it (min).  The node itself when it does
 * not apply; NULL only when out of memory (*oom set).
 */
static RuleNode *
RewriteExtremeDuring(const RuleNode *n, RuleArena *arena, const RuleRewriteClock *clock, bool *oom)
{
	const RuleValue *v = n->value;
	RuleBound	lo,
				hi;
	RuleLiteral *lits;
	bool		has_lo,
				has_hi;
	RuleNode   *in = NULL,
			   *outside = NULL,
			   *e;

	if (clock == NULL || n->negated || v->column == NULL || n->window == NULL ||
		(v->agg != RULE_AGG_MIN && v->agg != RULE_AGG_MAX) ||
		!clock->is_time_column(clock->arg, v->source, v->column) ||
		!rule_resolve_window(n->window, &clock->local, clock->epoch_usec, &lo, &hi))
		return (RuleNode *) n;
	if ((lits = rule_arena_alloc(arena, sizeof(RuleLiteral) * 2)) == NULL)
		return *oom = true, NULL;
	has_lo = BoundLiteral(&lo, arena, &lits[0]);
	has_hi = BoundLiteral(&hi, arena, &lits[1]);
	/* a finite bound without a literal (year beyond 9999): keep the node */
	if ((!has_lo && lo.kind != RULE_BOUND_NEG_INFINITY) || (!has_hi && hi.kind != RULE_BOUND_POS_INFINITY))
		return (RuleNode *) n;
	if (has_lo && (in = FieldCondition(arena, v->column, RULE_CMP, RULE_OP_GE, &lits[0])) == NULL)
		return *oom = true, NULL;
	if (has_hi && (in = And2(arena, in, FieldCondition(arena, v->column, RULE_CMP, RULE_OP_LT, &lits[1]))) == NULL)
		return *oom = true, NULL;
	if (in == NULL && (in = FieldCondition(arena, v->column, RULE_IS_NULL, 0, NULL)) == NULL)
		return *oom = true, NULL;
	if (v->agg == RULE_AGG_MAX && has_hi)
		outside = FieldCondition(arena, v->column, RULE_CMP, RULE_OP_GE, &lits[1]);
	else if (v->agg == RULE_AGG_MIN && has_lo)
		outside = FieldCondition(arena, v->column, RULE_CMP, RULE_OP_LT, &lits[0]);
	if ((e = Exists(arena, v, in)) == NULL)
		return *oom = true, NULL;
	if ((v->agg == RULE_AGG_MAX ? has_hi : has_lo) &&
		(outside == NULL || (e = And2(arena, e, Not(arena, Exists(arena, v, outside)))) == NULL))
		return *oom = true, NULL;
	return e;
}

/*
 * An aggregate comparison as EXISTS / NOT EXISTS, or the node itself when
 * it needs the aggregate's value.  NULL only when out of memory.
 */
static RuleNode *
RewriteAggregate(const RuleNode *n, RuleArena *arena, const RuleRewriteClock *clock)
{
	const RuleValue *v = n->value;
	RuleNode   *notnull;

	if (n->kind == RULE_DURING && v != NULL && v->kind == RULE_VALUE_AGG)
	{
		bool		oom = false;
		RuleNode   *out = RewriteExtremeDuring(n, arena, clock, &oom);

		return oom ? NULL : out;
	}
	if (n->kind != RULE_CMP || v == NULL || v->kind != RULE_VALUE_AGG)
		return (RuleNode *) n;
	if (v->agg == RULE_AGG_COUNT || v->agg == RULE_AGG_COUNT_DISTINCT)
	{
		int			k = ZeroOrOne(&n->args[0]);
		int			some = k < 0 ? -1 : CountExistence(n->op, k);
		RuleNode   *e;

		if (some < 0)
			return (RuleNode *) n;
		notnull = v->column ? FieldCondition(arena, v->column, RULE_IS_NULL, 0, NULL) : NULL;
		if (v->column && notnull == NULL)
			return NULL;
		e = Exists(arena, v, notnull);
		return some ? e : Not(arena, e);
	}
	if (v->agg != RULE_AGG_MIN && v->agg != RULE_AGG_MAX)
		return (RuleNode *) n;
	/* max > x, max >= x, min < x, min <= x: some row beyond x */
	if ((v->agg == RULE_AGG_MAX && (n->op == RULE_OP_GT || n->op == RULE_OP_GE)) ||
		(v->agg == RULE_AGG_MIN && (n->op == RULE_OP_LT || n->op == RULE_OP_LE)))
	{
		RuleNode   *cond = FieldCondition(arena, v->column, RULE_CMP, n->op, &n->args[0]);

		return cond ? Exists(arena, v, cond) : NULL;
	}
	/* max < x: some non-null row, and none at or beyond x (min mirrored) */
	if ((v->agg == RULE_AGG_MAX && (n->op == RULE_OP_LT || n->op == RULE_OP_LE)) ||
		(v->agg == RULE_AGG_MIN && (n->op == RULE_OP_GT || n->op == RULE_OP_GE)))
	{
		RuleNode   *and = NewNode(arena, RULE_AND, 2);
		RuleNode   *beyond = FieldCondition(arena, v->column, RULE_CMP, Complement(n->op), &n->args[0]);

		notnull = FieldCondition(arena, v->column, RULE_IS_NULL, 0, NULL);
		if (and == NULL || beyond == NULL || notnull == NULL)
			return NULL;
		and->children[0] = Exists(arena, v, notnull);
		and->children[1] = Not(arena, Exists(arena, v, beyond));
		if (and->children[0] == NULL || and->children[1] == NULL)
			return NULL;
		return and;
	}
	return (RuleNode *) n;
}

/*
 * The children of an AND / OR rewritten, with those that became (or were
 * written as) a junction of the same kind spliced in: "min(orders.paid_at)
 * DURING LAST 60 days AND count(...) > 1" is then one AND of an EXISTS, a
 * NOT EXISTS and the count, which one grouped scan can fold into one
 * audience, instead of an AND nested in an AND.  NULL when out of memory.
 */
static RuleNode *
FlatJunction(const RuleNode *n, RuleArena *arena, const RuleRewriteClock *clock)
{
	RuleNode  **kids;
	RuleNode   *out;
	int			total = 0,
				i,
				j;

	if ((kids = rule_arena_alloc(arena, sizeof(RuleNode *) * n->nchildren)) == NULL)
		return NULL;
	for (i = 0; i < n->nchildren; i++)
	{
		if ((kids[i] = rule_rewrite_at(n->children[i], arena, clock)) == NULL)
			return NULL;
		total += kids[i]->kind == n->kind ? kids[i]->nchildren : 1;
	}
	if ((out = NewNode(arena, n->kind, total)) == NULL)
		return NULL;
	for (i = 0, total = 0; i < n->nchildren; i++)
		if (kids[i]->kind == n->kind)
			for (j = 0; j < kids[i]->nchildren; j++)
				out->children[total++] = kids[i]->children[j];
		else
			out->children[total++] = kids[i];
	return out;
}

/*
 * AND / OR: children rewritten and flattened (FlatJunction), then those
 * reading only the customer table gathered under one node of the same kind
 * (first), when there are two or more of them beside other children.
 */
static RuleNode *
RewriteJunction(const RuleNode *n, RuleArena *arena, const RuleRewriteClock *clock)
{
	RuleNode   *out = FlatJunction(n, arena, clock);
	RuleNode   *block;
	RuleNode  **others;
	int			ncust = 0,
				i,
				j,
				k;

	if (out == NULL)
		return NULL;
	for (i = 0; i < out->nchildren; i++)
		ncust += rule_is_customer_only(out->children[i]);
	if (ncust < 2 || ncust == out->nchildren)
		return out;
	if ((block = NewNode(arena, out->kind, ncust)) == NULL ||
		(others = rule_arena_alloc(arena, sizeof(RuleNode *) * out->nchildren)) == NULL)
		return NULL;
	others[0] = block;
	for (i = 0, j = 0, k = 1; i < out->nchildren; i++)
		if (rule_is_customer_only(out->children[i]))
			block->children[j++] = out->children[i];
		else
			others[k++] = out->children[i];
	out->children = others;
	out->nchildren = k;
	return out;
}

RuleNode *
rule_rewrite_at(const RuleNode *n, RuleArena *arena, const RuleRewriteClock *clock)
{
	RuleNode   *out;

	switch (n->kind)
	{
		case RULE_AND:
		case RULE_OR:
			return RewriteJunction(n, arena, clock);
		case RULE_NOT:
			if ((out = NewNode(arena, RULE_NOT, 1)) == NULL ||
				(out->children[0] = rule_rewrite_at(n->children[0], arena, clock)) == NULL)
				return NULL;
			return out;
		default:
			return RewriteAggregate(n, arena, clock);
	}
}

RuleNode *
rule_rewrite(const RuleNode *n, RuleArena *arena)
{
	return rule_rewrite_at(n, arena, NULL);
}
