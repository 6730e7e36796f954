-- Rollups of the jobs table: the counts the snapshot shows over time windows (jobs per minute and
-- per hour, by status; finished per hour and queue; the duration histogram behind p95), kept
-- current by triggers in the same transaction as every write to `jobs`.
--
-- Why: the snapshot is rebuilt after every batch of events, and each rebuild used to aggregate
-- the last 24 hours of `jobs` — a scan that grows with the job rate (28 M rows a day at 330
-- jobs/s) and, right after writes, cannot stay index-only. Reading these tables costs at most a
-- few hundred rows whatever the rate. Triggers rather than the dispatcher's own SQL, so no
-- writer of `jobs` (the seeder, an admin action, a manual fix) can leave them out of step;
-- `packages/db/test/rollups.test.ts` checks them against a recount of `jobs`.

-- CreateTable
CREATE TABLE "job_created_minutes" (
    "minute" TIMESTAMPTZ(3) NOT NULL,
    "status" "job_status" NOT NULL,
    "jobs" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "job_created_minutes_pkey" PRIMARY KEY ("minute","status")
);

-- CreateTable
CREATE TABLE "job_created_hours" (
    "hour" TIMESTAMPTZ(3) NOT NULL,
    "status" "job_status" NOT NULL,
    "jobs" INTEGER NOT NULL DEFAULT 0,
    "duration_sum" BIGINT NOT NULL DEFAULT 0,
    "durations" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "job_created_hours_pkey" PRIMARY KEY ("hour","status")
);

-- CreateTable
CREATE TABLE "job_finished_hours" (
    "hour" TIMESTAMPTZ(3) NOT NULL,
    "queue" TEXT NOT NULL,
    "status" "job_status" NOT NULL,
    "jobs" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "job_finished_hours_pkey" PRIMARY KEY ("hour","queue","status")
);

-- CreateTable
CREATE TABLE "job_duration_hours" (
    "hour" TIMESTAMPTZ(3) NOT NULL,
    "bucket" SMALLINT NOT NULL,
    "jobs" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "job_duration_hours_pkey" PRIMARY KEY ("hour","bucket")
);

-- Hand-written below this line: SQL that schema.prisma cannot express (a type, functions and
-- triggers; the schema-agreement test compares tables, columns, indexes and enums only).

-- The snapshot's "awaiting action" lists the oldest pending jobs across queues; without this the
-- only ordered path walks created_at from the start of history (3 ms on 200,000 jobs, growing).
CREATE INDEX "jobs_pending_created_at_idx" ON "jobs"("created_at") WHERE "status" = 'pending';

-- Histogram bucket of a duration: buckets grow by 5 %, so a percentile read from them is within
-- 2.5 % of the exact one (bucket b holds durations in [1.05^b, 1.05^(b+1)) ms; 0 holds ≤ 1 ms).
-- The collector reads a bucket back as its geometric middle, 1.05^(b + 0.5).
CREATE FUNCTION ssot_duration_bucket(duration_ms int) RETURNS smallint LANGUAGE sql IMMUTABLE AS $$
  SELECT floor(ln(greatest(duration_ms, 1)) / ln(1.05))::smallint
$$;

-- One job row's contribution to the rollups, +1 for a row written, -1 for the row it replaced.
CREATE TYPE ssot_job_delta AS (
  created_at timestamptz,
  status job_status,
  queue text,
  finished_at timestamptz,
  duration_ms int,
  sign int
);

-- Applies the deltas of one statement. Every upsert runs in key order, so concurrent writers
-- lock the shared rows (the current minute and hour) in the same order. Minute rows older than
-- two days are dropped (only the last hour is shown); hour rows are history and stay.
CREATE FUNCTION ssot_apply_job_deltas(deltas ssot_job_delta[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_created_minutes AS r (minute, status, jobs)
  SELECT date_trunc('minute', d.created_at), d.status, sum(d.sign)
  FROM unnest(deltas) AS d
  WHERE d.created_at >= now() - interval '2 days'
  GROUP BY 1, 2
  HAVING sum(d.sign) <> 0
  ORDER BY 1, 2
  ON CONFLICT (minute, status) DO UPDATE SET jobs = r.jobs + EXCLUDED.jobs;

  INSERT INTO job_created_hours AS r (hour, status, jobs, duration_sum, durations)
  SELECT date_trunc('hour', d.created_at), d.status, sum(d.sign),
         coalesce(sum(d.sign * d.duration_ms::bigint), 0), coalesce(sum(d.sign) FILTER (WHERE d.duration_ms IS NOT NULL), 0)
  FROM unnest(deltas) AS d
  GROUP BY 1, 2
  HAVING sum(d.sign) <> 0 OR coalesce(sum(d.sign * d.duration_ms::bigint), 0) <> 0
      OR coalesce(sum(d.sign) FILTER (WHERE d.duration_ms IS NOT NULL), 0) <> 0
  ORDER BY 1, 2
  ON CONFLICT (hour, status) DO UPDATE SET
    jobs = r.jobs + EXCLUDED.jobs,
    duration_sum = r.duration_sum + EXCLUDED.duration_sum,
    durations = r.durations + EXCLUDED.durations;

  INSERT INTO job_finished_hours AS r (hour, queue, status, jobs)
  SELECT date_trunc('hour', d.finished_at), d.queue, d.status, sum(d.sign)
  FROM unnest(deltas) AS d
  WHERE d.finished_at IS NOT NULL
  GROUP BY 1, 2, 3
  HAVING sum(d.sign) <> 0
  ORDER BY 1, 2, 3
  ON CONFLICT (hour, queue, status) DO UPDATE SET jobs = r.jobs + EXCLUDED.jobs;

  INSERT INTO job_duration_hours AS r (hour, bucket, jobs)
  SELECT date_trunc('hour', d.created_at), ssot_duration_bucket(d.duration_ms), sum(d.sign)
  FROM unnest(deltas) AS d
  WHERE d.status = 'completed' AND d.duration_ms IS NOT NULL
  GROUP BY 1, 2
  HAVING sum(d.sign) <> 0
  ORDER BY 1, 2
  ON CONFLICT (hour, bucket) DO UPDATE SET jobs = r.jobs + EXCLUDED.jobs;

  DELETE FROM job_created_minutes WHERE minute < now() - interval '2 days';
END;
$$;

-- Statement-level triggers with transition tables: one call per statement, however many rows.
-- An UPDATE that moves no counted column (progress, worker, attempts) nets to nothing.
CREATE FUNCTION ssot_jobs_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  deltas ssot_job_delta[] := '{}';
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    deltas := deltas || ARRAY(SELECT ROW(n.created_at, n.status, n.queue, n.finished_at, n.duration_ms, 1)::ssot_job_delta FROM new_rows n);
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    deltas := deltas || ARRAY(SELECT ROW(o.created_at, o.status, o.queue, o.finished_at, o.duration_ms, -1)::ssot_job_delta FROM old_rows o);
  END IF;
  IF cardinality(deltas) > 0 THEN
    PERFORM ssot_apply_job_deltas(deltas);
  END IF;
  RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_rollup_insert AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ssot_jobs_rollup();
CREATE TRIGGER jobs_rollup_update AFTER UPDATE ON jobs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ssot_jobs_rollup();
CREATE TRIGGER jobs_rollup_delete AFTER DELETE ON jobs
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ssot_jobs_rollup();

-- TRUNCATE fires no row or statement trigger above: the rollups are emptied with the table.
CREATE FUNCTION ssot_jobs_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE job_created_minutes, job_created_hours, job_finished_hours, job_duration_hours;
  RETURN NULL;
END;
$$;
CREATE TRIGGER jobs_rollup_truncate AFTER TRUNCATE ON jobs FOR EACH STATEMENT EXECUTE FUNCTION ssot_jobs_rollup_truncate();

-- The jobs already there.
DO $$
BEGIN
  PERFORM ssot_apply_job_deltas(ARRAY(
    SELECT ROW(created_at, status, queue, finished_at, duration_ms, 1)::ssot_job_delta FROM jobs));
END;
$$;
