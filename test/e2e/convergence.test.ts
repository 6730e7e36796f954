// Issue 4's acceptance, end to end: events posted over HTTP flow through the dispatcher, the
// collector and three gateway processes into CentralDataService clients, and every client ends
// with exactly the snapshot the api serves.
import type { CentralDataService } from '@agentos/client';
import { EVENT_NAMES } from '@agentos/contracts';
import { TEST_REDIS_URL } from '../support/redis';
import { waitFor } from '../support/wait';
import { eventMix, expectConverged, postEvents, type Stack, startStack } from './harness';

describe('end to end: clients converge on the api snapshot', () => {
  let stack: Stack;

  beforeAll(async () => {
    // Two collectors writing concurrently: most versions carry the collector's patch, some (a
    // write came in between) none, and the gateways fall back to reading and diffing.
    stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 3, name: 'e2e_convergence', collectors: 2 });
  }, 60_000);
  afterEach(async () => {
    await stack.closeClients();
  });
  afterAll(async () => {
    await stack?.stop();
  }, 30_000);

  /** `perGateway` clients on each gateway, all live. */
  async function liveClients(perGateway: number): Promise<CentralDataService[]> {
    const clients: CentralDataService[] = [];
    for (let i = 0; i < stack.gateways.length * perGateway; i += 1) clients.push(await stack.client(i % stack.gateways.length));
    await Promise.all(clients.map((client) => client.connect()));
    await waitFor(() => clients.every((client) => client.state === 'live'), { timeoutMs: 10_000, message: 'every client live' });
    return clients;
  }

  it('after 1,000 random events, every client on every gateway deep-equals GET /api/admin/ssot at the same version', async () => {
    const clients = await liveClients(2);
    const startVersion = (await stack.read()).version;
    for (const [i, client] of clients.entries()) expect(client.view.gateway).toBe(stack.gateways[i % 3]!.url);

    const mix = eventMix(4);
    const ids = await postEvents(stack.publisher(), mix, 1000);
    expect(new Set(ids).size).toBe(1000);
    for (const name of EVENT_NAMES) expect(mix.counts[name]).toBeGreaterThan(0);

    await waitFor(async () => (await stack.processed(ids)) === 1000, { timeoutMs: 30_000, intervalMs: 200, message: 'all 1,000 events persisted' });
    const final = await expectConverged(stack, clients);
    expect(final.meta.version).toBeGreaterThan(startVersion + 5);
    for (const client of clients) {
      // Carried by patches, not by reloading the whole snapshot.
      expect(client.stats.updatesApplied).toBeGreaterThan(0);
      expect(client.stats).toMatchObject({ connections: 1, badMessages: 0 });
    }
    // The patches came from the collectors, computed once, and the gateways sent them on.
    const published = await Promise.all(stack.collectors.map((c) => c.registry.getSingleMetric('ssot_collector_patches_total')!.get()));
    expect(published.flatMap((m) => m.values).filter((v) => v.labels.result === 'published').reduce((sum, v) => sum + v.value, 0)).toBeGreaterThan(0);
    for (const gateway of stack.gateways) {
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      const applied = /ssot_gateway_collector_patches_total\{result="applied"\} (\d+)/.exec(metrics);
      expect(Number(applied?.[1] ?? 0)).toBeGreaterThan(0);
    }
  }, 60_000);

  it('a gateway SIGKILLed mid-run: its clients move to another gateway and converge', async () => {
    const clients = await liveClients(2);
    const victim = stack.gateways[0]!;
    const onVictim = clients.filter((client) => client.view.gateway === victim.url);
    expect(onVictim).toHaveLength(2);

    const publisher = stack.publisher();
    const mix = eventMix(7);
    const before = await postEvents(publisher, mix, 250);
    await victim.kill();
    const after = await postEvents(publisher, mix, 250);

    await waitFor(() => onVictim.every((client) => client.state === 'live' && client.view.gateway !== victim.url), {
      timeoutMs: 10_000,
      message: 'the victim’s clients live on another gateway',
    });
    for (const client of onVictim) {
      expect(client.view.gateway).toBe(stack.gateways[1]!.url);
      expect(client.stats.connections).toBeGreaterThanOrEqual(2);
    }
    const ids = [...before, ...after];
    await waitFor(async () => (await stack.processed(ids)) === ids.length, { timeoutMs: 30_000, intervalMs: 200, message: 'all 500 events persisted' });
    await expectConverged(stack, clients);
    expect(victim.alive()).toBe(false);
    expect(stack.gateways.slice(1).every((gateway) => gateway.alive())).toBe(true);
  }, 60_000);
});
