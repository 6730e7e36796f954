-- The dispatcher's persist step as ONE statement: `SELECT ssot_persist_events($1)`.
--
-- Why a function: the dispatcher used to run the same statements as an interactive transaction,
-- one network round trip each, and its connection sat `idle in transaction` between them (22 % of
-- the time under load) while holding the row locks other dispatchers waited for. Here the whole
-- batch runs inside the server, atomically, in a few milliseconds, one batch at a time (an
-- advisory lock), with row locks in key order. The caller (services/dispatcher/src/persist.ts)
-- folds each job's events and shapes the rows; this function decides what is new and applies it.
--
-- Input, one jsonb object (every list may be absent or empty):
--   marks          [{id, name, occurred_at}]      every event of the batch
--   jobs           [{id, queue, …, event_ids}]    one folded target per job (jobs-fold.ts)
--   heartbeats     [{id, …, at, event_id}]        the newest heartbeat per worker
--   offline        [{id, at, event_id}]
--   logs           [{id, level, source, message, job_id, context, created_at}]   id = event id
--   notifications  [{event_id, kind, severity, title, message, created_at}]
-- Output: {applied: [event ids never seen before], queues: [{queue, pending, threshold}]} — the
-- pending count and threshold of every queue a job of the batch is in.
--
-- Exactly once: only events not yet in processed_events have an effect, and the markers commit
-- with it. A job target is applied when at least one of its events is new; its other events, if
-- any, were applied before, and re-applying them changes nothing (transitions are monotonic,
-- counters move only on the transition itself, the other inserts are keyed by event id).

-- Job states only move forward (services/dispatcher/src/jobs-fold.ts, STATUS_RANK): a higher
-- state wins; within a state, the later event — or the same one again, so a redelivery is a no-op.
CREATE FUNCTION ssot_job_rank(status job_status) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE status WHEN 'pending' THEN 0 WHEN 'processing' THEN 1 ELSE 2 END
$$;

CREATE FUNCTION ssot_transition_wins(new_status job_status, new_at timestamptz, old_status job_status, old_at timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT ssot_job_rank(new_status) > ssot_job_rank(old_status)
      OR (ssot_job_rank(new_status) = ssot_job_rank(old_status) AND new_at >= coalesce(old_at, '-infinity'))
$$;

CREATE FUNCTION ssot_persist_events(batch jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  fresh uuid[];
  todo jsonb;
  step jsonb;
  transitions jsonb := '[]';
  pass int := 0;
  queue_levels jsonb;
BEGIN
  -- Batches commit one at a time, across every dispatcher replica: they share hot rows (the
  -- agents, the current hour's rollups), and taking those in one global order costs less than
  -- the deadlocks and lock waits two interleaved batches caused. A batch holds it for a few ms.
  PERFORM pg_advisory_xact_lock(hashtext('ssot_persist_events'));

  WITH marked AS (
    INSERT INTO processed_events (id, name, occurred_at)
    SELECT x.id, x.name, x.occurred_at
    FROM jsonb_to_recordset(coalesce(batch->'marks', '[]')) AS x(id uuid, name text, occurred_at timestamptz)
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
  WHERE ARRAY(SELECT jsonb_array_elements_text(t->'event_ids'))::uuid[] && fresh;

  -- A job another transaction is inserting right now conflicts with our insert (DO NOTHING) and
  -- is not yet visible to our update; once that transaction commits, the next pass updates it.
  WHILE jsonb_array_length(todo) > 0 LOOP
    pass := pass + 1;
    IF pass > 5 THEN
      RAISE EXCEPTION 'could not apply job events for %', (SELECT string_agg(t->>'id', ', ') FROM jsonb_array_elements(todo) t);
    END IF;
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(todo) AS x(
        id uuid, queue text, type text, status job_status, user_id uuid, agent text, worker_id uuid,
        progress int, error text, duration_ms int, created_at timestamptz, started_at timestamptz,
        finished_at timestamptz, last_event_at timestamptz)
    ),
    prior AS (
      SELECT j.id, j.status AS old_status, j.last_event_at AS old_event_at FROM jobs j JOIN input i ON i.id = j.id ORDER BY j.id FOR UPDATE OF j
    ),
    inserted AS (
      INSERT INTO jobs (id, queue, type, status, user_id, agent, worker_id, attempts, progress, error, duration_ms,
                        created_at, started_at, finished_at, last_event_at, updated_at)
      SELECT id, queue, type, status, user_id, agent, worker_id,
             CASE WHEN status = 'pending' THEN 0 ELSE 1 END,
             coalesce(progress, 0), error,
             coalesce(duration_ms, CASE WHEN finished_at IS NOT NULL AND started_at IS NOT NULL
                                        THEN (extract(epoch FROM finished_at - started_at) * 1000)::int END),
             coalesce(created_at, started_at, last_event_at), started_at, finished_at, last_event_at, now()
      FROM input
      ORDER BY id
      ON CONFLICT (id) DO NOTHING
      RETURNING id, status::text, NULL::text AS old_status, queue, agent, duration_ms, last_event_at AS at
    ),
    updated AS (
      UPDATE jobs j SET
        status = CASE WHEN w.wins THEN i.status ELSE j.status END,
        attempts = CASE WHEN w.wins AND i.status = 'processing' AND j.status <> 'processing' THEN j.attempts + 1 ELSE j.attempts END,
        progress = CASE WHEN w.wins THEN coalesce(i.progress, j.progress) ELSE j.progress END,
        error = CASE WHEN w.wins THEN i.error ELSE j.error END,
        finished_at = CASE WHEN w.wins THEN i.finished_at ELSE j.finished_at END,
        duration_ms = CASE WHEN w.wins THEN coalesce(i.duration_ms,
                        CASE WHEN i.finished_at IS NOT NULL THEN (extract(epoch FROM i.finished_at - coalesce(j.started_at, i.started_at, i.finished_at)) * 1000)::int END)
                      ELSE j.duration_ms END,
        last_event_at = CASE WHEN w.wins THEN i.last_event_at ELSE j.last_event_at END,
        agent = CASE WHEN w.wins THEN coalesce(i.agent, j.agent) ELSE coalesce(j.agent, i.agent) END,
        worker_id = CASE WHEN w.wins THEN coalesce(i.worker_id, j.worker_id) ELSE coalesce(j.worker_id, i.worker_id) END,
        -- What the job is does not depend on the order events arrive in: fill what is unknown.
        user_id = coalesce(j.user_id, i.user_id),
        created_at = least(j.created_at, coalesce(i.created_at, j.created_at)),
        started_at = CASE WHEN j.started_at IS NULL THEN i.started_at ELSE least(j.started_at, coalesce(i.started_at, j.started_at)) END,
        updated_at = now()
      FROM input i
      JOIN prior p ON p.id = i.id
      CROSS JOIN LATERAL (SELECT ssot_transition_wins(i.status, i.last_event_at, p.old_status, p.old_event_at) AS wins) w
      WHERE j.id = i.id
      RETURNING j.id, j.status::text, p.old_status::text, j.queue, j.agent, j.duration_ms, j.last_event_at AS at
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

  -- Agent counters move only for jobs that just became completed or failed. Rows locked in name
  -- order first, so concurrent batches queue up on them in the same order.
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
    FROM jsonb_to_recordset(transitions) AS t(id uuid, status text, old_status text, queue text, agent text, duration_ms int, at timestamptz)
    WHERE t.agent IS NOT NULL
      AND t.status IN ('completed', 'failed')
      AND (t.old_status IS NULL OR t.old_status NOT IN ('completed', 'failed', 'cancelled'))
    GROUP BY t.agent
  ) AS d
  WHERE a.name = d.name;

  -- Workers: the newest heartbeat wins; an offline announcement older than the last heartbeat is
  -- stale (the worker came back).
  INSERT INTO workers (id, hostname, queues, concurrency, active_jobs, status, cpu, memory_mb, started_at, last_heartbeat_at)
  SELECT id, hostname, queues, concurrency, active_jobs, 'online', cpu, memory_mb, at, at
  FROM jsonb_to_recordset(coalesce(batch->'heartbeats', '[]')) AS x(
    id uuid, hostname text, queues text[], concurrency int, active_jobs int, cpu float8, memory_mb int, at timestamptz, event_id uuid)
  WHERE x.event_id = ANY(fresh)
  ORDER BY id
  ON CONFLICT (id) DO UPDATE SET
    hostname = EXCLUDED.hostname, queues = EXCLUDED.queues, concurrency = EXCLUDED.concurrency,
    active_jobs = EXCLUDED.active_jobs, status = 'online', cpu = EXCLUDED.cpu, memory_mb = EXCLUDED.memory_mb,
    last_heartbeat_at = EXCLUDED.last_heartbeat_at
  WHERE workers.last_heartbeat_at <= EXCLUDED.last_heartbeat_at;

  UPDATE workers w SET status = 'offline', active_jobs = 0
  FROM jsonb_to_recordset(coalesce(batch->'offline', '[]')) AS x(id uuid, at timestamptz, event_id uuid)
  WHERE w.id = x.id AND x.event_id = ANY(fresh) AND w.last_heartbeat_at <= x.at;

  -- The durable history operators read in `logs`: the line takes the event's id.
  INSERT INTO log_entries (id, level, source, message, job_id, context, created_at)
  SELECT id, level, source, message, job_id, context, created_at
  FROM jsonb_to_recordset(coalesce(batch->'logs', '[]')) AS x(
    id uuid, level log_level, source text, message text, job_id uuid, context jsonb, created_at timestamptz)
  WHERE x.id = ANY(fresh)
  ON CONFLICT (id) DO NOTHING;

  -- notify_admin of a failed job commits with the failure it reports (one per event at most).
  INSERT INTO notifications (id, kind, severity, title, message, event_id, created_at)
  SELECT gen_random_uuid(), kind, severity, title, message, event_id, created_at
  FROM jsonb_to_recordset(coalesce(batch->'notifications', '[]')) AS x(
    kind text, severity severity, title text, message text, event_id uuid, created_at timestamptz)
  WHERE x.event_id = ANY(fresh)
  ON CONFLICT (event_id) DO NOTHING;

  -- Pending count and threshold of each queue the applied job events touched (the threshold
  -- check runs on them after the commit). The count is served by the partial index on active jobs.
  WITH touched AS (
    SELECT DISTINCT t->>'queue' AS queue FROM jsonb_array_elements(transitions) t
  ),
  fallback AS (
    SELECT (value #>> '{}')::int AS threshold FROM settings
    WHERE key = 'queue.default_pending_threshold' AND jsonb_typeof(value) = 'number'
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'queue', touched.queue,
           'pending', (SELECT count(*) FROM jobs WHERE status = 'pending' AND queue = touched.queue),
           'threshold', coalesce(q.pending_threshold, (SELECT threshold FROM fallback), 1000))), '[]')
  INTO queue_levels
  FROM touched LEFT JOIN queues q ON q.name = touched.queue;

  RETURN jsonb_build_object('applied', to_jsonb(fresh), 'queues', queue_levels);
END;
$$;
