/*
 * audience_roaring.h
 *		CRoaring's functions, reached through a private copy of the library.
 *
 * PostgreSQL loads modules with RTLD_GLOBAL, and another extension in the
 * same backend (pg_roaringbitmap compiles its own CRoaring 4.x) exports the
 * same symbol names as Debian's libroaring 0.2.66.  Linked normally, each
 * library's calls would bind to whichever copy was loaded first, mixing two
 * incompatible data layouts.  So segment.so does not link libroaring at
 * all: audience_roaring.c opens it with RTLD_LOCAL | RTLD_DEEPBIND (its own
 * calls bind inside itself, and its symbols stay out of the global scope)
 * and every call below goes through the table of its addresses.
 *
 * Include this after <roaring/roaring.h>; call sites keep CRoaring's names.
 */
#ifndef AUDIENCE_ROARING_H
#define AUDIENCE_ROARING_H

#include <roaring/roaring.h>

/* ret | name | parameters: the CRoaring 0.2.66 functions segment calls */
#define AUDIENCE_ROARING_FUNCTIONS(X) \
	X(bool, roaring_advance_uint32_iterator, (roaring_uint32_iterator_t *it)) \
	X(void, roaring_bitmap_add, (roaring_bitmap_t *r, uint32_t x)) \
	X(void, roaring_bitmap_add_many, (roaring_bitmap_t *r, size_t n_args, const uint32_t *vals)) \
	X(void, roaring_bitmap_add_range_closed, (roaring_bitmap_t *ra, uint32_t min, uint32_t max)) \
	X(uint64_t, roaring_bitmap_and_cardinality, (const roaring_bitmap_t *x1, const roaring_bitmap_t *x2)) \
	X(void, roaring_bitmap_and_inplace, (roaring_bitmap_t *x1, const roaring_bitmap_t *x2)) \
	X(roaring_bitmap_t *, roaring_bitmap_andnot, (const roaring_bitmap_t *x1, const roaring_bitmap_t *x2)) \
	X(void, roaring_bitmap_andnot_inplace, (roaring_bitmap_t *x1, const roaring_bitmap_t *x2)) \
	X(void, roaring_bitmap_clear, (roaring_bitmap_t *ra)) \
	X(roaring_bitmap_t *, roaring_bitmap_copy, (const roaring_bitmap_t *r)) \
	X(roaring_bitmap_t *, roaring_bitmap_create, (void)) \
	X(bool, roaring_bitmap_equals, (const roaring_bitmap_t *ra1, const roaring_bitmap_t *ra2)) \
	X(void, roaring_bitmap_free, (const roaring_bitmap_t *r)) \
	X(roaring_bitmap_t *, roaring_bitmap_from_range, (uint64_t min, uint64_t max, uint32_t step)) \
	X(uint64_t, roaring_bitmap_get_cardinality, (const roaring_bitmap_t *ra)) \
	X(bool, roaring_bitmap_intersect, (const roaring_bitmap_t *x1, const roaring_bitmap_t *x2)) \
	X(bool, roaring_bitmap_is_empty, (const roaring_bitmap_t *ra)) \
	X(bool, roaring_bitmap_is_subset, (const roaring_bitmap_t *ra1, const roaring_bitmap_t *ra2)) \
	X(uint64_t, roaring_bitmap_or_cardinality, (const roaring_bitmap_t *x1, const roaring_bitmap_t *x2)) \
	X(void, roaring_bitmap_or_inplace, (roaring_bitmap_t *x1, const roaring_bitmap_t *x2)) \
	X(roaring_bitmap_t *, roaring_bitmap_portable_deserialize_safe, (const char *buf, size_t maxbytes)) \
	X(size_t, roaring_bitmap_portable_serialize, (const roaring_bitmap_t *ra, char *buf)) \
	X(size_t, roaring_bitmap_portable_size_in_bytes, (const roaring_bitmap_t *ra)) \
	X(uint64_t, roaring_bitmap_range_cardinality, (const roaring_bitmap_t *ra, uint64_t range_start, uint64_t range_end)) \
	X(uint64_t, roaring_bitmap_rank, (const roaring_bitmap_t *bm, uint32_t x)) \
	X(void, roaring_bitmap_remove, (roaring_bitmap_t *r, uint32_t x)) \
	X(bool, roaring_bitmap_run_optimize, (roaring_bitmap_t *r)) \
	X(bool, roaring_bitmap_select, (const roaring_bitmap_t *ra, uint32_t rank, uint32_t *element)) \
	X(void, roaring_bitmap_to_uint32_array, (const roaring_bitmap_t *ra, uint32_t *ans)) \
	X(void, roaring_bitmap_xor_inplace, (roaring_bitmap_t *x1, const roaring_bitmap_t *x2)) \
	X(void, roaring_init_iterator, (const roaring_bitmap_t *ra, roaring_uint32_iterator_t *newit)) \
	X(bool, roaring_iterate, (const roaring_bitmap_t *ra, roaring_iterator iterator, void *ptr)) \
	X(bool, roaring_move_uint32_iterator_equalorlarger, (roaring_uint32_iterator_t *it, uint32_t val)) \
	X(uint32_t, roaring_read_uint32_iterator, (roaring_uint32_iterator_t *it, uint32_t *buf, uint32_t count))

typedef struct AudienceRoaring
{
#define AUDIENCE_ROARING_MEMBER(ret, name, params) ret (*name) params;
	AUDIENCE_ROARING_FUNCTIONS(AUDIENCE_ROARING_MEMBER)
#undef AUDIENCE_ROARING_MEMBER
} AudienceRoaring;

extern const AudienceRoaring *audience_roaring;
extern const AudienceRoaring *audience_roaring_load(void);

/* The table, loaded on first use (raises an ERROR if the library is missing). */
static inline const AudienceRoaring *
AudienceRoaringApi(void)
{
	return likely(audience_roaring != NULL) ? audience_roaring : audience_roaring_load();
}

#define roaring_advance_uint32_iterator(...) (AudienceRoaringApi()->roaring_advance_uint32_iterator(__VA_ARGS__))
#define roaring_bitmap_add(...) (AudienceRoaringApi()->roaring_bitmap_add(__VA_ARGS__))
#define roaring_bitmap_add_many(...) (AudienceRoaringApi()->roaring_bitmap_add_many(__VA_ARGS__))
#define roaring_bitmap_add_range_closed(...) (AudienceRoaringApi()->roaring_bitmap_add_range_closed(__VA_ARGS__))
#define roaring_bitmap_and_cardinality(...) (AudienceRoaringApi()->roaring_bitmap_and_cardinality(__VA_ARGS__))
#define roaring_bitmap_and_inplace(...) (AudienceRoaringApi()->roaring_bitmap_and_inplace(__VA_ARGS__))
#define roaring_bitmap_andnot(...) (AudienceRoaringApi()->roaring_bitmap_andnot(__VA_ARGS__))
#define roaring_bitmap_andnot_inplace(...) (AudienceRoaringApi()->roaring_bitmap_andnot_inplace(__VA_ARGS__))
#define roaring_bitmap_clear(...) (AudienceRoaringApi()->roaring_bitmap_clear(__VA_ARGS__))
#define roaring_bitmap_copy(...) (AudienceRoaringApi()->roaring_bitmap_copy(__VA_ARGS__))
#define roaring_bitmap_create(...) (AudienceRoaringApi()->roaring_bitmap_create(__VA_ARGS__))
#define roaring_bitmap_equals(...) (AudienceRoaringApi()->roaring_bitmap_equals(__VA_ARGS__))
#define roaring_bitmap_free(...) (AudienceRoaringApi()->roaring_bitmap_free(__VA_ARGS__))
#define roaring_bitmap_from_range(...) (AudienceRoaringApi()->roaring_bitmap_from_range(__VA_ARGS__))
#define roaring_bitmap_get_cardinality(...) (AudienceRoaringApi()->roaring_bitmap_get_cardinality(__VA_ARGS__))
#define roaring_bitmap_intersect(...) (AudienceRoaringApi()->roaring_bitmap_intersect(__VA_ARGS__))
#define roaring_bitmap_is_empty(...) (AudienceRoaringApi()->roaring_bitmap_is_empty(__VA_ARGS__))
#define roaring_bitmap_is_subset(...) (AudienceRoaringApi()->roaring_bitmap_is_subset(__VA_ARGS__))
#define roaring_bitmap_or_cardinality(...) (AudienceRoaringApi()->roaring_bitmap_or_cardinality(__VA_ARGS__))
#define roaring_bitmap_or_inplace(...) (AudienceRoaringApi()->roaring_bitmap_or_inplace(__VA_ARGS__))
#define roaring_bitmap_portable_deserialize_safe(...) (AudienceRoaringApi()->roaring_bitmap_portable_deserialize_safe(__VA_ARGS__))
#define roaring_bitmap_portable_serialize(...) (AudienceRoaringApi()->roaring_bitmap_portable_serialize(__VA_ARGS__))
#define roaring_bitmap_portable_size_in_bytes(...) (AudienceRoaringApi()->roaring_bitmap_portable_size_in_bytes(__VA_ARGS__))
#define roaring_bitmap_range_cardinality(...) (AudienceRoaringApi()->roaring_bitmap_range_cardinality(__VA_ARGS__))
#define roaring_bitmap_rank(...) (AudienceRoaringApi()->roaring_bitmap_rank(__VA_ARGS__))
#define roaring_bitmap_remove(...) (AudienceRoaringApi()->roaring_bitmap_remove(__VA_ARGS__))
#define roaring_bitmap_run_optimize(...) (AudienceRoaringApi()->roaring_bitmap_run_optimize(__VA_ARGS__))
#define roaring_bitmap_select(...) (AudienceRoaringApi()->roaring_bitmap_select(__VA_ARGS__))
#define roaring_bitmap_to_uint32_array(...) (AudienceRoaringApi()->roaring_bitmap_to_uint32_array(__VA_ARGS__))
#define roaring_bitmap_xor_inplace(...) (AudienceRoaringApi()->roaring_bitmap_xor_inplace(__VA_ARGS__))
#define roaring_init_iterator(...) (AudienceRoaringApi()->roaring_init_iterator(__VA_ARGS__))
#define roaring_iterate(...) (AudienceRoaringApi()->roaring_iterate(__VA_ARGS__))
#define roaring_move_uint32_iterator_equalorlarger(...) (AudienceRoaringApi()->roaring_move_uint32_iterator_equalorlarger(__VA_ARGS__))
#define roaring_read_uint32_iterator(...) (AudienceRoaringApi()->roaring_read_uint32_iterator(__VA_ARGS__))

#endif							/* AUDIENCE_ROARING_H */
