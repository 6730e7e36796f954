-- Job search and bulk commands (issue 11): `GET /api/admin/jobs` reads every filter in order from
-- an index, and `POST /api/admin/jobs/bulk` keeps its progress here, resumable by any api replica.
--
-- The search is split per status (services/api/src/job-search.ts): one part per status asked for
-- (all five when none is), each reading `status = s AND <filters> ORDER BY created_at DESC, id
-- DESC LIMIT n`, merged in order. So an index led by status serves a filter alone and with any
-- statuses, in order; the ties on created_at are sorted by id on the few rows that share one.
-- Reused as they are: jobs_status_queue_created_at_idx (queue), jobs_user_id_created_at_idx
-- (user_id), jobs_created_at_status_duration_idx and jobs_pending_created_at_idx (no filter,
-- from/to). New, below: one index per filter nothing served, and no more. Each is written on the
-- dispatcher's hot path (every job insert, and every update, since a job's status is indexed and
-- changes with nearly every event, so few updates are HOT): its cost is measured in BENCHMARKS.md.

-- CreateIndex
CREATE INDEX "jobs_status_created_at_idx" ON "jobs"("status", "created_at");

-- CreateIndex
CREATE INDEX "jobs_status_source_created_at_idx" ON "jobs"("status", "source", "created_at");

-- CreateTable
CREATE TABLE "bulk_commands" (
    "id" UUID NOT NULL,
    "action" "command_action" NOT NULL,
    "filter" JSONB NOT NULL,
    "requested_by" TEXT NOT NULL,
    "requested_at" TIMESTAMPTZ(3) NOT NULL,
    "matched" INTEGER NOT NULL,
    "queued" INTEGER NOT NULL DEFAULT 0,
    "skipped" INTEGER NOT NULL DEFAULT 0,
    "failed" INTEGER NOT NULL DEFAULT 0,
    "skipped_reasons" JSONB NOT NULL,
    "cursor_created_at" TIMESTAMPTZ(3),
    "cursor_id" TEXT,
    "unqueued" JSONB,
    "runner" TEXT,
    "lease_until" TIMESTAMPTZ(3),
    "runs" INTEGER NOT NULL DEFAULT 0,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "bulk_commands_pkey" PRIMARY KEY ("id")
);

-- AlterTable
ALTER TABLE "commands" ADD COLUMN "bulk_id" UUID;

-- CreateIndex
CREATE INDEX "commands_bulk_id_idx" ON "commands"("bulk_id");

-- AddForeignKey
ALTER TABLE "commands" ADD CONSTRAINT "commands_bulk_id_fkey" FOREIGN KEY ("bulk_id") REFERENCES "bulk_commands"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Hand-written below this line: SQL that schema.prisma cannot express. Every index here is listed
-- in test/schema-agreement.test.ts as a documented SQL-only extra.

-- Partial: a job without an agent, or not yet given to a worker (every pending job), costs these
-- two indexes nothing, and `agent = $1` / `worker_id = $1` imply the predicate.
CREATE INDEX "jobs_status_agent_created_at_idx" ON "jobs"("status", "agent", "created_at") WHERE "agent" IS NOT NULL;
CREATE INDEX "jobs_status_worker_id_created_at_idx" ON "jobs"("status", "worker_id", "created_at") WHERE "worker_id" IS NOT NULL;

-- `q`: text in type or error, case-insensitively (ILIKE '%…%'). pg_trgm is a trusted extension
-- (PostgreSQL 13+): a database owner may create it; the embedded PGlite loads its build of it.
-- One GIN index over both columns: `type ILIKE p OR error ILIKE p` is a BitmapOr over it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX "jobs_search_text_idx" ON "jobs" USING gin ("type" gin_trgm_ops, "error" gin_trgm_ops);

-- The bulk commands a runner may have to take over: not finished, oldest first.
CREATE INDEX "bulk_commands_running_idx" ON "bulk_commands"("requested_at") WHERE "finished_at" IS NULL;
