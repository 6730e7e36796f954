import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisKeys } from '@agentos/contracts';
import { Lease, type LoopWatch, type Logger, type Redis } from '@agentos/runtime';

const ANNOUNCE_LAPSED = readFileSync(join(__dirname, 'lua', 'announceLapsed-3.lua'), 'utf8');
/** Workers announced per call at most; a larger backlog takes a few sweeps. */
const PER_SWEEP = 200;

export interface SweeperOptions {
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  /** Unique per process: the lease owner. */
  instance: string;
  heartbeatTtlS: number;
  intervalMs: number;
  /** `EVENT_STREAM_MAXLEN`: the announcements are trimmed like every other write. */
  streamMaxLen: number;
  /** Told of every sweep that reached Redis (lease held or not): the loop's liveness. */
  watch?: LoopWatch;
}

type SweepRedis = Redis & { announceLapsed(...args: string[]): Promise<string[]> };

/**
 * Announces workers whose heartbeat lapsed, each exactly once, as `worker:offline` events on the
 * event stream (the dispatchers then handle them like any other). One replica sweeps at a time
 * (a lease); the removal and the announcement are one Lua step, so even two sweepers could not
 * announce a worker twice, nor a crash lose one. Keyspace notifications are not used: many
 * managed Redis services disable them.
 */
export function startHeartbeatSweeper(options: SweeperOptions): { sweep(): Promise<string[]>; stop(): Promise<void> } {
  const redis = options.redis as SweepRedis;
  if (typeof redis.announceLapsed !== 'function') options.redis.defineCommand('announceLapsed', { numberOfKeys: 3, lua: ANNOUNCE_LAPSED });
  const lease = new Lease(options.redis, options.keys.sweeperLease, options.instance, options.intervalMs * 3);
  let running: Promise<unknown> | null = null;

  async function sweep(): Promise<string[]> {
    if (!(await lease.acquire())) return [];
    // Scores are deadlines (each heartbeat's own TTL applied by live-state.ts).
    const cutoff = Date.now();
    const announced = await redis.announceLapsed(
      options.keys.workersLive,
      options.keys.events,
      options.keys.workersGeneration,
      String(cutoff),
      String(options.streamMaxLen),
      new Date().toISOString(),
      'heartbeat lapsed',
      ...Array.from({ length: PER_SWEEP }, () => randomUUID()),
    );
    if (announced.length > 0) options.logger.warn({ workers: announced }, 'workers announced offline (heartbeat lapsed)');
    return announced;
  }

  const timer = setInterval(() => {
    running ??= sweep()
      .then(() => options.watch?.progress())
      .catch((error: Error) => options.logger.error({ err: error.message }, 'heartbeat sweep failed'))
      .finally(() => {
        running = null;
      });
  }, options.intervalMs);

  return {
    sweep,
    async stop() {
      clearInterval(timer);
      options.watch?.stop();
      await running;
      await lease.release().catch(() => {});
    },
  };
}
