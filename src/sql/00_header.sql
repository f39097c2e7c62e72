-- segment: customer segmentation inside PostgreSQL.
-- This script is assembled from src/sql/*.sql, one file per feature.

\echo Use "CREATE EXTENSION segment" to load this file. \quit
