/*
 * rule_explain.c
 *		explain_membership(): each node of a rule, the customer's value and
 *		whether it holds; condition_counts(): each node's members and the
 *		running count as the conditions combine (doc/explain.md).
 *
 * Both are built on the compiler, never beside it, so that they cannot
 * disagree with evaluate():
 *	- a node holds for a customer when the customer is a member of the
 *	  node's own compiled audience, compiled among that one customer
 *	  (RULE_AMONG_KEYS, the reduced evaluation's form: every scan probes
 *	  the customer's key), all nodes in one statement;
 *	- the values come from a per-customer query written with the
 *	  compiler's own pieces: the aggregate SQL (RcAggSql), the filter and
 *	  window conditions (RcLeafCondition), the sequence condition;
 *	- condition_counts evaluates each distinct leaf once: the predicates
 *	  over sources in one query whose scans of a source are shared
 *	  (rule_compile_many); the customer conditions (written by the
 *	  compiler's RcAppendCondition), the universe and the tag holders from
 *	  one scan of the customer table; then it combines the audiences in C:
 *	  AND is an intersection, OR a union, NOT the universe minus the child,
 *	  which is what evaluate() computes for those nodes.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "audience.h"
#include "key_dictionary.h"
#include "rule_compile_int.h"
#include "rule_paths.h"
#include "rule_pg.h"
#include "rule_print.h"
#include "rule_rewrite.h"

/* The rule's nodes in pre-order (rule_paths.h), or an error. */
static RulePathNode *
Nodes(SegmentRule *r, RuleArena *arena, int *n)
{
	RuleNode   *rule;
	RulePathNode *nodes;

	rule_pg_arena(arena);
	rule = rule_pg_decode(r, arena);
	nodes = rule_paths(rule, arena, n);
	if (nodes == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rule is nested too deeply to explain")));
	return nodes;
}

static text *
NodeText(const RuleNode *n, RuleArena *arena)
{
	return cstring_to_text(rule_print(n, arena, NULL));
}

/* The customer being explained, as the compiled queries take it. */
typedef struct Customer
{
	Oid			key_type;		/* the registered key's type */
	Datum		key;			/* the key in it */
	int64		ordinal;
	Datum		among;			/* audience {ordinal} */
	Oid			among_type;
	Datum		keys;			/* key_type[] {key} */
	Oid			keys_type;
} Customer;

/* The first column of SPI's one-row result, copied (NULL: none or NULL). */
static bool
FirstValue(Datum *value, Oid *type)
{
	bool		isnull;
	int16		typlen;
	bool		typbyval;

	if (SPI_processed != 1)
		return false;
	*value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return false;
	*type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
	get_typlenbyval(*type, &typlen, &typbyval);
	*value = datumCopy(*value, typbyval, typlen);
	return true;
}

/*
 * The key in the registered key's type (converted through text, as
 * tag_customer() and is_member() convert it), and its ordinal: a customer
 * of the customer table and of the current tenant, or an error naming the
 * table (as tag_customer()'s).
 */
static void
ResolveCustomer(Compiler *c, Datum arg, Oid argtype, Customer *cu)
{
	const CatalogRegistry *r = catalog_customers(c->catalog, NULL);
	StringInfoData q;
	Datum		v;
	Oid			t;
	Datum		params[2];
	Oid			types[2];

	cu->key_type = r->key_type;
	if (argtype == r->key_type)
		cu->key = arg;
	else
	{
		if (SPI_execute_with_args(psprintf("SELECT $1::text::%s", c->reg.key_type), 1, &argtype, &arg, NULL,
								  true, 1) != SPI_OK_SELECT || !FirstValue(&cu->key, &t))
			elog(ERROR, "could not convert the customer key");
	}
	initStringInfo(&q);
	if (c->reg.dictionary)
		appendStringInfo(&q, "SELECT o.ordinal FROM %s cu JOIN segment.customer_ordinals o ON o.key = cu.%s "
						 "WHERE cu.%s = $1", c->reg.relname, c->reg.key, c->reg.key);
	else
		appendStringInfo(&q, "SELECT cu.%s::bigint FROM %s cu WHERE cu.%s = $1 AND cu.%s BETWEEN 0 AND 4294967295",
						 c->reg.key, c->reg.relname, c->reg.key, c->reg.key);
	if (c->reg.tenant)
		appendStringInfo(&q, " AND cu.%s::text = %s", c->reg.tenant, quote_literal_cstr(c->reg.tenant_value));
	if (SPI_execute_with_args(q.data, 1, &cu->key_type, &cu->key, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look the customer up");
	if (!FirstValue(&v, &t))
	{
		Oid			out;
		bool		varlena;

		getTypeOutputInfo(cu->key_type, &out, &varlena);
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("customer %s is not in %s", OidOutputFunctionCall(out, cu->key), c->reg.relname),
				 errhint("explain_membership() explains the registered customers%s.",
						 c->reg.tenant ? " of the current tenant (segment.tenant)" : "")));
	}
	cu->ordinal = DatumGetInt64(v);
	params[0] = Int64GetDatum(cu->ordinal);
	types[0] = INT8OID;
	params[1] = cu->key;
	types[1] = cu->key_type;
	if (SPI_execute_with_args(psprintf("SELECT segment.audience(ARRAY[$1]), ARRAY[$2::%s]", c->reg.key_type),
							  2, types, params, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not build the customer's audience");
	{
		bool		isnull;

		cu->among = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull), false, -1);
		cu->among_type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
		cu->keys = datumCopy(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull), false, -1);
		cu->keys_type = SPI_gettypeid(SPI_tuptable->tupdesc, 2);
	}
}

/*
 * The customer's value of a predicate, as text, from the compiler's own
 * pieces ($3: the ordinal, $4: the key): the aggregate over the
 * predicate's rows, the customer column, whether a matching event (or the
 * sequence) exists, the customer's values of a tag group, whether the
 * customer is among a segment's stored members.
 */
static char *
ValueSql(Compiler *c, const RuleNode *n)
{
	Source		s;

	switch (n->kind)
	{
		case RULE_EXISTS:
			RcLoadSource(c, n->name, &s);
			return psprintf("EXISTS (SELECT FROM %s e WHERE e.%s = $4 AND %s)::text", s.relname, s.customer,
							RcLeafCondition(c, &s, n->name, n->filter, n->window));
		case RULE_SEQUENCE:
			{
				char	   *cond = RcSequenceCondition(c, n, &s);

				return psprintf("EXISTS (SELECT FROM %s e WHERE e.%s = $4 AND %s)::text", s.relname, s.customer, cond);
			}
		case RULE_TAG_IN:
		case RULE_TAG_EMPTY:
			return psprintf("(SELECT coalesce(array_agg(t.value ORDER BY t.value), '{}')::text "
							"FROM segment.tag_members m JOIN segment.tags t ON t.id = m.tag_id "
							"WHERE m.ordinal = $3 AND t.group_id = %s)", RcTagGroupId(n->name));
		case RULE_IN_SEGMENT:
			return psprintf("(SELECT coalesce(members, '{}') OPERATOR(segment.@>) $3 FROM segment.segments "
							"WHERE id = %s)::text", RcSegmentId(n->name));
		case RULE_IN_SNAPSHOT:
			return psprintf("(SELECT members OPERATOR(segment.@>) $3 FROM segment.snapshots "
							"WHERE id = %s)::text", RcSnapshotId(n->name));
		default:
			break;
	}
	if (n->value->kind == RULE_VALUE_CUSTOMER)
	{
		/* the compiler's check of the column, with its message */
		(void) RcColumnType(c->reg.rel, c->reg.relname, n->value->column);
		return psprintf("(SELECT cu.%s::text FROM %s cu WHERE cu.%s = $4)", quote_identifier(n->value->column),
						c->reg.relname, c->reg.key);
	}
	{
		const RuleValue *v = n->value;
		AggInfo		a;

		RcLoadSource(c, v->source, &s);
		RcCheckAggregate(c, v, &s, &a);
		return psprintf("(SELECT (%s)::text FROM %s e WHERE e.%s = $4 AND %s)", RcAggSql(&a, v->agg, NULL),
						s.relname, s.customer, RcLeafCondition(c, &s, v->source, v->filter, v->window));
	}
}

static void
PutRow(ReturnSetInfo *rsinfo, const char *path, text *condition, const char *value, bool value_null,
	   bool holds)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, value_null, false};

	values[0] = CStringGetTextDatum(path);
	values[1] = PointerGetDatum(condition);
	values[2] = value_null ? (Datum) 0 : CStringGetTextDatum(value);
	values[3] = BoolGetDatum(holds);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * explain_membership(rule, customer_key anyelement, as_of): one row per
 * node, root first (pre-order): path, canonical text, the customer's
 * value (leaves; "k of n hold" for AND and OR, NULL for NOT) and whether
 * the node holds.  STRICT.
 */
PG_FUNCTION_INFO_V1(segment_explain_membership);
Datum
segment_explain_membership(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RuleArena	arena;
	int			n,
				i;
	RulePathNode *nodes = Nodes(PG_GETARG_SEGMENT_RULE_P(0), &arena, &n);
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(2);
	Compiler	c;
	Customer	cu;
	StringInfoData q;
	Datum		params[4];
	Oid			types[4];
	bool	   *holds;
	char	  **values;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	key_dictionary_prepare();
	memset(&c, 0, sizeof(c));
	RcPrepare(&c, as_of);
	ResolveCustomer(&c, PG_GETARG_DATUM(1), get_fn_expr_argtype(fcinfo->flinfo, 1), &cu);

	/* every node's audience among the customer, then the leaves' values */
	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	for (i = 0; i < n; i++)
		appendStringInfo(&q, "%s(%s\n) OPERATOR(segment.@>) $3", i > 0 ? ",\n  " : "",
						 rule_compile_sql(nodes[i].node, as_of, RULE_AMONG_KEYS, 1));
	for (i = 0; i < n; i++)
		if (nodes[i].nchildren == 0)
			appendStringInfo(&q, ",\n  %s", ValueSql(&c, nodes[i].node));
	params[0] = cu.among;
	types[0] = cu.among_type;
	params[1] = cu.keys;
	types[1] = cu.keys_type;
	params[2] = Int64GetDatum(cu.ordinal);
	types[2] = INT8OID;
	params[3] = cu.key;
	types[3] = cu.key_type;
	elog(DEBUG2, "segment: explain_membership: %s", q.data);
	if (SPI_execute_with_args(q.data, 4, types, params, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "explanation query returned no row");

	holds = palloc(sizeof(bool) * n);
	values = palloc0(sizeof(char *) * n);
	{
		int			col = n + 1;

		for (i = 0; i < n; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);

			holds[i] = !isnull && DatumGetBool(d);
			if (nodes[i].nchildren == 0)
				values[i] = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col++);
		}
	}
	for (i = 0; i < n; i++)
	{
		const RuleNode *node = nodes[i].node;

		if (node->kind == RULE_AND || node->kind == RULE_OR)
		{
			int			j,
						k = 0;

			for (j = i + 1; j < n && nodes[j].depth > nodes[i].depth; j++)
				if (nodes[j].parent == i && holds[j])
					k++;
			values[i] = psprintf("%d of %d hold", k, nodes[i].nchildren);
		}
		PutRow(rsinfo, nodes[i].path, NodeText(node, &arena), values[i], values[i] == NULL, holds[i]);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * A leaf on the customer table alone (customer.age > 30, after the
 * compiler's rewrite): its condition on the customer row cu, written by the
 * compiler (RcAppendCondition, as RcCompileCustomer writes it); NULL for
 * any other leaf.
 */
static char *
CustomerCondition(Compiler *c, const RuleNode *leaf)
{
	const RuleNode *n = RcRewrite(c, leaf);
	StringInfoData saved = c->sql;
	char	   *text;

	if (!rule_is_customer_only(n) || rule_path_is_boolean(n) || n->value == NULL ||
		n->value->kind != RULE_VALUE_CUSTOMER)
		return NULL;
	initStringInfo(&c->sql);
	RcAppendCondition(c, n, psprintf("cu.%s", quote_identifier(n->value->column)),
					  RcColumnType(c->reg.rel, c->reg.relname, n->value->column),
					  psprintf("customer.%s", n->value->column));
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/*
 * TAG 'group' [NOT] IN (...) / IS [NOT] EMPTY: the holders' query as the
 * compiler writes it (the group's id, RcAppendTagValues); *complement
 * when the leaf is the universe minus them, as the compiler decides it.
 * Tags may outlive their customers: the caller intersects with the
 * universe, as the compiled rule does.
 */
static char *
TagHolders(Compiler *c, const RuleNode *n, bool *complement)
{
	StringInfoData saved = c->sql;
	char	   *text;

	if (n->kind != RULE_TAG_IN && n->kind != RULE_TAG_EMPTY)
		return NULL;
	*complement = n->kind == RULE_TAG_EMPTY ? !n->negated : n->negated;
	initStringInfo(&c->sql);
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(m.ordinal), '{}') FROM segment.tag_members m "
					 "JOIN segment.tags t ON t.id = m.tag_id WHERE t.group_id = %s", RcTagGroupId(n->name));
	RcAppendTagValues(c, n);
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/*
 * One scan of the customer table (the tenant's rows, in the ordinal range:
 * RcAppendCustomerFrom) for the universe, the registered customers NOT
 * complements, and every customer-condition leaf (conds[i], or NULL); the
 * holders of tag leaves (tags[i]) beside it.
 */
static char *
CustomerScanSql(Compiler *c, char **conds, char **tags, int nleaves)
{
	StringInfoData saved = c->sql;
	const char *ord = RcCustomerOrdinal(c);
	char	   *text;
	int			i;

	initStringInfo(&c->sql);
	appendStringInfo(&c->sql, "SELECT coalesce(segment.audience_agg(%s), '{}') AS u", ord);
	for (i = 0; i < nleaves; i++)
		if (conds[i])
			appendStringInfo(&c->sql, ", coalesce(segment.audience_agg(%s) FILTER (WHERE %s), '{}') AS c%d",
							 ord, conds[i], i + 1);
		else if (tags[i])
			appendStringInfo(&c->sql, ", (%s) AS t%d", tags[i], i + 1);
	RcAppendCustomerFrom(c);
	appendStringInfoString(&c->sql, "true");
	text = c->sql.data;
	c->sql = saved;
	return text;
}

/* The audience in column col of SPI's one row, decoded. */
static AudienceSet *
ResultSet(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	if (isnull)
		elog(ERROR, "condition counts query returned NULL");
	return audience_set_from(DatumGetAudienceP(d));
}

static AudienceSet *
CopySet(const AudienceSet *s)
{
	return audience_set_adopt(roaring_bitmap_copy(s->bm));
}

/*
 * condition_counts(rule, as_of): per node, root first, the customers
 * satisfying it alone and the running count: for the k-th child of an AND
 * or OR, the customers satisfying that AND / OR of its children 1 .. k;
 * for the root and the child of a NOT, its own members.  STRICT.
 */
PG_FUNCTION_INFO_V1(segment_condition_counts);
Datum
segment_condition_counts(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RuleArena	arena;
	int			n,
				i;
	RulePathNode *nodes = Nodes(PG_GETARG_SEGMENT_RULE_P(0), &arena, &n);
	TimestampTz as_of = PG_GETARG_TIMESTAMPTZ(1);
	const RuleNode **leaves = palloc(sizeof(RuleNode *) * n);
	const RuleNode **others = palloc(sizeof(RuleNode *) * n);
	int		   *other_of = palloc(sizeof(int) * n);
	char	  **conds = palloc0(sizeof(char *) * n);
	char	  **tags = palloc0(sizeof(char *) * n);
	bool	   *complement = palloc0(sizeof(bool) * n);
	int		   *leaf_of = palloc(sizeof(int) * n);
	int			nleaves = 0;
	int			nothers = 0;
	bool		customer_scan = false;
	AudienceSet *universe = NULL;
	AudienceSet **leaf_sets;
	AudienceSet **sets = palloc0(sizeof(AudienceSet *) * n);
	int64	   *running = palloc(sizeof(int64) * n);
	Compiler	c;

	InitMaterializedSRF(fcinfo, 0);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	key_dictionary_prepare();
	memset(&c, 0, sizeof(c));
	RcPrepare(&c, as_of);

	/*
	 * Each distinct leaf once: the customer conditions, the tag holders and
	 * the universe (which NOT and tags need) from one scan of the customer
	 * table, the others from one query sharing the scans of each source
	 * (rule_compile_many).
	 */
	for (i = 0; i < n; i++)
	{
		int			j;

		leaf_of[i] = -1;
		if (nodes[i].node->kind == RULE_NOT)
			customer_scan = true;
		if (nodes[i].nchildren > 0)
			continue;
		for (j = 0; j < nleaves && !rule_equal(leaves[j], nodes[i].node); j++)
			;
		leaf_of[i] = j;
		if (j < nleaves)
			continue;
		leaves[nleaves] = nodes[i].node;
		if ((conds[nleaves] = CustomerCondition(&c, nodes[i].node)) != NULL ||
			(tags[nleaves] = TagHolders(&c, nodes[i].node, &complement[nleaves])) != NULL)
			customer_scan = true;
		if (!conds[nleaves] && !tags[nleaves])
		{
			other_of[nleaves] = nothers;
			others[nothers++] = nodes[i].node;
		}
		nleaves++;
	}
	leaf_sets = palloc(sizeof(AudienceSet *) * nleaves);
	if (customer_scan)
	{
		char	   *sql = CustomerScanSql(&c, conds, tags, nleaves);
		int			col = 2;

		elog(DEBUG2, "segment: condition_counts, customer conditions: %s", sql);
		if (SPI_execute(sql, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "condition counts query returned no row");
		universe = ResultSet(1);
		for (i = 0; i < nleaves; i++)
			if (conds[i])
				leaf_sets[i] = ResultSet(col++);
			else if (tags[i])
			{
				AudienceSet *holders = ResultSet(col++);

				if (complement[i])
				{
					leaf_sets[i] = CopySet(universe);
					roaring_bitmap_andnot_inplace(leaf_sets[i]->bm, holders->bm);
				}
				else
				{
					leaf_sets[i] = holders;
					roaring_bitmap_and_inplace(holders->bm, universe->bm);
				}
			}
	}
	if (nothers > 0)
	{
		char	   *sql = rule_compile_many(others, nothers, as_of, RULE_AMONG_NONE, -1);

		elog(DEBUG2, "segment: condition_counts: %s", sql);
		if (SPI_execute(sql, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "condition counts query returned no row");
		for (i = 0; i < nleaves; i++)
			if (!conds[i] && !tags[i])
				leaf_sets[i] = ResultSet(other_of[i] + 1);
	}

	/* children follow their parent in pre-order: combine from the end */
	for (i = n - 1; i >= 0; i--)
	{
		const RuleNode *node = nodes[i].node;
		int			j,
					k = 0;
		AudienceSet *acc = NULL;

		CHECK_FOR_INTERRUPTS();
		running[i] = -1;
		if (nodes[i].nchildren == 0)
		{
			sets[i] = leaf_sets[leaf_of[i]];
			continue;
		}
		for (j = i + 1; j < n && nodes[j].depth > nodes[i].depth; j++)
		{
			if (nodes[j].parent != i)
				continue;
			k++;
			if (node->kind == RULE_NOT)
			{
				acc = CopySet(universe);
				roaring_bitmap_andnot_inplace(acc->bm, sets[j]->bm);
				running[j] = (int64) roaring_bitmap_get_cardinality(sets[j]->bm);
				continue;
			}
			if (k == 1)
				acc = CopySet(sets[j]);
			else if (node->kind == RULE_AND)
				roaring_bitmap_and_inplace(acc->bm, sets[j]->bm);
			else
				roaring_bitmap_or_inplace(acc->bm, sets[j]->bm);
			running[j] = (int64) roaring_bitmap_get_cardinality(acc->bm);
		}
		sets[i] = acc;
	}
	for (i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		int64		members = (int64) roaring_bitmap_get_cardinality(sets[i]->bm);

		values[0] = CStringGetTextDatum(nodes[i].path);
		values[1] = PointerGetDatum(NodeText(nodes[i].node, &arena));
		values[2] = Int64GetDatum(members);
		values[3] = Int64GetDatum(i == 0 ? members : running[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
