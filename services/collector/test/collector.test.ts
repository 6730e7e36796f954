import { DISPATCHER_GROUP, redisKeys, SECTION_NAMES, snapshot, type Snapshot, type VersionAnnouncement } from '@agentos/contracts';
import { createTestDatabase, seedReferenceDataset, type TestDatabase } from '@agentos/db';
import { compareStreamIds, requestRefresh, VersionWatcher } from '@agentos/runtime';
import Redis from 'ioredis';
import { loadCollectorConfig } from '../src/config';
import { startCollectorService, type CollectorService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { startTcpProxy } from '../../../test/support/tcp-proxy';
import { waitFor } from '../../../test/support/wait';

function configFor(namespace: string, databaseUrl: string, extra: Record<string, string> = {}) {
  return loadCollectorConfig({
    REDIS_URL: TEST_REDIS_URL,
    SSOT_NAMESPACE: namespace,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'silent',
    ...extra,
  });
}

async function readSnapshot(redis: Redis, namespace: string): Promise<Snapshot> {
  const body = await redis.get(redisKeys(namespace).snapshot);
  if (!body) throw new Error('no snapshot');
  return snapshot.parse(JSON.parse(body));
}

describe('collector', () => {
  let redis: Redis;
  const started: CollectorService[] = [];
  const databases: TestDatabase[] = [];
  const namespaces: string[] = [];

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await Promise.all(databases.map((db) => db.drop()));
    await Promise.all(namespaces.map((ns) => cleanupNamespace(ns)));
    redis.disconnect();
  });

  async function setup(options: { seed?: Parameters<typeof seedReferenceDataset>[1] } = {}) {
    const db = await createTestDatabase('collector');
    databases.push(db);
    if (options.seed) await seedReferenceDataset(db.url, options.seed);
    const namespace = uniqueNamespace('collector');
    namespaces.push(namespace);
    return { db, namespace };
  }

  it('builds every section, valid against the contract, on an empty database', async () => {
    const { db, namespace } = await setup();
    const service = await startCollectorService(configFor(namespace, db.url));
    started.push(service);

    const { version, bytes } = await service.collector.refresh([]);

    const snap = await readSnapshot(redis, namespace);
    expect(snap.meta.version).toBe(version);
    expect(snap.meta.errors).toEqual({});
    expect(snap.meta.stale).toBe(false);
    expect(Object.keys(snap)).toEqual(['meta', ...SECTION_NAMES]);
    expect(snap.dashboard.jobs.total_today).toBe(0);
    expect(snap.analytics.jobs_per_minute).toHaveLength(60);
    expect(bytes).toBe(Buffer.byteLength(JSON.stringify(snap)));
    expect(await redis.ttl(redisKeys(namespace).snapshot)).toBeGreaterThan(10);
    expect(await redis.ttl(redisKeys(namespace).lastGood)).toBe(-1);
    // The next write replaces both, byte for byte the same, and the bytes it reports are theirs.
    const next = await service.collector.refresh(['queue']);
    const stored = await redis.get(redisKeys(namespace).snapshot);
    expect(next.version).toBeGreaterThan(version);
    expect(JSON.parse(stored!).meta.version).toBe(next.version);
    expect(await redis.get(redisKeys(namespace).lastGood)).toBe(stored);
    expect(next.bytes).toBe(Buffer.byteLength(stored!));
    expect(await redis.ttl(redisKeys(namespace).lastGood)).toBe(-1);
  });

  it('builds every section on the reference dataset, aggregated correctly, under 64 KB', async () => {
    // The default dataset: 200,000 jobs over 30 days, 50 workers, 50,000 log lines.
    const { db, namespace } = await setup({ seed: {} });
    // Correctness here, not speed (that is bench:ssot): a loaded CI machine must not time a section out.
    const service = await startCollectorService(configFor(namespace, db.url, { SECTION_TIMEOUT_MS: '20000' }));
    started.push(service);

    const { bytes } = await service.collector.refresh([]);
    const snap = await readSnapshot(redis, namespace);

    expect(snap.meta.errors).toEqual({});
    expect(bytes).toBeLessThanOrEqual(64 * 1024);
    expect(snap.agents_workers.agents.status.total_agents).toBe(11);
    expect(snap.agents_workers.agents.status.agents.map((a) => a.stage)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(snap.dashboard.workers.total).toBe(50);
    expect(snap.queue.queues).toHaveLength(5);
    expect(snap.logs.recent_entries).toHaveLength(50);
    expect(snap.dashboard.jobs.recent_jobs.length).toBeGreaterThan(0);

    // Cross-check the SQL aggregations against straight counts.
    const { Client } = await import('pg');
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      // At the build's own clock: the window is the 24 hourly buckets ending at generated_at.
      const { rows } = await pg.query<{
        pending: number; processing: number; today: number; failed: number; completed: number;
        created: number; created_completed: number; created_failed: number; p95: number | null;
        since: Date; this_hour: number; avg: number | null; minute_since: Date; last_hour_minutes: number; last_minutes_completed: number;
      }>(`
        WITH w AS (SELECT $1::timestamptz AS now, date_trunc('hour', $1::timestamptz) - interval '23 hours' AS since,
                          date_trunc('minute', $1::timestamptz) - interval '59 minutes' AS minute_since)
        SELECT w.since, w.minute_since,
               count(*) FILTER (WHERE created_at >= date_trunc('hour', w.now))::int AS this_hour,
               count(*) FILTER (WHERE created_at >= w.minute_since)::int AS last_hour_minutes,
               count(*) FILTER (WHERE created_at >= w.minute_since AND status = 'completed')::int AS last_minutes_completed,
               avg(duration_ms) FILTER (WHERE created_at >= w.since AND status = 'completed')::float8 AS avg,
               count(*) FILTER (WHERE status = 'pending')::int AS pending,
               count(*) FILTER (WHERE status = 'processing')::int AS processing,
               count(*) FILTER (WHERE created_at >= date_trunc('day', w.now AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')::int AS today,
               count(*) FILTER (WHERE status = 'failed' AND finished_at >= w.since)::int AS failed,
               count(*) FILTER (WHERE status = 'completed' AND finished_at >= w.since)::int AS completed,
               count(*) FILTER (WHERE created_at >= w.since)::int AS created,
               count(*) FILTER (WHERE created_at >= w.since AND status = 'completed')::int AS created_completed,
               count(*) FILTER (WHERE created_at >= w.since AND status = 'failed')::int AS created_failed,
               percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms)
                 FILTER (WHERE created_at >= w.since AND status = 'completed')::float8 AS p95
        FROM jobs, w GROUP BY w.now, w.since, w.minute_since`, [snap.meta.generated_at]);
      const expected = rows[0]!;
      expect(snap.dashboard.queue.pending).toBe(expected.pending);
      expect(snap.dashboard.queue.processing).toBe(expected.processing);
      expect(snap.dashboard.queue.completed).toBe(expected.completed);
      expect(snap.dashboard.jobs.total_today).toBe(expected.today);
      expect(snap.queue.queues.reduce((sum, q) => sum + q.pending, 0)).toBe(expected.pending);
      expect(snap.queue.queues.reduce((sum, q) => sum + q.failed, 0)).toBe(expected.failed);
      expect(snap.analytics.jobs_per_hour.reduce((sum, p) => sum + p.total, 0)).toBe(expected.created);
      expect(snap.analytics.by_status.completed).toBe(expected.created_completed);
      expect(snap.analytics.by_status.failed).toBe(expected.created_failed);
      expect(expected.created_completed).toBeGreaterThan(100);
      // Each point where its bucket is: the series start at the window's first bucket, and the
      // current hour and the last 60 minutes hold the jobs created in them.
      expect(snap.analytics.jobs_per_hour[0]!.t).toBe(expected.since.toISOString());
      expect(snap.analytics.jobs_per_hour.at(-1)!.total).toBe(expected.this_hour);
      expect(snap.analytics.jobs_per_hour.reduce((sum, p) => sum + p.completed, 0)).toBe(expected.created_completed);
      expect(expected.last_hour_minutes).toBeGreaterThan(0);
      expect(snap.analytics.jobs_per_minute[0]!.t).toBe(expected.minute_since.toISOString());
      expect(snap.analytics.jobs_per_minute.reduce((sum, p) => sum + p.total, 0)).toBe(expected.last_hour_minutes);
      expect(snap.analytics.jobs_per_minute.reduce((sum, p) => sum + p.completed, 0)).toBe(expected.last_minutes_completed);
      expect(snap.analytics.avg_processing_time).toBeCloseTo(expected.avg!, 1);
      // The histogram's answer is within 2.5 % of the exact (nearest-rank) percentile.
      expect(Math.abs(snap.analytics.p95_processing_time! / expected.p95! - 1)).toBeLessThanOrEqual(0.025);
      // Each queue's backlog and the age of its oldest pending job, from the rollup and the index.
      const perQueue = (await pg.query<{ queue: string; pending: number; processing: number; oldest_s: number | null }>(
        `SELECT queue, count(*) FILTER (WHERE status = 'pending')::int AS pending, count(*) FILTER (WHERE status = 'processing')::int AS processing,
                round(extract(epoch FROM $1::timestamptz - min(created_at) FILTER (WHERE status = 'pending')))::int AS oldest_s
         FROM jobs WHERE status IN ('pending', 'processing') GROUP BY queue ORDER BY queue`, [snap.meta.generated_at])).rows;
      expect(perQueue.length).toBeGreaterThan(1);
      for (const q of perQueue) {
        const shown = snap.queue.queues.find((x) => x.name === q.queue)!;
        expect({ queue: q.queue, pending: shown.pending, processing: shown.processing }).toEqual({ queue: q.queue, pending: q.pending, processing: q.processing });
        // Rounded on either side of the same instant: at most a second apart.
        if (q.oldest_s !== null) expect(Math.abs(shown.oldest_pending_age_s! - q.oldest_s)).toBeLessThanOrEqual(1);
      }
      // Unread notifications, from the counter the triggers keep.
      const unread = (await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM notifications WHERE read_at IS NULL')).rows[0]!.n;
      expect(unread).toBeGreaterThan(0);
      expect(snap.dashboard.notifications.unread).toBe(unread);
    } finally {
      await pg.end();
    }
    expect(snap.analytics.success_rate).toBeGreaterThan(80);
    expect(snap.analytics.jobs_per_hour.reduce((sum, p) => sum + p.total, 0)).toBeGreaterThan(0);
  });

  it('keeps the previous value of sections whose database is unreachable, and flags them', async () => {
    const { db, namespace } = await setup({ seed: { jobs: 2_000, days: 3, workers: 5, logs: 200 } });
    const url = new URL(db.url);
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
    url.host = `127.0.0.1:${proxy.port}`;
    const service = await startCollectorService(configFor(namespace, url.toString(), { SECTION_TIMEOUT_MS: '1500' }));
    started.push(service);
    try {
      await service.collector.refresh([]);
      const before = await readSnapshot(redis, namespace);

      proxy.cut();
      const { version } = await service.collector.refresh([]);
      const after = await readSnapshot(redis, namespace);

      expect(after.meta.version).toBe(version);
      expect(after.meta.version).toBeGreaterThan(before.meta.version);
      expect(after.meta.stale).toBe(true);
      expect(Object.keys(after.meta.errors).sort()).toEqual([...SECTION_NAMES].sort());
      for (const name of SECTION_NAMES) expect(after[name]).toEqual(before[name]);

      proxy.restore();
      await service.collector.refresh(['logs']);
      const partly = await readSnapshot(redis, namespace);
      expect(partly.meta.errors.logs).toBeUndefined();
      expect(partly.meta.errors.dashboard).toBeDefined();

      await service.collector.refresh([]);
      const healed = await readSnapshot(redis, namespace);
      expect(healed.meta.errors).toEqual({});
      expect(healed.meta.stale).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('answers refresh requests from the stream, and builds a partial request in full on a cold cache', async () => {
    const { db, namespace } = await setup();
    const service = await startCollectorService(configFor(namespace, db.url));
    started.push(service);
    const keys = redisKeys(namespace);
    const subscriber = new Redis(TEST_REDIS_URL);
    const watcher = new VersionWatcher(subscriber, keys);
    await watcher.start();
    try {
      let id = '';
      const answered = watcher.waitFor((a) => a.requests.includes(id), 5000);
      id = await requestRefresh(redis, keys, ['logs'], 'test');
      const announcement = await answered;
      expect(announcement).not.toBeNull();
      expect([...announcement!.sections].sort()).toEqual([...SECTION_NAMES].sort());
      const snap = await readSnapshot(redis, namespace);
      expect(snap.meta.version).toBe(announcement!.version);

      const second = watcher.waitFor((a) => a.requests.includes(id), 5000);
      id = await requestRefresh(redis, keys, ['logs'], 'test');
      expect((await second)!.sections).toEqual(['logs']);
    } finally {
      await watcher.stop();
      subscriber.disconnect();
    }
  });

  it('claims events_upto only below what any dispatcher still holds pending, and asks again until it covers the request', async () => {
    const { db, namespace } = await setup();
    const service = await startCollectorService(configFor(namespace, db.url));
    started.push(service);
    const keys = redisKeys(namespace);
    const subscriber = new Redis(TEST_REDIS_URL);
    const watcher = new VersionWatcher(subscriber, keys);
    await watcher.start();
    try {
      // Two dispatchers: "slow" holds the first event pending; "fast" has handled the second.
      await redis.xgroup('CREATE', keys.events, DISPATCHER_GROUP, '0', 'MKSTREAM');
      const held = (await redis.xadd(keys.events, '*', 'event', '{}'))!;
      const done = (await redis.xadd(keys.events, '*', 'event', '{}'))!;
      await redis.xreadgroup('GROUP', DISPATCHER_GROUP, 'slow', 'COUNT', 1, 'STREAMS', keys.events, '>');
      await redis.xreadgroup('GROUP', DISPATCHER_GROUP, 'fast', 'COUNT', 1, 'STREAMS', keys.events, '>');
      await redis.xack(keys.events, DISPATCHER_GROUP, done);

      let id = '';
      const first = watcher.waitFor((a) => a.requests.includes(id), 5000);
      id = await requestRefresh(redis, keys, ['logs'], 'test', { eventsUpto: done });
      const claimed = (await first)!.events_upto!;
      expect(compareStreamIds(claimed, held)).toBeLessThan(0);

      // Once the slow one acknowledges, a follow-up build (no new request) covers the request.
      const covered = watcher.waitFor((a) => a.events_upto !== undefined && compareStreamIds(a.events_upto, done) >= 0, 5000);
      await redis.xack(keys.events, DISPATCHER_GROUP, held);
      expect(await covered).not.toBeNull();
    } finally {
      await watcher.stop();
      subscriber.disconnect();
    }
  });

  it('with REFRESH_MIN_INTERVAL_MS, answers the requests that arrive while it rests with one build, and under load starts builds one interval apart', async () => {
    const MIN_INTERVAL_MS = 500;
    const { db, namespace } = await setup();
    const service = await startCollectorService(configFor(namespace, db.url, { REFRESH_MIN_INTERVAL_MS: String(MIN_INTERVAL_MS) }));
    started.push(service);
    const keys = redisKeys(namespace);
    const subscriber = new Redis(TEST_REDIS_URL);
    const watcher = new VersionWatcher(subscriber, keys);
    await watcher.start();
    const answerOf = new Map<string, VersionAnnouncement>();
    watcher.on((a) => a.requests.forEach((id) => answerOf.set(id, a)));
    const answered = (ids: string[], what: string) => waitFor(() => ids.every((id) => answerOf.has(id)), { message: what });
    try {
      // Every section built once first, so no build below stops to build the missing ones.
      await service.collector.refresh([]);
      // Idle, the bucket holds two builds (runtime's pacer.ts): two requests one after the other
      // are each built at once, which spends it.
      const first = await requestRefresh(redis, keys, ['logs'], 'test');
      await answered([first], 'the first request answered');
      const sentAt = Date.now();
      const second = await requestRefresh(redis, keys, ['logs'], 'test');
      await answered([second], 'the second request answered');
      expect(answerOf.get(second)!.version).toBeGreaterThan(answerOf.get(first)!.version);
      // Not after the interval, as a plain one-build-per-interval rule would have it.
      expect(Date.now() - sentAt).toBeLessThan(MIN_INTERVAL_MS * 0.8);
      // Each round is sent as soon as the previous build is announced, so it arrives while the
      // collector rests; one request at a time, so an idle collector would build the first alone.
      const rounds: string[][] = [];
      for (let round = 0; round < 3; round += 1) {
        const ids: string[] = [];
        for (let i = 0; i < 4; i += 1) ids.push(await requestRefresh(redis, keys, ['logs'], 'test'));
        await answered(ids, `round ${round} answered`);
        rounds.push(ids);
      }

      for (const ids of rounds) expect(new Set(ids.map((id) => answerOf.get(id)!.version)).size).toBe(1);
      const builds = [second, ...rounds.map((ids) => ids[0]!)].map((id) => answerOf.get(id)!);
      expect(new Set(builds.map((b) => b.version)).size).toBe(builds.length);
      // generated_at is stamped by the collector as each build starts: the spacing it paces, free
      // of how late an announcement reached this process. It trails the pacing clock by one Redis
      // round trip, hence the floor at 80 %; unpaced, these builds start a few ms apart.
      const starts = builds.map((b) => Date.parse(b.generated_at));
      for (let i = 1; i < starts.length; i += 1) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(MIN_INTERVAL_MS * 0.8);
    } finally {
      await watcher.stop();
      subscriber.disconnect();
    }
  });

  it('reuses the workers it read while no worker state changed; reads them again when the generation moves, in full builds and past the reuse age; applies time to what it reuses', async () => {
    const { db, namespace } = await setup();
    const keys = redisKeys(namespace);
    const service = await startCollectorService(configFor(namespace, db.url), { workersReuseMs: 60_000 });
    started.push(service);
    const reads = async () => {
      const values = (await service.registry.getSingleMetric('ssot_collector_worker_reads_total')!.get()).values;
      return { read: values.find((v) => v.labels.outcome === 'read')?.value ?? 0, reused: values.find((v) => v.labels.outcome === 'reused')?.value ?? 0 };
    };
    const live = async (id: string, activeJobs: number, ttlMs = 120_000) => {
      await redis.zadd(keys.workersLive, Date.now() + ttlMs, id);
      await redis.hset(keys.workerLive(id), { hostname: id, queues: '["q"]', active_jobs: String(activeJobs), concurrency: '8', at: new Date().toISOString() });
      await redis.pexpire(keys.workerLive(id), ttlMs);
    };
    const shown = async (names: Parameters<typeof service.collector.refresh>[0]) => {
      await service.collector.refresh(names);
      return Object.fromEntries((await readSnapshot(redis, namespace)).dashboard.workers.details.map((w) => [w.id, w.active_jobs]));
    };

    await live('w1', 1);
    expect(await shown([])).toEqual({ w1: 1 });
    expect(await reads()).toEqual({ read: 1, reused: 0 });

    // Changed behind the generation's back (no writer does this): a partial build does not see it.
    await redis.hset(keys.workerLive('w1'), 'active_jobs', '5');
    expect(await shown(['dashboard'])).toEqual({ w1: 1 });
    expect(await reads()).toEqual({ read: 1, reused: 1 });

    // A writer bumps the generation: read again.
    await redis.incr(keys.workersGeneration);
    expect(await shown(['dashboard'])).toEqual({ w1: 5 });
    expect(await reads()).toEqual({ read: 2, reused: 1 });

    // A full build (every warm) always reads.
    await redis.hset(keys.workerLive('w1'), 'active_jobs', '6');
    expect(await shown([])).toEqual({ w1: 6 });
    expect(await reads()).toEqual({ read: 3, reused: 1 });

    // Time alone: a live state whose hash has expired since it was read is no longer live.
    await live('w2', 2, 300);
    await redis.incr(keys.workersGeneration);
    expect(await shown(['dashboard'])).toEqual({ w1: 6, w2: 2 });
    await waitFor(async () => (await redis.exists(keys.workerLive('w2'))) === 0, { message: 'w2 expired' });
    expect(await shown(['dashboard'])).toEqual({ w1: 6 });
    expect(await reads()).toEqual({ read: 4, reused: 2 });

    // Past the reuse age, read whatever the generation says.
    const eager = await startCollectorService(configFor(namespace, db.url), { workersReuseMs: 0 });
    started.push(eager);
    await eager.collector.refresh([]);
    await eager.collector.refresh(['dashboard']);
    const eagerReads = (await eager.registry.getSingleMetric('ssot_collector_worker_reads_total')!.get()).values;
    expect(eagerReads.map((v) => [v.labels.outcome, v.value])).toEqual([['read', 2]]);
  });

  it('gives strictly increasing versions and loses no section update with two replicas writing at once', async () => {
    const { db, namespace } = await setup({ seed: { jobs: 2_000, days: 3, workers: 5, logs: 200 } });
    const a = await startCollectorService(configFor(namespace, db.url));
    const b = await startCollectorService(configFor(namespace, db.url));
    started.push(a, b);
    await a.collector.refresh([]);

    const rounds = 10;
    const results = await Promise.all(
      Array.from({ length: rounds }, (_, i) => [
        a.collector.refresh(i % 2 ? ['logs', 'queue'] : ['analytics']),
        b.collector.refresh(i % 2 ? ['dashboard'] : ['configuration', 'logs']),
      ]).flat(),
    );
    const versions = results.map((r) => r.version).sort((x, y) => x - y);
    expect(new Set(versions).size).toBe(versions.length);

    // A new log line must appear even though both replicas keep rewriting other sections.
    const { createPrismaClient } = await import('@agentos/db');
    const prisma = createPrismaClient(db.url);
    try {
      const entry = await prisma.logEntry.create({ data: { level: 'error', source: 'test', message: 'marker line' } });
      const last = await Promise.all([a.collector.refresh(['logs']), b.collector.refresh(['dashboard'])]);
      const snap = await readSnapshot(redis, namespace);
      expect(snap.logs.recent_entries[0]!.id).toBe(entry.id);
      expect(snap.meta.version).toBe(Math.max(...last.map((r) => r.version)));
      expect(snap.meta.version).toBeGreaterThan(Math.max(...versions));

      // Redis loses its data (a restart without persistence): versions still only go up.
      await redis.del(redisKeys(namespace).version);
      const after = await a.collector.refresh([]);
      expect(after.version).toBeGreaterThan(snap.meta.version);
    } finally {
      await prisma.$disconnect();
    }
  });
});
