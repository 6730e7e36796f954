import { type AgentEvent, redisKeys } from '@agentos/contracts';
import { startServiceHeartbeat } from '@agentos/runtime';
import Redis from 'ioredis';
import { loadWarmerConfig } from '../src/config';
import { startWarmerService, type WarmerService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';

describe('system:health_check from the cache-warmer', () => {
  const namespace = uniqueNamespace('health');
  const keys = redisKeys(namespace);
  let redis: Redis;
  const warmers: WarmerService[] = [];

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await Promise.all(warmers.map((w) => w.stop()));
    await cleanupNamespace(namespace);
    redis.disconnect();
  });

  async function healthEvents(): Promise<AgentEvent[]> {
    return (await redis.xrange(keys.events, '-', '+'))
      .map(([, fields]) => JSON.parse(fields[1]!) as AgentEvent)
      .filter((e) => e.name === 'system:health_check');
  }

  it('raises one health check per period across replicas, with each service up or down and the database round trip', async () => {
    // A collector that reports its database round trip in its heartbeat, and a dead dispatcher.
    const beat = startServiceHeartbeat(redis, keys, { service: 'collector', instance: 'c-1', version: '1' }, 60_000, async () => ({ database_ms: 2.5 }));
    await redis.hset(keys.serviceHeartbeats, 'dispatcher/d-1', JSON.stringify({ service: 'dispatcher', instance: 'd-1', version: '1', started_at: '2026-01-01T00:00:00Z', at: new Date(Date.now() - 60_000).toISOString() }));
    await waitFor(() => redis.hexists(keys.serviceHeartbeats, 'collector/c-1'));

    const env = { REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, LOG_LEVEL: 'silent', HEALTH_CHECK_INTERVAL_MS: '300' };
    warmers.push(await startWarmerService(loadWarmerConfig(env)), await startWarmerService(loadWarmerConfig(env)));
    await waitFor(async () => (await healthEvents()).length >= 3, { message: 'three health checks' });

    // One replica holds the lease: of the two checking at the same moment, one raises the check
    // (check() resolves with what it appended, null when it stood by).
    for (let round = 0; round < 3; round += 1) {
      const raised = await Promise.all(warmers.map((w) => w.healthChecks.check()));
      expect(raised.filter((payload) => payload !== null)).toHaveLength(1);
    }
    const events = await healthEvents();
    const payload = events[0]!.payload as { services: Record<string, string>; redis_ms: number; database_ms: number };
    expect(payload.services).toMatchObject({ collector: 'up', dispatcher: 'down', 'cache-warmer': 'up' });
    expect(payload.database_ms).toBe(2.5);
    expect(payload.redis_ms).toBeGreaterThan(0);
    await beat.stop();
  });
});
