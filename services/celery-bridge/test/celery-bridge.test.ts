// The celery-bridge against a real Celery cluster (Debian's python3-celery): a prefork worker
// runs 300 tasks — some failing, some retrying — and one long task revoked through the api's
// POST …/cancel; afterwards the SSOT (its database rows and its snapshot) says what Celery's own
// results say. The broker is a redis-server of this suite's own: Celery's event channels ignore
// the database number, so suites sharing a Redis would see each other's events.
import { hostname } from 'node:os';
import type { Snapshot } from '@agentos/contracts';
import Redis from 'ioredis';
import { type Stack, startStack } from '../../../test/e2e/harness';
import { type ServiceProcess, spawnService } from '../../../test/support/processes';
import { TEST_REDIS_URL } from '../../../test/support/redis';
import { startRedisServer } from '../../../test/support/redis-server';
import { signToken } from '../../../test/support/tokens';
import { waitFor } from '../../../test/support/wait';
import { type CeleryResult, type CeleryUrls, type CeleryWorker, type PlannedTask, results, startWorker, submit } from './support/celery';

jest.setTimeout(90_000);

const QUEUES = ['celery', 'reports'];
const AGENTS = 'pipeline.work=planner,pipeline.*=reviewer';
const STATUS_OF: Record<string, string> = { SUCCESS: 'completed', FAILURE: 'failed', REVOKED: 'cancelled' };

/** Deterministic PRNG (mulberry32): every run sends the same mix. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 270 `work` tasks (sleeping 0-30 ms, one in ten failing) and 30 `flaky` ones (1 or 2 retries, a third giving up), over two queues. */
function plan(): PlannedTask[] {
  const random = prng(9);
  const tasks: PlannedTask[] = [];
  for (let i = 0; i < 300; i += 1) {
    const queue = QUEUES[i % 2]!;
    if (i % 10 === 5) tasks.push({ task: 'pipeline.flaky', args: [1 + (i % 2), i % 3 === 0], queue });
    else tasks.push({ task: 'pipeline.work', args: [Math.floor(random() * 30), random() < 0.1], queue });
  }
  return tasks;
}

describe('celery-bridge with a real Celery worker', () => {
  let broker: Awaited<ReturnType<typeof startRedisServer>>;
  let urls: CeleryUrls;
  let stack: Stack;
  let bridge: ServiceProcess;
  let bridgeEnv: Record<string, string>;
  let worker: CeleryWorker;
  let admin: string;

  beforeAll(async () => {
    broker = await startRedisServer();
    // Database 3: the event channels are /3.celeryev/*, which the bridge must derive from the URL.
    urls = { broker: `${broker.url}/3`, results: `${broker.url}/4` };
    stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'celery', seed: false });
    admin = await signToken({ sub: 'celery-admin', role: 'admin' });
    bridgeEnv = {
      CELERY_BROKER_URL: urls.broker,
      INGEST_URL: stack.apiUrl,
      INGEST_TOKEN: stack.ingestToken,
      REDIS_URL: TEST_REDIS_URL,
      SSOT_NAMESPACE: stack.namespace,
      CELERY_QUEUES: QUEUES.join(','),
      CELERY_AGENT_MAP: AGENTS,
      CELERY_QUEUE_POLL_MS: '500',
    };
    bridge = await spawnService('celery-bridge', bridgeEnv);
    worker = await startWorker(urls, { name: 'accept', queues: QUEUES, concurrency: 3 });
  });

  afterAll(async () => {
    await worker?.stop();
    await bridge?.stop();
    await stack?.stop();
    await broker?.stop();
  });

  async function metric(name: string): Promise<number> {
    const { body } = await bridge.get('/metrics');
    return body
      .split('\n')
      .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  async function snapshot(): Promise<Snapshot> {
    const read = await stack.read();
    if (read.status !== 200) throw new Error(`GET /api/admin/ssot answered ${read.status}`);
    return read.body!;
  }

  it('lists the worker online under its Celery hostname, with the queues and pool size it told', async () => {
    expect(worker.hostname).toBe(`accept@${hostname()}`);
    await waitFor(
      async () => {
        const details = (await snapshot()).dashboard.workers.details;
        expect(details.find((w) => w.id === worker.hostname)).toMatchObject({
          hostname: worker.hostname,
          status: 'online',
          queues: QUEUES,
          concurrency: 3,
          source: 'live',
        });
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 200, message: 'the worker online in the snapshot' },
    );
  });

  it("runs 300 tasks and a revoked one, and the SSOT then says what Celery's results say", async () => {
    // The long task first, so a pool process is running it when the cancel comes.
    const [longId] = await submit(urls, [{ task: 'pipeline.long', args: [60], queue: 'celery' }]);
    await waitFor(async () => (await stack.prisma.job.findUnique({ where: { id: longId! } }))?.status === 'processing', {
      timeoutMs: 15_000,
      intervalMs: 100,
      message: 'the long task processing in the SSOT',
    });
    const cancel = await fetch(`${stack.apiUrl}/api/admin/jobs/${encodeURIComponent(longId!)}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    expect(cancel.status).toBe(202);
    const { command_id: commandId } = (await cancel.json()) as { command_id: string };

    const ids = await submit(urls, plan());
    const all = [longId!, ...ids];
    const truth = await waitFor(
      async () => {
        const answer = await results(urls, all);
        const open = Object.values(answer).filter((r) => !(r.state in STATUS_OF));
        return open.length === 0 ? answer : null;
      },
      { timeoutMs: 60_000, intervalMs: 500, message: 'Celery done with every task' },
    );
    const states = Object.values(truth).map((r) => r.state);
    // The mix is what the test claims: failures, retries (some failing for good), one revoked.
    expect(states.filter((s) => s === 'REVOKED')).toHaveLength(1);
    expect(states.filter((s) => s === 'FAILURE').length).toBeGreaterThan(20);
    expect(Object.values(truth).filter((r) => (r.retries ?? 0) > 0 && r.state === 'SUCCESS').length).toBeGreaterThan(10);
    expect(Object.values(truth).filter((r) => (r.retries ?? 0) > 0 && r.state === 'FAILURE').length).toBeGreaterThan(5);
    expect(truth[longId!]).toMatchObject({ state: 'REVOKED', error: "TaskRevokedError('terminated')", retries: 0 });

    // Every task's row, as Celery tells it.
    await waitFor(
      async () => {
        const rows = await stack.prisma.job.findMany({ where: { id: { in: all } } });
        expect(rows).toHaveLength(all.length);
        const runtimes = worker.runtimes();
        const mismatches = rows.map((row) => mismatch(row, truth[row.id]!, runtimes.get(row.id))).filter((m) => m !== null);
        expect(mismatches).toEqual([]);
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 250, message: "every job row equal to Celery's result" },
    );

    // The snapshot's per-queue counts, as Celery's results add up.
    await waitFor(
      async () => {
        const body = await snapshot();
        for (const queue of QUEUES) {
          const failed = Object.values(truth).filter((r) => r.queue === queue && r.state === 'FAILURE').length;
          expect(body.queue.queues.find((q) => q.name === queue)).toMatchObject({ name: queue, pending: 0, processing: 0, failed, broker: { pending: 0, source: 'celery' } });
        }
        const count = (state: string) => states.filter((s) => s === state).length;
        expect(body.analytics.by_status).toMatchObject({ completed: count('SUCCESS'), failed: count('FAILURE'), cancelled: 1, pending: 0, processing: 0 });
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 250, message: "the snapshot's queues equal to Celery's results" },
    );

    // The command is kept with who asked, and what Celery made of it.
    expect(await stack.prisma.command.findUnique({ where: { id: commandId } })).toMatchObject({ jobId: longId, source: 'celery', action: 'cancel', requestedBy: 'celery-admin', status: 'succeeded' });
    expect(await metric('celery_bridge_events_dropped_total')).toBe(0);
    expect(await metric('celery_bridge_broker_disconnects_total')).toBe(0);
    expect(await metric('celery_bridge_tasks_joined_late_total')).toBe(0);
    expect(await metric('celery_bridge_commands_total')).toBe(1);
  });

  it('refuses a retry of a Celery job at the api (409), before anything is queued', async () => {
    const [id] = await submit(urls, [{ task: 'pipeline.work', args: [0, true], queue: 'celery' }]);
    await waitFor(async () => (await stack.prisma.job.findUnique({ where: { id: id! } }))?.status === 'failed', { timeoutMs: 15_000, intervalMs: 100, message: 'the task failed in the SSOT' });
    const retry = await fetch(`${stack.apiUrl}/api/admin/jobs/${encodeURIComponent(id!)}/retry`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    expect(retry.status).toBe(409);
    expect(await stack.prisma.command.count({ where: { jobId: id! } })).toBe(0);
  });

  it('sees nothing of what happens while it is away, and says what it joined late', async () => {
    const env = { ...bridgeEnv };
    expect(await bridge.stop()).toBe(0);
    // Created and finished while the bridge is away; created while away and finished after.
    const [unseen, late] = await submit(urls, [
      { task: 'pipeline.work', args: [0, false], queue: 'celery' },
      { task: 'pipeline.long', args: [6], queue: 'reports' },
    ]);
    await waitFor(async () => (await results(urls, [unseen!]))[unseen!]!.state === 'SUCCESS', { timeoutMs: 10_000, intervalMs: 200, message: 'the first task done' });
    bridge = await spawnService('celery-bridge', env);
    await waitFor(async () => (await stack.prisma.job.findUnique({ where: { id: late! } }))?.status === 'completed', {
      timeoutMs: 15_000,
      intervalMs: 200,
      message: 'the task finished after the bridge came back, completed in the SSOT',
    });
    expect(await stack.prisma.job.findUnique({ where: { id: unseen! } })).toBeNull();
    // Its creation was missed: its name and queue were never said again, its run is known.
    const row = await stack.prisma.job.findUnique({ where: { id: late! } });
    expect(row).toMatchObject({ type: 'unknown', queue: 'celery', source: 'celery', workerId: worker.hostname, attempts: 1 });
    expect(row!.durationMs).toBeGreaterThanOrEqual(6000);
    expect(await metric('celery_bridge_tasks_joined_late_total')).toBe(1);
  });

  it('reconnects at once when its subscription is cut, and counts the time it was away', async () => {
    const redis = new Redis(urls.broker);
    try {
      const clients = (await redis.client('LIST')) as string;
      const line = clients.split('\n').find((l) => / name=celery-bridge:events /.test(l));
      const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
      expect(id).toBeDefined();
      expect(await redis.client('KILL', 'ID', id!)).toBe(1);
    } finally {
      redis.disconnect();
    }
    await waitFor(async () => (await metric('celery_bridge_broker_disconnects_total')) === 1 && (await metric('celery_bridge_broker_connected')) === 1, {
      timeoutMs: 5000,
      intervalMs: 50,
      message: 'the bridge subscribed again',
    });
    expect(await metric('celery_bridge_broker_disconnected_seconds_total')).toBeGreaterThan(0);
    const [id] = await submit(urls, [{ task: 'pipeline.work', args: [0, false], queue: 'reports' }]);
    await waitFor(async () => (await stack.prisma.job.findUnique({ where: { id: id! } }))?.status === 'completed', { timeoutMs: 10_000, intervalMs: 100, message: 'a task after the reconnect completed in the SSOT' });
  });

  it('announces the worker offline once when it stops', async () => {
    expect(await worker.stop()).toBe(0);
    await waitFor(async () => (await stack.prisma.worker.findUnique({ where: { id: worker.hostname } }))?.status === 'offline', {
      timeoutMs: 10_000,
      intervalMs: 100,
      message: 'the worker offline in the database',
    });
    const offline = await stack.prisma.processedEvent.findMany({ where: { name: 'worker:offline' } });
    expect(offline.map((e) => e.id)).toEqual([expect.stringMatching(new RegExp(`^celery:${worker.hostname}:worker-offline:`))]);
    // Gone from the live set, so the heartbeat sweeper has nothing left to announce a second time.
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(await redis.zscore(stack.keys.workersLive, worker.hostname)).toBeNull();
    } finally {
      redis.disconnect();
    }
    const details = (await snapshot()).dashboard.workers.details;
    expect(details.find((w) => w.id === worker.hostname)).toMatchObject({ status: 'offline' });
  });
});

/** How a job row differs from Celery's result, or null when it says the same. */
function mismatch(
  row: { id: string; status: string; attempts: number; durationMs: number | null; error: string | null; queue: string; type: string; agent: string | null; workerId: string | null; source: string },
  truth: CeleryResult,
  /** Celery's runtime of the task, from the worker's log, when it succeeded. */
  runtime: number | undefined,
): Record<string, unknown> | null {
  const problems: Record<string, unknown> = {};
  const expect = (field: string, actual: unknown, wanted: unknown) => {
    if (actual !== wanted) problems[field] = { ssot: actual, celery: wanted };
  };
  expect('status', row.status, STATUS_OF[truth.state]);
  expect('attempts', row.attempts, (truth.retries ?? 0) + 1);
  expect('queue', row.queue, truth.queue);
  expect('type', row.type, truth.name);
  expect('agent', row.agent, truth.name === 'pipeline.work' ? 'planner' : 'reviewer');
  expect('source', row.source, 'celery');
  expect('worker', row.workerId?.startsWith('accept@'), true);
  // A failure's error is the exception first (Celery's repr of it), then the traceback's end; a
  // revoked task says why in its job:cancelled (the history), and has no error.
  if (truth.state === 'FAILURE') expect('error', row.error?.split('\n')[0], truth.error);
  else expect('error', row.error, null);
  if (truth.state === 'SUCCESS') {
    // Celery's own runtime, as the worker logged it: exactly what the SSOT must say.
    expect('duration', row.durationMs, runtime === undefined ? 'no runtime logged' : Math.round(runtime * 1000));
  } else if (truth.state === 'FAILURE') {
    // Celery reports no runtime for a failure: the bridge measures from task-started to
    // task-failed (translate.test.ts pins the rule), both stamped by the worker's main process as
    // it hears from the pool process, so on a loaded machine it can be a little under the sleep
    // the task was asked for, or well over it. Here: there, and plausible.
    const slept = truth.name === 'pipeline.work' ? Number(truth.args?.[0] ?? 0) : 0;
    if (row.durationMs === null || row.durationMs > slept + 30_000) problems.duration = { ssot: row.durationMs, slept_ms: slept };
  }
  return Object.keys(problems).length === 0 ? null : { id: row.id, state: truth.state, ...problems };
}
