// A Redis that stops answering without closing its connections (a blackholed network, a failover
// in progress), in front of the whole system: every service as its own process, all of them
// reaching Redis through one TCP proxy that can stop forwarding. CONTRACT §4, issue 8.
import { randomUUID } from 'node:crypto';
import { createPrismaClient, createTestDatabase, type PrismaClient, type TestDatabase } from '@agentos/db';
import { type ServiceName, type ServiceProcess, spawnService } from '../support/processes';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../support/redis';
import { startTcpProxy } from '../support/tcp-proxy';
import { signToken, TEST_SECRET } from '../support/tokens';
import { waitFor } from '../support/wait';

const INGEST_TOKEN = 'silent-faults-ingest-token-0123';
const SERVICES: ServiceName[] = ['collector', 'dispatcher', 'cache-warmer', 'api', 'realtime-gateway'];

jest.setTimeout(120_000);

describe('Redis blackholed under every service', () => {
  const namespace = uniqueNamespace('blackhole');
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let db: TestDatabase;
  let prisma: PrismaClient;
  const services = new Map<ServiceName, ServiceProcess>();

  beforeAll(async () => {
    const redis = new URL(TEST_REDIS_URL);
    proxy = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
    db = await createTestDatabase('blackhole');
    prisma = createPrismaClient(db.url);
    const env = {
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      SSOT_NAMESPACE: namespace,
      DATABASE_URL: db.url,
      AUTH_JWT_SECRET: TEST_SECRET,
      INGEST_TOKENS: INGEST_TOKEN,
      LOG_LEVEL: 'warn',
    };
    for (const name of SERVICES) services.set(name, await spawnService(name, env));
  });

  afterAll(async () => {
    proxy?.forward();
    await Promise.all([...services.values()].map((service) => service.stop()));
    await prisma?.$disconnect();
    await db?.drop();
    await proxy?.close();
    await cleanupNamespace(namespace);
  });

  const service = (name: ServiceName) => services.get(name)!;

  it('turns every /healthz red within 15 s, keeps every request within its timeout, recovers, and loses no accepted event', async () => {
    const admin = await signToken({ sub: 'operator', role: 'admin' });
    const api = service('api');
    const read = async (timeoutMs: number) => {
      const started = performance.now();
      try {
        const res = await fetch(`${api.url}/api/admin/ssot`, { headers: { authorization: `Bearer ${admin}` }, signal: AbortSignal.timeout(timeoutMs) });
        return { status: res.status, source: res.headers.get('x-ssot-source'), ms: performance.now() - started };
      } catch (error) {
        return { status: 0, source: `no answer within ${timeoutMs} ms (${(error as Error).name})`, ms: performance.now() - started };
      }
    };
    const post = (events: unknown[], timeoutMs: number) =>
      fetch(`${api.url}/api/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
        signal: AbortSignal.timeout(timeoutMs),
      }).then(
        (res) => res.status,
        () => 0,
      );

    // A snapshot exists, and 200 jobs were accepted before the fault.
    await waitFor(async () => (await read(5000)).status === 200, { timeoutMs: 30_000, intervalMs: 200, message: 'a first snapshot' });
    const jobIds = Array.from({ length: 200 }, () => randomUUID());
    for (let i = 0; i < jobIds.length; i += 50) {
      const events = jobIds.slice(i, i + 50).map((job_id) => ({ name: 'job:created', payload: { job_id, queue: 'blackhole', type: 'fault' } }));
      expect(await post(events, 10_000)).toBe(202);
    }

    proxy.blackhole();

    // Every service notices within 15 s: its /healthz answers 503 (and answers at once: it is
    // this process's own state), so Kubernetes would restart it.
    const red = new Set<ServiceName>();
    await waitFor(
      async () => {
        for (const name of SERVICES) {
          const health = await service(name).get('/healthz', 1000);
          if (health.status === 503) red.add(name);
        }
        expect([...red].sort()).toEqual([...SERVICES].sort());
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 250, message: 'every /healthz 503' },
    );
    const stuck = JSON.parse((await service('dispatcher').get('/healthz')).body) as { status: string; stuck: { loop: string }[] };
    expect(stuck.status).toBe('stuck');
    // Which loop passes its deadline first depends on when each last made progress.
    expect(stuck.stuck.length).toBeGreaterThan(0);
    for (const { loop } of stuck.stuck) expect(['redis:command', 'events', 'sweeper']).toContain(loop);

    // Meanwhile no request hangs: snapshot reads answer within 2 s from memory or the last good
    // copy (marked stale), ingest refuses within its own timeout, readiness says not ready.
    for (let i = 0; i < 5; i += 1) {
      const answer = await read(2000);
      expect(answer).toMatchObject({ status: 200 });
      expect(['cache', 'stale']).toContain(answer.source);
    }
    expect(await post([{ name: 'job:created', payload: { job_id: randomUUID(), queue: 'blackhole', type: 'fault' } }], 5000)).toBe(503);
    expect((await api.get('/readyz', 3000)).status).toBe(503);
    for (const name of SERVICES) expect({ name, alive: service(name).alive() }).toEqual({ name, alive: true });

    proxy.forward();

    // Back: every /healthz green again, with no restart, and every event accepted before the
    // fault has its effect.
    await waitFor(
      async () => {
        for (const name of SERVICES) expect({ name, status: (await service(name).get('/healthz', 1000)).status }).toEqual({ name, status: 200 });
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 250, message: 'every /healthz 200 again' },
    );
    await waitFor(
      async () => {
        const rows = await prisma.job.count({ where: { id: { in: jobIds } } });
        expect(rows).toBe(jobIds.length);
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 250, message: 'every accepted job in the database' },
    );
    expect(await read(5000)).toMatchObject({ status: 200 });
    for (const name of SERVICES) expect({ name, alive: service(name).alive() }).toEqual({ name, alive: true });
  });
});
