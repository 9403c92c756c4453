-- Hand-written: what db/schema.ts cannot say in Drizzle.

-- The document's idx_metrics_app_type_recent has the predicate
-- `timestamp > NOW() - INTERVAL '24 hours'`, which PostgreSQL rejects: an index predicate
-- may only call IMMUTABLE functions, and NOW() is not. The predicate was after cheap reads
-- of recent samples per app and metric; a covering index (INCLUDE value) gives the
-- scaler's window aggregates index-only scans without a predicate that cannot exist.
CREATE INDEX IF NOT EXISTS "idx_metrics_app_type_recent"
  ON "metrics" USING btree ("app_name", "metric_type", "timestamp" DESC) INCLUDE ("value");
--> statement-breakpoint

-- The document's retention function, with its retention periods as parameters (the
-- document hard-codes them, and its Python builds intervals by string formatting; here
-- they are bound values). Defaults are the document's periods.
CREATE OR REPLACE FUNCTION cleanup_old_data(
  events_retention interval DEFAULT interval '30 days',
  instance_metrics_retention interval DEFAULT interval '7 days',
  app_metrics_retention interval DEFAULT interval '30 days',
  stopped_instances_retention interval DEFAULT interval '7 days'
)
RETURNS TABLE(table_name TEXT, deleted_count INTEGER) AS $$
BEGIN
  DELETE FROM events WHERE "timestamp" < NOW() - events_retention;
  GET DIAGNOSTICS deleted_count = ROW_COUNT;
  table_name := 'events';
  RETURN NEXT;

  DELETE FROM metrics
  WHERE "timestamp" < NOW() - instance_metrics_retention
    AND aggregation_level = 'instance';
  GET DIAGNOSTICS deleted_count = ROW_COUNT;
  table_name := 'metrics (instance)';
  RETURN NEXT;

  DELETE FROM metrics
  WHERE "timestamp" < NOW() - app_metrics_retention
    AND aggregation_level = 'app';
  GET DIAGNOSTICS deleted_count = ROW_COUNT;
  table_name := 'metrics (app)';
  RETURN NEXT;

  DELETE FROM instances
  WHERE status = 'stopped'
    AND updated_at < NOW() - stopped_instances_retention;
  GET DIAGNOSTICS deleted_count = ROW_COUNT;
  table_name := 'instances (stopped)';
  RETURN NEXT;
END;
$$ LANGUAGE plpgsql;
