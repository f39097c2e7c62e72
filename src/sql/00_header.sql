-- segment: customer segmentation inside PostgreSQL.
-- This script is assembled from src/sql/*.sql, one file per feature.
-- Privileges (90_tenancy.sql): at the end, every SQL and PL/pgSQL function
-- gets search_path pinned and internal functions lose PUBLIC's EXECUTE; a
-- function that writes the catalogs is listed in _api_functions().

\echo Use "CREATE EXTENSION segment" to load this file. \quit
