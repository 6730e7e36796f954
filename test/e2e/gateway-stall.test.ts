// A gateway starved of CPU (issue 10): SIGSTOPped for a few seconds while events flow, it comes
// back to a backlog in its socket. It must not replay the backlog's snapshot versions one patch at
// a time to its admins: it skips them (counted), sends the latest whole once it is current, its
// memory stays bounded, and its admins converge.
import { readFileSync } from 'node:fs';
import Redis from 'ioredis';
import { TEST_REDIS_URL } from '../support/redis';
import { waitFor } from '../support/wait';
import { eventMix, expectConverged, postEvents, type Stack, startStack } from './harness';

jest.setTimeout(90_000);

/** Resident memory of a process, MiB (Linux). */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) / 1024;
}

async function metric(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('a gateway stopped for a few seconds', () => {
  let stack: Stack;
  /** The gateway's INTAKE_MAX_LAG_MS here: shorter than the stop, by far. */
  const INTAKE_MAX_LAG_MS = 300;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 1, name: 'e2e_stall', gatewayEnv: { INTAKE_MAX_LAG_MS: String(INTAKE_MAX_LAG_MS) } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('skips the backlog of versions, keeps its memory bounded, and its admins converge', async () => {
    const gateway = stack.gateways[0]!;
    const clients = await Promise.all(Array.from({ length: 4 }, () => stack.client(0)));
    await Promise.all(clients.map((client) => client.connect()));
    await waitFor(() => clients.every((client) => client.state === 'live'), { timeoutMs: 10_000, message: 'every client live' });
    const pid = gateway.child.pid!;
    const rssBefore = rssMiB(pid);

    const publisher = stack.publisher();
    const mix = eventMix(11);
    const warmup = await postEvents(publisher, mix, 100);
    await waitFor(async () => (await stack.processed(warmup)) === warmup.length, { timeoutMs: 20_000, message: 'warm-up events persisted' });

    // Versions are not consecutive numbers: count the announcements themselves.
    const announced: number[] = [];
    const listener = new Redis(TEST_REDIS_URL);
    listener.on('message', () => announced.push(Date.now()));
    await listener.subscribe(stack.keys.versionChannel);
    gateway.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    let stoppedMs = 0;
    let ids: string[];
    try {
      // Versions and broadcasts pile up in its socket while it is stopped: a few versions, and
      // stopped until they are older than its intake may lag, whatever the speed of this machine,
      // so what piled up is too old to forward and must be dropped and counted. Not much longer:
      // the stop ends then, not once every event is in (on a loaded machine that took many
      // seconds), so the backlog Redis holds for the gateway stays well inside its pub/sub
      // output limit.
      ids = await postEvents(publisher, mix, 1500);
      await waitFor(() => announced.length >= 3, { timeoutMs: 30_000, message: 'three versions announced while the gateway is stopped' });
      const thirdAt = announced[2]!;
      await waitFor(() => Date.now() - thirdAt > 3 * INTAKE_MAX_LAG_MS, { message: 'those versions older than the intake lag' });
    } finally {
      gateway.child.kill('SIGCONT');
      stoppedMs = Date.now() - stoppedAt;
      listener.disconnect();
    }
    await waitFor(async () => (await stack.processed(ids)) === ids.length, { timeoutMs: 30_000, intervalMs: 200, message: 'the events persisted' });

    // One more event once it runs again: an announcement on time, which brings the latest whole.
    const after = await postEvents(publisher, mix, 10);
    await waitFor(async () => (await stack.processed(after)) === after.length, { message: 'the last events persisted' });
    await expectConverged(stack, clients);

    expect(gateway.alive()).toBe(true);
    const dropped = await metric(gateway.url, 'ssot_gateway_intake_dropped_total', 'kind="snapshot_update"');
    if (dropped === 0) {
      // Say what the gateway saw: its intake metrics and its log.
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      const seen = text.split('\n').filter((l) => /^ssot_gateway_(intake|redis|patches|snapshot_version|emitted|coalesced)|^nodejs_eventloop_lag_max/.test(l));
      throw new Error(`no snapshot update dropped after the stop (stopped ${stoppedMs} ms, ${announced.length} versions announced meanwhile)\n${seen.join('\n')}\n--- gateway output ---\n${gateway.output().slice(-6000)}`);
    }
    // Bounded: the backlog costs what it holds, not a copy per admin per version.
    expect(rssMiB(pid) - rssBefore).toBeLessThan(150);
    for (const client of clients) expect(client.stats).toMatchObject({ connections: 1, badMessages: 0 });
  });
});
