-- The backlog by queue (pending and processing jobs) as a rollup of a few rows, instead of
-- counting the backlog itself on every dashboard and queue build and in every dispatcher batch.
-- The backlog is what grows in an incident (workers gone, jobs still arriving): with 1,000,000
-- jobs pending in one queue those counts cost PostgreSQL 23 ms per dashboard build, 65 ms per
-- queue build and 233 ms per batch of 35 events (against 0.75, 0.49 and ~6 ms), so the SSOT fell
-- behind exactly when operators needed it. Kept exact like the other job rollups
-- (20261130080000_job_rollups): by ssot_apply_job_deltas, in the same transaction as every write
-- to `jobs`.

-- CreateTable
CREATE TABLE "job_queue_counts" (
    "queue" TEXT NOT NULL,
    "status" "job_status" NOT NULL,
    "jobs" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "job_queue_counts_pkey" PRIMARY KEY ("queue","status")
);

-- Hand-written below this line: SQL that schema.prisma cannot express (functions; the
-- schema-agreement test compares tables, columns, indexes and enums only).

-- As in 20261130080000_job_rollups, with the backlog by queue first (in key order, as every
-- upsert here: concurrent writers lock shared rows in one order).
CREATE OR REPLACE FUNCTION ssot_apply_job_deltas(deltas ssot_job_delta[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_queue_counts AS r (queue, status, jobs)
  SELECT d.queue, d.status, sum(d.sign)
  FROM unnest(deltas) AS d
  WHERE d.status IN ('pending', 'processing')
  GROUP BY 1, 2
  HAVING sum(d.sign) <> 0
  ORDER BY 1, 2
  ON CONFLICT (queue, status) DO UPDATE SET jobs = r.jobs + EXCLUDED.jobs;

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

-- TRUNCATE fires no statement trigger with rows: the rollups are emptied with the table.
CREATE OR REPLACE FUNCTION ssot_jobs_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE job_created_minutes, job_created_hours, job_finished_hours, job_duration_hours, job_queue_counts;
  RETURN NULL;
END;
$$;

-- ssot_persist_events, as in 20261203000000_platform_ids_commands_alerts, with the pending count
-- of each queue its batch touched read from job_queue_counts.
CREATE OR REPLACE FUNCTION ssot_persist_events(batch jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  fresh text[];
  todo jsonb;
  step jsonb;
  transitions jsonb := '[]';
  pass int := 0;
  queue_levels jsonb;
BEGIN
  -- The rollups of this batch's job writes are applied below, once, in key order.
  PERFORM set_config('ssot.rollups_deferred', 'on', true);

  WITH marked AS (
    INSERT INTO processed_events (id, name, occurred_at)
    SELECT x.id, x.name, x.occurred_at
    FROM jsonb_to_recordset(coalesce(batch->'marks', '[]')) AS x(id text, name text, occurred_at timestamptz)
    ORDER BY x.id
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  )
  SELECT coalesce(array_agg(id), '{}') INTO fresh FROM marked;
  IF cardinality(fresh) = 0 THEN
    RETURN jsonb_build_object('applied', '[]'::jsonb, 'queues', '[]'::jsonb);
  END IF;

  -- Jobs: the targets with a new event, in id order (the lock order).
  SELECT coalesce(jsonb_agg(t ORDER BY t->>'id'), '[]') INTO todo
  FROM jsonb_array_elements(coalesce(batch->'jobs', '[]')) AS t
  WHERE ARRAY(SELECT jsonb_array_elements_text(t->'event_ids')) && fresh;

  WHILE jsonb_array_length(todo) > 0 LOOP
    pass := pass + 1;
    IF pass > 5 THEN
      RAISE EXCEPTION 'could not apply job events for %', (SELECT string_agg(t->>'id', ', ') FROM jsonb_array_elements(todo) t);
    END IF;
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(todo) AS x(
        id text, source text, queue text, type text, status job_status, user_id text, agent text, worker_id text,
        progress int, error text, duration_ms int, attempt int, created_at timestamptz, started_at timestamptz,
        finished_at timestamptz, last_event_at timestamptz)
    ),
    prior AS (
      SELECT j.id, j.status AS old_status, j.last_event_at AS old_event_at, j.attempts AS old_attempts,
             j.created_at AS old_created_at, j.queue AS old_queue, j.finished_at AS old_finished_at, j.duration_ms AS old_duration_ms
      FROM jobs j JOIN input i ON i.id = j.id ORDER BY j.id FOR UPDATE OF j
    ),
    inserted AS (
      INSERT INTO jobs (id, source, queue, type, status, user_id, agent, worker_id, attempts, progress, error, duration_ms,
                        created_at, started_at, finished_at, last_event_at, updated_at)
      SELECT id, coalesce(source, 'api'), queue, type, status, user_id, agent, worker_id,
             coalesce(attempt, CASE WHEN status IN ('pending', 'cancelled') THEN 0 ELSE 1 END),
             coalesce(progress, 0), error,
             coalesce(duration_ms, CASE WHEN finished_at IS NOT NULL AND started_at IS NOT NULL
                                        THEN (extract(epoch FROM finished_at - started_at) * 1000)::int END),
             coalesce(created_at, started_at, last_event_at), started_at, finished_at, last_event_at, now()
      FROM input
      ORDER BY id
      ON CONFLICT (id) DO NOTHING
      RETURNING id, status::text, NULL::text AS old_status, queue, agent, duration_ms, last_event_at AS at,
                created_at, finished_at, NULL::timestamptz AS old_created_at, NULL::text AS old_queue,
                NULL::timestamptz AS old_finished_at, NULL::int AS old_duration_ms
    ),
    updated AS (
      UPDATE jobs j SET
        status = CASE WHEN w.wins THEN i.status ELSE j.status END,
        attempts = CASE
          WHEN i.attempt IS NOT NULL THEN greatest(j.attempts, i.attempt)
          WHEN w.wins AND i.status = 'processing' AND j.status <> 'processing' THEN j.attempts + 1
          -- A job that ended without a processing event seen still ran once.
          WHEN w.wins AND i.status IN ('completed', 'failed') AND j.attempts = 0 THEN 1
          ELSE j.attempts END,
        progress = CASE WHEN w.wins THEN coalesce(i.progress, CASE WHEN w.restart THEN 0 ELSE j.progress END) ELSE j.progress END,
        error = CASE WHEN w.wins THEN i.error ELSE j.error END,
        finished_at = CASE WHEN w.wins THEN i.finished_at ELSE j.finished_at END,
        duration_ms = CASE WHEN w.wins THEN coalesce(i.duration_ms,
                        CASE WHEN i.finished_at IS NOT NULL THEN (extract(epoch FROM i.finished_at - coalesce(CASE WHEN w.restart THEN i.started_at END, j.started_at, i.started_at, i.finished_at)) * 1000)::int END)
                      ELSE j.duration_ms END,
        last_event_at = CASE WHEN w.wins THEN i.last_event_at ELSE j.last_event_at END,
        agent = CASE WHEN w.wins THEN coalesce(i.agent, j.agent) ELSE coalesce(j.agent, i.agent) END,
        worker_id = CASE WHEN w.wins THEN coalesce(i.worker_id, j.worker_id) ELSE coalesce(j.worker_id, i.worker_id) END,
        -- What the job is does not depend on the order events arrive in: fill what is unknown.
        user_id = coalesce(j.user_id, i.user_id),
        created_at = least(j.created_at, coalesce(i.created_at, j.created_at)),
        -- A new attempt starts again: its own start time.
        started_at = CASE WHEN w.restart THEN i.started_at
                          WHEN j.started_at IS NULL THEN i.started_at
                          ELSE least(j.started_at, coalesce(i.started_at, j.started_at)) END,
        updated_at = now()
      FROM input i
      JOIN prior p ON p.id = i.id
      CROSS JOIN LATERAL (SELECT
          ssot_event_wins(i.attempt, p.old_attempts, i.status, i.last_event_at, p.old_status, p.old_event_at) AS wins,
          coalesce(i.attempt > p.old_attempts, false) AS restart) w
      WHERE j.id = i.id
      RETURNING j.id, j.status::text, p.old_status::text, j.queue, j.agent, j.duration_ms, j.last_event_at AS at,
                j.created_at, j.finished_at, p.old_created_at, p.old_queue, p.old_finished_at, p.old_duration_ms
    )
    SELECT coalesce(jsonb_agg(to_jsonb(done)), '[]') INTO step
    FROM (SELECT * FROM inserted UNION ALL SELECT * FROM updated) AS done;

    transitions := transitions || step;
    IF jsonb_array_length(step) = jsonb_array_length(todo) THEN
      EXIT;
    END IF;
    SELECT coalesce(jsonb_agg(t), '[]') INTO todo
    FROM jsonb_array_elements(todo) AS t
    WHERE t->>'id' NOT IN (SELECT d->>'id' FROM jsonb_array_elements(step) AS d);
  END LOOP;

  -- The rollups of every job row written above (+1 the row now, -1 the row it replaced), once.
  PERFORM ssot_apply_job_deltas(ARRAY(
    SELECT ROW(t.created_at, t.status::job_status, t.queue, t.finished_at, t.duration_ms, 1)::ssot_job_delta
    FROM jsonb_to_recordset(transitions) AS t(status text, queue text, duration_ms int, created_at timestamptz, finished_at timestamptz)
    UNION ALL
    SELECT ROW(t.old_created_at, t.old_status::job_status, t.old_queue, t.old_finished_at, t.old_duration_ms, -1)::ssot_job_delta
    FROM jsonb_to_recordset(transitions) AS t(old_status text, old_queue text, old_duration_ms int, old_created_at timestamptz, old_finished_at timestamptz)
    WHERE t.old_status IS NOT NULL));

  -- Every new job event, as the job's history (oldest first when read by job_id, occurred_at).
  INSERT INTO job_events (event_id, job_id, name, occurred_at, source, attempt, payload)
  SELECT x.event_id, x.job_id, x.name, x.occurred_at, x.source, x.attempt, x.payload
  FROM jsonb_to_recordset(coalesce(batch->'job_events', '[]')) AS x(
    event_id text, job_id text, name text, occurred_at timestamptz, source text, attempt int, payload jsonb)
  WHERE x.event_id = ANY(fresh)
  ON CONFLICT (event_id) DO NOTHING;

  -- Agent counters move only for jobs that just became completed or failed (a retried job that
  -- fails again counts again: another run of the agent failed).
  PERFORM 1 FROM agents
  WHERE name IN (SELECT t->>'agent' FROM jsonb_array_elements(transitions) t)
  ORDER BY name FOR UPDATE;
  UPDATE agents a SET
    jobs_processed = a.jobs_processed + d.processed,
    jobs_failed = a.jobs_failed + d.failed,
    avg_duration_ms = CASE WHEN d.duration_n = 0 THEN a.avg_duration_ms
      ELSE round((coalesce(a.avg_duration_ms, 0)::numeric * a.jobs_processed + d.duration_sum)
                 / nullif(a.jobs_processed + d.duration_n, 0))::int END,
    last_active_at = greatest(a.last_active_at, d.last),
    updated_at = now()
  FROM (
    SELECT t.agent AS name,
           count(*) FILTER (WHERE t.status = 'completed')::int AS processed,
           count(*) FILTER (WHERE t.status = 'failed')::int AS failed,
           coalesce(sum(t.duration_ms) FILTER (WHERE t.status = 'completed'), 0)::bigint AS duration_sum,
           count(t.duration_ms) FILTER (WHERE t.status = 'completed')::int AS duration_n,
           max(t.at) AS last
    FROM jsonb_to_recordset(transitions) AS t(id text, status text, old_status text, queue text, agent text, duration_ms int, at timestamptz)
    WHERE t.agent IS NOT NULL
      AND t.status IN ('completed', 'failed')
      AND (t.old_status IS NULL OR t.old_status NOT IN ('completed', 'failed', 'cancelled'))
    GROUP BY t.agent
  ) AS d
  WHERE a.name = d.name;

  INSERT INTO workers (id, hostname, queues, concurrency, active_jobs, status, cpu, memory_mb, started_at, last_heartbeat_at)
  SELECT id, hostname, queues, concurrency, active_jobs, 'online', cpu, memory_mb, at, at
  FROM jsonb_to_recordset(coalesce(batch->'heartbeats', '[]')) AS x(
    id text, hostname text, queues text[], concurrency int, active_jobs int, cpu float8, memory_mb int, at timestamptz, event_id text)
  WHERE x.event_id = ANY(fresh)
  ORDER BY id
  ON CONFLICT (id) DO UPDATE SET
    hostname = EXCLUDED.hostname, queues = EXCLUDED.queues, concurrency = EXCLUDED.concurrency,
    active_jobs = EXCLUDED.active_jobs, status = 'online', cpu = EXCLUDED.cpu, memory_mb = EXCLUDED.memory_mb,
    last_heartbeat_at = EXCLUDED.last_heartbeat_at
  WHERE workers.last_heartbeat_at <= EXCLUDED.last_heartbeat_at;

  UPDATE workers w SET status = 'offline', active_jobs = 0
  FROM jsonb_to_recordset(coalesce(batch->'offline', '[]')) AS x(id text, at timestamptz, event_id text)
  WHERE w.id = x.id AND x.event_id = ANY(fresh) AND w.last_heartbeat_at <= x.at;

  INSERT INTO log_entries (id, level, source, message, job_id, context, created_at)
  SELECT id, level, source, message, job_id, context, created_at
  FROM jsonb_to_recordset(coalesce(batch->'logs', '[]')) AS x(
    id text, level log_level, source text, message text, job_id text, context jsonb, created_at timestamptz)
  WHERE x.id = ANY(fresh)
  ON CONFLICT (id) DO NOTHING;

  INSERT INTO notifications (id, kind, severity, title, message, event_id, created_at)
  SELECT gen_random_uuid(), kind, severity, title, message, event_id, created_at
  FROM jsonb_to_recordset(coalesce(batch->'notifications', '[]')) AS x(
    kind text, severity severity, title text, message text, event_id text, created_at timestamptz)
  WHERE x.event_id = ANY(fresh)
  ON CONFLICT (event_id) DO NOTHING;

  -- alert_ops: the webhook post commits with the event it reports; the dispatchers' delivery
  -- loop sends it, so a slow webhook never holds a batch.
  INSERT INTO alert_outbox (event_id, body)
  SELECT x.event_id, x.body
  FROM jsonb_to_recordset(coalesce(batch->'alerts', '[]')) AS x(event_id text, body jsonb)
  WHERE x.event_id = ANY(fresh)
  ON CONFLICT (event_id) DO NOTHING;

  -- What the platform did with a command: the first result counts.
  UPDATE commands c SET
    status = CASE WHEN x.ok THEN 'succeeded'::command_status ELSE 'failed'::command_status END,
    error = x.error,
    completed_at = x.at
  FROM jsonb_to_recordset(coalesce(batch->'command_results', '[]')) AS x(command_id uuid, ok boolean, error text, at timestamptz, event_id text)
  WHERE c.id = x.command_id AND x.event_id = ANY(fresh) AND c.status = 'requested';

  WITH touched AS (
    SELECT DISTINCT t->>'queue' AS queue FROM jsonb_array_elements(transitions) t
  ),
  fallback AS (
    SELECT (value #>> '{}')::int AS threshold FROM settings
    WHERE key = 'queue.default_pending_threshold' AND jsonb_typeof(value) = 'number'
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'queue', touched.queue,
           'pending', coalesce((SELECT c.jobs FROM job_queue_counts c WHERE c.queue = touched.queue AND c.status = 'pending'), 0),
           'threshold', coalesce(q.pending_threshold, (SELECT threshold FROM fallback), 1000))), '[]')
  INTO queue_levels
  FROM touched LEFT JOIN queues q ON q.name = touched.queue;

  RETURN jsonb_build_object('applied', to_jsonb(fresh), 'queues', queue_levels);
END;
$$;

-- The backlog already there, counted with writers to `jobs` locked out: whatever the new
-- ssot_apply_job_deltas added before the lock is replaced by the count, and every write after it
-- adds to the count (whether or not the tool applying this file wraps it in a transaction).
DO $$
BEGIN
  LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE;
  DELETE FROM job_queue_counts;
  INSERT INTO job_queue_counts (queue, status, jobs)
  SELECT queue, status, count(*) FROM jobs WHERE status IN ('pending', 'processing') GROUP BY 1, 2;
END;
$$;
