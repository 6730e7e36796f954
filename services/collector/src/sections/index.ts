import type { SectionName, Sections } from '@agentos/contracts';
import { buildAgentsWorkers } from './agents-workers';
import { buildAnalytics } from './analytics';
import { buildConfiguration } from './configuration';
import type { SectionContext } from './context';
import { buildDashboard } from './dashboard';
import { buildLogs } from './logs';
import { buildQueue } from './queue';
import { buildSystemControl } from './system-control';

export type { CollectorSettings, SectionContext } from './context';

type Builder<K extends SectionName> = (ctx: SectionContext) => Promise<Sections[K]>;

/** One builder per section; the collector runs the requested ones in parallel. */
export const SECTION_BUILDERS: { [K in SectionName]: Builder<K> } = {
  dashboard: buildDashboard,
  agents_workers: buildAgentsWorkers,
  analytics: buildAnalytics,
  queue: buildQueue,
  logs: buildLogs,
  system_control: buildSystemControl,
  configuration: buildConfiguration,
};

/**
 * What a section shows before it has ever been built successfully (its build failed on the very
 * first try): valid against the contract, empty, and flagged by `meta.errors`.
 */
export function emptySection<K extends SectionName>(name: K, ctx: Pick<SectionContext, 'now' | 'settings'>): Sections[K] {
  const zeroSeries = (points: number, stepMs: number) =>
    Array.from({ length: points }, (_, i) => ({
      t: new Date(Math.floor(ctx.now.getTime() / stepMs) * stepMs - (points - 1 - i) * stepMs).toISOString(),
      total: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
    }));
  const empties: Sections = {
    dashboard: {
      system: { status: 'down', uptime: 0, cpu_usage: 0 },
      workers: { total: 0, active: 0, details: [], queues: [] },
      queue: { pending: 0, processing: 0, completed: 0 },
      jobs: { total_today: 0, recent_jobs: [] },
      notifications: { unread: 0, recent: [] },
    },
    agents_workers: {
      agents: { status: { agents: [], total_agents: 0, active_agents: 0 } },
      workers: { status: 'empty', workers: [] },
    },
    analytics: {
      success_rate: null,
      avg_processing_time: null,
      p95_processing_time: null,
      window_hours: 24,
      jobs_per_minute: zeroSeries(60, 60_000),
      jobs_per_hour: zeroSeries(24, 3_600_000),
      by_status: { pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0 },
    },
    queue: { queues: [], awaiting_action: [] },
    logs: { recent_entries: [] },
    system_control: { services_status: {}, health_check: null },
    configuration: {
      queue_thresholds: {},
      minimum_workers: 0,
      intervals: {
        warm_interval_ms: ctx.settings.warmIntervalMs,
        snapshot_ttl_s: ctx.settings.snapshotTtlS,
        heartbeat_ttl_s: ctx.settings.heartbeatTtlS,
      },
      settings: {},
    },
  };
  return empties[name];
}
