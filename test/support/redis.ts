import { randomUUID } from 'node:crypto';
import { closeRedis, createRedis, scanKeys } from '@agentos/runtime';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A namespace no other suite (or run) shares. `hashTag`: in braces, as Redis Cluster needs it
 * (every key of the namespace in one slot).
 */
export function uniqueNamespace(prefix = 't', { hashTag = false } = {}): string {
  const name = `test-${prefix}-${randomUUID().slice(0, 8)}`;
  return hashTag ? `{${name}}` : name;
}

/** Deletes every key under `namespace` (SCAN, never KEYS; on Cluster, on every master). */
export async function cleanupNamespace(namespace: string, url = TEST_REDIS_URL): Promise<void> {
  const redis = createRedis(url, { name: 'test-cleanup', role: 'command', commandTimeoutMs: 5000 });
  try {
    // One key per UNLINK: on Cluster a multi-key command must stay in one slot.
    for await (const keys of scanKeys(redis, `${namespace}:*`)) await Promise.all(keys.map((key) => redis.unlink(key)));
  } finally {
    await closeRedis(redis);
  }
}
