import { type AgentEvent, EVENT_DISPATCH_CONFIG } from '@agentos/contracts';
import type { PreparedQuery, PrismaClient } from '@agentos/db';
import { alertBody } from './actions/alert-ops';
import { foldJobEvents, isJobEvent, type JobEvent, type JobTarget } from './jobs-fold';

/** Whether the dispatch table gives the event the alert_ops action. */
function rulesAlertOps(event: AgentEvent): boolean {
  const rule = EVENT_DISPATCH_CONFIG[event.name];
  return 'actions' in rule && (rule.actions as readonly string[]).includes('alert_ops');
}

/** What persisting a batch did, for the branches that run after the commit. */
export interface PersistResult {
  /** Ids of events whose effect this call wrote (the others were already processed). */
  applied: Set<string>;
  /** Pending count and threshold of each queue the applied job events are in. */
  queues: QueueLevel[];
}

export interface QueueLevel {
  queue: string;
  pending: number;
  threshold: number;
}

/**
 * Writes the effect of a batch of events in ONE statement, `ssot_persist_events` (migration
 * 20261130070000_persist_events): one round trip and one atomic commit however large the batch,
 * with no connection idle inside a transaction and row locks taken in a fixed order. This side
 * shapes the rows; the function decides which events are new (`processed_events`) and applies
 * only theirs:
 * - job transitions, monotonic (jobs-fold.ts): a lower state or an older event never overwrites;
 * - agent counters, from the transitions that actually happened;
 * - worker records from heartbeats (newest wins) and offline announcements;
 * - log entries for failures and alerts, and the notify_admin notification of a failed job;
 * - every job event as the job's history (`job_events`), and commands' results;
 * - alert_ops' webhook posts, into the outbox the delivery loop sends from.
 */
export async function persistBatch(query: PreparedQuery, events: readonly AgentEvent[], options: { alerts?: boolean } = {}): Promise<PersistResult> {
  if (events.length === 0) return { applied: new Set(), queues: [] };
  const jobEvents = events.filter(isJobEvent);
  const batch = {
    marks: events.map((e) => ({ id: e.id, name: e.name, occurred_at: e.occurred_at })),
    jobs: jobEvents.length === 0 ? [] : withEventIds(foldJobEvents(jobEvents), jobEvents),
    job_events: jobEvents.map((e) => ({
      event_id: e.id,
      job_id: e.payload.job_id,
      name: e.name,
      occurred_at: e.occurred_at,
      source: e.source,
      attempt: e.payload.attempt ?? null,
      payload: e.payload,
    })),
    ...workerRows(events),
    logs: events.map(logLineFor).filter((row): row is LogRow => row !== null),
    notifications: failureNotifications(events),
    // alert_ops' webhook posts, into the outbox with the effect (only with a webhook to post to).
    alerts: options.alerts ? events.filter((e) => rulesAlertOps(e)).map((e) => ({ event_id: e.id, body: alertBody(e) })) : [],
    command_results: events
      .filter((e): e is Extract<AgentEvent, { name: 'command:result' }> => e.name === 'command:result')
      .map((e) => ({ command_id: e.payload.command_id, ok: e.payload.ok, error: e.payload.error ?? null, at: e.occurred_at, event_id: e.id })),
  };
  const [row] = await query<{ result: { applied: string[]; queues: QueueLevel[] } }>(
    'SELECT ssot_persist_events($1::jsonb) AS result',
    JSON.stringify(batch),
  );
  return { applied: new Set(row!.result.applied), queues: row!.result.queues };
}

/** Each folded target with the ids of the events it was folded from. */
function withEventIds(targets: JobTarget[], events: readonly JobEvent[]): (JobTarget & { event_ids: string[] })[] {
  const ids = new Map<string, string[]>();
  for (const event of events) {
    const list = ids.get(event.payload.job_id) ?? [];
    list.push(event.id);
    ids.set(event.payload.job_id, list);
  }
  return targets.map((target) => ({ ...target, event_ids: ids.get(target.id) ?? [] }));
}

/** The newest heartbeat per worker of the batch, and its offline announcements. */
function workerRows(events: readonly AgentEvent[]) {
  const beats = new Map<string, Extract<AgentEvent, { name: 'worker:heartbeat' }>>();
  const offline: { id: string; at: string; event_id: string }[] = [];
  for (const event of events) {
    if (event.name === 'worker:heartbeat') {
      const seen = beats.get(event.payload.worker_id);
      if (!seen || seen.occurred_at < event.occurred_at) beats.set(event.payload.worker_id, event);
    } else if (event.name === 'worker:offline') {
      offline.push({ id: event.payload.worker_id, at: event.occurred_at, event_id: event.id });
    }
  }
  const heartbeats = [...beats.values()].map((e) => ({
    id: e.payload.worker_id,
    hostname: e.payload.hostname ?? `worker-${e.payload.worker_id.slice(0, 8)}`,
    queues: e.payload.queues,
    concurrency: e.payload.concurrency,
    active_jobs: e.payload.active_jobs,
    cpu: e.payload.cpu ?? null,
    memory_mb: e.payload.memory_mb === undefined ? null : Math.round(e.payload.memory_mb),
    at: e.occurred_at,
    event_id: e.id,
  }));
  return { heartbeats, offline };
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
    case 'job:cancelled':
      return { ...base, level: 'warn', source: event.payload.queue, job_id: event.payload.job_id, message: `Job ${event.payload.job_id} (${event.payload.type}) cancelled${event.payload.reason ? `: ${event.payload.reason}` : ''}` };
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

/** notify_admin for job:failed: the notification commits with the failure it reports. */
function failureNotifications(events: readonly AgentEvent[]): NotificationRow[] {
  return events
    .filter((e): e is Extract<AgentEvent, { name: 'job:failed' }> => e.name === 'job:failed')
    .map((e) => ({
      event_id: e.id,
      kind: 'notify_admin',
      severity: 'critical',
      title: `Job failed in ${e.payload.queue}`,
      message: `${e.payload.type} ${e.payload.job_id}: ${e.payload.error ?? 'no error given'}`,
      created_at: e.occurred_at,
    }));
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
export async function insertNotifications(db: Pick<PrismaClient, '$executeRawUnsafe'>, rows: NotificationRow[]): Promise<number> {
  return db.$executeRawUnsafe(
    `INSERT INTO notifications (id, kind, severity, title, message, event_id, created_at)
     SELECT gen_random_uuid(), kind, severity, title, message, event_id, created_at
     FROM jsonb_to_recordset($1::jsonb) AS x(kind text, severity severity, title text, message text, event_id text, created_at timestamptz)
     ON CONFLICT (event_id) DO NOTHING`,
    JSON.stringify(rows),
  );
}
