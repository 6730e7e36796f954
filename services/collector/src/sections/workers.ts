import type { WorkerDetail } from '@agentos/contracts';
import { memo, type SectionContext } from './context';
import { isoSql } from '@agentos/db';

/** At most this many workers are listed in the snapshot (it must stay small). */
export const MAX_LISTED_WORKERS = 100;

/**
 * Workers as the dashboard shows them: the database record, overlaid with the live heartbeat
 * state in Redis where there is one. Shared by `dashboard` and `agents_workers`.
 */
export function loadWorkers(ctx: SectionContext): Promise<WorkerDetail[]> {
  return memo(ctx, 'workers', async () => {
    const since = ctx.now.getTime() - ctx.settings.heartbeatTtlS * 1000;
    const [[row], liveIds] = await Promise.all([
      // Already in the snapshot's shape (one JSON value: parsed natively, no per-row mapping).
      ctx.query<{ records: WorkerDetail[] }>(
        `SELECT coalesce(json_agg(json_build_object(
                  'id', w.id, 'hostname', w.hostname, 'status', w.status, 'queues', w.queues,
                  'active_jobs', w.active_jobs, 'concurrency', w.concurrency, 'cpu', w.cpu,
                  'memory_mb', w.memory_mb, 'last_heartbeat', ${isoSql('w.last_heartbeat_at')}, 'source', 'record')
                ORDER BY w.status, w.last_heartbeat_at DESC), '[]') AS records
         FROM (SELECT * FROM workers ORDER BY status, last_heartbeat_at DESC LIMIT ${MAX_LISTED_WORKERS}) AS w`,
      ),
      ctx.redis.zrangebyscore(ctx.keys.workersLive, since, '+inf'),
    ]);
    const live = new Map<string, Record<string, string>>();
    if (liveIds.length > 0) {
      const pipeline = ctx.redis.pipeline();
      for (const id of liveIds) pipeline.hgetall(ctx.keys.workerLive(id));
      const results = (await pipeline.exec()) ?? [];
      liveIds.forEach((id, index) => {
        const [error, state] = results[index] ?? [];
        if (!error && state && Object.keys(state as object).length > 0) live.set(id, state as Record<string, string>);
      });
    }

    const details = new Map<string, WorkerDetail>();
    for (const record of row!.records) details.set(record.id, record);
    for (const [id, state] of live) {
      const known = details.get(id);
      details.set(id, {
        id,
        hostname: state.hostname || known?.hostname || 'unknown',
        status: 'online',
        queues: parseList(state.queues) ?? known?.queues ?? [],
        active_jobs: toInt(state.active_jobs) ?? known?.active_jobs ?? 0,
        concurrency: toInt(state.concurrency) ?? known?.concurrency ?? 1,
        cpu: toNumber(state.cpu) ?? known?.cpu ?? null,
        memory_mb: toInt(state.memory_mb) ?? known?.memory_mb ?? null,
        last_heartbeat: state.at || known?.last_heartbeat || ctx.now.toISOString(),
        source: 'live',
      });
    }
    return [...details.values()]
      .sort((a, b) => (a.status === b.status ? b.last_heartbeat.localeCompare(a.last_heartbeat) : a.status === 'online' ? -1 : 1))
      .slice(0, MAX_LISTED_WORKERS);
  });
}

function parseList(value: string | undefined): string[] | undefined {
  if (!value) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.map(String) : undefined;
  } catch {
    return undefined;
  }
}

function toNumber(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function toInt(value: string | undefined): number | undefined {
  const n = toNumber(value);
  return n === undefined ? undefined : Math.max(0, Math.round(n));
}
