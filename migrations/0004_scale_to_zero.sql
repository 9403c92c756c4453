ALTER TABLE "applications" DROP CONSTRAINT "valid_status";--> statement-breakpoint
ALTER TABLE "scaling_policies" ADD COLUMN "scale_to_zero_after_seconds" integer DEFAULT 300;--> statement-breakpoint
ALTER TABLE "applications" ADD CONSTRAINT "valid_status" CHECK (status IN ('registered', 'starting', 'running', 'stopping', 'stopped', 'error', 'updating', 'scaled_to_zero'));--> statement-breakpoint
ALTER TABLE "scaling_policies" ADD CONSTRAINT "valid_scale_to_zero_after" CHECK ("scaling_policies"."scale_to_zero_after_seconds" >= 0);