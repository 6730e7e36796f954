import { z } from 'zod';
import { opaqueId } from './ids';

/**
 * The snapshot (CONTRACT §3): one schema per section, the type inferred beside it. Ids of jobs,
 * workers, users and events are the platforms' own (opaque, CONTRACT §5); ids the system makes
 * (agents, notifications) are UUIDs; times are ISO 8601 UTC strings, which the collector's
 * serialiser guarantees.
 */

const isoTime = z.iso.datetime({ offset: true });
const count = z.number().int().nonnegative();

export const jobStatus = z.enum(['pending', 'processing', 'completed', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof jobStatus>;

export const jobSummary = z.object({
  id: opaqueId,
  /** The platform the job came from (where its commands go). */
  source: z.string(),
  queue: z.string(),
  type: z.string(),
  status: jobStatus,
  user_id: opaqueId.nullable(),
  agent: z.string().nullable(),
  worker_id: opaqueId.nullable(),
  attempts: count,
  progress: z.number().min(0).max(100),
  error: z.string().nullable(),
  duration_ms: count.nullable(),
  created_at: isoTime,
  started_at: isoTime.nullable(),
  finished_at: isoTime.nullable(),
});
export type JobSummary = z.infer<typeof jobSummary>;

/** One event of a job's history (`GET /api/admin/jobs/:id`). */
export const jobHistoryEvent = z.object({
  id: opaqueId,
  name: z.string(),
  occurred_at: isoTime,
  source: z.string(),
  attempt: count.nullable(),
  payload: z.record(z.string(), z.unknown()),
});
export type JobHistoryEvent = z.infer<typeof jobHistoryEvent>;

export const workerDetail = z.object({
  id: opaqueId,
  hostname: z.string(),
  status: z.enum(['online', 'offline']),
  queues: z.array(z.string()),
  active_jobs: count,
  concurrency: count,
  cpu: z.number().nullable(),
  memory_mb: count.nullable(),
  last_heartbeat: isoTime,
  /** Where the status comes from: a live Redis heartbeat, or the database record alone. */
  source: z.enum(['live', 'record']),
});
export type WorkerDetail = z.infer<typeof workerDetail>;

export const queueWorkers = z.object({ name: z.string(), workers: count });

export const notification = z.object({
  id: z.uuid(),
  kind: z.string(),
  severity: z.enum(['info', 'warning', 'critical']),
  title: z.string(),
  message: z.string(),
  event_id: opaqueId.nullable(),
  created_at: isoTime,
  read: z.boolean(),
});
export type Notification = z.infer<typeof notification>;

export const dashboardSection = z.object({
  system: z.object({
    status: z.enum(['healthy', 'degraded', 'down']),
    /** Seconds since the oldest running service instance started. */
    uptime: count,
    /** Mean CPU % over live workers that report it; 0 when none do. */
    cpu_usage: z.number().min(0),
  }),
  workers: z.object({
    total: count,
    active: count,
    details: z.array(workerDetail),
    queues: z.array(queueWorkers),
  }),
  /** Live counts; `completed`: finished in the 24 hourly buckets ending now (the analytics window). */
  queue: z.object({ pending: count, processing: count, completed: count }),
  jobs: z.object({ total_today: count, recent_jobs: z.array(jobSummary) }),
  /** Raised by the dispatcher's actions (notify_admin, check_minimum_workers, alert_ops). */
  notifications: z.object({ unread: count, recent: z.array(notification) }),
});
export type DashboardSection = z.infer<typeof dashboardSection>;

export const agentStatus = z.object({
  id: z.uuid(),
  name: z.string(),
  stage: z.number().int().min(1).max(11),
  description: z.string(),
  status: z.enum(['idle', 'active', 'error', 'disabled']),
  jobs_processed: count,
  jobs_failed: count,
  active_jobs: count,
  avg_duration_ms: count.nullable(),
  last_active_at: isoTime.nullable(),
});
export type AgentStatus = z.infer<typeof agentStatus>;

export const agentsWorkersSection = z.object({
  agents: z.object({
    status: z.object({ agents: z.array(agentStatus), total_agents: count, active_agents: count }),
  }),
  workers: z.object({ status: z.enum(['success', 'degraded', 'empty']), workers: z.array(workerDetail) }),
});
export type AgentsWorkersSection = z.infer<typeof agentsWorkersSection>;

const seriesPoint = z.object({
  t: isoTime,
  total: count,
  completed: count,
  failed: count,
  cancelled: count,
});
export type SeriesPoint = z.infer<typeof seriesPoint>;

/**
 * Over jobs created in the window: the 24 hourly buckets ending now (the current, partial hour
 * included), so `by_status` always sums to `jobs_per_hour`.
 */
export const analyticsSection = z.object({
  /** Completed / (completed + failed) over the window, in percent; null with no finished job. */
  success_rate: z.number().min(0).max(100).nullable(),
  /** Mean duration of jobs completed in the window, ms; null with none. */
  avg_processing_time: z.number().nonnegative().nullable(),
  /** 95th percentile of their durations, ms, from a histogram: within 2.5 % of the exact value. */
  p95_processing_time: z.number().nonnegative().nullable(),
  window_hours: z.literal(24),
  /** Jobs created per minute over the last hour, by final status; 60 points, oldest first. */
  jobs_per_minute: z.array(seriesPoint).length(60),
  /** Jobs created per hour over the last 24 h, by final status; 24 points, oldest first. */
  jobs_per_hour: z.array(seriesPoint).length(24),
  by_status: z.record(jobStatus, count),
});
export type AnalyticsSection = z.infer<typeof analyticsSection>;

export const queueStats = z.object({
  name: z.string(),
  pending: count,
  processing: count,
  /** Failed in the 24 hourly buckets ending now (the analytics window), by when they finished. */
  failed: count,
  oldest_pending_age_s: z.number().nonnegative().nullable(),
  pending_threshold: count,
  over_threshold: z.boolean(),
  paused: z.boolean(),
  /** consider_scaling's advice from depth and throughput; null before it has run for this queue. */
  recommended_workers: count.nullable(),
  /**
   * The depth the platform's own broker last reported (`queue:stats`, from a bridge), and when;
   * null for a queue no platform reports. It counts what the broker holds, `pending` what the SSOT
   * knows of: the two differ by what the platform enqueued without an event.
   */
  broker: z.object({ pending: count, workers: count.nullable(), source: z.string(), at: isoTime }).nullable(),
});
export type QueueStats = z.infer<typeof queueStats>;

export const queueSection = z.object({
  queues: z.array(queueStats),
  /** Jobs an operator may act on: recent failures (retry) and the oldest pending (cancel). */
  awaiting_action: z.array(jobSummary),
});
export type QueueSection = z.infer<typeof queueSection>;

export const logEntry = z.object({
  /** The id of the event the line records (opaque), or a UUID. */
  id: opaqueId,
  level: z.enum(['debug', 'info', 'warn', 'error']),
  source: z.string(),
  message: z.string(),
  job_id: opaqueId.nullable(),
  created_at: isoTime,
});
export const logsSection = z.object({ recent_entries: z.array(logEntry) });
export type LogsSection = z.infer<typeof logsSection>;

export const serviceStatus = z.object({
  status: z.enum(['up', 'degraded', 'down']),
  replicas: count,
  desired_replicas: count,
  last_heartbeat: isoTime.nullable(),
  version: z.string().nullable(),
});
export type ServiceStatus = z.infer<typeof serviceStatus>;

export const systemControlSection = z.object({
  services_status: z.record(z.string(), serviceStatus),
  /** The last `system:health_check` (every 30 s from the cache-warmer); null before the first. */
  health_check: z
    .object({
      services: z.record(z.string(), z.string()),
      redis_ms: z.number().nonnegative(),
      database_ms: z.number().nonnegative(),
      at: isoTime,
    })
    .nullable(),
});
export type SystemControlSection = z.infer<typeof systemControlSection>;

export const configurationSection = z.object({
  /** Per queue: pending count past which `queue:threshold_warning` is raised. */
  queue_thresholds: z.record(z.string(), count),
  minimum_workers: count,
  intervals: z.object({
    warm_interval_ms: count,
    snapshot_ttl_s: count,
    heartbeat_ttl_s: count,
  }),
  /** Every other setting from the database, by key. Never secrets. */
  settings: z.record(z.string(), z.unknown()),
});
export type ConfigurationSection = z.infer<typeof configurationSection>;

/** Section name → schema, in snapshot order. The one list every service iterates. */
export const SECTION_SCHEMAS = {
  dashboard: dashboardSection,
  agents_workers: agentsWorkersSection,
  analytics: analyticsSection,
  queue: queueSection,
  logs: logsSection,
  system_control: systemControlSection,
  configuration: configurationSection,
} as const;

export type SectionName = keyof typeof SECTION_SCHEMAS;
export const SECTION_NAMES = Object.keys(SECTION_SCHEMAS) as SectionName[];
export type Sections = { [K in SectionName]: z.infer<(typeof SECTION_SCHEMAS)[K]> };

export function isSectionName(name: string): name is SectionName {
  return Object.prototype.hasOwnProperty.call(SECTION_SCHEMAS, name);
}

/** The seed's completeness check: a warm is good only when these are all present. */
export const REQUIRED_SECTIONS: readonly SectionName[] = ['dashboard', 'agents_workers', 'analytics', 'queue', 'logs'];
