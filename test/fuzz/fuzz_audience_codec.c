/*
 * Fuzz target: audience_codec_check must never read out of bounds, and
 * whatever it accepts CRoaring must decode to the same set the header
 * readers describe.
 */
#include <roaring/roaring.h>
#include <stdlib.h>
#include <string.h>

#include "audience_codec.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		why[256];
	roaring_bitmap_t *r;
	uint32_t	v;
	uint8_t    *copy;

	/* an exact-size heap copy lets ASan catch any read past the end */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	if (!audience_codec_check(copy, size, why, sizeof(why)))
	{
		free(copy);
		return 0;
	}
	r = roaring_bitmap_portable_deserialize_safe((const char *) copy, size);
	if (r == NULL)
		abort();
	if (roaring_bitmap_get_cardinality(r) != audience_codec_cardinality(copy, size))
		abort();
	if (audience_codec_min(copy, size, &v) != !roaring_bitmap_is_empty(r) ||
		(!roaring_bitmap_is_empty(r) && v != roaring_bitmap_minimum(r)))
		abort();
	if (audience_codec_max(copy, size, &v) && v != roaring_bitmap_maximum(r))
		abort();
	for (size_t i = 0; i + 4 <= size && i < 64; i += 4)
	{
		uint32_t	probe;

		memcpy(&probe, copy + i, 4);
		if (audience_codec_contains(copy, size, probe) != roaring_bitmap_contains(r, probe))
			abort();
		if (audience_codec_contains(copy, size, probe & 0x3FFFF) != roaring_bitmap_contains(r, probe & 0x3FFFF))
			abort();
	}
	roaring_bitmap_free(r);
	free(copy);
	return 0;
}
