/*
 * test_rule_choice.c
 *		Unit tests of the compiler's decisions from the planner's numbers
 *		(rule_choice.h), without a server.  TAP.
 */
#include <stdio.h>

#include "rule_choice.h"
#include "tap.h"

static void
test_scans(void)
{
	ok(rule_choose_scans(100, 200, -1) == RULE_SCAN_ONE, "one scan when cheapest");
	ok(rule_choose_scans(100, 100, -1) == RULE_SCAN_ONE, "one scan on a tie with split");
	ok(rule_choose_scans(100, 100, 100) == RULE_SCAN_ONE, "one scan on a three-way tie");
	ok(rule_choose_scans(300, 200, -1) == RULE_SCAN_SPLIT, "split when cheaper and no hybrid");
	ok(rule_choose_scans(300, 200, 150) == RULE_SCAN_HYBRID, "hybrid when cheapest");
	ok(rule_choose_scans(300, 200, 200) == RULE_SCAN_SPLIT, "split over hybrid on a tie");
	ok(rule_choose_scans(300, 200, 250) == RULE_SCAN_SPLIT, "split when hybrid costs more");
	ok(rule_choose_scans(150, 200, 100) == RULE_SCAN_HYBRID, "hybrid below one scan");
	ok(rule_choose_scans(0, 0, 0) == RULE_SCAN_ONE, "zero costs: one scan");
}

static void
test_probe_threshold(void)
{
	ok(rule_probe_threshold(1, true, false) == 1000, "at least 1000 lookups");
	ok(rule_probe_threshold(1e6, true, false) == 15625, "1/64 of the customers with a key index");
	ok(rule_probe_threshold(1e6, true, true) == 62500, "four times that with dictionary keys");
	ok(rule_probe_threshold(1e6, false, false) == 3906, "a quarter without a key index (floor)");
	ok(rule_probe_threshold(1e6, false, true) == 3906, "without a key index the dictionary does not count");
	ok(rule_probe_threshold(64000, true, false) == 1000, "the floor of 1000 at 64000 customers");
	ok(rule_probe_threshold(128000, true, false) == 2000, "2000 at 128000 customers");
}

static void
test_per_customer(void)
{
	ok(rule_prefer_per_customer(50, 100), "per customer at half the cost");
	ok(!rule_prefer_per_customer(60, 100), "not at 60%% (the margin)");
	ok(!rule_prefer_per_customer(90, 100), "not at 90%%: the planner is optimistic there");
	ok(!rule_prefer_per_customer(0, 0), "not when both cost nothing");
}

static void
test_split(void)
{
	double		costs3[] = {9000, 5000, 7000};
	double		ties[] = {4000, 4000};
	double		dear[] = {9000, 8000};
	double		none[1] = {0};

	ok(!rule_split_worth_trying(19999, false), "no split below 20000");
	ok(rule_split_worth_trying(20000, false), "a split tried from 20000");
	ok(rule_split_worth_trying(1, true), "always tried when forced");
	ok(rule_split_driver(costs3, 3, 30000, false) == 1, "the cheapest child drives");
	ok(rule_split_driver(ties, 2, 30000, false) == 0, "the first of equal children");
	ok(rule_split_driver(costs3, 3, 10000, false) == -1, "no driver above 30%% of the whole");
	ok(rule_split_driver(costs3, 3, 10000, true) == 1, "forced: the cheapest even so");
	ok(rule_split_driver(dear, 2, 26666, false) == -1, "8000 > 0.3 * 26666");
	ok(rule_split_driver(dear, 2, 26667, false) == 1, "8000 <= 0.3 * 26667");
	ok(rule_split_driver(none, 0, 30000, true) == -1, "no children, no driver");
}

static void
test_companions(void)
{
	double		cheap3[] = {8, 111000, 1200};
	double		costs3[] = {9000, 5000, 7000};
	double		all_cheap[] = {10, 20, 30};
	bool		joins[3];

	ok(rule_split_companions(cheap3, 3, 0, 111511, joins) == 2 && joins[0] && !joins[1] && joins[2],
	   "a cheap tag joins a cheap segment");
	ok(rule_split_companions(costs3, 3, 1, 30000, joins) == 1 && joins[1] && !joins[0] && !joins[2],
	   "5000 + 7000 > 0.3 * 30000: the driver alone");
	ok(rule_split_companions(costs3, 3, 1, 40000, joins) == 2 && joins[1] && joins[2] && !joins[0],
	   "5000 + 7000 <= 0.3 * 40000: the next cheapest joins");
	ok(rule_split_companions(all_cheap, 3, 0, 30000, joins) == 2 && !joins[2],
	   "one child is always left for the rest");
	ok(rule_split_companions(all_cheap, 2, 0, 30000, joins) == 1 && joins[0] && !joins[1],
	   "two children: the driver alone");
	ok(rule_split_companions(all_cheap, 3, -1, 30000, joins) == 0 && !joins[0] && !joins[1] && !joins[2],
	   "no driver, no companions");
}

/* Up to 10% of the customers (at least 1000) drive; an estimate above it drops the split. */
static void
test_driver_limit(void)
{
	ok(rule_reduce_limit(1000000) == 100000, "1M customers: up to 100000 driver members");
	ok(rule_reduce_limit(5000) == 1000, "5000 customers: at least 1000");
	ok(rule_reduce_limit(0) == 1000, "an empty table: 1000");
	ok(rule_split_driver_too_large(111733, 1000000, false), "111733 expected of 1M: the driver would be thrown away");
	ok(!rule_split_driver_too_large(100000, 1000000, false), "exactly the limit: the driver runs");
	ok(!rule_split_driver_too_large(35000, 1000000, false), "35000 expected: the driver runs");
	ok(!rule_split_driver_too_large(-1, 1000000, false), "no estimate: the driver runs, its size decides");
	ok(!rule_split_driver_too_large(900000, 1000000, true), "rule_form = reduced: always split");
}

int
main(void)
{
	test_scans();
	test_probe_threshold();
	test_per_customer();
	test_split();
	test_companions();
	test_driver_limit();
	return tap_done();
}
