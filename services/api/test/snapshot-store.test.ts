import { redisKeys } from '@agentos/contracts';
import { createRedis, type Redis, VersionWatcher } from '@agentos/runtime';
import { SnapshotStore } from '../src/snapshot-store';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { startTcpProxy } from '../../../test/support/tcp-proxy';
import { waitFor } from '../../../test/support/wait';

// The api's in-process copy of the snapshot against the real Redis, its command connection
// through a proxy that can cut it.

describe('SnapshotStore', () => {
  const namespace = uniqueNamespace('snapshot-store');
  const keys = redisKeys(namespace);
  const clients: Redis[] = [];
  const client = (url: string, role: 'command' | 'subscriber') => {
    const redis = createRedis(url, { name: `snapshot-store-test:${role}`, role, commandTimeoutMs: 300 });
    clients.push(redis);
    return redis;
  };

  afterAll(async () => {
    for (const redis of clients) redis.disconnect();
    await cleanupNamespace(namespace, TEST_REDIS_URL);
  });

  it('keeps a copy a newer version outdated, and answers with it, stale, when Redis is gone before the newer one is read', async () => {
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(TEST_REDIS_URL).port || 6379));
    try {
      const direct = client(TEST_REDIS_URL, 'command');
      const watcher = new VersionWatcher(client(TEST_REDIS_URL, 'subscriber'), keys);
      await watcher.start();
      const store = new SnapshotStore({ redis: client(`redis://127.0.0.1:${proxy.port}`, 'command'), watcher, keys, maxAgeMs: 60_000 });
      await direct.set(keys.snapshot, '{"meta":{"version":1,"stale":false},"dashboard":{}}');
      expect((await store.get()).entry.version).toBe(1);

      // Version 2 is announced (its bytes are written), then Redis goes away before anyone reads it.
      await direct.set(keys.snapshot, '{"meta":{"version":2,"stale":false},"dashboard":{}}');
      const announcement = { version: 2, sections: ['dashboard'], requests: [], generated_at: new Date().toISOString(), bytes: 48, complete: true };
      await direct.publish(keys.versionChannel, JSON.stringify(announcement));
      await waitFor(() => watcher.latest === 2, { message: 'the announcement of version 2' });
      proxy.cut();

      // What it had, marked stale; before, the announcement dropped the copy and this was a 503.
      const { entry, source } = await store.get();
      expect({ source, version: entry.version, stale: JSON.parse(entry.body.toString()).meta.stale }).toEqual({ source: 'stale', version: 1, stale: true });

      proxy.restore();
      await waitFor(async () => (await store.get()).entry.version === 2, { timeoutMs: 10_000, message: 'version 2 once Redis is back' });
      store.close();
      await watcher.stop();
    } finally {
      await proxy.close();
    }
  });
});
