-- The job search's text index, one per status (issue 11): the search reads each status apart
-- (services/api/src/job-search.ts), and a text is often on one status only — an error text on
-- failed jobs. With one index over every status, "completed jobs mentioning timeout" had to fetch
-- every failed job mentioning it to see its status (19,000 rows, 40–90 ms on 1,000,000 jobs);
-- with one per status the completed jobs' index answers that nothing matches.
--
-- What it costs the dispatcher: nothing more. A row version goes into the one index whose status
-- it has, as it went into the one index before; the entries are the same and so is their total.
-- A status added to `job_status` needs its index here too (the plans test EXPLAINs each status).
--
-- Partial, so SQL only: listed in test/schema-agreement.test.ts as a documented SQL-only extra.

DROP INDEX "jobs_search_text_idx";

CREATE INDEX "jobs_search_text_pending_idx" ON "jobs" USING gin ("type" gin_trgm_ops, "error" gin_trgm_ops) WHERE "status" = 'pending';
CREATE INDEX "jobs_search_text_processing_idx" ON "jobs" USING gin ("type" gin_trgm_ops, "error" gin_trgm_ops) WHERE "status" = 'processing';
CREATE INDEX "jobs_search_text_completed_idx" ON "jobs" USING gin ("type" gin_trgm_ops, "error" gin_trgm_ops) WHERE "status" = 'completed';
CREATE INDEX "jobs_search_text_failed_idx" ON "jobs" USING gin ("type" gin_trgm_ops, "error" gin_trgm_ops) WHERE "status" = 'failed';
CREATE INDEX "jobs_search_text_cancelled_idx" ON "jobs" USING gin ("type" gin_trgm_ops, "error" gin_trgm_ops) WHERE "status" = 'cancelled';
