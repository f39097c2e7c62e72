--------------------------------------------------------------------------
-- Scale-out over postgres_fdw shards (doc/scale-out.md)
--------------------------------------------------------------------------

-- NULL when rule evaluation scans the relation shard by shard (it is
-- partitioned, on customer_column when given, and every partition is a
-- postgres_fdw foreign table on a server with extensions 'segment'), else
-- the reason it does not.
CREATE FUNCTION @extschema@.shard_reason(relation regclass, customer_column name DEFAULT NULL)
RETURNS text
    AS 'MODULE_PATHNAME', 'segment_shard_reason' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.shard_reason(regclass, name) IS 'NULL when rules scan the relation shard by shard (postgres_fdw foreign partitions on servers with extensions ''segment''), else why not';

-- The customer table and every source: how many shards rules scan it on.
CREATE FUNCTION @extschema@.sharding()
RETURNS TABLE (name text, relation regclass, shards integer, reason text)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, @extschema@, pg_temp AS $$
    SELECT t.name, t.rel,
           CASE WHEN t.reason IS NULL
                THEN (SELECT count(*)::integer FROM pg_catalog.pg_inherits i WHERE i.inhparent = t.rel) ELSE 0 END,
           t.reason
    FROM (SELECT 'customer'::text AS name, r.rel, @extschema@.shard_reason(r.rel) AS reason, 0 AS o
          FROM @extschema@.customer_registry r
          UNION ALL
          SELECT s.name, s.rel, @extschema@.shard_reason(s.rel, s.customer_column), 1
          FROM @extschema@.sources s) t
    ORDER BY t.o, t.name
$$;
COMMENT ON FUNCTION @extschema@.sharding() IS 'the customer table and each source: the number of shards rules scan it on (0 and the reason when not sharded)';

-- One postgres_fdw foreign partition of a hash-partitioned table per
-- server, named <table>_<server>: partition i of n holds the rows whose
-- key hashes to remainder i - 1 modulo n.  The remote table is the same
-- schema and name on every shard unless given.  Runs as its caller (who
-- needs CREATE on the schema and USAGE on the servers).
CREATE FUNCTION @extschema@.create_foreign_partitions(parent regclass, servers name[],
                                                      remote_schema name DEFAULT NULL,
                                                      remote_table name DEFAULT NULL)
RETURNS SETOF regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, @extschema@, pg_temp AS $$
DECLARE
    n integer := pg_catalog.cardinality(servers);
    nsp name;
    rel name;
    part regclass;
BEGIN
    IF parent IS NULL THEN
        RAISE EXCEPTION 'parent must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF n IS NULL OR n = 0 OR pg_catalog.array_position(servers, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'servers must be a non-empty array without NULLs' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_partitioned_table p WHERE p.partrelid = parent AND p.partstrat = 'h') THEN
        RAISE EXCEPTION 'table % is not partitioned by hash', parent USING ERRCODE = 'wrong_object_type',
            HINT = 'Create it with PARTITION BY HASH (customer column).';
    END IF;
    SELECT c.relname, ns.nspname INTO rel, nsp
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace WHERE c.oid = parent;
    FOR i IN 1 .. n LOOP
        EXECUTE pg_catalog.format('CREATE FOREIGN TABLE %I.%I PARTITION OF %s FOR VALUES WITH (MODULUS %s, REMAINDER %s) '
                                  'SERVER %I OPTIONS (schema_name %L, table_name %L)',
                                  nsp, rel || '_' || servers[i], parent, n, i - 1, servers[i],
                                  coalesce(remote_schema, nsp), coalesce(remote_table, rel));
        part := pg_catalog.format('%I.%I', nsp, rel || '_' || servers[i])::regclass;
        RETURN NEXT part;
    END LOOP;
END $$;
COMMENT ON FUNCTION @extschema@.create_foreign_partitions(regclass, name[], name, name) IS 'creates one postgres_fdw foreign partition of a hash-partitioned table per server (<table>_<server>)';
