import type { AgentEvent } from '@agentos/contracts';
import type { PrismaClient } from '@agentos/db';
import { foldJobEvents, isJobEvent, type JobTarget } from './jobs-fold';

/** The interactive transaction client Prisma hands to `$transaction(fn)`. */
type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

/** What persisting a batch did, for the branches that run after the commit. */
export interface PersistResult {
  /** Ids of events whose effect this call wrote (the others were already processed). */
  applied: Set<string>;
  /** Queues whose pending count may have changed. */
  touchedQueues: Set<string>;
}

const rank = (column: string) => `(CASE ${column} WHEN 'pending' THEN 0 WHEN 'processing' THEN 1 ELSE 2 END)`;

/**
 * Writes the effect of a batch of events in ONE transaction, with a fixed number of statements
 * whatever the batch size (set-based SQL over `jsonb_to_recordset`):
 * - `processed_events` first: only events not seen before have an effect, and since the marker
 *   commits with the effect, a redelivered event has its effect exactly once;
 * - job transitions, monotonic (jobs-fold.ts): a lower state or an older event never overwrites;
 * - agent counters, from the transitions that actually happened;
 * - worker records from heartbeats (newest wins) and offline announcements;
 * - log entries for failures and alerts, and the notify_admin notification of a failed job.
 */
export async function persistBatch(prisma: PrismaClient, events: readonly AgentEvent[]): Promise<PersistResult> {
  return prisma.$transaction(
    async (tx) => {
      const marks = events.map((e) => ({ id: e.id, name: e.name, occurred_at: e.occurred_at }));
      const fresh = await tx.$queryRawUnsafe<{ id: string }[]>(
        `INSERT INTO processed_events (id, name, occurred_at)
         SELECT x.id, x.name, x.occurred_at FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, name text, occurred_at timestamptz)
         ON CONFLICT (id) DO NOTHING RETURNING id::text`,
        JSON.stringify(marks),
      );
      const applied = new Set(fresh.map((row) => row.id));
      const todo = events.filter((e) => applied.has(e.id));
      const touchedQueues = new Set<string>();
      if (todo.length === 0) return { applied, touchedQueues };

      const jobEvents = todo.filter(isJobEvent);
      if (jobEvents.length > 0) {
        const targets = foldJobEvents(jobEvents);
        for (const target of targets) touchedQueues.add(target.queue);
        await applyJobs(tx, targets);
      }
      await applyWorkers(tx, todo);
      await writeLogs(tx, todo);
      await writeFailureNotifications(tx, todo);
      return { applied, touchedQueues };
    },
    { timeout: 30_000, maxWait: 10_000 },
  );
}

async function applyJobs(tx: Tx, all: JobTarget[]): Promise<void> {
  let targets = all;
  const transitions: Transition[] = [];
  // A job another dispatcher is inserting right now conflicts with our insert (DO NOTHING) and is
  // not yet visible to our update; once its transaction commits, a second pass updates it.
  for (let pass = 0; pass < 5 && targets.length > 0; pass += 1) {
    const rows = await upsertJobs(tx, targets);
    transitions.push(...rows);
    const done = new Set(rows.map((row) => row.id));
    targets = targets.filter((t) => !done.has(t.id));
  }
  if (targets.length > 0) throw new Error(`could not apply job events for ${targets.map((t) => t.id).join(', ')}`);
  await countAgentTransitions(tx, transitions);
}

interface Transition {
  id: string;
  status: string;
  old_status: string | null;
  agent: string | null;
  duration_ms: number | null;
  at: Date;
}

function upsertJobs(tx: Tx, targets: JobTarget[]): Promise<Transition[]> {
  const wins = `(${rank('i.status')} > ${rank('j.status')} OR (${rank('i.status')} = ${rank('j.status')} AND i.last_event_at >= coalesce(j.last_event_at, '-infinity')))`;
  return tx.$queryRawUnsafe<Transition[]>(
    `WITH input AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(
         id uuid, queue text, type text, status job_status, user_id uuid, agent text, worker_id uuid,
         progress int, error text, duration_ms int, created_at timestamptz, started_at timestamptz,
         finished_at timestamptz, last_event_at timestamptz)
     ),
     -- Locked in id order, so two dispatchers touching the same jobs queue up instead of deadlocking.
     prior AS (SELECT j.id, j.status AS old_status FROM jobs j JOIN input i ON i.id = j.id ORDER BY j.id FOR UPDATE OF j),
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
       ON CONFLICT (id) DO NOTHING
       RETURNING id::text, status::text, NULL::text AS old_status, agent, duration_ms, last_event_at AS at
     ),
     updated AS (
       UPDATE jobs j SET
         status = CASE WHEN ${wins} THEN i.status ELSE j.status END,
         attempts = CASE WHEN ${wins} AND i.status = 'processing' AND j.status <> 'processing' THEN j.attempts + 1 ELSE j.attempts END,
         progress = CASE WHEN ${wins} THEN coalesce(i.progress, j.progress) ELSE j.progress END,
         error = CASE WHEN ${wins} THEN i.error ELSE j.error END,
         finished_at = CASE WHEN ${wins} THEN i.finished_at ELSE j.finished_at END,
         duration_ms = CASE WHEN ${wins} THEN coalesce(i.duration_ms,
                         CASE WHEN i.finished_at IS NOT NULL THEN (extract(epoch FROM i.finished_at - coalesce(j.started_at, i.started_at, i.finished_at)) * 1000)::int END)
                       ELSE j.duration_ms END,
         last_event_at = CASE WHEN ${wins} THEN i.last_event_at ELSE j.last_event_at END,
         agent = CASE WHEN ${wins} THEN coalesce(i.agent, j.agent) ELSE coalesce(j.agent, i.agent) END,
         worker_id = CASE WHEN ${wins} THEN coalesce(i.worker_id, j.worker_id) ELSE coalesce(j.worker_id, i.worker_id) END,
         -- What the job is does not depend on the order events arrive in: fill what is unknown.
         user_id = coalesce(j.user_id, i.user_id),
         created_at = least(j.created_at, coalesce(i.created_at, j.created_at)),
         started_at = CASE WHEN j.started_at IS NULL THEN i.started_at ELSE least(j.started_at, coalesce(i.started_at, j.started_at)) END,
         updated_at = now()
       FROM input i, prior p
       WHERE j.id = i.id AND p.id = i.id
       RETURNING j.id::text, j.status::text, p.old_status::text, j.agent, j.duration_ms, j.last_event_at AS at
     )
     SELECT * FROM inserted UNION ALL SELECT * FROM updated`,
    JSON.stringify(targets),
  );
}

/** Agent counters move only for jobs that just became completed or failed. */
async function countAgentTransitions(tx: Tx, transitions: Transition[]): Promise<void> {
  const perAgent = new Map<string, { processed: number; failed: number; durationSum: number; durationN: number; last: Date }>();
  for (const row of transitions) {
    const terminal = row.status === 'completed' || row.status === 'failed';
    const wasTerminal = row.old_status === 'completed' || row.old_status === 'failed' || row.old_status === 'cancelled';
    if (!terminal || wasTerminal || !row.agent) continue;
    const entry = perAgent.get(row.agent) ?? { processed: 0, failed: 0, durationSum: 0, durationN: 0, last: row.at };
    if (row.status === 'completed') {
      entry.processed += 1;
      if (row.duration_ms !== null) {
        entry.durationSum += row.duration_ms;
        entry.durationN += 1;
      }
    } else {
      entry.failed += 1;
    }
    if (row.at > entry.last) entry.last = row.at;
    perAgent.set(row.agent, entry);
  }
  if (perAgent.size === 0) return;
  await tx.$executeRawUnsafe(
    `UPDATE agents a SET
       jobs_processed = a.jobs_processed + d.processed,
       jobs_failed = a.jobs_failed + d.failed,
       avg_duration_ms = CASE WHEN d.duration_n = 0 THEN a.avg_duration_ms
         ELSE round((coalesce(a.avg_duration_ms, 0)::numeric * a.jobs_processed + d.duration_sum)
                    / nullif(a.jobs_processed + d.duration_n, 0))::int END,
       last_active_at = greatest(a.last_active_at, d.last),
       updated_at = now()
     FROM jsonb_to_recordset($1::jsonb) AS d(name text, processed int, failed int, duration_sum bigint, duration_n int, last timestamptz)
     WHERE a.name = d.name`,
    JSON.stringify([...perAgent].map(([name, e]) => ({ name, processed: e.processed, failed: e.failed, duration_sum: e.durationSum, duration_n: e.durationN, last: e.last }))),
  );
}

async function applyWorkers(tx: Tx, events: readonly AgentEvent[]): Promise<void> {
  // Newest heartbeat per worker in this batch.
  const beats = new Map<string, Extract<AgentEvent, { name: 'worker:heartbeat' }>>();
  const offline: { id: string; at: string }[] = [];
  for (const event of events) {
    if (event.name === 'worker:heartbeat') {
      const seen = beats.get(event.payload.worker_id);
      if (!seen || seen.occurred_at < event.occurred_at) beats.set(event.payload.worker_id, event);
    } else if (event.name === 'worker:offline') {
      offline.push({ id: event.payload.worker_id, at: event.occurred_at });
    }
  }
  if (beats.size > 0) {
    const rows = [...beats.values()].map((e) => ({
      id: e.payload.worker_id,
      hostname: e.payload.hostname ?? `worker-${e.payload.worker_id.slice(0, 8)}`,
      queues: e.payload.queues,
      concurrency: e.payload.concurrency,
      active_jobs: e.payload.active_jobs,
      cpu: e.payload.cpu ?? null,
      memory_mb: e.payload.memory_mb === undefined ? null : Math.round(e.payload.memory_mb),
      at: e.occurred_at,
    }));
    await tx.$executeRawUnsafe(
      `INSERT INTO workers (id, hostname, queues, concurrency, active_jobs, status, cpu, memory_mb, started_at, last_heartbeat_at)
       SELECT id, hostname, queues, concurrency, active_jobs, 'online', cpu, memory_mb, at, at
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, hostname text, queues text[], concurrency int, active_jobs int,
                                                cpu float8, memory_mb int, at timestamptz)
       ON CONFLICT (id) DO UPDATE SET
         hostname = EXCLUDED.hostname, queues = EXCLUDED.queues, concurrency = EXCLUDED.concurrency,
         active_jobs = EXCLUDED.active_jobs, status = 'online', cpu = EXCLUDED.cpu, memory_mb = EXCLUDED.memory_mb,
         last_heartbeat_at = EXCLUDED.last_heartbeat_at
       WHERE workers.last_heartbeat_at <= EXCLUDED.last_heartbeat_at`,
      JSON.stringify(rows),
    );
  }
  if (offline.length > 0) {
    // An offline announcement older than the worker's last heartbeat is stale: it came back.
    await tx.$executeRawUnsafe(
      `UPDATE workers w SET status = 'offline', active_jobs = 0
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, at timestamptz)
       WHERE w.id = x.id AND w.last_heartbeat_at <= x.at`,
      JSON.stringify(offline),
    );
  }
}

interface LogRow {
  id: string;
  level: 'info' | 'warn' | 'error';
  source: string;
  message: string;
  job_id: string | null;
  context: unknown;
  created_at: string;
}

/** The durable history operators read in `logs`: failures and alerts, one line per event. */
export function logLineFor(event: AgentEvent): LogRow | null {
  const base = { id: event.id, source: 'dispatcher', created_at: event.occurred_at, context: { event: event.name } };
  switch (event.name) {
    case 'job:failed':
      return { ...base, level: 'error', source: event.payload.queue, job_id: event.payload.job_id, message: `Job ${event.payload.job_id} (${event.payload.type}) failed: ${event.payload.error ?? 'no error given'}` };
    case 'worker:offline':
      return { ...base, level: 'warn', job_id: null, message: `Worker ${event.payload.worker_id} offline: ${event.payload.reason}` };
    case 'queue:threshold_warning':
      return { ...base, level: 'warn', job_id: null, message: `Queue ${event.payload.queue} has ${event.payload.pending} pending jobs (threshold ${event.payload.threshold})` };
    case 'system:health_check': {
      const down = Object.entries(event.payload.services).filter(([, status]) => status !== 'up').map(([name]) => name);
      return {
        ...base,
        level: down.length > 0 ? 'warn' : 'info',
        job_id: null,
        message: `Health check: ${down.length > 0 ? `${down.join(', ')} not up` : 'all services up'}; redis ${event.payload.redis_ms} ms, database ${event.payload.database_ms} ms`,
      };
    }
    default:
      return null;
  }
}

async function writeLogs(tx: Tx, events: readonly AgentEvent[]): Promise<void> {
  const rows = events.map(logLineFor).filter((row): row is LogRow => row !== null);
  if (rows.length === 0) return;
  // The log line takes the event's id: one line per event, whatever happens.
  await tx.$executeRawUnsafe(
    `INSERT INTO log_entries (id, level, source, message, job_id, context, created_at)
     SELECT id, level, source, message, job_id, context, created_at
     FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, level log_level, source text, message text, job_id uuid, context jsonb, created_at timestamptz)
     ON CONFLICT (id) DO NOTHING`,
    JSON.stringify(rows),
  );
}

/** notify_admin for job:failed: the notification commits with the failure it reports. */
async function writeFailureNotifications(tx: Tx, events: readonly AgentEvent[]): Promise<void> {
  const rows = events
    .filter((e): e is Extract<AgentEvent, { name: 'job:failed' }> => e.name === 'job:failed')
    .map((e) => ({
      event_id: e.id,
      title: `Job failed in ${e.payload.queue}`,
      message: `${e.payload.type} ${e.payload.job_id}: ${e.payload.error ?? 'no error given'}`,
      created_at: e.occurred_at,
    }));
  if (rows.length === 0) return;
  await insertNotifications(tx, rows.map((row) => ({ ...row, kind: 'notify_admin', severity: 'critical' })));
}

export interface NotificationRow {
  event_id: string;
  kind: string;
  severity: 'info' | 'warning' | 'critical';
  title: string;
  message: string;
  created_at: string;
}

/** One notification per event at most (`notifications.event_id` is unique). */
export async function insertNotifications(db: Pick<Tx, '$executeRawUnsafe'>, rows: NotificationRow[]): Promise<number> {
  return db.$executeRawUnsafe(
    `INSERT INTO notifications (id, kind, severity, title, message, event_id, created_at)
     SELECT gen_random_uuid(), kind, severity, title, message, event_id, created_at
     FROM jsonb_to_recordset($1::jsonb) AS x(kind text, severity severity, title text, message text, event_id uuid, created_at timestamptz)
     ON CONFLICT (event_id) DO NOTHING`,
    JSON.stringify(rows),
  );
}
