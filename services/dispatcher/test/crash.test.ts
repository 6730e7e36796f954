import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { type AgentEvent, DISPATCHER_GROUP, PIPELINE_AGENTS, redisKeys } from '@agentos/contracts';
import { createPrismaClient, createTestDatabase, seedReferenceDataset, type PrismaClient, type TestDatabase } from '@agentos/db';
import { appendEvents, EVENT_STREAM_MAXLEN, newEvent } from '@agentos/runtime';
import Redis from 'ioredis';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';

const JOBS = 2_500;
/** Four events per job: created, processing twice, then completed (or failed for one in ten). */
const EVENTS = JOBS * 4;

/**
 * 10,000 events while one of two dispatcher processes is SIGKILLed twice: at-least-once delivery
 * (pending entries claimed by the survivor or the replacement) with the effect exactly once
 * (processed_events commits with the effect).
 */
describe('dispatcher replicas killed mid-stream', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let redis: Redis;
  const namespace = uniqueNamespace('crash');
  const keys = redisKeys(namespace);
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    db = await createTestDatabase('crash');
    await seedReferenceDataset(db.url, { jobs: 0, workers: 0, logs: 0 });
    prisma = createPrismaClient(db.url);
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await prisma.$disconnect();
    await db.drop();
    await cleanupNamespace(namespace);
    redis.disconnect();
  });

  function startDispatcher(): ChildProcess {
    const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'index.js')], {
      env: {
        ...process.env,
        REDIS_URL: TEST_REDIS_URL,
        SSOT_NAMESPACE: namespace,
        DATABASE_URL: db.url,
        PORT: '0',
        LOG_LEVEL: 'error',
        CLAIM_IDLE_MS: '1000',
        EVENT_BATCH: '200',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    return child;
  }

  async function kill(child: ChildProcess): Promise<void> {
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  const processed = () => prisma.processedEvent.count();

  it('applies every event exactly once and leaves nothing pending', async () => {
    const events: AgentEvent[] = [];
    const failedIds: string[] = [];
    for (let i = 0; i < JOBS; i += 1) {
      const job = {
        job_id: crypto.randomUUID(),
        queue: 'pipeline',
        type: 'agent.step',
        agent: PIPELINE_AGENTS[i % PIPELINE_AGENTS.length]!.name,
      };
      events.push(newEvent('job:created', job), newEvent('job:processing', { ...job, progress: 30 }), newEvent('job:processing', { ...job, progress: 70 }));
      if (i % 10 === 0) {
        const failed = newEvent('job:failed', { ...job, error: 'boom' });
        failedIds.push(failed.id);
        events.push(failed);
      } else {
        events.push(newEvent('job:completed', { ...job, duration_ms: 100 }));
      }
    }
    expect(events).toHaveLength(EVENTS);

    let a = startDispatcher();
    let b = startDispatcher();
    for (let i = 0; i < events.length; i += 1000) await appendEvents(redis, keys, events.slice(i, i + 1000), EVENT_STREAM_MAXLEN);

    await waitFor(async () => (await processed()) >= EVENTS * 0.3, { timeoutMs: 60_000, intervalMs: 25, message: '30% processed' });
    await kill(a);
    a = startDispatcher();
    await waitFor(async () => (await processed()) >= EVENTS * 0.6, { timeoutMs: 60_000, intervalMs: 25, message: '60% processed' });
    const killedAt = await processed();
    await kill(b);
    b = startDispatcher();
    expect(killedAt).toBeLessThan(EVENTS);

    await waitFor(async () => (await processed()) === EVENTS, { timeoutMs: 60_000, intervalMs: 100, message: 'all events processed' });
    await waitFor(async () => (await redis.xpending(keys.events, DISPATCHER_GROUP))[0] === 0, { timeoutMs: 60_000, message: 'nothing pending' });

    // Exactly once: one row per job, each in its final state, and counters that moved once per job.
    const statuses = await prisma.job.groupBy({ by: ['status'], _count: true });
    expect(Object.fromEntries(statuses.map((s) => [s.status, s._count]))).toEqual({ completed: JOBS - JOBS / 10, failed: JOBS / 10 });
    const agents = await prisma.agent.aggregate({ _sum: { jobsProcessed: true, jobsFailed: true } });
    expect(agents._sum).toEqual({ jobsProcessed: JOBS - JOBS / 10, jobsFailed: JOBS / 10 });
    expect(await prisma.logEntry.count({ where: { id: { in: failedIds } } })).toBe(JOBS / 10);
    expect(await prisma.notification.count({ where: { kind: 'notify_admin' } })).toBe(JOBS / 10);
    expect(await redis.xlen(keys.eventsDeadLetter)).toBe(0);

    await Promise.all([kill(a), kill(b)]);
  }, 180_000);
});
