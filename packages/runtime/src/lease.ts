import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

const ACQUIRE = readFileSync(join(__dirname, 'lua', 'acquireLease-1.lua'), 'utf8');
const RELEASE = readFileSync(join(__dirname, 'lua', 'releaseLease-1.lua'), 'utf8');

type LeaseRedis = Redis & {
  acquireLease(key: string, owner: string, ttlMs: number): Promise<number>;
  releaseLease(key: string, owner: string): Promise<number>;
};

/**
 * A lease in Redis: at most one holder at any instant; the holder renews it, others take it once
 * it lapses. Used for the one active cache-warmer, the one heartbeat sweeper, the one health
 * checker.
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

/**
 * For a lease renewed on every tick of a wall-clock-aligned period: it lapses a little before the
 * next tick, so when the holder dies a standby's very next tick finds it free.
 */
export function leaseTtlFor(intervalMs: number): number {
  return Math.max(intervalMs - Math.min(250, intervalMs / 4), 100);
}
