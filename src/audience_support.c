/*
 * audience_support.c
 *		Planner support for ids() and ids_bigint(): the row estimate of a
 *		constant audience is its cardinality, not the default 1000.
 *
 * Rules evaluated among candidates (the tagging triggers, customer-first
 * evaluation) join event tables with ids_bigint($1); with the candidates'
 * true count the planner picks index lookups for a handful and a hash
 * semi-join for a hundred thousand.
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/primnodes.h"
#include "nodes/supportnodes.h"

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
