DROP INDEX "idx_applications_status";--> statement-breakpoint
DROP INDEX "idx_applications_mode";--> statement-breakpoint
DROP INDEX "idx_applications_spec_image";--> statement-breakpoint
CREATE INDEX "idx_applications_labels" ON "applications" USING gin (("spec"->'metadata'->'labels') jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "idx_applications_status" ON "applications" USING btree ("status","name");--> statement-breakpoint
CREATE INDEX "idx_applications_mode" ON "applications" USING btree ("mode","name");--> statement-breakpoint
CREATE INDEX "idx_applications_spec_image" ON "applications" USING btree (("spec"->'spec'->>'image'),"name");