import { redisKeys, refreshRequest, type RefreshRequest, type VersionAnnouncement } from '@agentos/contracts';
import { createTestDatabase, type TestDatabase } from '@agentos/db';
import { VersionWatcher } from '@agentos/runtime';
import Redis from 'ioredis';
import { loadCollectorConfig } from '../../collector/src/config';
import { startCollectorService } from '../../collector/src/service';
import { loadWarmerConfig } from '../src/config';
import { startWarmerService, type WarmerService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';

const INTERVAL = 1000;

describe('cache-warmer with two warmer and two collector replicas', () => {
  let db: TestDatabase;
  let redis: Redis;
  let subscriber: Redis;
  const namespace = uniqueNamespace('warmer');
  const keys = redisKeys(namespace);
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('warmer');
    redis = new Redis(TEST_REDIS_URL);
    subscriber = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await Promise.all(stops.map((stop) => stop()));
    await db.drop();
    await cleanupNamespace(namespace);
    redis.disconnect();
    subscriber.disconnect();
  });

  async function warmRequests(): Promise<RefreshRequest[]> {
    const entries = await redis.xrange(keys.refreshRequests, '-', '+');
    return entries
      .map(([, fields]) => refreshRequest.parse(JSON.parse(fields[1]!)))
      .filter((r) => r.reason.startsWith('warm'));
  }

  async function leaderOf(warmers: WarmerService[]): Promise<WarmerService | undefined> {
    for (const warmer of warmers) {
      const gauge = await warmer.registry.getSingleMetric('ssot_warmer_leader')!.get();
      if (gauge.values[0]?.value === 1) return warmer;
    }
    return undefined;
  }

  it('warms once per period, with strictly increasing versions, and hands over within one period when the holder dies', async () => {
    const env = { REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, LOG_LEVEL: 'silent', WARM_INTERVAL_MS: String(INTERVAL) };
    const collectors = await Promise.all([0, 1].map(() => startCollectorService(loadCollectorConfig({ ...env, DATABASE_URL: db.url }))));
    stops.push(...collectors.map((c) => () => c.stop()));

    const watcher = new VersionWatcher(subscriber, keys);
    await watcher.start();
    stops.push(() => watcher.stop());
    const announcements: VersionAnnouncement[] = [];
    watcher.on((a) => announcements.push(a));

    const warmers = await Promise.all([0, 1].map(() => startWarmerService(loadWarmerConfig(env))));
    const alive = new Set(warmers);
    stops.push(() => Promise.all([...alive].map((w) => w.stop())).then(() => {}));

    // The snapshot is missing at start: one warm at once, before any tick.
    await waitFor(() => redis.exists(keys.snapshot), { timeoutMs: 3000, message: 'the first warm' });

    // Let five periods pass.
    await waitFor(() => announcements.length >= 6, { timeoutMs: 5 * INTERVAL + 5000, message: 'five warms after the first' });
    const ticks = (await warmRequests()).filter((r) => r.reason === 'warm');
    // Periods are wall-clock slots, as the schedule aligns ticks to them: two replicas, one warm
    // in each period, never two.
    const periods = ticks.map((r) => Math.floor(Date.parse(r.requested_at) / INTERVAL));
    expect(periods.length).toBeGreaterThanOrEqual(5);
    expect(new Set(periods).size).toBe(periods.length);

    const versions = announcements.map((a) => a.version);
    expect(versions.length).toBeGreaterThanOrEqual(6);
    for (let i = 1; i < versions.length; i += 1) expect(versions[i]).toBeGreaterThan(versions[i - 1]!);

    // Kill the lease holder without releasing the lease, as a crash would.
    const holder = await waitFor(() => leaderOf(warmers), { message: 'a lease holder' });
    alive.delete(holder);
    await holder.kill();
    const killedAt = Date.now();
    const takeover = await waitFor(
      async () => (await warmRequests()).find((r) => r.reason === 'warm' && Date.parse(r.requested_at) > killedAt),
      { timeoutMs: 3 * INTERVAL + 2000, message: 'a warm by the other replica' },
    );
    // The lease lapses before the next tick: the survivor warms in the crash's period or the next,
    // never leaving a whole period unwarmed (a lease outliving the period would skip one).
    expect(Math.floor(Date.parse(takeover.requested_at) / INTERVAL)).toBeLessThanOrEqual(Math.floor(killedAt / INTERVAL) + 1);
    expect(await leaderOf([...alive])).toBeDefined();
  });
});
