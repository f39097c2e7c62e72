/*
 * campaign_hash.c
 *		Weight handling of A/B splits (pure C, unit-tested).
 */
#include "campaign_hash.h"

#include <math.h>

const char *
campaign_cumulative_weights(const double *weights, int n, double *cumulative)
{
	double		total = 0.0;
	double		run = 0.0;
	int			i;

	if (n < 1)
		return "at least one weight is required";
	for (i = 0; i < n; i++)
	{
		if (isnan(weights[i]) || isinf(weights[i]))
			return "weights must be finite numbers";
		if (weights[i] < 0)
			return "weights must not be negative";
		total += weights[i];
	}
	if (!(total > 0))
		return "the weights must not all be zero";
	for (i = 0; i < n; i++)
	{
		run += weights[i];
		cumulative[i] = run / total;
	}
	cumulative[n - 1] = 1.0;	/* no customer may fall past the last arm */
	return NULL;
}

int
campaign_pick_arm(const double *cumulative, int n, double u)
{
	int			lo = 0,
				hi = n - 1;

	/* first arm whose cumulative bound exceeds u */
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (u < cumulative[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}
