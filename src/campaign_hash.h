/*
 * campaign_hash.h
 *		Pure-C helpers of the campaign operators: a seeded per-customer hash
 *		(so a customer's sample or arm depends only on the customer and the
 *		seed, never on the rest of the audience), a small seeded generator,
 *		and weight validation for A/B splits.
 */
#ifndef CAMPAIGN_HASH_H
#define CAMPAIGN_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Uniform 64-bit hash of (member, seed): splitmix64 finalizer. */
static inline uint64_t
campaign_hash(uint32_t member, int32_t seed)
{
	uint64_t	z = ((uint64_t) (uint32_t) seed << 32 | member) + 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1) from the top 53 bits of a hash. */
static inline double
campaign_unit(uint64_t h)
{
	return (double) (h >> 11) * (1.0 / 9007199254740992.0);
}

/* splitmix64 generator state for sequential sampling. */
typedef struct CampaignRng
{
	uint64_t	state;
} CampaignRng;

/*
 * Seeds the generator.  The seed goes through the splitmix64 finalizer (a
 * bijection), so neighbouring seeds start far apart: with state = seed *
 * increment, seed s + 1 would replay seed s's stream one step later.
 */
static inline void
campaign_rng_seed(CampaignRng *rng, int32_t seed)
{
	uint64_t	z = (uint64_t) (uint32_t) seed + 0x2545F4914F6CDD1DULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	rng->state = z ^ (z >> 31);
}

static inline uint64_t
campaign_rng_next(CampaignRng *rng)
{
	uint64_t	z = (rng->state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/*
 * Validates split weights and turns them into cumulative bounds in [0, 1].
 * Returns NULL on success, or a lower-case reason.
 */
extern const char *campaign_cumulative_weights(const double *weights, int n, double *cumulative);

/* The arm (0-based) of a unit value given cumulative bounds. */
extern int	campaign_pick_arm(const double *cumulative, int n, double u);

#endif							/* CAMPAIGN_HASH_H */
