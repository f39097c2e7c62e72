/*
 * audience_support.c
 *		Planner support: ids() and ids_bigint() of a constant audience are
 *		estimated at its cardinality (not the default 1000), and "column is
 *		in a constant audience" keeps cardinality / n_distinct of the rows
 *		(not contsel's 0.1%).
 *
 * Rules evaluated among candidates (the tagging triggers, customer-first
 * evaluation) join event tables with ids_bigint($1); with the candidates'
 * true count the planner picks index lookups for a handful and a hash
 * semi-join for a hundred thousand.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "utils/selfuncs.h"

#include "audience.h"
#include "audience_codec.h"

PG_FUNCTION_INFO_V1(audience_ids_support);
Datum
audience_ids_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	SupportRequestRows *req;
	FuncExpr   *call;
	Const	   *arg;
	Audience   *a;

	if (!IsA(rawreq, SupportRequestRows))
		PG_RETURN_POINTER(NULL);
	req = (SupportRequestRows *) rawreq;
	if (!IsA(req->node, FuncExpr))
		PG_RETURN_POINTER(NULL);
	call = (FuncExpr *) req->node;
	if (list_length(call->args) != 1 || !IsA(linitial(call->args), Const))
		PG_RETURN_POINTER(NULL);
	arg = (Const *) linitial(call->args);
	if (arg->constisnull)
		PG_RETURN_POINTER(NULL);
	a = DatumGetAudienceP(arg->constvalue);
	req->rows = Max(1.0, (double) audience_codec_cardinality(AUDIENCE_BYTES(a), AUDIENCE_NBYTES(a)));
	PG_RETURN_POINTER(req);
}

/* contsel's guess, for audiences the planner does not know yet ($1). */
#define DEFAULT_MEMBER_SEL 0.001

static bool
IsIntegerType(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

/* The column under integer casts (customer_id::bigint), for its statistics. */
static Node *
StripIntegerCasts(Node *node)
{
	for (;;)
	{
		if (IsA(node, RelabelType))
			node = (Node *) ((RelabelType *) node)->arg;
		else if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcformat != COERCE_EXPLICIT_CALL &&
				 list_length(((FuncExpr *) node)->args) == 1 &&
				 IsIntegerType(exprType(node)) &&
				 IsIntegerType(exprType(linitial(((FuncExpr *) node)->args))))
			node = (Node *) linitial(((FuncExpr *) node)->args);
		else
			return node;
	}
}

/*
 * Restriction selectivity of "audience @> column" and "column <@ audience":
 * with a constant audience of c members and a column of d distinct values,
 * c / d of the rows (each member standing for an average key's rows).
 * Stale or missing statistics give contsel's default.  Candidates from a
 * statement that touched every customer then get a hash aggregate, not a
 * sort of the whole event table planned for 0.1% of its rows.
 */
PG_FUNCTION_INFO_V1(audience_member_sel);
Datum
audience_member_sel(PG_FUNCTION_ARGS)
{
	PlannerInfo *root = (PlannerInfo *) PG_GETARG_POINTER(0);
	List	   *args = (List *) PG_GETARG_POINTER(2);
	int			varRelid = PG_GETARG_INT32(3);
	Node	   *set,
			   *column;
	Audience   *a;
	VariableStatData vardata;
	bool		isdefault;
	double		ndistinct,
				members;

	if (list_length(args) != 2)
		PG_RETURN_FLOAT8(DEFAULT_MEMBER_SEL);
	set = linitial(args);
	column = lsecond(args);
	if (IsIntegerType(exprType(set)))
	{
		Node	   *swap = set;

		set = column;
		column = swap;
	}
	set = estimate_expression_value(root, set);
	if (!IsA(set, Const))
		PG_RETURN_FLOAT8(DEFAULT_MEMBER_SEL);
	if (((Const *) set)->constisnull)
		PG_RETURN_FLOAT8(0.0);
	a = DatumGetAudienceP(((Const *) set)->constvalue);
	members = (double) audience_codec_cardinality(AUDIENCE_BYTES(a), AUDIENCE_NBYTES(a));

	examine_variable(root, StripIntegerCasts(column), varRelid, &vardata);
	ndistinct = get_variable_numdistinct(&vardata, &isdefault);
	ReleaseVariableStats(vardata);
	if (isdefault || ndistinct < 1.0)
		PG_RETURN_FLOAT8(DEFAULT_MEMBER_SEL);
	PG_RETURN_FLOAT8(Min(1.0, Max(members, 1.0) / ndistinct));
}

/* The *_cardinality function standing for cardinality(<set operator>). */
static const char *
CountingFunction(const char *setop)
{
	static const char *const pairs[][2] = {
		{"audience_intersect", "intersect_cardinality"},
		{"audience_union", "union_cardinality"},
		{"audience_except", "except_cardinality"},
		{"audience_xor", "xor_cardinality"},
	};
	int			i;

	for (i = 0; i < lengthof(pairs); i++)
		if (strcmp(setop, pairs[i][0]) == 0)
			return pairs[i][1];
	return NULL;
}

/*
 * SupportRequestSimplify for cardinality(audience): when the argument is
 * one of this extension's binary set operators (a & b, a | b, a - b, a # b),
 * the call becomes intersect_cardinality(a, b) and so on, which count on
 * the stored forms and never build the result.  Users write
 * cardinality(a & b); they should not need to know the special names.
 */
PG_FUNCTION_INFO_V1(audience_cardinality_support);
Datum
audience_cardinality_support(PG_FUNCTION_ARGS)
{
	Node	   *rawreq = (Node *) PG_GETARG_POINTER(0);
	FuncExpr   *call;
	Node	   *arg;
	Oid			inner;
	List	   *args;
	Oid			nsp;
	char	   *name;
	const char *counting;
	Oid			argtypes[2];
	Oid			target;

	if (!IsA(rawreq, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	call = ((SupportRequestSimplify *) rawreq)->fcall;
	if (list_length(call->args) != 1)
		PG_RETURN_POINTER(NULL);
	arg = (Node *) linitial(call->args);
	if (IsA(arg, OpExpr))
	{
		inner = ((OpExpr *) arg)->opfuncid;
		if (!OidIsValid(inner))
			inner = get_opcode(((OpExpr *) arg)->opno);
		args = ((OpExpr *) arg)->args;
	}
	else if (IsA(arg, FuncExpr))
	{
		inner = ((FuncExpr *) arg)->funcid;
		args = ((FuncExpr *) arg)->args;
	}
	else
		PG_RETURN_POINTER(NULL);
	if (list_length(args) != 2 || !OidIsValid(inner))
		PG_RETURN_POINTER(NULL);
	/* only this extension's operators: the same schema as cardinality() */
	nsp = get_func_namespace(call->funcid);
	if (get_func_namespace(inner) != nsp || (name = get_func_name(inner)) == NULL ||
		(counting = CountingFunction(name)) == NULL)
		PG_RETURN_POINTER(NULL);
	argtypes[0] = exprType(linitial(args));
	argtypes[1] = exprType(lsecond(args));
	target = LookupFuncName(list_make2(makeString(get_namespace_name(nsp)),
									   makeString(pstrdup(counting))),
							2, argtypes, true);
	if (!OidIsValid(target))
		PG_RETURN_POINTER(NULL);
	PG_RETURN_POINTER(makeFuncExpr(target, INT8OID, args, InvalidOid, InvalidOid,
								   COERCE_EXPLICIT_CALL));
}
