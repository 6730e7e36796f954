// Redis restarted mid-run, empty (nothing persisted): the gateway processes stay up, the services
// reconnect, and every client resyncs onto the snapshot the api serves.
// Runs on a redis-server of its own: the shared one is never touched.
import type { CentralDataService } from '@agentos/client';
import Redis from 'ioredis';
import { waitFor } from '../support/wait';
import { startRedisServer } from '../support/redis-server';
import { eventMix, expectConverged, postEvents, type Stack, startStack } from './harness';

describe('end to end: Redis restarted mid-run', () => {
  let redisServer: Awaited<ReturnType<typeof startRedisServer>>;
  let stack: Stack;

  beforeAll(async () => {
    redisServer = await startRedisServer();
    stack = await startStack({ redisUrl: redisServer.url, gateways: 2, name: 'e2e_redis_restart' });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await redisServer?.stop();
  }, 30_000);

  it('gateways stay up, clients resync after the restart, and all end equal to GET /api/admin/ssot', async () => {
    const clients: CentralDataService[] = [];
    for (let i = 0; i < 4; i += 1) clients.push(await stack.client(i % 2));
    await Promise.all(clients.map((client) => client.connect()));
    await waitFor(() => clients.every((client) => client.state === 'live'), { timeoutMs: 10_000, message: 'every client live' });

    const publisher = stack.publisher();
    const mix = eventMix(11);
    const before = await postEvents(publisher, mix, 600);
    await waitFor(async () => (await stack.processed(before)) === before.length, { timeoutMs: 30_000, intervalMs: 200, message: 'the first 600 events persisted' });
    const beforeRestart = await expectConverged(stack, clients);
    const received = () => clients.map((client) => client.stats.initialData + client.stats.updatesApplied);
    const receivedBefore = received();

    const marker = `${stack.namespace}:e2e-marker`;
    const probe = new Redis(redisServer.url);
    probe.on('error', () => {});
    await probe.set(marker, '1');

    await redisServer.crash();
    // Posting goes on through the outage: the publisher retries what it could not deliver.
    const posting = postEvents(publisher, mix, 150);
    // The outage is seen: no gateway is ready without Redis.
    await waitFor(async () => (await Promise.all(stack.gateways.map((g) => readyz(g.url)))).every((status) => status === 503), {
      timeoutMs: 10_000,
      message: 'every gateway not ready',
    });
    await redisServer.start();
    try {
      // It came back empty.
      expect(await probe.get(marker)).toBeNull();
    } finally {
      probe.disconnect();
    }

    const after = await posting;
    await waitFor(async () => (await stack.processed(after)) === after.length, { timeoutMs: 30_000, intervalMs: 200, message: 'the last 150 events persisted' });
    const final = await expectConverged(stack, clients, 40_000);

    expect(stack.gateways.every((gateway) => gateway.alive())).toBe(true);
    // The counter went with the data, yet versions only rose: no number names two snapshots.
    expect(final.meta.version).toBeGreaterThan(beforeRestart.meta.version);
    // Every client followed across the restart (a patch from the version its gateway held, or the
    // whole snapshot again when the gateway found one on reconnecting), on the connection it had.
    received().forEach((count, i) => expect(count).toBeGreaterThan(receivedBefore[i]!));
    for (const client of clients) expect(client.stats).toMatchObject({ connections: 1, badMessages: 0 });
    // And the first 600 events, kept in PostgreSQL, are still in what they show.
    expect(final.dashboard.jobs.total_today).toBeGreaterThanOrEqual(beforeRestart.dashboard.jobs.total_today);
  }, 60_000);
});

async function readyz(url: string): Promise<number> {
  const res = await fetch(`${url}/readyz`);
  await res.arrayBuffer();
  return res.status;
}
