// Redis restarted mid-run, empty (nothing persisted): the gateway processes stay up, the services
// reconnect, versions start over, and every client resyncs onto the snapshot the api serves.
// Runs on a redis-server of its own: the shared one is never touched.
import type { CentralDataService } from '@agentos/client';
import Redis from 'ioredis';
import { waitFor } from '../support/wait';
import { eventMix, expectConverged, postEvents, type Stack, startRedisServer, startStack } from './harness';

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
    const initialData = clients.map((client) => client.stats.initialData);

    await redisServer.crash();
    // Posting goes on through the outage: the publisher retries what it could not deliver.
    const posting = postEvents(publisher, mix, 150);
    // The outage is seen: no gateway is ready without Redis.
    await waitFor(async () => (await Promise.all(stack.gateways.map((g) => readyz(g.url)))).every((status) => status === 503), {
      timeoutMs: 10_000,
      message: 'every gateway not ready',
    });
    await redisServer.start();
    const probe = new Redis(redisServer.url);
    try {
      expect(await probe.get(stack.keys.version)).toBeNull();
    } finally {
      probe.disconnect();
    }

    const after = await posting;
    await waitFor(async () => (await stack.processed(after)) === after.length, { timeoutMs: 30_000, intervalMs: 200, message: 'the last 150 events persisted' });
    // Versions started over with the empty Redis. Builds up to the version held before the
    // restart: that number now names another snapshot, and nobody may serve the old one for it.
    const held = beforeRestart.meta.version;
    let version = (await stack.read()).version;
    expect(version).toBeLessThan(held);
    while (version < held) version = (await stack.collector.collector.refresh([])).version;
    const final = await expectConverged(stack, clients, 40_000);

    expect(final.meta.version).toBe(held);
    expect(final.meta.generated_at).not.toBe(beforeRestart.meta.generated_at);
    expect(stack.gateways.every((gateway) => gateway.alive())).toBe(true);
    // Every client was sent the whole snapshot again.
    clients.forEach((client, i) => expect(client.stats.initialData).toBeGreaterThan(initialData[i]!));
    // And the first 600 events, kept in PostgreSQL, are still in what they show.
    expect(final.dashboard.jobs.total_today).toBeGreaterThanOrEqual(beforeRestart.dashboard.jobs.total_today);
  }, 60_000);
});

async function readyz(url: string): Promise<number> {
  const res = await fetch(`${url}/readyz`);
  await res.arrayBuffer();
  return res.status;
}
