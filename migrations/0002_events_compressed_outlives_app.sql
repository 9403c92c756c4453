ALTER TABLE "events_compressed" DROP CONSTRAINT "events_compressed_app_name_applications_name_fk";
