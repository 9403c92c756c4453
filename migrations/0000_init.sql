CREATE TABLE "api_keys" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" varchar(100) NOT NULL,
	"prefix" varchar(16) NOT NULL,
	"key_hash" varchar(64) NOT NULL,
	"scope" varchar(10) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_key_hash_key" UNIQUE("key_hash"),
	CONSTRAINT "valid_scope" CHECK (scope IN ('read', 'write', 'admin'))
);
--> statement-breakpoint
CREATE TABLE "applications" (
	"name" varchar(253) PRIMARY KEY NOT NULL,
	"spec" jsonb NOT NULL,
	"status" varchar(50) DEFAULT 'registered' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now(),
	"updated_at" timestamp with time zone DEFAULT now(),
	"replicas" integer DEFAULT 0,
	"desired_replicas" integer DEFAULT 0,
	"last_scaled_at" timestamp with time zone,
	"mode" varchar(20) DEFAULT 'auto',
	"revision" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "valid_status" CHECK (status IN ('registered', 'starting', 'running', 'stopping', 'stopped', 'error', 'updating')),
	CONSTRAINT "valid_mode" CHECK (mode IN ('auto', 'manual')),
	CONSTRAINT "valid_replicas" CHECK ("applications"."replicas" >= 0),
	CONSTRAINT "valid_desired_replicas" CHECK ("applications"."desired_replicas" >= 0),
	CONSTRAINT "valid_revision" CHECK ("applications"."revision" >= 1)
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" serial PRIMARY KEY NOT NULL,
	"event_type" varchar(50) NOT NULL,
	"event_category" varchar(30) DEFAULT 'application' NOT NULL,
	"app_name" varchar(253),
	"container_id" varchar(128),
	"message" text NOT NULL,
	"details" jsonb,
	"severity" varchar(20) DEFAULT 'info',
	"timestamp" timestamp with time zone DEFAULT now(),
	"source" varchar(50) DEFAULT 'controller',
	"node_id" varchar(100),
	CONSTRAINT "valid_event_type" CHECK (event_type IN ('registration', 'scaling', 'health', 'config', 'deployment', 'error', 'warning', 'network', 'resource', 'security')),
	CONSTRAINT "valid_event_category" CHECK (event_category IN ('application', 'system', 'cluster', 'security', 'performance')),
	CONSTRAINT "valid_severity" CHECK (severity IN ('debug', 'info', 'warning', 'error', 'critical'))
);
--> statement-breakpoint
CREATE TABLE "events_compressed" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"hour_bucket" timestamp with time zone NOT NULL,
	"app_name" varchar(253),
	"event_type" varchar(50) NOT NULL,
	"event_count" integer NOT NULL,
	"severity_counts" jsonb NOT NULL,
	"sample_messages" text[] NOT NULL,
	CONSTRAINT "events_compressed_bucket_key" UNIQUE NULLS NOT DISTINCT("hour_bucket","app_name","event_type"),
	CONSTRAINT "valid_compressed_event_type" CHECK (event_type IN ('registration', 'scaling', 'health', 'config', 'deployment', 'error', 'warning', 'network', 'resource', 'security'))
);
--> statement-breakpoint
CREATE TABLE "health_checks" (
	"id" serial PRIMARY KEY NOT NULL,
	"app_name" varchar(253) NOT NULL,
	"protocol" varchar(10) DEFAULT 'HTTP' NOT NULL,
	"path" varchar(500),
	"port" integer NOT NULL,
	"method" varchar(10) DEFAULT 'GET',
	"headers" jsonb,
	"body" text,
	"expected_status_codes" integer[] DEFAULT ARRAY[200],
	"initial_delay_seconds" integer DEFAULT 30,
	"period_seconds" integer DEFAULT 30,
	"timeout_seconds" integer DEFAULT 5,
	"failure_threshold" integer DEFAULT 3,
	"success_threshold" integer DEFAULT 1,
	"enabled" boolean DEFAULT true,
	"created_at" timestamp with time zone DEFAULT now(),
	"updated_at" timestamp with time zone DEFAULT now(),
	CONSTRAINT "health_checks_app_name_key" UNIQUE("app_name"),
	CONSTRAINT "valid_protocol" CHECK (protocol IN ('HTTP', 'TCP')),
	CONSTRAINT "valid_method" CHECK (method IN ('GET', 'POST', 'PUT', 'HEAD')),
	CONSTRAINT "valid_port" CHECK ("health_checks"."port" > 0 AND "health_checks"."port" <= 65535),
	CONSTRAINT "valid_timings" CHECK ("health_checks"."initial_delay_seconds" >= 0 AND "health_checks"."period_seconds" > 0 AND "health_checks"."timeout_seconds" > 0 AND "health_checks"."failure_threshold" > 0 AND "health_checks"."success_threshold" > 0)
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" serial PRIMARY KEY NOT NULL,
	"app_name" varchar(253) NOT NULL,
	"container_id" varchar(128) NOT NULL,
	"container_name" varchar(253) NOT NULL,
	"replica_index" integer NOT NULL,
	"ip" "inet" NOT NULL,
	"port" integer NOT NULL,
	"status" varchar(50) DEFAULT 'starting' NOT NULL,
	"health_status" varchar(20) DEFAULT 'unknown',
	"created_at" timestamp with time zone DEFAULT now(),
	"updated_at" timestamp with time zone DEFAULT now(),
	"started_at" timestamp with time zone,
	"last_health_check" timestamp with time zone,
	"failure_count" integer DEFAULT 0,
	"consecutive_failures" integer DEFAULT 0,
	"last_failure_at" timestamp with time zone,
	"cpu_percent" real DEFAULT 0,
	"memory_percent" real DEFAULT 0,
	"memory_usage_bytes" bigint DEFAULT 0,
	"revision" integer DEFAULT 1 NOT NULL,
	"consecutive_successes" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "instances_container_id_key" UNIQUE("container_id"),
	CONSTRAINT "instances_app_name_replica_index_key" UNIQUE("app_name","replica_index"),
	CONSTRAINT "valid_status" CHECK (status IN ('starting', 'running', 'stopping', 'stopped', 'error', 'draining')),
	CONSTRAINT "valid_health_status" CHECK (health_status IN ('unknown', 'healthy', 'unhealthy', 'starting')),
	CONSTRAINT "valid_replica_index" CHECK ("instances"."replica_index" >= 0),
	CONSTRAINT "valid_port" CHECK ("instances"."port" > 0 AND "instances"."port" <= 65535),
	CONSTRAINT "valid_failure_count" CHECK ("instances"."failure_count" >= 0),
	CONSTRAINT "valid_cpu_percent" CHECK ("instances"."cpu_percent" >= 0),
	CONSTRAINT "valid_memory_percent" CHECK ("instances"."memory_percent" >= 0 AND "instances"."memory_percent" <= 100)
);
--> statement-breakpoint
CREATE TABLE "job_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"job" varchar(50) NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"outcome" varchar(20) DEFAULT 'running' NOT NULL,
	"counts" jsonb,
	"error" text,
	CONSTRAINT "valid_job" CHECK (job IN ('scaler', 'health-prober', 'metric-collector', 'metric-rollup', 'cleanup')),
	CONSTRAINT "valid_outcome" CHECK (outcome IN ('running', 'succeeded', 'failed', 'skipped'))
);
--> statement-breakpoint
CREATE TABLE "metric_rollups" (
	"app_name" varchar(253) NOT NULL,
	"metric_type" varchar(50) NOT NULL,
	"width" varchar(4) NOT NULL,
	"bucket_start" timestamp with time zone NOT NULL,
	"count" integer NOT NULL,
	"sum" double precision NOT NULL,
	"min" double precision NOT NULL,
	"max" double precision NOT NULL,
	"p50" double precision NOT NULL,
	"p95" double precision NOT NULL,
	"p99" double precision NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "metric_rollups_pkey" PRIMARY KEY("app_name","metric_type","width","bucket_start"),
	CONSTRAINT "valid_rollup_metric_type" CHECK (metric_type IN ('cpu_percent', 'memory_percent', 'memory_bytes', 'rps', 'latency_p50', 'latency_p95', 'latency_p99', 'active_connections', 'error_rate', 'response_time', 'queue_length', 'disk_usage')),
	CONSTRAINT "valid_rollup_width" CHECK (width IN ('1m', '1h')),
	CONSTRAINT "valid_rollup_count" CHECK ("metric_rollups"."count" > 0)
);
--> statement-breakpoint
CREATE TABLE "metrics" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"app_name" varchar(253) NOT NULL,
	"metric_type" varchar(50) NOT NULL,
	"timestamp" timestamp with time zone DEFAULT now(),
	"value" real NOT NULL,
	"labels" jsonb,
	"unit" varchar(20),
	"aggregation_level" varchar(20) DEFAULT 'instance',
	"container_id" varchar(128),
	CONSTRAINT "valid_metric_type" CHECK (metric_type IN ('cpu_percent', 'memory_percent', 'memory_bytes', 'rps', 'latency_p50', 'latency_p95', 'latency_p99', 'active_connections', 'error_rate', 'response_time', 'queue_length', 'disk_usage')),
	CONSTRAINT "valid_aggregation_level" CHECK (aggregation_level IN ('instance', 'app', 'system'))
);
--> statement-breakpoint
CREATE TABLE "scaling_decisions" (
	"app_name" varchar(253) PRIMARY KEY NOT NULL,
	"evaluated_at" timestamp with time zone NOT NULL,
	"reason" varchar(40) NOT NULL,
	"current_replicas" integer NOT NULL,
	"desired_replicas" integer NOT NULL,
	"decision" jsonb NOT NULL,
	"recommendations" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "scaling_policies" (
	"app_name" varchar(253) PRIMARY KEY NOT NULL,
	"min_replicas" integer DEFAULT 1 NOT NULL,
	"max_replicas" integer DEFAULT 5 NOT NULL,
	"target_rps_per_replica" integer DEFAULT 50,
	"max_p95_latency_ms" integer DEFAULT 250,
	"max_cpu_percent" real DEFAULT 70,
	"max_memory_percent" real DEFAULT 75,
	"max_connections_per_replica" integer DEFAULT 100,
	"scale_out_threshold_pct" integer DEFAULT 80,
	"scale_in_threshold_pct" integer DEFAULT 30,
	"cooldown_seconds" integer DEFAULT 180,
	"evaluation_window_seconds" integer DEFAULT 60,
	"max_scale_out_step" integer DEFAULT 0,
	"max_scale_in_step" integer DEFAULT 1,
	"stabilization_window_seconds" integer DEFAULT 300,
	"cpu_weight" real DEFAULT 1,
	"memory_weight" real DEFAULT 1,
	"rps_weight" real DEFAULT 1,
	"latency_weight" real DEFAULT 1.5,
	"connection_weight" real DEFAULT 0.8,
	"created_at" timestamp with time zone DEFAULT now(),
	"updated_at" timestamp with time zone DEFAULT now(),
	CONSTRAINT "valid_replica_bounds" CHECK ("scaling_policies"."min_replicas" <= "scaling_policies"."max_replicas"),
	CONSTRAINT "valid_min_replicas" CHECK ("scaling_policies"."min_replicas" >= 0),
	CONSTRAINT "valid_max_replicas" CHECK ("scaling_policies"."max_replicas" >= 1),
	CONSTRAINT "valid_thresholds" CHECK ("scaling_policies"."scale_in_threshold_pct" < "scaling_policies"."scale_out_threshold_pct"),
	CONSTRAINT "valid_percentages" CHECK ("scaling_policies"."scale_out_threshold_pct" BETWEEN 1 AND 100 AND "scaling_policies"."scale_in_threshold_pct" BETWEEN 1 AND 100),
	CONSTRAINT "valid_weights" CHECK ("scaling_policies"."cpu_weight" >= 0 AND "scaling_policies"."memory_weight" >= 0 AND "scaling_policies"."rps_weight" >= 0 AND "scaling_policies"."latency_weight" >= 0 AND "scaling_policies"."connection_weight" >= 0)
);
--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_app_name_applications_name_fk" FOREIGN KEY ("app_name") REFERENCES "public"."applications"("name") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events_compressed" ADD CONSTRAINT "events_compressed_app_name_applications_name_fk" FOREIGN KEY ("app_name") REFERENCES "public"."applications"("name") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "health_checks" ADD CONSTRAINT "health_checks_app_name_applications_name_fk" FOREIGN KEY ("app_name") REFERENCES "public"."applications"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_app_name_applications_name_fk" FOREIGN KEY ("app_name") REFERENCES "public"."applications"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "metric_rollups" ADD CONSTRAINT "metric_rollups_app_name_applications_name_fk" FOREIGN KEY ("app_name") REFERENCES "public"."applications"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "metrics" ADD CONSTRAINT "metrics_app_name_applications_name_fk" FOREIGN KEY ("app_name") REFERENCES "public"."applications"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scaling_decisions" ADD CONSTRAINT "scaling_decisions_app_name_applications_name_fk" FOREIGN KEY ("app_name") REFERENCES "public"."applications"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "scaling_policies" ADD CONSTRAINT "scaling_policies_app_name_applications_name_fk" FOREIGN KEY ("app_name") REFERENCES "public"."applications"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_applications_status" ON "applications" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_applications_mode" ON "applications" USING btree ("mode");--> statement-breakpoint
CREATE INDEX "idx_applications_updated_at" ON "applications" USING btree ("updated_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_applications_spec_image" ON "applications" USING btree (("spec"->'spec'->>'image'));--> statement-breakpoint
CREATE INDEX "idx_applications_active" ON "applications" USING btree ("name","status","updated_at") WHERE "applications"."status" IN ('running', 'starting', 'updating');--> statement-breakpoint
CREATE INDEX "idx_events_app_name_timestamp" ON "events" USING btree ("app_name","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_events_type_timestamp" ON "events" USING btree ("event_type","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_events_timestamp" ON "events" USING btree ("timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_events_severity" ON "events" USING btree ("severity","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_events_category" ON "events" USING btree ("event_category","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_events_container" ON "events" USING btree ("container_id","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_events_app_type_severity" ON "events" USING btree ("app_name","event_type","severity","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_events_recent" ON "events" USING brin ("timestamp");--> statement-breakpoint
CREATE INDEX "idx_events_compressed_app_hour" ON "events_compressed" USING btree ("app_name","hour_bucket" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_health_checks_app_name" ON "health_checks" USING btree ("app_name");--> statement-breakpoint
CREATE INDEX "idx_health_checks_enabled" ON "health_checks" USING btree ("enabled");--> statement-breakpoint
CREATE INDEX "idx_instances_app_name" ON "instances" USING btree ("app_name");--> statement-breakpoint
CREATE INDEX "idx_instances_status" ON "instances" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_instances_health_status" ON "instances" USING btree ("health_status");--> statement-breakpoint
CREATE INDEX "idx_instances_container_id" ON "instances" USING btree ("container_id");--> statement-breakpoint
CREATE INDEX "idx_instances_updated_at" ON "instances" USING btree ("updated_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_instances_app_status" ON "instances" USING btree ("app_name","status");--> statement-breakpoint
CREATE INDEX "idx_instances_health_check" ON "instances" USING btree ("last_health_check" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_instances_app_status_health" ON "instances" USING btree ("app_name","status","health_status");--> statement-breakpoint
CREATE INDEX "idx_instances_active" ON "instances" USING btree ("app_name","status","health_status","updated_at") WHERE "instances"."status" IN ('running', 'starting');--> statement-breakpoint
CREATE INDEX "idx_job_runs_job_started" ON "job_runs" USING btree ("job","started_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_metric_rollups_width_bucket" ON "metric_rollups" USING btree ("width","bucket_start");--> statement-breakpoint
CREATE INDEX "idx_metrics_app_timestamp" ON "metrics" USING btree ("app_name","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_metrics_type_timestamp" ON "metrics" USING btree ("metric_type","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_metrics_timestamp" ON "metrics" USING btree ("timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_metrics_app_type_time" ON "metrics" USING btree ("app_name","metric_type","timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_scaling_policies_updated_at" ON "scaling_policies" USING btree ("updated_at" DESC NULLS LAST);