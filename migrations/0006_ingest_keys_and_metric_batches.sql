CREATE TABLE "metric_batches" (
	"app_name" varchar(253) NOT NULL,
	"idempotency_key" varchar(255) NOT NULL,
	"body_hash" varchar(64) NOT NULL,
	"accepted" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "metric_batches_app_name_idempotency_key_pk" PRIMARY KEY("app_name","idempotency_key")
);
--> statement-breakpoint
ALTER TABLE "api_keys" DROP CONSTRAINT "valid_scope";--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "app_name" varchar(253);--> statement-breakpoint
ALTER TABLE "metric_batches" ADD CONSTRAINT "metric_batches_app_name_applications_name_fk" FOREIGN KEY ("app_name") REFERENCES "public"."applications"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_metric_batches_created_at" ON "metric_batches" USING btree ("created_at");--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_app_name_applications_name_fk" FOREIGN KEY ("app_name") REFERENCES "public"."applications"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_api_keys_app_name" ON "api_keys" USING btree ("app_name") WHERE "api_keys"."app_name" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "ingest_key_has_app" CHECK (("api_keys"."scope" = 'ingest') = ("api_keys"."app_name" IS NOT NULL));--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "valid_scope" CHECK (scope IN ('read', 'write', 'admin', 'ingest'));