-- Campaign operators: sample, sample_fraction, split, dedupe, funnel, overlap.
SET search_path = segment, public;

-- sample: exactly n, deterministic per seed, a subset
SELECT cardinality(sample('{1-1000}', 10)), sample('{1-1000}', 10) = sample('{1-1000}', 10) AS same_seed_same_sample,
       sample('{1-1000}', 10) <> sample('{1-1000}', 10, 1) AS other_seed_differs,
       sample('{1-1000}', 10) <@ '{1-1000}' AS subset;
SELECT sample('{1-5}', 10), sample('{1-5}', 5), sample('{1-5}', 0), sample('{}', 3);
-- neighbouring seeds give unrelated samples (seed s + 1 is not seed s's
-- stream one step later: not the same members shifted by one)
SELECT cardinality(sample('{1-100}', 5, 8) & audience(ARRAY(SELECT i - 1 FROM ids(sample('{1-100}', 5, 7)) i)))
       AS shifted_overlap,
       cardinality(sample('{1-100000}', 1000, 8) & sample('{1-100000}', 1000, 7)) < 50 AS nearly_disjoint;
SELECT cardinality(sample('{0-9999999}', 1234567, 42));
-- uniform: over 2000 seeds, each of 20 members is drawn about 2000 * 5/20 = 500 times;
-- a chi-square statistic over 19 degrees of freedom stays below 43.8 (p = 0.001)
WITH draws AS (
    SELECT i, count(*) AS hits
    FROM generate_series(1, 2000) s, ids(sample('{1-20}', 5, s)) i
    GROUP BY i
)
SELECT count(*) AS members_drawn, sum((hits - 500.0) ^ 2 / 500.0) < 43.8 AS chi_square_ok FROM draws;

-- sample_fraction: per-customer decisions that survive audience growth
SELECT sample_fraction('{1-100000}', 0.25) <@ '{1-100000}' AS subset,
       abs(cardinality(sample_fraction('{1-100000}', 0.25)) - 25000) < 600 AS near_quarter,
       sample_fraction('{1-1000}', 0.3, 7) = (sample_fraction('{1-2000}', 0.3, 7) & '{1-1000}') AS stable_when_growing,
       sample_fraction('{1-10}', 0), sample_fraction('{1-10}', 1), sample_fraction('{}', 0.5);
WITH draws AS (
    SELECT i, count(*) AS hits
    FROM generate_series(1, 2000) s, ids(sample_fraction('{1-20}', 0.25, s)) i
    GROUP BY i
)
SELECT count(*) AS members_drawn, sum((hits - 500.0) ^ 2 / 500.0) < 43.8 AS chi_square_ok FROM draws;

-- split: disjoint, covering, proportional, stable per customer
WITH s AS (SELECT split('{1-100000}', ARRAY[50, 30, 20]) arms)
SELECT array_length(arms, 1) AS n_arms,
       cardinality(arms[1]) + cardinality(arms[2]) + cardinality(arms[3]) AS total,
       union_cardinality(arms[1], union_agg_arms) AS covered,
       NOT (arms[1] && arms[2]) AND NOT (arms[1] && arms[3]) AND NOT (arms[2] && arms[3]) AS disjoint,
       abs(cardinality(arms[1]) - 50000) < 800 AND abs(cardinality(arms[2]) - 30000) < 800
           AND abs(cardinality(arms[3]) - 20000) < 800 AS proportional
FROM s, LATERAL (SELECT arms[2] | arms[3] AS union_agg_arms) u;
SELECT (split('{1-1000}', ARRAY[1, 1], 3))[1] = ((split('{1-5000}', ARRAY[1, 1], 3))[1] & '{1-1000}') AS arm_kept_when_growing;
SELECT split('{1-10}', ARRAY[1]), split('{1-10}', ARRAY[0, 1]), split('{}', ARRAY[1, 1]);
SELECT split('{1-6}', ARRAY[0.5, 0.5], 11) = split('{1-6}', ARRAY[5, 5], 11) AS scale_free;

-- dedupe: priority order
SELECT dedupe(ARRAY['{1-5}', '{4-8}', '{1-10}']::audience[]);
SELECT dedupe(ARRAY['{1,2}', NULL, '{2,3}']::audience[]);
SELECT dedupe('{}'::audience[]);

-- funnel and overlap
SELECT * FROM funnel('{1-100}', '{1-50,200}', '{1-10,40-60}', '{1-3}');
SELECT * FROM funnel('{1-3}', '{}', '{1}');
SELECT * FROM funnel('{1-3}', NULL);
SELECT * FROM overlap('{1-10}', '{6-20}');
SELECT * FROM overlap('{}', '{}');

-- bad input
SELECT sample('{1-3}', -1);
SELECT sample_fraction('{1-3}', 1.5);
SELECT sample_fraction('{1-3}', -0.1);
SELECT sample_fraction('{1-3}', 'NaN');
SELECT split('{1-3}', ARRAY[]::float8[]);
SELECT split('{1-3}', ARRAY[1, -1]);
SELECT split('{1-3}', ARRAY[0, 0]);
SELECT split('{1-3}', ARRAY[1, 'NaN'::float8]);
SELECT split('{1-3}', ARRAY[1, 'Infinity'::float8]);
SELECT split('{1-3}', ARRAY[1, NULL]);
SELECT split('{1-3}', array_fill(1::float8, ARRAY[1001]));
SELECT dedupe(ARRAY[['{1}', '{2}'], ['{3}', '{4}']]::audience[]);
-- NULL arguments give NULL (STRICT)
SELECT sample(NULL, 1), split('{1}', NULL), dedupe(NULL);
