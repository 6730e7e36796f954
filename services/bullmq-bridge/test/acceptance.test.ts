// Issue 9, "Real BullMQ": 5,100 jobs over three queues on real BullMQ workers, with failures,
// retries and progress, through the bridge (a process, SIGKILLed twice mid-run and started again)
// into the real api, dispatcher and collector. Afterwards every job's state in the SSOT equals
// BullMQ's, per job and per queue, and no event was applied twice.
import { PIPELINE_AGENTS } from '@agentos/contracts';
import { type Job, Queue, Worker } from 'bullmq';
import type Redis from 'ioredis';
import { type Stack, startStack } from '../../../test/e2e/harness';
import type { ServiceProcess } from '../../../test/support/processes';
import { TEST_REDIS_URL } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';
import { bullConnection, cleanupPrefix, eventually, spawnBridge, startIngestProxy, uniquePrefix } from './support';

jest.setTimeout(120_000);

const QUEUES = ['emails', 'renders', 'reports'] as const;
const PER_QUEUE = 1700;
const TOTAL = QUEUES.length * PER_QUEUE;
const AGENTS = PIPELINE_AGENTS.map((a) => a.name);

type Mode = 'ok' | 'flaky' | 'fails' | 'fails-once';
interface Data {
  user_id: string;
  agent: string;
  mode: Mode;
  progress: boolean;
}

/** Job n's behaviour: 10 % fail on both attempts, 10 % fail once then succeed, 10 % fail with no retry. */
function dataFor(n: number): { data: Data; attempts: number } {
  const mode: Mode = n % 10 === 0 ? 'fails' : n % 10 === 1 ? 'flaky' : n % 10 === 2 ? 'fails-once' : 'ok';
  return { data: { user_id: `user-${n % 7}`, agent: AGENTS[n % AGENTS.length]!, mode, progress: n % 3 === 0 }, attempts: mode === 'fails-once' ? 1 : 2 };
}

async function work(job: Job<Data>): Promise<string> {
  if (job.data.progress) await job.updateProgress(50);
  if (job.data.mode === 'fails' || job.data.mode === 'fails-once') throw new Error(`${job.name} failed on attempt ${job.attemptsMade + 1}`);
  if (job.data.mode === 'flaky' && job.attemptsMade === 0) throw new Error('transient');
  return 'done';
}

let stack: Stack;
let connection: Redis;
let proxy: Awaited<ReturnType<typeof startIngestProxy>>;
const prefix = uniquePrefix();
const bridges: ServiceProcess[] = [];
const closers: { close(): Promise<unknown> }[] = [];

beforeAll(async () => {
  stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'bullmq-accept', seed: false });
  connection = bullConnection();
  proxy = await startIngestProxy(stack.apiUrl);
});

afterAll(async () => {
  for (const c of closers.reverse()) await c.close().catch(() => {});
  for (const bridge of bridges) await bridge.stop();
  connection?.disconnect();
  await proxy?.close();
  await stack?.stop();
  await cleanupPrefix(prefix);
});

const startBridge = async () => {
  const bridge = await spawnBridge(stack, prefix, { BULLMQ_QUEUES: QUEUES.join(','), INGEST_URL: proxy.url });
  bridges.push(bridge);
  return bridge;
};
const finishedInSsot = () => stack.prisma.job.count({ where: { source: 'bullmq', status: { in: ['completed', 'failed'] } } });
const jobEvents = () => stack.prisma.jobEvent.count({ where: { source: 'bullmq' } });

it('every job ends in the SSOT as in BullMQ, across two SIGKILLs of the bridge, none counted twice', async () => {
  const queues = QUEUES.map((name) => {
    // Room for every entry of the run: what BullMQ trims before the bridge reads it is lost (by design).
    const queue = new Queue(name, { connection, prefix, streams: { events: { maxLen: 500_000 } } });
    closers.push(queue);
    return queue;
  });
  let bridge = await startBridge();
  for (const name of QUEUES) {
    const worker = new Worker(name, work, { connection, prefix, concurrency: 25, name: `worker-${name}` });
    closers.push(worker);
  }

  // Jobs go in while the workers run, a few hundred at a time over the three queues.
  const adding = (async () => {
    for (let from = 0; from < PER_QUEUE; from += 100) {
      await Promise.all(
        queues.map((queue) =>
          queue.addBulk(
            Array.from({ length: Math.min(100, PER_QUEUE - from) }, (_, k) => {
              const { data, attempts } = dataFor(from + k);
              return { name: `${queue.name}-task`, data, opts: { attempts } };
            }),
          ),
        ),
      );
    }
  })();

  // Two crashes mid-run, after about a fifth and about half of the run's events, each right
  // after the api accepted a batch and before the bridge heard so (so before it saved its
  // position): the next bridge reads from the last saved position and posts that batch again.
  const killedAt: number[] = [];
  for (const after of [4000, 10_000]) {
    await proxy.holdAccepted(after);
    await bridge.kill();
    proxy.dropHeld();
    killedAt.push(proxy.forwarded());
    bridge = await startBridge();
  }
  await adding;

  // BullMQ done …
  await eventually(
    async () => {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts('completed', 'failed')));
      expect(counts.reduce((sum, c) => sum + c.completed! + c.failed!, 0)).toBe(TOTAL);
    },
    { timeoutMs: 60_000, intervalMs: 200, message: 'BullMQ finished every job' },
  );
  // … and the SSOT caught up.
  // Asserted inside, so that a timeout says how many had arrived, and in which state.
  await waitFor(
    async () => {
      const finished = await finishedInSsot();
      if (finished === TOTAL) return true;
      const byStatus = await stack.prisma.job.groupBy({ by: ['status'], where: { source: 'bullmq' }, _count: true });
      expect({ finished, byStatus: Object.fromEntries(byStatus.map((g) => [g.status, g._count])) }).toEqual({ finished: TOTAL, byStatus: expect.anything() });
      return false;
    },
    { timeoutMs: 60_000, intervalMs: 200, message: 'every job finished in the SSOT' },
  );

  // Per job: status, attempts, error, duration, and who and what it was.
  const ssot = new Map((await stack.prisma.job.findMany({ where: { source: 'bullmq' } })).map((job) => [job.id, job]));
  expect(ssot.size).toBe(TOTAL);
  const mismatches: unknown[] = [];
  for (const queue of queues) {
    for (const state of ['completed', 'failed'] as const) {
      for (const job of (await queue.getJobs([state], 0, -1)) as Job<Data>[]) {
        const expected = {
          queue: queue.name,
          type: job.name,
          status: state,
          attempts: job.attemptsMade,
          error: state === 'failed' ? job.failedReason : null,
          durationMs: job.finishedOn! - job.processedOn!,
          userId: job.data.user_id,
          agent: job.data.agent,
          workerId: `worker-${queue.name}`,
        };
        const row = ssot.get(`${queue.name}:${job.id}`);
        const actual = row && { queue: row.queue, type: row.type, status: row.status, attempts: row.attempts, error: row.error, durationMs: row.durationMs, userId: row.userId, agent: row.agent, workerId: row.workerId };
        if (JSON.stringify(actual) !== JSON.stringify(expected)) mismatches.push({ id: `${queue.name}:${job.id}`, expected, actual });
      }
    }
  }
  expect(mismatches.slice(0, 5)).toEqual([]);

  // Per queue: the SSOT's counts are BullMQ's getJobCounts, in the database and in the snapshot.
  const byQueue = await stack.prisma.job.groupBy({ by: ['queue', 'status'], where: { source: 'bullmq' }, _count: { _all: true } });
  for (const queue of queues) {
    const counts = await queue.getJobCounts('completed', 'failed', 'active', 'waiting', 'delayed', 'prioritized', 'paused', 'waiting-children');
    const ssotCount = (status: string) => byQueue.find((g) => g.queue === queue.name && g.status === status)?._count._all ?? 0;
    expect({ completed: ssotCount('completed'), failed: ssotCount('failed'), processing: ssotCount('processing'), pending: ssotCount('pending') }).toEqual({
      completed: counts.completed,
      failed: counts.failed,
      processing: counts.active,
      pending: counts.waiting! + counts.delayed! + counts.prioritized! + counts.paused! + counts['waiting-children']!,
    });
    await eventually(
      async () => {
        const section = (await stack.read()).body!.queue.queues.find((q) => q.name === queue.name);
        expect(section).toMatchObject({ pending: 0, processing: 0, failed: counts.failed, broker: { pending: 0 } });
      },
      { timeoutMs: 15_000, message: `the snapshot's ${queue.name} counts` },
    );
  }

  // None counted twice: after the crashes the bridge read again from its saved positions and
  // posted the same events with the same ids, so each job has one event per run and outcome.
  const repeated = await stack.prisma.$queryRaw<{ job_id: string; name: string; attempt: number; n: number }[]>`
    SELECT job_id, name, attempt, count(*)::int AS n FROM job_events
    WHERE source = 'bullmq' AND name IN ('job:created', 'job:completed', 'job:failed')
    GROUP BY job_id, name, attempt HAVING count(*) > 1 LIMIT 5`;
  expect(repeated).toEqual([]);
  const completed = (await Promise.all(queues.map((q) => q.getJobCounts('completed')))).reduce((sum, c) => sum + c.completed!, 0);
  expect(await stack.prisma.jobEvent.count({ where: { source: 'bullmq', name: 'job:completed' } })).toBe(completed);
  expect(await stack.prisma.jobEvent.count({ where: { source: 'bullmq', name: 'job:failed' } })).toBe(TOTAL - completed);
  // Runs: every job created once as attempt 1, and once more per retry BullMQ made.
  const retries = [...ssot.values()].reduce((sum, job) => sum + job.attempts - 1, 0);
  expect(await stack.prisma.jobEvent.count({ where: { source: 'bullmq', name: 'job:created' } })).toBe(TOTAL + retries);

  // The bridge that ran last read every queue throughout: no save was refused as stale.
  expect(bridge.output()).not.toContain('queue no longer read here');

  // The crashes really were mid-run, and batches were posted again after them.
  const stored = await jobEvents();
  expect(killedAt[1]).toBeLessThan(stored);
  expect(proxy.forwarded()).toBeGreaterThan(stored);
});
