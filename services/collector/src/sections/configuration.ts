import type { ConfigurationSection } from '@agentos/contracts';
import { memo, type SectionContext } from './context';

/** Setting keys the snapshot reads by name; the rest are listed as they are. */
export const SETTING_KEYS = {
  minimumWorkers: 'workers.minimum',
  defaultPendingThreshold: 'queue.default_pending_threshold',
} as const;

const FALLBACK_PENDING_THRESHOLD = 1000;
const FALLBACK_MINIMUM_WORKERS = 1;

/** Keys that look like credentials are never copied into the snapshot, whatever the database holds. */
const SECRET_LIKE = /(secret|password|passwd|token|api[_-]?key|private|credential)/i;

function loadSettings(ctx: SectionContext): Promise<Record<string, unknown>> {
  return memo(ctx, 'settings', async () => {
    // Raw (prepared) rather than findMany: the queue section reads it on every build.
    const rows = await ctx.query<{ key: string; value: unknown }>('SELECT key, value FROM settings ORDER BY key');
    return Object.fromEntries(rows.filter((row) => !SECRET_LIKE.test(row.key)).map((row) => [row.key, row.value]));
  });
}

export async function defaultPendingThreshold(ctx: SectionContext): Promise<number> {
  const settings = await loadSettings(ctx);
  return nonNegativeInt(settings[SETTING_KEYS.defaultPendingThreshold]) ?? FALLBACK_PENDING_THRESHOLD;
}

export async function buildConfiguration(ctx: SectionContext): Promise<ConfigurationSection> {
  const [settings, queues, defaultThreshold] = await Promise.all([
    loadSettings(ctx),
    ctx.prisma.queue.findMany({ orderBy: { name: 'asc' }, select: { name: true, pendingThreshold: true } }),
    defaultPendingThreshold(ctx),
  ]);
  return {
    queue_thresholds: Object.fromEntries([['*', defaultThreshold], ...queues.map((q) => [q.name, q.pendingThreshold])]),
    minimum_workers: nonNegativeInt(settings[SETTING_KEYS.minimumWorkers]) ?? FALLBACK_MINIMUM_WORKERS,
    intervals: {
      warm_interval_ms: ctx.settings.warmIntervalMs,
      snapshot_ttl_s: ctx.settings.snapshotTtlS,
      heartbeat_ttl_s: ctx.settings.heartbeatTtlS,
    },
    settings,
  };
}

function nonNegativeInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}
