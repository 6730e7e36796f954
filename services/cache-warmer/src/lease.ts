import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from '@agentos/runtime';

const ACQUIRE = readFileSync(join(__dirname, 'lua', 'acquireLease-1.lua'), 'utf8');
const RELEASE = readFileSync(join(__dirname, 'lua', 'releaseLease-1.lua'), 'utf8');

type LeaseRedis = Redis & {
  acquireLease(key: string, owner: string, ttlMs: number): Promise<number>;
  releaseLease(key: string, owner: string): Promise<number>;
};

/**
 * A lease in Redis: at most one holder at any instant. The holder renews it every period; it
 * lapses a little before the next period starts, so when the holder dies another replica takes
 * it at the very next tick.
 */
export class Lease {
  private readonly redis: LeaseRedis;

  constructor(
    redis: Redis,
    private readonly key: string,
    private readonly owner: string,
    private readonly ttlMs: number,
  ) {
    this.redis = redis as LeaseRedis;
    if (typeof this.redis.acquireLease !== 'function') {
      redis.defineCommand('acquireLease', { numberOfKeys: 1, lua: ACQUIRE });
      redis.defineCommand('releaseLease', { numberOfKeys: 1, lua: RELEASE });
    }
  }

  /** True when this process holds the lease after the call. */
  async acquire(): Promise<boolean> {
    return (await this.redis.acquireLease(this.key, this.owner, this.ttlMs)) === 1;
  }

  async release(): Promise<void> {
    await this.redis.releaseLease(this.key, this.owner);
  }
}

/** The lease lapses this long before the next tick, so a standby's tick finds it free. */
export function leaseTtlFor(intervalMs: number): number {
  return Math.max(intervalMs - Math.min(250, intervalMs / 4), 100);
}
