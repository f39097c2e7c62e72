/*
 * segment.c
 *		Module entry point: the extension's settings.
 */
#include "postgres.h"

#include "pgtime.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "key_dictionary.h"
#include "refresh_progress.h"
#include "segment.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

char	   *segment_timezone = NULL;
char	   *segment_tenant = NULL;
int			segment_max_segments_per_tenant = 0;
int			segment_rule_form = SEGMENT_FORM_AUTO;

static const struct config_enum_entry rule_form_options[] = {
	{"auto", SEGMENT_FORM_AUTO, false},
	{"set_algebra", SEGMENT_FORM_SET_ALGEBRA, false},
	{"per_customer", SEGMENT_FORM_PER_CUSTOMER, false},
	{"reduced", SEGMENT_FORM_REDUCED, false},
	{NULL, 0, false}
};

/* Declares the settings; they may be set per session, role or database. */
/*
 * segment.timezone must name a zone PostgreSQL knows, as TimeZone must:
 * refused when set, not when a rule is evaluated later.
 */
static bool
CheckTimezone(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || **newval == '\0')
		return true;
	if (pg_tzset(*newval) == NULL)
	{
		GUC_check_errdetail("Time zone \"%s\" is not recognized.", *newval);
		GUC_check_errhint("Use a name from pg_timezone_names, such as 'Asia/Shanghai' or 'UTC'.");
		return false;
	}
	return true;
}

void
_PG_init(void)
{
	DefineCustomStringVariable("segment.timezone",
							   "Time zone in which rule windows are calendar-aligned.",
							   "Overrides the registered zone (segment.time_zone()); empty means the registered zone, else the session's TimeZone.",
							   &segment_timezone, "",
							   PGC_USERSET, 0, CheckTimezone, NULL, NULL);
	DefineCustomStringVariable("segment.tenant",
							   "Tenant whose customers, segments and tags are visible.",
							   "Required when the customer table was registered with a tenant column.",
							   &segment_tenant, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("segment.max_segments_per_tenant",
							"Maximum number of saved segments per tenant (0 = no limit).",
							NULL,
							&segment_max_segments_per_tenant, 0, 0, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("segment.rule_form",
							 "How evaluate() and refresh() compile a rule.",
							 "auto: the form the planner estimates cheaper; set_algebra: audiences per predicate "
							 "combined as bitmaps; per_customer: one query over the customer table; reduced: an AND's "
							 "cheapest child first, the others among its members.",
							 &segment_rule_form, SEGMENT_FORM_AUTO, rule_form_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("segment.dictionary_cache_size",
							"Memory for each backend's cache of the customer key dictionary.",
							"Rules map dictionary keys to ordinals through the cache when the dictionary fits; "
							"0 joins the dictionary table instead.",
							&segment_dictionary_cache_kb, 262144, 0, INT_MAX / 2,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomBoolVariable("segment.shard_aggregates",
							 "Whether shards answer aggregate conditions with one audience each.",
							 "On: grouped_audience_agg() per foreign partition (doc/scale-out.md); off: the "
							 "GROUP BY is pushed down and one row per customer is shipped.",
							 &segment_shard_aggregates, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("segment.grouped_aggregates",
							 "Whether a lone aggregate condition is grouped inside grouped_audience_agg().",
							 "On: one pass over the rows with integer keys (doc/segments.md); off: a GROUP BY "
							 "customer and an audience over the groups.",
							 &segment_grouped_aggregates, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("segment._dictionary_share",
							   "Internal: the key dictionary copy parallel workers read.",
							   NULL, &segment_dictionary_share, "",
							   PGC_USERSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE |
							   GUC_NO_RESET_ALL, NULL, NULL, NULL);
	MarkGUCPrefixReserved("segment");
	progress_init();
}
