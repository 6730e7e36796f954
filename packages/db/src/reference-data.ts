import { type DispatchAction, PIPELINE_AGENTS, REFERENCE_QUEUES } from '@agentos/contracts';
import type { Severity } from './generated/prisma/enums';

// What the reference dataset is made of. The seeder (seed.ts) turns these into SQL parameters;
// the shapes and proportions live here so they can be read (and tuned) apart from the SQL.

export type ReferenceQueue = (typeof REFERENCE_QUEUES)[number];

export interface QueueProfile {
  /** Share of all jobs that go through this queue (the shares add up to 1). */
  share: number;
  /** Median run time; run times are log-normal around it. */
  medianRunMs: number;
  /** Pending jobs above which the queue is reported (`queues.pending_threshold`). */
  pendingThreshold: number;
  minWorkers: number;
  /** Share of this queue's jobs handled by one of the pipeline agents (the rest have none). */
  agentShare: number;
  /** Job types seen on this queue, picked uniformly. */
  types: readonly string[];
}

/** Keyed by every reference queue, so a queue added to the contracts fails to compile here. */
export const QUEUE_PROFILES: Readonly<Record<ReferenceQueue, QueueProfile>> = {
  default: {
    share: 0.38,
    medianRunMs: 1_200,
    pendingThreshold: 1_000,
    minWorkers: 2,
    agentShare: 0.4,
    types: ['task.run', 'cache.refresh', 'user.sync'],
  },
  ingest: {
    share: 0.22,
    medianRunMs: 700,
    pendingThreshold: 500,
    minWorkers: 2,
    agentShare: 0.6,
    types: ['document.ingest', 'webhook.process', 'file.parse'],
  },
  pipeline: {
    share: 0.25,
    medianRunMs: 9_000,
    pendingThreshold: 300,
    minWorkers: 3,
    agentShare: 1,
    types: ['agent.pipeline', 'agent.step', 'pipeline.resume'],
  },
  reports: {
    share: 0.04,
    medianRunMs: 40_000,
    pendingThreshold: 50,
    minWorkers: 1,
    agentShare: 0.3,
    types: ['report.daily', 'report.export', 'analytics.rollup'],
  },
  notifications: {
    share: 0.11,
    medianRunMs: 250,
    pendingThreshold: 2_000,
    minWorkers: 1,
    agentShare: 0,
    types: ['notify.email', 'notify.push', 'notify.slack'],
  },
};

/** How often each agent is the one a job is at: early stages see every job, later ones fewer. */
export const AGENT_SHARES: readonly number[] = PIPELINE_AGENTS.map((agent) => 1 / (1 + 0.12 * agent.stage));

/**
 * How settled jobs ended. Pending and processing jobs exist only among recent ones and are decided
 * by age in the seeder's SQL.
 */
export const OUTCOME_SHARES = { completed: 0.915, failed: 0.065, cancelled: 0.02 } as const;

/** Errors of failed jobs, most frequent first. */
export const JOB_ERRORS: readonly string[] = [
  'TimeoutError: step exceeded 120000 ms',
  'HTTP 429 from model provider: rate limited, retry after 30 s',
  'ECONNRESET: upstream connection reset by peer',
  'ValidationError: output did not match schema (missing field "summary")',
  'HTTP 503 from model provider: service unavailable',
  'DocumentNotFound: source document was deleted before retrieval',
  'ParseError: unexpected end of JSON input at position 4096',
  'canceling statement due to statement timeout',
  'OutOfMemoryError: worker heap exceeded 2048 MB',
  'PermissionDenied: token lacks scope "reports:write"',
  'SMTP 550: mailbox unavailable',
  'lock wait exceeded: another worker holds the job lease',
];

/** The deployables as operators know them (see CONTRACT.md §1). */
export const REFERENCE_SERVICES = [
  { name: 'api', replicas: 2, description: 'HTTP SSOT reads, event ingest, admin job actions' },
  { name: 'realtime-gateway', replicas: 2, description: 'socket.io server: auth, rooms, initial data, broadcasts' },
  { name: 'collector', replicas: 2, description: 'Builds SSOT sections from PostgreSQL and Redis' },
  { name: 'cache-warmer', replicas: 2, description: 'Keeps the snapshot warm; one active warmer across replicas' },
  { name: 'dispatcher', replicas: 2, description: 'Consumes the event stream and applies the dispatch table' },
] as const;

export const REFERENCE_SERVICE_VERSION = '0.1.0';

/** Fewer online workers than this is an alert (the `workers.minimum` setting). */
const MINIMUM_WORKERS = 3;

/** Effective operator settings shown in the snapshot's `configuration` section. Never secrets. */
export const REFERENCE_SETTINGS: readonly { key: string; value: unknown; description: string }[] = [
  { key: 'workers.minimum', value: MINIMUM_WORKERS, description: 'Fewer online workers than this raises an alert' },
  {
    key: 'queue.default_pending_threshold',
    value: 1_000,
    description: 'Pending jobs that trigger a queue warning unless the queue sets its own',
  },
  { key: 'warm.interval_ms', value: 5_000, description: 'How often the cache warmer rebuilds the snapshot' },
  { key: 'snapshot.ttl_s', value: 15, description: 'Lifetime of the snapshot in Redis' },
  { key: 'worker.heartbeat_ttl_s', value: 120, description: 'A worker silent for longer is announced offline' },
  { key: 'events.max_batch', value: 500, description: 'Most events accepted in one ingest request' },
  { key: 'alerts.failure_rate', value: 0.1, description: 'Failed share of the last hour\'s jobs that alerts ops' },
];

export interface LogTemplate {
  level: 'debug' | 'info' | 'warn' | 'error';
  source: (typeof REFERENCE_SERVICES)[number]['name'];
  /** `{n}` becomes a small count, `{ms}` a duration, `{worker}` a worker hostname, `{queue}` a queue. */
  message: string;
}

/** Service log lines not tied to a job. Job-tied lines are written from the jobs themselves. */
export const LOG_TEMPLATES: readonly LogTemplate[] = [
  { level: 'info', source: 'api', message: 'GET /api/admin/ssot 200 in {ms} ms' },
  { level: 'info', source: 'api', message: 'GET /api/admin/ssot 304 in {ms} ms' },
  { level: 'info', source: 'api', message: 'POST /api/events 202: accepted {n} events' },
  { level: 'warn', source: 'api', message: 'POST /api/events 429: rate limit reached for ingest token #{n}' },
  { level: 'error', source: 'api', message: 'GET /api/admin/ssot served stale snapshot: rebuild exceeded 2000 ms' },
  { level: 'debug', source: 'api', message: 'snapshot cache hit, version {n}' },
  { level: 'info', source: 'realtime-gateway', message: 'admin client connected ({n} in room admin)' },
  { level: 'info', source: 'realtime-gateway', message: 'broadcast ssot:update to admin in {ms} ms' },
  { level: 'warn', source: 'realtime-gateway', message: 'client sent resync: {n} versions behind' },
  { level: 'error', source: 'realtime-gateway', message: 'redis adapter publish failed: connection reset' },
  { level: 'debug', source: 'realtime-gateway', message: 'socket disconnected: transport close' },
  { level: 'info', source: 'collector', message: 'built 8 sections in {ms} ms' },
  { level: 'warn', source: 'collector', message: 'section analytics took {ms} ms' },
  { level: 'error', source: 'collector', message: 'section queue failed: canceling statement due to statement timeout' },
  { level: 'info', source: 'cache-warmer', message: 'warmed snapshot version {n} in {ms} ms' },
  { level: 'info', source: 'cache-warmer', message: 'another replica holds the warm lock; standing by' },
  { level: 'warn', source: 'cache-warmer', message: 'warm overran its 5000 ms interval by {ms} ms' },
  { level: 'error', source: 'cache-warmer', message: 'warm failed: redis connection lost, retrying' },
  { level: 'info', source: 'dispatcher', message: 'dispatched worker:heartbeat from {worker}' },
  { level: 'info', source: 'dispatcher', message: 'consumer group caught up: {n} events pending' },
  { level: 'warn', source: 'dispatcher', message: '{worker} missed its heartbeat; announced worker:offline' },
  { level: 'warn', source: 'dispatcher', message: 'queue {queue} above its pending threshold' },
  { level: 'error', source: 'dispatcher', message: 'dead-lettered malformed event: payload.job_id must be a UUID' },
  { level: 'debug', source: 'dispatcher', message: 'acked {n} stream entries' },
];

/** Share of service log lines per level; each level's share is split evenly among its templates. */
export const LOG_LEVEL_SHARES = { debug: 0.05, info: 0.8, warn: 0.11, error: 0.04 } as const;

/** Share of log lines that are about one job (job_id set). */
export const JOB_LOG_SHARE = 0.3;


export interface PastNotification {
  /** The dispatch action that raised it, or `deploy` for an operator's note. */
  kind: DispatchAction | 'deploy';
  severity: Severity;
  title: string;
  message: string;
  /** Raised by an event (so it has an `event_id`), rather than written by hand. */
  fromEvent: boolean;
  hoursAgo: number;
}

/**
 * Notifications already read. The unread ones are made from the dataset's own rows (its latest
 * failed jobs, its offline workers).
 */
export const PAST_NOTIFICATIONS: readonly PastNotification[] = [
  {
    kind: 'consider_scaling',
    severity: 'warning',
    title: 'Queue reports above threshold',
    message: `reports had 65 pending jobs (threshold ${QUEUE_PROFILES.reports.pendingThreshold})`,
    fromEvent: true,
    hoursAgo: 5,
  },
  {
    kind: 'check_minimum_workers',
    severity: 'critical',
    title: 'Workers below minimum',
    message: `${MINIMUM_WORKERS - 1} workers online, minimum is ${MINIMUM_WORKERS}`,
    fromEvent: true,
    hoursAgo: 20,
  },
  {
    kind: 'deploy',
    severity: 'info',
    title: `Deployed ${REFERENCE_SERVICE_VERSION}`,
    message: `${REFERENCE_SERVICES.length} services rolled out`,
    fromEvent: false,
    hoursAgo: 30,
  },
];
