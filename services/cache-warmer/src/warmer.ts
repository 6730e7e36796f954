import { REQUIRED_SECTIONS, type RedisKeys } from '@agentos/contracts';
import { Lease, leaseTtlFor, type Logger, type Redis, requestRefresh, type VersionWatcher } from '@agentos/runtime';
import type { WarmerMetrics } from './metrics';

export interface WarmerDeps {
  redis: Redis;
  watcher: VersionWatcher;
  keys: RedisKeys;
  logger: Logger;
  metrics: WarmerMetrics;
  /** Unique per process: the lease owner. */
  instance: string;
  intervalMs: number;
}

export type WarmResult =
  | { result: 'ok'; version: number; bytes: number; ms: number }
  | { result: 'incomplete'; version: number; missing: string[]; ms: number }
  | { result: 'timeout' | 'error' | 'standby' | 'busy'; ms: number };

/**
 * The warming loop's body. Each tick: hold the lease or stand by; the holder asks the collectors
 * for a full refresh, waits for the version that answers it, and checks the snapshot is complete.
 */
export function createWarmer(deps: WarmerDeps) {
  const lease = new Lease(deps.redis, deps.keys.warmerLease, deps.instance, leaseTtlFor(deps.intervalMs));
  let warming = false;

  async function warm(trigger: 'tick' | 'missing'): Promise<WarmResult> {
    const started = performance.now();
    const ms = () => Math.round((performance.now() - started) * 100) / 100;
    if (warming) return { result: 'busy', ms: 0 };
    warming = true;
    try {
      const leader = await lease.acquire();
      deps.metrics.leader.set(leader ? 1 : 0);
      if (!leader) return { result: 'standby', ms: ms() };

      // Listen before asking, so the answer cannot arrive unheard.
      let requestId = '';
      const answered = deps.watcher.waitFor((a) => a.requests.includes(requestId), deps.intervalMs * 2);
      requestId = await requestRefresh(deps.redis, deps.keys, [], trigger === 'missing' ? 'warm:missing' : 'warm');
      const announcement = await answered;
      if (!announcement) {
        deps.metrics.warms.inc({ result: 'timeout' });
        deps.logger.warn({ ms: ms() }, 'Cache warm timed out: no collector answered');
        return { result: 'timeout', ms: ms() };
      }
      const missing = await missingSections();
      deps.metrics.duration.observe(ms() / 1000);
      if (missing.length > 0) {
        deps.metrics.warms.inc({ result: 'incomplete' });
        deps.logger.error({ version: announcement.version, missing }, 'Cache warm incomplete');
        return { result: 'incomplete', version: announcement.version, missing, ms: ms() };
      }
      deps.metrics.warms.inc({ result: 'ok' });
      deps.metrics.bytes.set(announcement.bytes);
      deps.metrics.succeeded();
      deps.logger.info(
        { version: announcement.version, trigger, stale: !announcement.complete },
        `Cache warmed: ${announcement.bytes} bytes in ${ms()} ms`,
      );
      return { result: 'ok', version: announcement.version, bytes: announcement.bytes, ms: ms() };
    } catch (error) {
      deps.metrics.warms.inc({ result: 'error' });
      deps.logger.error({ err: (error as Error).message }, 'Cache warm failed');
      return { result: 'error', ms: ms() };
    } finally {
      warming = false;
    }
  }

  /** The seed's completeness check, on the snapshot as stored. */
  async function missingSections(): Promise<string[]> {
    const body = await deps.redis.get(deps.keys.snapshot);
    if (!body) return [...REQUIRED_SECTIONS];
    const snapshot = JSON.parse(body) as Record<string, unknown>;
    return REQUIRED_SECTIONS.filter((name) => snapshot[name] == null);
  }

  /** Warms at once when the snapshot key is gone (expired or flushed), without waiting for the tick. */
  async function warmIfMissing(): Promise<WarmResult | null> {
    if (warming) return null;
    if ((await deps.redis.exists(deps.keys.snapshot)) === 1) return null;
    return warm('missing');
  }

  return {
    tick: () => warm('tick'),
    warmIfMissing,
    releaseLease: () => lease.release(),
  };
}
