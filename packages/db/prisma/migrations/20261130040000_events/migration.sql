-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "last_event_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "processed_events" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "processed_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "processed_events_processed_at_idx" ON "processed_events"("processed_at");
