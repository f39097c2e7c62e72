/*
 * rule_share.c
 *		The per-run cache of predicate results behind refresh_all()
 *		(rule_share.h).
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "rule_share.h"

typedef struct ShareEntry
{
	struct ShareEntry *next;
	char	   *sql;
	Oid			userid;			/* computed as: rules run as their authors */
	RuleShared	result;
} ShareEntry;

/* Non-NULL while sharing is on; a child of TopTransactionContext. */
static MemoryContext share_cxt = NULL;
static ShareEntry *share_list = NULL;
static bool callback_registered = false;
static int64 share_hits = 0;
static int64 share_misses = 0;

/* The context died with the transaction; forget it. */
static void
ShareXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		share_cxt = NULL;
		share_list = NULL;
	}
}

bool
rule_share_active(void)
{
	return share_cxt != NULL;
}

/* Copies the single row of SPI_tuptable into the cache context. */
static void
CopyRow(RuleShared *r)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	HeapTuple	row = SPI_tuptable->vals[0];
	MemoryContext old = MemoryContextSwitchTo(share_cxt);
	int			i;

	r->ncols = desc->natts;
	r->names = palloc(sizeof(char *) * r->ncols);
	r->types = palloc(sizeof(Oid) * r->ncols);
	r->values = palloc(sizeof(Datum) * r->ncols);
	r->nulls = palloc(sizeof(bool) * r->ncols);
	for (i = 0; i < r->ncols; i++)
	{
		int16		typlen;
		bool		typbyval;
		Datum		d = SPI_getbinval(row, desc, i + 1, &r->nulls[i]);

		r->names[i] = SPI_fname(desc, i + 1);
		r->types[i] = SPI_gettypeid(desc, i + 1);
		get_typlenbyval(r->types[i], &typlen, &typbyval);
		if (r->nulls[i])
			r->values[i] = (Datum) 0;
		else if (typlen == -1)
			r->values[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
		else
			r->values[i] = datumCopy(d, typbyval, typlen);
	}
	MemoryContextSwitchTo(old);
}

const RuleShared *
rule_share_get(const char *sql, bool *hit)
{
	ShareEntry *e;
	ShareEntry	fresh;

	Assert(share_cxt != NULL);
	for (e = share_list; e != NULL; e = e->next)
		if (e->userid == GetUserId() && strcmp(e->sql, sql) == 0)
		{
			share_hits++;
			*hit = true;
			return &e->result;
		}
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "shared rule predicate returned %llu rows", (unsigned long long) SPI_processed);
	CopyRow(&fresh.result);
	e = MemoryContextAlloc(share_cxt, sizeof(ShareEntry));
	e->result = fresh.result;
	e->sql = MemoryContextStrdup(share_cxt, sql);
	e->userid = GetUserId();
	e->next = share_list;
	share_list = e;
	share_misses++;
	*hit = false;
	return &e->result;
}

/* _share_begin(): (re)starts sharing, for the rest of the transaction or until _share_end(). */
PG_FUNCTION_INFO_V1(segment_share_begin);
Datum
segment_share_begin(PG_FUNCTION_ARGS)
{
	if (!callback_registered)
	{
		RegisterXactCallback(ShareXactCallback, NULL);
		callback_registered = true;
	}
	/* a run that failed without reaching _share_end() leaves nothing behind */
	if (share_cxt != NULL)
		MemoryContextDelete(share_cxt);
	share_cxt = AllocSetContextCreate(TopTransactionContext, "segment shared predicates",
									  ALLOCSET_DEFAULT_SIZES);
	share_list = NULL;
	share_hits = share_misses = 0;
	PG_RETURN_VOID();
}

/* _share_end(): drops the cache; returns how many predicate evaluations it saved. */
PG_FUNCTION_INFO_V1(segment_share_end);
Datum
segment_share_end(PG_FUNCTION_ARGS)
{
	int64		hits = share_hits;

	if (share_cxt != NULL)
		MemoryContextDelete(share_cxt);
	share_cxt = NULL;
	share_list = NULL;
	share_hits = share_misses = 0;
	PG_RETURN_INT64(hits);
}
