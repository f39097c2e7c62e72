/* Minimal TAP output for the unit tests. */
#ifndef TAP_H
#define TAP_H
#include <stdio.h>

static int	tap_n = 0;
static int	tap_failed = 0;

#define ok(cond, ...) \
	do { \
		int c_ = (cond); \
		tap_n++; \
		if (!c_) tap_failed++; \
		printf("%sok %d - ", c_ ? "" : "not ", tap_n); \
		printf(__VA_ARGS__); \
		printf("\n"); \
		if (!c_) printf("#   failed at %s:%d\n", __FILE__, __LINE__); \
	} while (0)

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
#endif
