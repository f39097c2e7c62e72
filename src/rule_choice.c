/*
 * rule_choice.c
 *		The rule compiler's decisions from the planner's numbers (pure C,
 *		see rule_choice.h).  The constants were measured; their comments
 *		say on what.
 */
#include <math.h>

#include "rule_choice.h"

/*
 * Result sizes up to this fraction of the customers are checked against
 * the customer table by index lookups of each member; larger ones by a
 * scan of the table (the universe) and an intersection.
 *
 * With dictionary keys the scan joins the dictionary (900 ms per million
 * customers against 120 ms), and each member costs two index probes (its
 * key, then the customer): four times the fraction.
 */
#define PROBE_FRACTION 0.015625	/* 1/64.  Measured on 1M customers: a scan
									 * 110-125 ms; "= ANY" 1.5 us a member
									 * with the index cached, 11 us after big
									 * scans evicted it (128MB buffers); a
									 * semi-join 4 us */

/* Below this many members lookups always win. */
#define PROBE_MIN 1000.0

/*
 * The per-customer form is kept only when estimated well below the set
 * algebra: measured on 1M customers, the planner's semi- and anti-join
 * costs are optimistic next to bitmap aggregation (estimated 30% cheaper,
 * ran 35% slower), while where per customer really wins (few customers by
 * their own columns) it is estimated several times cheaper.
 */
#define PER_CUSTOMER_MARGIN 0.6

/*
 * A split is tried only for rules the planner expects to be slow (cost
 * units; 20000 is a few hundred ms here), with a driver estimated at most
 * DRIVER_FRACTION of the whole: the driver's query runs in any case, and
 * when its members are many the rest runs unrestricted, so a split costs
 * little more than the rule itself.
 */
#define SPLIT_MIN_COST 20000.0
#define DRIVER_FRACTION 0.3

/*
 * The rest of a split rule runs among the driver's members when they are at
 * most this fraction of the customers (at least REDUCE_MIN_MEMBERS): then
 * probing the customer-column indexes for each of them beats reading the
 * sources, and the keys array stays small.
 */
#define REDUCE_FRACTION 0.1
#define REDUCE_MIN_MEMBERS 1000.0

/* The cheapest, one scan on a tie (fewest scans), then hybrid over split. */
RuleScanChoice
rule_choose_scans(double cost_one, double cost_split, double cost_hybrid)
{
	if (cost_one <= cost_split && (cost_hybrid < 0 || cost_one <= cost_hybrid))
		return RULE_SCAN_ONE;
	if (cost_hybrid >= 0 && cost_hybrid < cost_split)
		return RULE_SCAN_HYBRID;
	return RULE_SCAN_SPLIT;
}

/*
 * Without an index leading with the key, lookups are a semi-join: a
 * quarter of the fraction.
 */
double
rule_probe_threshold(double customers, bool key_indexed, bool dictionary)
{
	double		fraction = !key_indexed ? PROBE_FRACTION / 4 :
		dictionary ? PROBE_FRACTION * 4 : PROBE_FRACTION;
	double		n = floor(customers * fraction);

	return n > PROBE_MIN ? n : PROBE_MIN;
}

bool
rule_prefer_per_customer(double cost_per_customer, double cost_algebra)
{
	return cost_per_customer < PER_CUSTOMER_MARGIN * cost_algebra;
}

bool
rule_split_worth_trying(double full_cost, bool forced)
{
	return forced || full_cost >= SPLIT_MIN_COST;
}

int
rule_split_driver(const double *child_costs, int n, double full_cost, bool forced)
{
	int			driver = -1,
				i;

	for (i = 0; i < n; i++)
		if (driver < 0 || child_costs[i] < child_costs[driver])
			driver = i;
	if (driver < 0 || (!forced && child_costs[driver] > DRIVER_FRACTION * full_cost))
		return -1;
	return driver;
}

/*
 * "IN SEGMENT 'big_spenders' AND NOT EXISTS orders ... AND TAG 'interest'
 * IN ('tech')": the segment alone has 157k members (above the share the
 * rest runs among), the segment and the tag together 3.9k.  Children this
 * cheap cost the driver little and can only shrink its members.
 */
int
rule_split_companions(const double *child_costs, int n, int driver, double full_cost, bool *joins)
{
	double		sum;
	int			chosen = 0,
				i;

	for (i = 0; i < n; i++)
		joins[i] = false;
	if (driver < 0 || driver >= n)
		return 0;
	joins[driver] = true;
	chosen = 1;
	sum = child_costs[driver];
	while (chosen < n - 1)
	{
		int			next = -1;

		for (i = 0; i < n; i++)
			if (!joins[i] && (next < 0 || child_costs[i] < child_costs[next]))
				next = i;
		if (next < 0 || sum + child_costs[next] > DRIVER_FRACTION * full_cost)
			break;
		joins[next] = true;
		sum += child_costs[next];
		chosen++;
	}
	return chosen;
}

double
rule_reduce_limit(double customers)
{
	double		n = REDUCE_FRACTION * customers;

	return n > REDUCE_MIN_MEMBERS ? n : REDUCE_MIN_MEMBERS;
}

/*
 * A driver the planner expects above the limit would run only to be
 * thrown away ("customer.followed_at DURING LAST 1 month AND NOT EXISTS
 * orders": 110k followers, estimated 112k, limit 100k; the driver's scan
 * cost 70 ms of the rule's 194).  The estimates are row counts of the
 * customer conditions and distinct-customer counts of an EXISTS's rows,
 * seen within 15% here; where the planner has none the driver runs.
 */
bool
rule_split_driver_too_large(double expected_members, double customers, bool forced)
{
	return !forced && expected_members >= 0 && expected_members > rule_reduce_limit(customers);
}
