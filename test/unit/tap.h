/*
 * tap.h
 *		Minimal TAP output shared by the unit tests: ok() per assertion, then
 *		tap_done() prints the plan ("1..N", allowed last by TAP) and gives
 *		the exit status.
 */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>

static int	tap_n = 0;
static int	tap_failed = 0;

#define ok(cond, ...) \
	do { \
		int			ok_c_ = (cond) ? 1 : 0; \
		\
		tap_n++; \
		if (!ok_c_) \
			tap_failed++; \
		printf("%sok %d - ", ok_c_ ? "" : "not ", tap_n); \
		printf(__VA_ARGS__); \
		printf("\n"); \
		if (!ok_c_) \
			printf("#   failed at %s:%d\n", __FILE__, __LINE__); \
		fflush(stdout); \
	} while (0)

/* Prints the plan; the exit status of main. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}

#endif							/* TAP_H */
