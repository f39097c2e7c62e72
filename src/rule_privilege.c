/*
 * rule_privilege.c
 *		Who a segment function acts for, and acting as someone else: the
 *		pg_cron model of privileges (doc/tenancy.md, doc/operations.md).
 *
 * Application roles only read the catalogs.  Every function that writes
 * them is a C stub (segment_api_call) in front of a PL/pgSQL
 * implementation of the same name in schema segment_api: the stub notes the
 * calling role, then
 * runs the implementation as the role that owns it (the extension owner),
 * as pg_cron's job_metadata.c switches to the owner around its catalog
 * writes.  The implementation validates, and reads the caller back with
 * _caller() (for the tenant check and to record who wrote a rule).  A
 * SECURITY DEFINER function could not: inside one, PostgreSQL no longer
 * tells who called it.
 *
 * A saved rule runs as its author: _evaluate_as() and, for auto-tagging,
 * segment_become() switch to that role around the evaluation, so a rule
 * never reads more than its author could.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "rule_pg.h"
#include "rule_privilege.h"

/*
 * The role the current API call acts for, valid while the current user is
 * the role the switch made current (switched_to); see SegmentCaller().
 */
static Oid	api_caller = InvalidOid;
static Oid	switched_to = InvalidOid;

/*
 * The role a segment function acts for: the role that called the API
 * function we are inside, while we run as the role it switched to;
 * otherwise simply the current user.
 */
Oid
segment_caller(void)
{
	Oid			current = GetUserId();

	if (OidIsValid(switched_to) && current == switched_to)
		return api_caller;
	return current;
}

/*
 * Makes role the current user, acting for caller, until segment_restore().
 * SECURITY_LOCAL_USERID_CHANGE forbids SET ROLE meanwhile, as inside a
 * SECURITY DEFINER function; restricted (running a rule as its author)
 * adds SECURITY_RESTRICTED_OPERATION, as PostgreSQL runs maintenance as a
 * table's owner: no temporary objects or settings survive the switch.
 */
void
segment_become(Oid role, Oid caller, bool restricted, SegmentUserSwitch *s)
{
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that saved the rule no longer exists"),
				 errdetail("Role OID %u was dropped since.", role),
				 errhint("Save the rule again (segment.alter_segment() or segment.set_tag_rule()) as an existing role.")));
	GetUserIdAndSecContext(&s->user, &s->sec_context);
	s->caller = api_caller;
	s->switched_to = switched_to;
	SetUserIdAndSecContext(role, s->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   (restricted ? SECURITY_RESTRICTED_OPERATION : 0));
	api_caller = caller;
	switched_to = role;
}

/* Undoes segment_become(); also on the error path (PG_FINALLY). */
void
segment_restore(const SegmentUserSwitch *s)
{
	SetUserIdAndSecContext(s->user, s->sec_context);
	api_caller = s->caller;
	switched_to = s->switched_to;
}

/* The implementation behind an API stub, and its owner, cached per call site. */
typedef struct ApiTarget
{
	FmgrInfo	flinfo;
	Oid			owner;
} ApiTarget;

static Oid
FunctionOwner(Oid func)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(func));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", func);
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return owner;
}

/* Finds <schema>_api.<name>(same argument types) for the stub <schema>.<name>. */
static ApiTarget *
ApiLookup(FmgrInfo *stub)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(stub->fn_oid));
	Form_pg_proc proc;
	char	   *schema;
	Oid			impl;
	ApiTarget  *target;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", stub->fn_oid);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	schema = psprintf("%s_api", get_namespace_name(proc->pronamespace));
	/* by the catalog, not LookupFuncName: the caller has no USAGE on it */
	impl = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, NameGetDatum(&proc->proname),
						   PointerGetDatum(&proc->proargtypes),
						   ObjectIdGetDatum(get_namespace_oid(schema, false)));
	if (!OidIsValid(impl))
		elog(ERROR, "function %s.%s has no body", schema, NameStr(proc->proname));
	ReleaseSysCache(tup);

	target = MemoryContextAllocZero(stub->fn_mcxt, sizeof(ApiTarget));
	target->owner = FunctionOwner(impl);
	fmgr_info_cxt(impl, &target->flinfo, stub->fn_mcxt);
	/* polymorphic arguments resolve from the call site, as for the stub */
	target->flinfo.fn_expr = stub->fn_expr;
	stub->fn_extra = target;
	return target;
}

/*
 * The stub of every catalog-writing API function: runs its body with
 * the same arguments as the extension owner, acting for the caller.
 * Set-returning implementations fill the caller's ReturnSetInfo.
 */
PG_FUNCTION_INFO_V1(segment_api_call);
Datum
segment_api_call(PG_FUNCTION_ARGS)
{
	ApiTarget  *target = (ApiTarget *) fcinfo->flinfo->fn_extra;
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
	SegmentUserSwitch sw;
	Datum		result;
	int			i;

	if (target == NULL)
		target = ApiLookup(fcinfo->flinfo);
	InitFunctionCallInfoData(*inner, &target->flinfo, PG_NARGS(), fcinfo->fncollation,
							 fcinfo->context, fcinfo->resultinfo);
	for (i = 0; i < PG_NARGS(); i++)
		inner->args[i] = fcinfo->args[i];
	segment_become(target->owner, segment_caller(), false, &sw);
	PG_TRY();
	{
		result = FunctionCallInvoke(inner);
	}
	PG_FINALLY();
	{
		segment_restore(&sw);
	}
	PG_END_TRY();
	fcinfo->isnull = inner->isnull;
	return result;
}

/* _caller(): the role the current segment function acts for. */
PG_FUNCTION_INFO_V1(segment_caller_sql);
Datum
segment_caller_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(segment_caller());
}

/*
 * _evaluate_as(role, rule, as_of): evaluate(rule, as_of) run as role, so a
 * saved rule reads with its author's privileges (and the author's view of
 * the catalogs under row-level security), not the extension owner's.
 */
PG_FUNCTION_INFO_V1(segment_evaluate_as);
Datum
segment_evaluate_as(PG_FUNCTION_ARGS)
{
	Oid			role = PG_GETARG_OID(0);
	FmgrInfo   *evaluate = (FmgrInfo *) fcinfo->flinfo->fn_extra;
	SegmentUserSwitch sw;
	Datum		result;

	if (evaluate == NULL)
	{
		Oid			argtypes[2];
		Oid			impl;

		argtypes[0] = get_fn_expr_argtype(fcinfo->flinfo, 1);
		argtypes[1] = TIMESTAMPTZOID;
		impl = LookupFuncName(list_make2(makeString(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid))),
										 makeString("evaluate")),
							  2, argtypes, false);
		evaluate = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		fmgr_info_cxt(impl, evaluate, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = evaluate;
	}
	segment_become(role, role, true, &sw);
	PG_TRY();
	{
		result = FunctionCall2(evaluate, PG_GETARG_DATUM(1), PG_GETARG_DATUM(2));
	}
	PG_FINALLY();
	{
		segment_restore(&sw);
	}
	PG_END_TRY();
	PG_RETURN_DATUM(result);
}

/* Appends (source or NULL for customer, column) of a column reference. */
static bool
CollectColumn(const RuleRef *ref, void *ctx)
{
	List	  **cols = (List **) ctx;

	if (ref->kind == RULE_REF_CUSTOMER_COLUMN)
		*cols = lappend(*cols, list_make2(NULL, pstrdup(ref->column)));
	else if (ref->kind == RULE_REF_SOURCE_COLUMN)
		*cols = lappend(*cols, list_make2(pstrdup(ref->source), pstrdup(ref->column)));
	else if (ref->kind == RULE_REF_SOURCE)
		*cols = lappend(*cols, list_make2(pstrdup(ref->source), NULL));
	return true;
}

/*
 * _rule_columns(rule): (source, column_name) of every column the rule
 * names, once each: source NULL for customer columns, column_name NULL
 * for a source read only as rows (count, exists).  What a rule is checked
 * against the saving role's privileges for.
 */
PG_FUNCTION_INFO_V1(segment_rule_columns);
Datum
segment_rule_columns(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RuleArena	arena;
	RuleNode   *rule;
	List	   *cols = NIL;
	List	   *seen = NIL;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	rule_pg_arena(&arena);
	rule = rule_pg_decode(PG_GETARG_SEGMENT_RULE_P(0), &arena);
	(void) rule_collect_refs(rule, CollectColumn, &cols);
	foreach(lc, cols)
	{
		List	   *pair = (List *) lfirst(lc);
		char	   *source = (char *) linitial(pair);
		char	   *column = (char *) lsecond(pair);
		char	   *key = psprintf("%s.%s", source ? source : "", column ? column : "");
		Datum		values[2];
		bool		nulls[2];
		ListCell   *s;
		bool		dup = false;

		foreach(s, seen)
			dup |= strcmp((char *) lfirst(s), key) == 0;
		if (dup)
			continue;
		seen = lappend(seen, key);
		nulls[0] = source == NULL;
		nulls[1] = column == NULL;
		values[0] = source ? CStringGetTextDatum(source) : (Datum) 0;
		values[1] = column ? CStringGetTextDatum(column) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
