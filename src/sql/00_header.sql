-- segment: customer segmentation inside PostgreSQL.
-- This script is assembled from src/sql/*.sql, one file per feature, in
-- dependency order: what a part creates or validates now (tables, types,
-- SQL-language bodies) uses only earlier parts; PL/pgSQL bodies, resolved
-- when they first run, may call functions of later parts.
-- Privileges (90_tenancy.sql): at the end, every SQL and PL/pgSQL function
-- gets search_path pinned and internal functions lose PUBLIC's EXECUTE; a
-- function that writes the catalogs is listed in _api_functions().

\echo Use "CREATE EXTENSION segment" to load this file. \quit
