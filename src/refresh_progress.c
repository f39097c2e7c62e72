/*
 * refresh_progress.c
 *		Progress of refresh() and refresh_all(): the command, the segment,
 *		its phase, how many segments are done and when each started, in a
 *		small array of slots in shared memory, so that another session can
 *		read it while the refreshing transaction runs (its own writes stay
 *		invisible until it commits).  segment.refresh_progress shows it.
 *
 * The array is requested at startup when segment is in
 * shared_preload_libraries; otherwise the first backend that needs it
 * allocates it from the shared memory PostgreSQL keeps spare (a few
 * kilobytes of the megabytes usually free).  Should that fail, progress is
 * simply not reported (one WARNING per backend); a refresh never fails for
 * it.
 *
 * A backend writes only its own slot, bracketed by a change counter (odd
 * while writing), as PostgreSQL's backend status does; readers copy a slot
 * and retry while the counter is odd or moved.  Claiming and releasing a
 * slot take the array's spinlock.  A slot is released at the end of the
 * transaction (commit or abort) and when the backend exits.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "refresh_progress.h"

#define PROGRESS_SLOTS		64
#define PROGRESS_TEXT		256

typedef struct ProgressSlot
{
	pg_atomic_uint32 changecount;	/* odd while the owner writes */
	int			pid;			/* 0: free */
	Oid			database;
	char		tenant[PROGRESS_TEXT];
	char		command[32];	/* refresh, refresh_all */
	char		segment[PROGRESS_TEXT];
	char		phase[32];
	int32		done;			/* segments finished */
	int32		total;			/* segments to refresh */
	TimestampTz started_at;		/* the command */
	TimestampTz segment_started_at;
} ProgressSlot;

typedef struct ProgressArray
{
	slock_t		mutex;			/* claiming and releasing slots */
	ProgressSlot slots[PROGRESS_SLOTS];
} ProgressArray;

static ProgressArray *progress = NULL;
static bool progress_unavailable = false;
static ProgressSlot *my_slot = NULL;
static bool exit_callback_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
InitArray(ProgressArray *a)
{
	int			i;

	SpinLockInit(&a->mutex);
	for (i = 0; i < PROGRESS_SLOTS; i++)
	{
		pg_atomic_init_u32(&a->slots[i].changecount, 0);
		a->slots[i].pid = 0;
	}
}

/* Attaches to (or creates) the array; NULL when shared memory is short. */
static ProgressArray *
Array(void)
{
	bool		found;
	MemoryContext cx = CurrentMemoryContext;

	if (progress != NULL || progress_unavailable)
		return progress;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	PG_TRY();
	{
		/* ShmemInitStruct releases its own lock before it fails */
		progress = ShmemInitStruct("segment refresh progress", sizeof(ProgressArray), &found);
		if (!found)
			InitArray(progress);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cx);
		FlushErrorState();
		progress = NULL;
		progress_unavailable = true;
	}
	PG_END_TRY();
	LWLockRelease(AddinShmemInitLock);
	if (progress_unavailable)
		ereport(WARNING,
				(errmsg("refresh progress is not reported: no shared memory for it"),
				 errhint("Add segment to shared_preload_libraries to reserve it at startup.")));
	return progress;
}

static void
ShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(ProgressArray)));
}

static void
ShmemStartup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	(void) Array();
}

static void
Release(void)
{
	if (my_slot == NULL)
		return;
	SpinLockAcquire(&progress->mutex);
	my_slot->pid = 0;
	SpinLockRelease(&progress->mutex);
	my_slot = NULL;
}

static void
AtExit(int code, Datum arg)
{
	Release();
}

/* Whatever the transaction did, its refresh is over. */
static void
AtXactEnd(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		Release();
}

void
progress_init(void)
{
	if (process_shared_preload_libraries_in_progress)
	{
		prev_shmem_request_hook = shmem_request_hook;
		shmem_request_hook = ShmemRequest;
		prev_shmem_startup_hook = shmem_startup_hook;
		shmem_startup_hook = ShmemStartup;
	}
	RegisterXactCallback(AtXactEnd, NULL);
}

/* Copies text into a slot's field, cut at a character boundary. */
static void
SetText(char *dst, const char *src, int size)
{
	int			len = strlen(src);

	if (len >= size)
		len = pg_mbcliplen(src, len, size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void
BeginWrite(ProgressSlot *s)
{
	pg_atomic_fetch_add_u32(&s->changecount, 1);
	pg_write_barrier();
}

static void
EndWrite(ProgressSlot *s)
{
	pg_write_barrier();
	pg_atomic_fetch_add_u32(&s->changecount, 1);
}

static char *
TextArg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * _progress_begin(command, tenant, total): starts reporting a command;
 * false (and nothing changes) when this backend already reports one, so
 * that a refresh() inside refresh_all() only moves its segment and phase.
 */
PG_FUNCTION_INFO_V1(segment_progress_begin);
Datum
segment_progress_begin(PG_FUNCTION_ARGS)
{
	ProgressArray *a;
	ProgressSlot *s = NULL;
	int			i;

	if (my_slot != NULL)
		PG_RETURN_BOOL(false);
	if ((a = Array()) == NULL)
		PG_RETURN_BOOL(false);
	if (!exit_callback_registered)
	{
		before_shmem_exit(AtExit, 0);
		exit_callback_registered = true;
	}
	/*
	 * The write starts before the slot shows our pid, so that no reader
	 * takes the previous owner's fields for ours.
	 */
	SpinLockAcquire(&a->mutex);
	for (i = 0; i < PROGRESS_SLOTS && s == NULL; i++)
		if (a->slots[i].pid == 0)
		{
			s = &a->slots[i];
			BeginWrite(s);
			s->pid = MyProcPid;
		}
	SpinLockRelease(&a->mutex);
	if (s == NULL)
		PG_RETURN_BOOL(false);	/* every slot taken: not reported */
	my_slot = s;
	s->database = MyDatabaseId;
	SetText(s->tenant, TextArg(fcinfo, 1), PROGRESS_TEXT);
	SetText(s->command, TextArg(fcinfo, 0), sizeof(s->command));
	s->segment[0] = '\0';
	SetText(s->phase, "starting", sizeof(s->phase));
	s->done = 0;
	s->total = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	s->started_at = GetCurrentTimestamp();
	s->segment_started_at = s->started_at;
	EndWrite(s);
	PG_RETURN_BOOL(true);
}

/* _progress_phase(segment, phase): the segment being refreshed and what it does. */
PG_FUNCTION_INFO_V1(segment_progress_phase);
Datum
segment_progress_phase(PG_FUNCTION_ARGS)
{
	ProgressSlot *s = my_slot;
	char	   *segment = TextArg(fcinfo, 0);

	if (s == NULL)
		PG_RETURN_VOID();
	BeginWrite(s);
	if (strncmp(s->segment, segment, PROGRESS_TEXT - 1) != 0)
	{
		SetText(s->segment, segment, PROGRESS_TEXT);
		s->segment_started_at = GetCurrentTimestamp();
	}
	SetText(s->phase, TextArg(fcinfo, 1), sizeof(s->phase));
	EndWrite(s);
	PG_RETURN_VOID();
}

/* _progress_done(): one more segment finished. */
PG_FUNCTION_INFO_V1(segment_progress_done);
Datum
segment_progress_done(PG_FUNCTION_ARGS)
{
	ProgressSlot *s = my_slot;

	if (s == NULL)
		PG_RETURN_VOID();
	BeginWrite(s);
	s->done++;
	EndWrite(s);
	PG_RETURN_VOID();
}

/* _progress_end(): the command is over (also at the end of the transaction). */
PG_FUNCTION_INFO_V1(segment_progress_end);
Datum
segment_progress_end(PG_FUNCTION_ARGS)
{
	Release();
	PG_RETURN_VOID();
}

/* A consistent copy of a slot, or false when it is free. */
static bool
ReadSlot(ProgressSlot *s, ProgressSlot *copy)
{
	for (;;)
	{
		uint32		before = pg_atomic_read_u32(&s->changecount);
		uint32		after;

		pg_read_barrier();
		memcpy(copy, s, sizeof(ProgressSlot));
		pg_read_barrier();
		after = pg_atomic_read_u32(&s->changecount);
		if (before == after && (before & 1) == 0)
			return copy->pid != 0;
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * _progress(): the refreshes reported in this database, of the current
 * tenant (every tenant's for a superuser).
 */
PG_FUNCTION_INFO_V1(segment_progress);
Datum
segment_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ProgressArray *a;
	char		tenant[PROGRESS_TEXT];
	bool		all = superuser();
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if ((a = Array()) == NULL)
		return (Datum) 0;
	SetText(tenant, all ? "" : catalog_tenant(), PROGRESS_TEXT);
	for (i = 0; i < PROGRESS_SLOTS; i++)
	{
		ProgressSlot c;
		Datum		values[10];
		bool		nulls[10] = {false};

		if (!ReadSlot(&a->slots[i], &c) || c.database != MyDatabaseId ||
			(!all && strcmp(c.tenant, tenant) != 0))
			continue;
		values[0] = Int32GetDatum(c.pid);
		values[1] = CStringGetTextDatum(c.tenant);
		values[2] = CStringGetTextDatum(c.command);
		values[3] = CStringGetTextDatum(c.segment);
		nulls[3] = c.segment[0] == '\0';
		values[4] = CStringGetTextDatum(c.phase);
		values[5] = Int32GetDatum(c.done);
		values[6] = Int32GetDatum(c.total);
		values[7] = TimestampTzGetDatum(c.started_at);
		values[8] = TimestampTzGetDatum(c.segment_started_at);
		values[9] = Int32GetDatum(c.total - c.done);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
