import type { ServiceStatus } from '@agentos/contracts';
import type { ServiceHeartbeat } from '@agentos/runtime';
import { iso } from '../serialize';
import { memo, type SectionContext } from './context';

/** Heartbeats this old are dropped from the shared hash, so dead pods do not pile up. */
const PRUNE_AFTER_MS = 60 * 60 * 1000;

export interface ServicesView {
  status: Record<string, ServiceStatus>;
  /** Start of the oldest running instance, for the dashboard's uptime. */
  oldestStart: Date | null;
}

/**
 * Service status from the desired state in the database and the heartbeats every service
 * process writes to Redis. Shared by `dashboard.system` and `system_control`.
 */
export function loadServices(ctx: SectionContext): Promise<ServicesView> {
  return memo(ctx, 'services', async () => {
    const [records, raw] = await Promise.all([
      ctx.query<{ name: string; replicas: number; version: string }>('SELECT name, replicas, version FROM services'),
      ctx.redis.hgetall(ctx.keys.serviceHeartbeats),
    ]);
    const now = ctx.now.getTime();
    const freshAfter = now - ctx.settings.serviceHeartbeatStaleS * 1000;
    const live = new Map<string, { replicas: number; last: number; version: string }>();
    const stale: string[] = [];
    let oldestStart: number | null = null;

    for (const [field, json] of Object.entries(raw)) {
      let beat: ServiceHeartbeat;
      try {
        beat = JSON.parse(json) as ServiceHeartbeat;
      } catch {
        stale.push(field);
        continue;
      }
      const at = Date.parse(beat.at);
      if (!Number.isFinite(at) || at < now - PRUNE_AFTER_MS) {
        stale.push(field);
        continue;
      }
      const entry = live.get(beat.service) ?? { replicas: 0, last: 0, version: beat.version };
      if (at >= freshAfter) {
        entry.replicas += 1;
        const started = Date.parse(beat.started_at);
        if (Number.isFinite(started) && (oldestStart === null || started < oldestStart)) oldestStart = started;
      }
      if (at > entry.last) {
        entry.last = at;
        entry.version = beat.version;
      }
      live.set(beat.service, entry);
    }
    if (stale.length > 0) await ctx.redis.hdel(ctx.keys.serviceHeartbeats, ...stale);

    const status: Record<string, ServiceStatus> = {};
    const names = new Set([...records.map((r) => r.name), ...live.keys()]);
    for (const name of [...names].sort()) {
      const record = records.find((r) => r.name === name);
      const seen = live.get(name);
      const replicas = seen?.replicas ?? 0;
      const desired = record?.replicas ?? 1;
      status[name] = {
        status: replicas === 0 ? 'down' : replicas < desired ? 'degraded' : 'up',
        replicas,
        desired_replicas: desired,
        last_heartbeat: seen ? iso(new Date(seen.last)) : null,
        version: seen?.version ?? record?.version ?? null,
      };
    }
    return { status, oldestStart: oldestStart === null ? null : new Date(oldestStart) };
  });
}
