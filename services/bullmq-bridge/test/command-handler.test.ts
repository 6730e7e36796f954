// The command handler on real BullMQ, without the SSOT around it: what it answers in each state.
import { randomUUID } from 'node:crypto';
import type { Command } from '@agentos/contracts';
import { createLogger, createRedis, type Redis } from '@agentos/runtime';
import { Job, Queue, Worker } from 'bullmq';
import { Registry } from 'prom-client';
import { BullQueues } from '../src/bull-queues';
import { createCommandHandler } from '../src/commands';
import { QueueSet } from '../src/discovery';
import { bullmqBridgeKeys } from '@agentos/contracts';
import { createBridgeMetrics } from '../src/metrics';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { bullConnection, cleanupPrefix, eventually, uniquePrefix } from './support';

const prefix = uniquePrefix();
const namespace = uniqueNamespace('bullmq-handler');
let redis: Redis;
let connection: ReturnType<typeof bullConnection>;
let queues: BullQueues;
let queue: Queue;
let handle: ReturnType<typeof createCommandHandler>;

beforeAll(() => {
  redis = createRedis(TEST_REDIS_URL, { name: 'handler-test', role: 'command' });
  connection = bullConnection();
  queues = new BullQueues(redis, prefix);
  queue = new Queue('work', { connection, prefix });
  handle = createCommandHandler({
    bull: redis,
    redis,
    keys: bullmqBridgeKeys(namespace, prefix),
    prefix,
    queues: new QueueSet(['work']),
    bullQueues: queues,
    logger: createLogger('bullmq-bridge', 'silent'),
    metrics: createBridgeMetrics(new Registry()),
  });
});

afterAll(async () => {
  await queue.close();
  await queues.close();
  redis.disconnect();
  connection.disconnect();
  await cleanupPrefix(prefix);
  await cleanupNamespace(namespace);
});

function commandFor(jobId: string, action: Command['action']): Command {
  return { command_id: randomUUID(), job_id: jobId, action, requested_by: 'admin-1', requested_at: new Date().toISOString() };
}

async function finished(name: string, fail: boolean): Promise<Job> {
  const job = await queue.add(name, {});
  const worker = new Worker('work', async () => {
    if (fail) throw new Error('nope');
    return 'ok';
  }, { connection, prefix });
  await eventually(async () => expect(await (await Job.fromId(queue, job.id!))!.getState()).toBe(fail ? 'failed' : 'completed'), { timeoutMs: 10_000 });
  await worker.close();
  return job;
}

it('refuses ids that are not queue:job of a carried queue, and jobs BullMQ does not have', async () => {
  expect(await handle(commandFor('42', 'retry'))).toEqual({ ok: false, error: "'42' is not a job of the BullMQ queues this bridge carries (their ids are queue:job id)" });
  expect(await handle(commandFor('other:42', 'cancel'))).toEqual({ ok: false, error: "'other:42' is not a job of the BullMQ queues this bridge carries (their ids are queue:job id)" });
  expect(await handle(commandFor('work:does-not-exist', 'cancel'))).toEqual({ ok: false, error: 'BullMQ has no job does-not-exist in queue work (removed?)' });
});

it('retries only failed jobs; a job already waiting again answers ok, a completed one is refused', async () => {
  const failed = await finished('f', true);
  expect(await handle(commandFor(`work:${failed.id}`, 'retry'))).toEqual({ ok: true });
  expect(await (await Job.fromId(queue, failed.id!))!.getState()).toBe('waiting');
  // The same retry delivered again (a crash before its result was posted): not run twice.
  expect(await handle(commandFor(`work:${failed.id}`, 'retry'))).toEqual({ ok: true });
  expect(await queue.getJobCounts('waiting')).toMatchObject({ waiting: 1 });

  const completed = await finished('c', false);
  expect(await handle(commandFor(`work:${completed.id}`, 'retry'))).toEqual({ ok: false, error: 'the job completed; BullMQ retries failed jobs only' });
  expect(await handle(commandFor(`work:${completed.id}`, 'cancel'))).toEqual({
    ok: false,
    error: 'the job is completed in BullMQ; only waiting, delayed or active jobs can be cancelled',
  });
});

it('cancels a delayed job by removing it, and answers a command delivered twice as the first time', async () => {
  const delayed = await queue.add('later', {}, { delay: 60_000 });
  const cmd = commandFor(`work:${delayed.id}`, 'cancel');
  expect(await handle(cmd)).toEqual({ ok: true });
  expect(await Job.fromId(queue, delayed.id!)).toBeUndefined();
  // The job is gone now; the same command again still answers what was done.
  expect(await handle(cmd)).toEqual({ ok: true });
});
