/*
 * catalog_int.h
 *		Internals shared by catalog.c (snapshot, cache, invalidation) and
 *		catalog_lookup.c (look-ups and their errors).
 */
#ifndef CATALOG_INT_H
#define CATALOG_INT_H

#include "postgres.h"

#include "access/genam.h"
#include "access/htup.h"
#include "access/skey.h"
#include "utils/relcache.h"

#include "catalog.h"

/* segment.<name>, locked for reading; NULL when missing_ok and missing. */
extern Relation catalog_open(const char *name, bool missing_ok);

/* Refuses, as a query would, when the current user may not read it. */
extern void catalog_check_select(Relation rel);
extern void catalog_check_select_name(const char *name);

/*
 * A scan of rel with the rows matching keys (heap attribute numbers),
 * through segment.<index> when it exists (in its order), else the heap;
 * with the snapshot a query of the caller would see.
 */
extern SysScanDesc catalog_scan(Relation rel, const char *index, int nkeys, ScanKey keys);

extern void catalog_text_key(ScanKey key, Relation rel, const char *column, const char *value);
extern void catalog_int4_key(ScanKey key, Relation rel, const char *column, int32 value);

/* A column of a row by name. */
extern Datum catalog_value(HeapTuple tup, Relation rel, const char *column, bool *isnull);
extern char *catalog_text(HeapTuple tup, Relation rel, const char *column);

#endif							/* CATALOG_INT_H */
