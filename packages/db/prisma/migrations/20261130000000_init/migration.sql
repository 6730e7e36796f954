-- CreateEnum
CREATE TYPE "job_status" AS ENUM ('pending', 'processing', 'completed', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "worker_status" AS ENUM ('online', 'offline');

-- CreateEnum
CREATE TYPE "agent_status" AS ENUM ('idle', 'active', 'error', 'disabled');

-- CreateEnum
CREATE TYPE "log_level" AS ENUM ('debug', 'info', 'warn', 'error');

-- CreateEnum
CREATE TYPE "severity" AS ENUM ('info', 'warning', 'critical');

-- CreateTable
CREATE TABLE "jobs" (
    "id" UUID NOT NULL,
    "queue" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "status" "job_status" NOT NULL DEFAULT 'pending',
    "user_id" UUID,
    "agent" TEXT,
    "worker_id" UUID,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "progress" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "duration_ms" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "workers" (
    "id" UUID NOT NULL,
    "hostname" TEXT NOT NULL,
    "queues" TEXT[],
    "concurrency" INTEGER NOT NULL DEFAULT 1,
    "active_jobs" INTEGER NOT NULL DEFAULT 0,
    "status" "worker_status" NOT NULL DEFAULT 'online',
    "cpu" DOUBLE PRECISION,
    "memory_mb" INTEGER,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "workers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "agents" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "stage" INTEGER NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "status" "agent_status" NOT NULL DEFAULT 'idle',
    "jobs_processed" INTEGER NOT NULL DEFAULT 0,
    "jobs_failed" INTEGER NOT NULL DEFAULT 0,
    "avg_duration_ms" INTEGER,
    "last_active_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "agents_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "queues" (
    "name" TEXT NOT NULL,
    "pending_threshold" INTEGER NOT NULL DEFAULT 1000,
    "min_workers" INTEGER NOT NULL DEFAULT 1,
    "paused" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "queues_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "log_entries" (
    "id" UUID NOT NULL,
    "level" "log_level" NOT NULL,
    "source" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "job_id" UUID,
    "context" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "log_entries_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "services" (
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "replicas" INTEGER NOT NULL DEFAULT 1,
    "version" TEXT NOT NULL DEFAULT '0.0.0',
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "services_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "settings" (
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "settings_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "notifications" (
    "id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "severity" "severity" NOT NULL DEFAULT 'info',
    "title" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "event_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "read_at" TIMESTAMPTZ(3),

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "jobs_created_at_status_duration_idx" ON "jobs"("created_at", "status", "duration_ms");

-- CreateIndex
CREATE INDEX "jobs_status_finished_at_queue_idx" ON "jobs"("status", "finished_at", "queue");

-- CreateIndex
CREATE INDEX "jobs_status_queue_created_at_idx" ON "jobs"("status", "queue", "created_at");

-- CreateIndex
CREATE INDEX "jobs_user_id_created_at_idx" ON "jobs"("user_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "workers_status_last_heartbeat_at_idx" ON "workers"("status", "last_heartbeat_at" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "agents_name_key" ON "agents"("name");

-- CreateIndex
CREATE UNIQUE INDEX "agents_stage_key" ON "agents"("stage");

-- CreateIndex
CREATE INDEX "log_entries_created_at_idx" ON "log_entries"("created_at" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "notifications_event_id_key" ON "notifications"("event_id");

-- CreateIndex
CREATE INDEX "notifications_created_at_idx" ON "notifications"("created_at" DESC);

-- Hand-written below this line: SQL that schema.prisma cannot express. Every object here is listed
-- in test/schema-agreement.test.ts as a documented SQL-only extra.

-- The dispatcher and the snapshot's queue section scan only live jobs by queue; this keeps that
-- scan proportional to the few hundred live jobs, not to the whole history.
CREATE INDEX "jobs_active_queue_idx" ON "jobs"("queue", "status", "created_at") WHERE "status" IN ('pending', 'processing');
