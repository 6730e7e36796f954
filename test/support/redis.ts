import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A namespace no other suite (or run) shares. */
export function uniqueNamespace(prefix = 't'): string {
  return `test-${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under `namespace` (SCAN, never KEYS). */
export async function cleanupNamespace(namespace: string, url = TEST_REDIS_URL): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
