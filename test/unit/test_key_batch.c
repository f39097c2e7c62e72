/*
 * test_key_batch.c
 *		key_batch_order(): a stable permutation of the probes, by slot band.
 */
#include <stdlib.h>
#include <string.h>

#include "key_batch.h"
#include "tap.h"

static uint32_t rng = 12345;

static uint32_t
Next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* Whether out is in band order, stable, and holds every probe of in once. */
static int
Checked(const KeyBatchProbe *in, const KeyBatchProbe *out, uint32_t n, uint32_t mask)
{
	char	   *seen = calloc(n ? n : 1, 1);
	uint32_t	i;
	int			good = 1;

	for (i = 0; i < n; i++)
	{
		uint32_t	j = out[i].index;

		if (j >= n || seen[j] || in[j].hash != out[i].hash)
			good = 0;
		else
			seen[j] = 1;
		if (i > 0)
		{
			uint32_t	a = key_batch_band(out[i - 1].hash, mask),
						b = key_batch_band(out[i].hash, mask);

			if (a > b || (a == b && out[i - 1].index > out[i].index))
				good = 0;
		}
	}
	free(seen);
	return good;
}

static void
Case(uint32_t n, uint32_t mask, const char *what)
{
	KeyBatchProbe *in = calloc(n ? n : 1, sizeof(KeyBatchProbe));
	KeyBatchProbe *out = calloc(n ? n : 1, sizeof(KeyBatchProbe));
	uint32_t	i;

	for (i = 0; i < n; i++)
	{
		in[i].hash = Next();
		in[i].index = i;
	}
	key_batch_order(in, out, n, mask);
	ok(Checked(in, out, n, mask), "%s: %u probes, mask %#x", what, n, mask);
	free(in);
	free(out);
}

int
main(void)
{
	KeyBatchProbe in[4],
				out[4];

	Case(0, 1023, "empty batch");
	Case(1, 1023, "one probe");
	Case(5000, 1023, "table smaller than the bands");
	Case(5000, 4095, "table of exactly the bands");
	Case(65536, (1u << 21) - 1, "64k probes, 2M slots");
	Case(100000, 0xFFFFFFFFu, "full 32-bit mask");
	Case(3000, 0, "one-slot table");

	/* equal hashes stay in input order; the band is the slot's top bits */
	in[0].hash = 0x00300000; in[0].index = 0;
	in[1].hash = 0x00100000; in[1].index = 1;
	in[2].hash = 0x00300000; in[2].index = 2;
	in[3].hash = 0xFF000000; in[3].index = 3;	/* outside the mask: slot 0 */
	key_batch_order(in, out, 4, (1u << 22) - 1);
	ok(out[0].index == 3 && out[1].index == 1 && out[2].index == 0 && out[3].index == 2,
	   "order by slot band, stable, bits above the mask ignored: %u %u %u %u",
	   out[0].index, out[1].index, out[2].index, out[3].index);
	ok(key_batch_band(0x003FFFFF, (1u << 22) - 1) == 4095 && key_batch_band(0x7, 7) == 7,
	   "bands: the top 12 bits of the slot, or the slot of a small table");
	return tap_done();
}
