/*
 * audience_keys.c
 *		The customer keys of an audience's members (audience_keys.h), and
 *		segment.audience_keys(members, key_type).
 *
 * Dictionary keys come from the backend's cache of the dictionary, which
 * knows the key of each ordinal it loaded (key_dictionary_keys); an
 * ordinal it lacks sends the whole lookup to segment.customer_ordinals
 * (the only query: the members' ordinals are read in C).
 * Integer keys used directly are the ordinals themselves.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"

#include "audience.h"
#include "audience_keys.h"
#include "key_dictionary.h"

/* The keys of ordinals from the dictionary table, in ordinal order (own SPI connection). */
static Datum
TableKeys(Datum ords, Oid *type)
{
	Oid			argtype = INT8ARRAYOID;
	bool		isnull;
	Datum		d;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT coalesce(array_agg(o.key ORDER BY o.ordinal), '{}') "
							  "FROM segment.customer_ordinals o WHERE o.ordinal = ANY ($1)",
							  1, &argtype, &ords, NULL, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the keys of the members");
	*type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	d = SPI_datumTransfer(d, false, -1);
	SPI_finish();
	return d;
}

/*
 * The customer keys of an audience's members, as an array of the key type
 * (the dictionary's keys, or the integers themselves), in *type.
 */
Datum
audience_member_keys(Audience *a, Oid *type)
{
	Datum		d = DirectFunctionCall1(audience_to_int8_array, PointerGetDatum(a));
	ArrayType  *ords = DatumGetArrayTypeP(d);
	int			n = ArrayGetNItems(ARR_NDIM(ords), ARR_DIMS(ords));
	Datum	   *keys;
	Oid			key_type;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (!OidIsValid(key_dictionary_relid()))
	{
		*type = INT8ARRAYOID;
		return d;
	}
	/* the backend's cache knows the key of each ordinal it read */
	keys = palloc(sizeof(Datum) * Max(n, 1));
	if (!key_dictionary_keys((int64 *) ARR_DATA_PTR(ords), n, keys, &key_type))
	{
		pfree(keys);
		return TableKeys(d, type);
	}
	get_typlenbyvalalign(key_type, &typlen, &typbyval, &typalign);
	*type = get_array_type(key_type);
	return PointerGetDatum(construct_array(keys, n, key_type, typlen, typbyval, typalign));
}

/*
 * Integer keys used directly, of key type want: the ordinals that fit it
 * (an int2 key table has no customer 40000), ascending.
 */
static Datum
DirectKeys(ArrayType *ords, Oid want)
{
	int			n = ArrayGetNItems(ARR_NDIM(ords), ARR_DIMS(ords));
	const int64 *v = (const int64 *) ARR_DATA_PTR(ords);
	Datum	   *keys = palloc(sizeof(Datum) * Max(n, 1));
	int			i,
				k = 0;
	int64		max = want == INT2OID ? PG_INT16_MAX : want == INT4OID ? PG_INT32_MAX : PG_INT64_MAX;

	for (i = 0; i < n; i++)
		if (v[i] <= max)
			keys[k++] = want == INT2OID ? Int16GetDatum((int16) v[i]) :
				want == INT4OID ? Int32GetDatum((int32) v[i]) : Int64GetDatum(v[i]);
	if (want == INT2OID)
		return PointerGetDatum(construct_array(keys, k, INT2OID, 2, true, TYPALIGN_SHORT));
	if (want == INT4OID)
		return PointerGetDatum(construct_array(keys, k, INT4OID, 4, true, TYPALIGN_INT));
	return PointerGetDatum(construct_array(keys, k, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

PG_FUNCTION_INFO_V1(segment_audience_keys);

/*
 * audience_keys(members audience, key_type anyelement) -> anyarray: the
 * customer keys of the members, of key_type (its value is not read: pass
 * NULL::bigint, NULL::text...).  Members without a key (ordinals never
 * registered) are left out.  NULL for a NULL audience.
 */
Datum
segment_audience_keys(PG_FUNCTION_ARGS)
{
	Oid			want = get_fn_expr_argtype(fcinfo->flinfo, 1);
	Oid			array_type;
	Oid			have;
	Datum		keys;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	/* the cache is read in C: check what the dictionary table's ACL would */
	if (OidIsValid(key_dictionary_relid()) &&
		pg_class_aclcheck(key_dictionary_relid(), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(key_dictionary_relid()));
	keys = audience_member_keys(PG_GETARG_AUDIENCE_P(0), &array_type);
	have = get_element_type(array_type);
	if (!OidIsValid(key_dictionary_relid()) && (want == INT2OID || want == INT4OID || want == INT8OID))
		keys = DirectKeys(DatumGetArrayTypeP(keys), want);
	else if (want != have && !IsBinaryCoercible(have, want))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("customer keys are of type %s, not %s", format_type_be(have), format_type_be(want)),
				 errhint("Pass NULL::%s as key_type.", format_type_be(have))));
	else if (want != have)
	{
		/* text keys asked for as varchar: the same bytes, the array says which */
		ArrayType  *copy = DatumGetArrayTypePCopy(keys);

		ARR_ELEMTYPE(copy) = want;
		keys = PointerGetDatum(copy);
	}
	PG_RETURN_DATUM(keys);
}
