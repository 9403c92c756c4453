ALTER TABLE "applications" ADD COLUMN "last_woken_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "last_wake_seconds" real;