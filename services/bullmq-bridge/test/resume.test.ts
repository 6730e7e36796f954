// Where reading starts and what a restart can and cannot recover: BULLMQ_START=latest, a job first
// seen in the middle of its life, and entries BullMQ trimmed while the bridge was down (counted).
import { Queue, Worker } from 'bullmq';
import type Redis from 'ioredis';
import { type Stack, startStack } from '../../../test/e2e/harness';
import type { ServiceProcess } from '../../../test/support/processes';
import { TEST_REDIS_URL } from '../../../test/support/redis';
import { bullConnection, cleanupPrefix, eventually, spawnBridge, uniquePrefix } from './support';

jest.setTimeout(60_000);

let stack: Stack;
let connection: Redis;
const prefix = uniquePrefix();
const closers: { close(): Promise<unknown> }[] = [];
const bridges: ServiceProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'bullmq-resume', seed: false });
  connection = bullConnection();
});

afterAll(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => {});
  for (const bridge of bridges) await bridge.stop();
  connection?.disconnect();
  await stack?.stop();
  await cleanupPrefix(prefix);
});

async function bridge(env: Record<string, string>): Promise<ServiceProcess> {
  const started = await spawnBridge(stack, prefix, env);
  bridges.push(started);
  return started;
}

function queue(name: string, maxLen?: number): Queue {
  const q = new Queue(name, { connection, prefix, ...(maxLen ? { streams: { events: { maxLen } } } : {}) });
  closers.push(q);
  return q;
}

async function metric(service: ServiceProcess, line: string): Promise<number> {
  const found = (await service.get('/metrics')).body.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(line.length).trim()) : 0;
}

it('BULLMQ_START=latest skips the history; a job first seen mid-life comes with its user, agent and run', async () => {
  const q = queue('latest');
  const old = await q.add('before', { user_id: 'old-user' });
  const running = await q.add('spans', { user_id: 'auth0|5f3a', agent: 'writer' });
  const started = await bridge({ BULLMQ_QUEUES: 'latest', BULLMQ_START: 'latest' });
  await eventually(async () => expect(await metric(started, 'ssot_bullmq_queues_read')).toBe(1), { timeoutMs: 10_000, message: 'the bridge reads the queue' });

  worker('latest');
  await eventually(async () => expect(await stack.prisma.job.findUnique({ where: { id: `latest:${running.id}` } })).toMatchObject({ status: 'completed', userId: 'auth0|5f3a', agent: 'writer', attempts: 1, type: 'spans' }), {
    timeoutMs: 15_000,
    message: 'the job seen from its active entry on',
  });
  // Its `added` and `waiting` came before the start: not posted, so no created event.
  expect((await stack.prisma.jobEvent.findMany({ where: { jobId: `latest:${running.id}` }, orderBy: { occurredAt: 'asc' } })).map((e) => e.name)).toEqual(['job:processing', 'job:completed']);
  expect(await stack.prisma.job.findUnique({ where: { id: `latest:${old.id}` } })).toMatchObject({ status: 'completed' });
  await started.stop();
});

it('entries BullMQ trimmed while the bridge was down are counted as lost, and reading goes on after them', async () => {
  const q = queue('trimmed', 20);
  const first = await bridge({ BULLMQ_QUEUES: 'trimmed' });
  const job = await q.add('one', {});
  await eventually(async () => expect(await stack.prisma.job.findUnique({ where: { id: `trimmed:${job.id}` } })).not.toBeNull(), { timeoutMs: 15_000 });
  await first.stop();
  // A clean stop saves where it got to: the stream's last entry, and the two entries passed.
  const last0 = (await connection.xrevrange(`${prefix}:trimmed:events`, '+', '-', 'COUNT', 1))[0]![0];
  expect(await connection.hget(`${stack.namespace}:bullmq-bridge:${prefix}:positions`, 'trimmed')).toBe(`${last0} 2`);

  // 200 entries against a stream of about 20 (trimmed by Redis in whole nodes of 100): most of
  // them are gone before anyone reads them.
  await q.addBulk(Array.from({ length: 100 }, () => ({ name: 'many', data: {} })));
  const second = await bridge({ BULLMQ_QUEUES: 'trimmed', BULLMQ_POLL_MS: '200' });
  const stream = `${prefix}:trimmed:events`;
  const [added, length] = await Promise.all([connection.xinfo('STREAM', stream), connection.xlen(stream)]).then(([info, len]) => [Number((info as unknown[])[(info as unknown[]).indexOf('entries-added') + 1]), len]);
  // Those BullMQ trimmed, less the two of the first job that the first bridge had read.
  await eventually(async () => expect(await metric(second, 'ssot_bullmq_entries_lost_total{queue="trimmed"}')).toBe(added! - length! - 2), { timeoutMs: 10_000, message: 'the loss counted' });
  expect(added! - length!).toBeGreaterThan(2);
  // The bridge's own BullMQ Queue objects left the queue's settings alone.
  expect(await connection.hget(`${prefix}:trimmed:meta`, 'opts.maxLenEvents')).toBe('20');
  const last = await q.add('after', {});
  await eventually(async () => expect(await stack.prisma.job.findUnique({ where: { id: `trimmed:${last.id}` } })).toMatchObject({ status: 'pending' }), {
    timeoutMs: 15_000,
    message: 'a job added after the gap',
  });
  expect(second.output()).toContain('BullMQ trimmed event stream entries before the bridge read them');
});

function worker(name: string): Worker {
  const w = new Worker(name, async () => 'ok', { connection, prefix });
  closers.push(w);
  return w;
}
