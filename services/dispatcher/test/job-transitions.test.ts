// How a job's events move its state (issue 9): a platform's retry (a higher `attempt`) starts a
// finished job again, an event of an earlier attempt never overwrites a later one, and a
// cancellation ends an unfinished job but never overrides a completion or a failure. Each case
// runs twice: its events in one batch (folded in the dispatcher, jobs-fold.ts) and one batch per
// event (decided by the database, ssot_persist_events).
import { randomUUID } from 'node:crypto';
import { type AgentEvent, type EventName, type EventPayload, redisKeys } from '@agentos/contracts';
import { createPrismaClient, createTestDatabase, type PrismaClient, type TestDatabase } from '@agentos/db';
import { appendEvents, EVENT_STREAM_MAXLEN } from '@agentos/runtime';
import Redis from 'ioredis';
import { loadDispatcherConfig } from '../src/config';
import { startDispatcherService, type DispatcherService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';

const namespace = uniqueNamespace('transitions');
const keys = redisKeys(namespace);
const T0 = Date.parse('2026-12-01T10:00:00.000Z');

type Step = [name: 'job:created' | 'job:processing' | 'job:completed' | 'job:failed' | 'job:cancelled', atMs: number, extra?: Partial<EventPayload<'job:created'>> & { reason?: string }];

describe('job transitions', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let redis: Redis;
  let dispatcher: DispatcherService;

  beforeAll(async () => {
    db = await createTestDatabase('transitions');
    prisma = createPrismaClient(db.url);
    redis = new Redis(TEST_REDIS_URL);
    dispatcher = await startDispatcherService(loadDispatcherConfig({ REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, DATABASE_URL: db.url, LOG_LEVEL: 'silent' }));
  });
  afterAll(async () => {
    await dispatcher?.stop();
    await prisma?.$disconnect();
    await db?.drop();
    await cleanupNamespace(namespace);
    redis?.disconnect();
  });

  const event = <N extends EventName>(name: N, payload: EventPayload<N>, at: number): AgentEvent =>
    ({ id: randomUUID(), name, payload, occurred_at: new Date(at).toISOString(), source: 'bullmq' }) as AgentEvent;

  /** Applies `steps` to a fresh job, all in one batch or one batch each; resolves with the job's row. */
  async function apply(steps: Step[], batched: boolean) {
    const jobId = `job-${randomUUID().slice(0, 8)}`;
    const events = steps.map(([name, at, extra]) => event(name, { job_id: jobId, queue: 'transitions', type: 'render', ...extra }, T0 + at));
    if (batched) {
      await appendEvents(redis, keys, events, EVENT_STREAM_MAXLEN);
    } else {
      for (const e of events) {
        await appendEvents(redis, keys, [e], EVENT_STREAM_MAXLEN);
        await waitFor(async () => (await prisma.processedEvent.count({ where: { id: e.id } })) === 1, { message: `event ${e.name} applied` });
      }
    }
    await waitFor(async () => (await prisma.processedEvent.count({ where: { id: { in: events.map((e) => e.id) } } })) === events.length, { message: 'every event applied' });
    return prisma.job.findUniqueOrThrow({ where: { id: jobId } });
  }

  describe.each([
    ['in one batch', true],
    ['one batch per event', false],
  ])('%s', (_label, batched) => {
    it('starts a failed job again on a higher attempt, with that attempt\'s own start and outcome', async () => {
      const job = await apply(
        [
          ['job:created', 0, { attempt: 1 }],
          ['job:processing', 100, { attempt: 1 }],
          ['job:failed', 200, { attempt: 1, error: 'boom' }],
          ['job:created', 300, { attempt: 2 }],
          ['job:processing', 400, { attempt: 2 }],
          ['job:completed', 900, { attempt: 2 }],
        ],
        batched,
      );
      expect(job).toMatchObject({ status: 'completed', attempts: 2, error: null, source: 'bullmq', durationMs: 500 });
      expect(job.startedAt).toEqual(new Date(T0 + 400));
      expect(job.createdAt).toEqual(new Date(T0));
    });

    it('never lets an event of an earlier attempt overwrite a later one', async () => {
      const job = await apply(
        [
          ['job:created', 0, { attempt: 1 }],
          ['job:processing', 100, { attempt: 2 }],
          // Late, from the first run: dated after, but of attempt 1.
          ['job:failed', 500, { attempt: 1, error: 'first run' }],
        ],
        batched,
      );
      expect(job).toMatchObject({ status: 'processing', attempts: 2, error: null });
    });

    it('cancels a job that had not finished', async () => {
      const job = await apply([['job:created', 0], ['job:processing', 100], ['job:cancelled', 200, { reason: 'cancelled by admin' }]], batched);
      expect(job).toMatchObject({ status: 'cancelled' });
      expect(job.finishedAt).toEqual(new Date(T0 + 200));
    });

    it('never lets a cancellation override a completion or a failure, whichever comes first', async () => {
      expect(await apply([['job:created', 0], ['job:completed', 100], ['job:cancelled', 200]], batched)).toMatchObject({ status: 'completed' });
      expect(await apply([['job:created', 0], ['job:cancelled', 100], ['job:failed', 50, { error: 'boom' }]], batched)).toMatchObject({ status: 'failed', error: 'boom' });
    });

    it('still moves only forward without attempts: a late processing leaves a completed job completed, run once', async () => {
      expect(await apply([['job:created', 0], ['job:completed', 200], ['job:processing', 300]], batched)).toMatchObject({ status: 'completed', attempts: 1 });
    });
  });

  it('keeps every job event as the job\'s history, once, whatever the redeliveries', async () => {
    const jobId = `history-${randomUUID().slice(0, 8)}`;
    const events = (['job:created', 'job:processing', 'job:completed'] as const).map((name, i) => event(name, { job_id: jobId, queue: 'transitions', type: 'render', attempt: 1 }, T0 + i * 10));
    // The same events twice on the stream (a bridge restarted and posted them again).
    await appendEvents(redis, keys, [...events, ...events], EVENT_STREAM_MAXLEN);
    await waitFor(async () => (await prisma.job.findUnique({ where: { id: jobId } }))?.status === 'completed', { message: 'job completed' });
    const history = await prisma.jobEvent.findMany({ where: { jobId }, orderBy: { occurredAt: 'asc' } });
    expect(history.map((h) => [h.eventId, h.name, h.source, h.attempt])).toEqual(events.map((e) => [e.id, e.name, 'bullmq', 1]));
  });
});
