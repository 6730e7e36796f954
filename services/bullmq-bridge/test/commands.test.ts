// Admin commands on real BullMQ through the real api, dispatcher and collector, with the bridge as
// a process; and workers going offline.
import { Job, Queue, Worker } from 'bullmq';
import type Redis from 'ioredis';
import { type Stack, startStack } from '../../../test/e2e/harness';
import type { ServiceProcess } from '../../../test/support/processes';
import { TEST_REDIS_URL } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';
import { bullConnection, cleanupPrefix, command, eventually, spawnBridge, uniquePrefix } from './support';

jest.setTimeout(60_000);

let stack: Stack;
let bridge: ServiceProcess;
let connection: Redis;
const prefix = uniquePrefix();
const closers: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'bullmq-cmd', seed: false });
  connection = bullConnection();
  bridge = await spawnBridge(stack, prefix);
});

afterAll(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => {});
  await bridge?.stop();
  connection?.disconnect();
  await stack?.stop();
  await cleanupPrefix(prefix);
});

function queue(name: string): Queue {
  const q = new Queue(name, { connection, prefix });
  closers.push(q);
  return q;
}

function worker(name: string, processor: (job: Job) => Promise<unknown>, options: { name?: string; concurrency?: number } = {}): Worker {
  const w = new Worker(name, processor, { connection, prefix, ...options });
  // A processor whose job was failed from outside ends with "Missing lock": expected here.
  w.on('error', () => {});
  closers.push(w);
  return w;
}

const ssotJob = (id: string) => stack.prisma.job.findUnique({ where: { id } });
const commandRow = (id: string) => stack.prisma.command.findUnique({ where: { id } });

it('POST …/retry on a failed BullMQ job makes BullMQ run it again, and the SSOT shows it completed on attempt 2', async () => {
  const q = queue('retry');
  let runs = 0;
  worker('retry', async () => {
    runs += 1;
    if (runs === 1) throw new Error('flaky dependency');
    return 'done';
  });
  const job = await q.add('import', { user_id: 'auth0|5f3a' });

  await eventually(async () => expect(await ssotJob(`retry:${job.id}`)).toMatchObject({ status: 'failed', error: 'flaky dependency', attempts: 1, source: 'bullmq' }), {
    timeoutMs: 30_000,
    message: 'the SSOT shows the BullMQ failure',
  });
  const answer = await command(stack, `retry:${job.id}`, 'retry');
  expect(answer.status).toBe(202);

  await eventually(async () => expect(await Job.fromId(q, job.id!)).toMatchObject({ attemptsMade: 2, returnvalue: 'done' }), {
    timeoutMs: 30_000,
    message: 'BullMQ ran the job again',
  });
  await eventually(async () => expect(await ssotJob(`retry:${job.id}`)).toMatchObject({ status: 'completed', attempts: 2, error: null, userId: 'auth0|5f3a' }), {
    timeoutMs: 30_000,
    message: 'the SSOT shows it completed',
  });
  // The command's result is an event of its own, posted beside the job's: it may be persisted in
  // a later batch than the completion.
  await eventually(async () => expect(await commandRow(answer.body.command_id!)).toMatchObject({ status: 'succeeded', action: 'retry', requestedBy: 'bullmq-admin' }), {
    timeoutMs: 10_000,
    message: 'the command recorded as succeeded',
  });
  expect(runs).toBe(2);
});

it('POST …/cancel on a waiting job removes it from BullMQ and the SSOT shows it cancelled', async () => {
  // No worker: the job stays waiting.
  const q = queue('cancel-waiting');
  const job = await q.add('report', {});
  await eventually(async () => expect(await ssotJob(`cancel-waiting:${job.id}`)).toMatchObject({ status: 'pending' }), { timeoutMs: 30_000, message: 'the SSOT has the job pending' });

  const answer = await command(stack, `cancel-waiting:${job.id}`, 'cancel');
  expect(answer.status).toBe(202);
  await eventually(async () => expect(await ssotJob(`cancel-waiting:${job.id}`)).toMatchObject({ status: 'cancelled' }), { timeoutMs: 30_000, message: 'the SSOT shows it cancelled' });
  expect(await Job.fromId(q, job.id!)).toBeUndefined();
  expect(await q.getJobCounts('waiting')).toMatchObject({ waiting: 0 });
  await eventually(async () => expect(await commandRow(answer.body.command_id!)).toMatchObject({ status: 'succeeded' }), { timeoutMs: 20_000 });
});

it('POST …/cancel on an active job fails it in BullMQ "cancelled by admin", without a retry, and the SSOT shows the same', async () => {
  const q = queue('cancel-active');
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  worker('cancel-active', async () => {
    await held;
    return 'finished anyway';
  });
  const job = await q.add('render', {}, { attempts: 3 });
  await eventually(async () => expect(await ssotJob(`cancel-active:${job.id}`)).toMatchObject({ status: 'processing' }), { timeoutMs: 30_000, message: 'the SSOT has it processing' });

  const answer = await command(stack, `cancel-active:${job.id}`, 'cancel');
  expect(answer.status).toBe(202);
  await eventually(async () => expect(await ssotJob(`cancel-active:${job.id}`)).toMatchObject({ status: 'failed', error: 'cancelled by admin', attempts: 1 }), {
    timeoutMs: 30_000,
    message: 'the SSOT shows it failed, cancelled by admin',
  });
  expect(await (await Job.fromId(q, job.id!))!.getState()).toBe('failed');
  // The processor still returns; BullMQ refuses its result (the lock is gone), the job stays failed.
  release();
  await eventually(async () => expect(await commandRow(answer.body.command_id!)).toMatchObject({ status: 'succeeded' }), { timeoutMs: 20_000 });
  const after = (await Job.fromId(q, job.id!))!;
  expect([await after.getState(), after.failedReason, after.returnvalue ?? null]).toEqual(['failed', 'cancelled by admin', null]);
});

it('a worker that stops is announced offline once; one still running keeps its heartbeats', async () => {
  const q = queue('workers');
  await q.add('warm-up', {});
  const leaving = worker('workers', async () => 'ok', { name: 'leaving-worker' });
  worker('workers', async () => 'ok', { name: 'staying-worker' });
  const status = (id: string) => stack.prisma.worker.findUnique({ where: { id } }).then((w) => w?.status);
  await waitFor(async () => (await status('leaving-worker')) === 'online' && (await status('staying-worker')) === 'online', {
    timeoutMs: 30_000,
    message: 'both workers online in the SSOT',
  });

  await leaving.close();
  await waitFor(async () => (await status('leaving-worker')) === 'offline', { timeoutMs: 30_000, message: 'the stopped worker offline' });
  // Three more polls: the staying worker's heartbeats show the bridge went on looking.
  const heartbeats = () => stack.prisma.processedEvent.count({ where: { name: 'worker:heartbeat' } });
  const seen = await heartbeats();
  await waitFor(async () => (await heartbeats()) >= seen + 3, { timeoutMs: 30_000, message: 'three more polls' });
  const offline = await stack.prisma.logEntry.findMany({ where: { message: { startsWith: 'Worker leaving-worker offline' } } });
  expect(offline.map((entry) => entry.message)).toEqual(["Worker leaving-worker offline: gone from BullMQ's worker list"]);
  expect(await status('staying-worker')).toBe('online');
});
