import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AgentEvent, type BroadcastMessage, redisKeys, snapshot, type Snapshot } from '@agentos/contracts';
import { createPrismaClient, createTestDatabase, seedReferenceDataset, type PrismaClient, type TestDatabase } from '@agentos/db';
import { appendEvents, EVENT_STREAM_MAXLEN, newEvent } from '@agentos/runtime';
import Redis from 'ioredis';
import pino from 'pino';
import request from 'supertest';
import { loadApiConfig } from '../../api/src/config';
import { startApiService, type ApiService } from '../../api/src/service';
import { loadCollectorConfig } from '../../collector/src/config';
import { startCollectorService, type CollectorService } from '../../collector/src/service';
import { loadDispatcherConfig } from '../src/config';
import { listDeadLetters } from '../src/dead-letter';
import { startHeartbeatSweeper } from '../src/heartbeat-sweeper';
import { startDispatcherService, type DispatcherService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { waitFor } from '../../../test/support/wait';

/** A webhook receiver whose answer the test decides, and that can hold its answers back. */
async function startWebhook() {
  const received: { id: string; event: string; key: string | undefined }[] = [];
  let status = 200;
  let held: (() => void)[] | null = null;
  let waiting = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const answer = () => {
        waiting -= 1;
        if (status === 200) received.push({ ...(JSON.parse(body) as { id: string; event: string }), key: req.headers['idempotency-key'] as string | undefined });
        res.writeHead(status).end();
      };
      waiting += 1;
      if (held) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    /** Requests that arrived and are not answered yet. */
    get waiting() {
      return waiting;
    },
    answer(code: number) {
      status = code;
    },
    /** From now on, requests wait for `release()`. */
    hold() {
      held ??= [];
    },
    release() {
      const answers = held ?? [];
      held = null;
      for (const answer of answers) answer();
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** `npm run dlq -- …` as an operator runs it (the built CLI), against this suite's namespace. */
function dlq(...args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'cli', 'dlq.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout }));
  });
}

const namespace = uniqueNamespace('dispatcher');

describe('dispatcher', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let redis: Redis;
  let subscriber: Redis;
  let webhook: Awaited<ReturnType<typeof startWebhook>>;
  const keys = redisKeys(namespace);
  const broadcasts: BroadcastMessage[] = [];
  let collector: CollectorService;
  let dispatcher: DispatcherService;
  let api: ApiService;
  const INGEST_TOKEN = 'dispatcher-test-ingest-token';

  beforeAll(async () => {
    db = await createTestDatabase('dispatcher');
    // The 11 agents, 5 queues, settings (workers.minimum = 3), no jobs.
    await seedReferenceDataset(db.url, { jobs: 0, workers: 0, logs: 0 });
    prisma = createPrismaClient(db.url);
    redis = new Redis(TEST_REDIS_URL);
    subscriber = new Redis(TEST_REDIS_URL);
    await subscriber.subscribe(keys.broadcastChannel);
    subscriber.on('message', (_channel, message: string) => broadcasts.push(JSON.parse(message) as BroadcastMessage));
    webhook = await startWebhook();
    const env = { REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, DATABASE_URL: db.url, LOG_LEVEL: 'silent' };
    collector = await startCollectorService(loadCollectorConfig(env));
    api = await startApiService(loadApiConfig({ ...env, AUTH_JWT_SECRET: 'x'.repeat(32), INGEST_TOKENS: INGEST_TOKEN }));
    dispatcher = await startDispatcherService(
      loadDispatcherConfig({ ...env, ALERT_WEBHOOK_URL: webhook.url, MAX_DELIVERIES: '3', RETRY_BASE_MS: '100', CLAIM_IDLE_MS: '300', HEARTBEAT_TTL_S: '2', SWEEP_INTERVAL_MS: '200' }),
    );
  });
  afterAll(async () => {
    await api.stop();
    await dispatcher.stop();
    await collector.stop();
    await webhook.close();
    await prisma.$disconnect();
    await db.drop();
    await cleanupNamespace(namespace);
    redis.disconnect();
    subscriber.disconnect();
  });

  async function snap(): Promise<Snapshot> {
    const body = await redis.get(keys.snapshot);
    if (!body) throw new Error('no snapshot yet');
    return snapshot.parse(JSON.parse(body));
  }

  /** Posts events over HTTP as a job platform would. */
  async function post(...events: AgentEvent[]) {
    const res = await request(api.app).post('/api/events').set('Authorization', `Bearer ${INGEST_TOKEN}`).send({ events });
    expect(res.status).toBe(202);
    return res.body as { accepted: number; duplicates: number; ids: string[] };
  }

  /**
   * Posts `event`, then waits until the snapshot shows `visible`. Nothing else here rebuilds the
   * snapshot (no warmer runs), so seeing it at all proves the dispatcher asked for the refresh;
   * how fast is bench:events' question, not a loaded test machine's.
   */
  async function dispatchAndSee(event: AgentEvent, visible: (s: Snapshot) => boolean): Promise<void> {
    await post(event);
    await waitFor(async () => visible(await snap()), { intervalMs: 10, message: `${event.name} in the snapshot` });
  }

  function broadcastOf(eventId: string, type?: string): BroadcastMessage | undefined {
    return broadcasts.find((b) => {
      const data = b.message.data as { id?: string; event_id?: string };
      return (data.id ?? data.event_id) === eventId && (!type || b.message.type === type);
    });
  }

  const jobId = randomUUID();
  const userId = randomUUID();
  const workerId = randomUUID();
  const job = { job_id: jobId, queue: 'pipeline', type: 'agent.step', agent: 'planner' };

  it('job:created: a pending job in the database and the snapshot; job:new to admin', async () => {
    const event = newEvent('job:created', { ...job, user_id: userId });
    await dispatchAndSee(event, (s) => s.dashboard.jobs.recent_jobs.some((j) => j.id === jobId && j.status === 'pending'));
    const row = await prisma.job.findUniqueOrThrow({ where: { id: jobId } });
    expect(row).toMatchObject({ status: 'pending', queue: 'pipeline', userId, createdAt: new Date(event.occurred_at) });
    const message = await waitFor(() => broadcastOf(event.id));
    expect(message.rooms).toEqual(['admin']);
    expect(message.message.type).toBe('job:new');
    expect(message.message.data).toEqual({ ...event.payload, id: event.id });
    // Job events leave worker state alone: the collectors keep reusing the workers they read.
    expect(await redis.get(keys.workersGeneration)).toBeNull();
  });

  it('job:processing: started, progress, to admin and the user', async () => {
    const event = newEvent('job:processing', { ...job, user_id: userId, worker_id: workerId, progress: 40 });
    await dispatchAndSee(event, (s) => s.dashboard.jobs.recent_jobs.some((j) => j.id === jobId && j.status === 'processing' && j.progress === 40));
    expect(await prisma.job.findUniqueOrThrow({ where: { id: jobId } })).toMatchObject({ status: 'processing', attempts: 1, workerId, startedAt: new Date(event.occurred_at) });
    expect((await waitFor(() => broadcastOf(event.id))).rooms).toEqual(['admin', `user:${userId}`]);
  });

  it('job:completed: completed, the agent counted once, analytics updated; job:done to admin and the user', async () => {
    const before = await prisma.agent.findUniqueOrThrow({ where: { name: 'planner' } });
    const event = newEvent('job:completed', { ...job, user_id: userId, duration_ms: 1234 });
    await dispatchAndSee(event, (s) => s.analytics.by_status.completed === 1 && s.dashboard.jobs.recent_jobs.some((j) => j.id === jobId && j.status === 'completed'));
    expect(await prisma.job.findUniqueOrThrow({ where: { id: jobId } })).toMatchObject({ status: 'completed', progress: 100, durationMs: 1234 });
    expect((await prisma.agent.findUniqueOrThrow({ where: { name: 'planner' } })).jobsProcessed).toBe(before.jobsProcessed + 1);
    expect((await waitFor(() => broadcastOf(event.id))).rooms).toEqual(['admin', `user:${userId}`]);

    // Posted again: refused as a duplicate at the door.
    expect(await post(event)).toEqual({ accepted: 0, duplicates: 1, ids: [event.id] });
    // Delivered again anyway (as after a crash before the acknowledgement): no second effect.
    await appendEvents(redis, keys, [event], EVENT_STREAM_MAXLEN);
    await waitFor(async () => (await dispatcher.registry.getSingleMetric('ssot_events_processed_total')!.get()).values.some((v) => v.labels.outcome === 'duplicate' && v.value >= 1));
    expect((await prisma.agent.findUniqueOrThrow({ where: { name: 'planner' } })).jobsProcessed).toBe(before.jobsProcessed + 1);
  });

  it('a job:processing arriving after job:completed leaves the job completed', async () => {
    const late = { ...newEvent('job:processing', { ...job, progress: 10 }) };
    await appendEvents(redis, keys, [late], EVENT_STREAM_MAXLEN);
    await waitFor(() => prisma.processedEvent.findUnique({ where: { id: late.id } }), { timeoutMs: 2000, message: 'the late event processed' });
    expect(await prisma.job.findUniqueOrThrow({ where: { id: jobId } })).toMatchObject({ status: 'completed', progress: 100 });
  });

  it('job:failed: failed with its error, a log line and a notification; job:error to admin and alerts', async () => {
    const failedId = randomUUID();
    const event = newEvent('job:failed', { job_id: failedId, queue: 'reports', type: 'render', agent: 'generator', error: 'TimeoutError: render exceeded 60 s' });
    await dispatchAndSee(
      event,
      (s) =>
        s.queue.awaiting_action.some((j) => j.id === failedId && j.status === 'failed') &&
        s.dashboard.notifications.recent.some((n) => n.event_id === event.id && n.kind === 'notify_admin'),
    );
    expect(await prisma.job.findUniqueOrThrow({ where: { id: failedId } })).toMatchObject({ status: 'failed', error: 'TimeoutError: render exceeded 60 s' });
    expect(await prisma.logEntry.findUniqueOrThrow({ where: { id: event.id } })).toMatchObject({ level: 'error', jobId: failedId });
    expect(await prisma.notification.count({ where: { eventId: event.id } })).toBe(1);
    expect((await waitFor(() => broadcastOf(event.id, 'job:error'))).rooms).toEqual(['admin', 'alerts']);
    expect((await waitFor(() => broadcastOf(event.id, 'notification'))).rooms).toEqual(['admin']);
  });

  it('worker:heartbeat: the worker online in the database and live in the snapshot', async () => {
    const event = newEvent('worker:heartbeat', { worker_id: workerId, queues: ['pipeline'], active_jobs: 2, concurrency: 4, hostname: 'worker-test', cpu: 37 });
    const generation = Number((await redis.get(keys.workersGeneration)) ?? 0);
    await dispatchAndSee(event, (s) => s.agents_workers.workers.workers.some((w) => w.id === workerId && w.source === 'live' && w.active_jobs === 2));
    // Bumped with the batch, before its acknowledgement (collector sections/workers.ts).
    expect(Number(await redis.get(keys.workersGeneration))).toBeGreaterThan(generation);
    expect(await prisma.worker.findUniqueOrThrow({ where: { id: workerId } })).toMatchObject({ status: 'online', hostname: 'worker-test', activeJobs: 2, queues: ['pipeline'] });
    // Scored by when it lapses: the heartbeat's time plus HEARTBEAT_TTL_S (2 s here).
    expect(await redis.zscore(keys.workersLive, workerId)).toBe(String(Date.parse(event.occurred_at) + 2000));
  });

  it('a worker whose heartbeats stop is announced offline exactly once, by the sweeper', async () => {
    // HEARTBEAT_TTL_S is 2 here and the sweep runs every 200 ms.
    await waitFor(async () => (await prisma.worker.findUniqueOrThrow({ where: { id: workerId } })).status === 'offline', {
      timeoutMs: 2000 + 200 + 5000,
      message: 'the worker offline',
    });
    const events = (await redis.xrange(keys.events, '-', '+')).map(([, fields]) => JSON.parse(fields[1]!) as AgentEvent);
    const offline = events.filter((e) => e.name === 'worker:offline' && e.payload.worker_id === workerId);
    expect(offline).toHaveLength(1);
    expect(offline[0]!.payload).toEqual({ worker_id: workerId, reason: 'heartbeat lapsed' });
    // Not before the TTL: the sweeper stamps its event after the cutoff it swept with.
    const lastBeat = events.filter((e) => e.name === 'worker:heartbeat' && e.payload.worker_id === workerId).at(-1)!;
    expect(Date.parse(offline[0]!.occurred_at) - Date.parse(lastBeat.occurred_at)).toBeGreaterThanOrEqual(2000);
    expect(await dispatcher.sweeper.sweep()).toEqual([]);
    const down = await waitFor(() => broadcastOf(offline[0]!.id, 'worker:down'));
    expect(down.rooms).toEqual(['admin', 'alerts']);
    // alert_ops reached the webhook; check_minimum_workers (0 online < 3) raised a notification.
    await waitFor(() => webhook.received.some((r) => r.id === offline[0]!.id), { message: 'the alert on the webhook' });
    await waitFor(() => prisma.notification.findUnique({ where: { eventId: offline[0]!.id } }), { message: 'the minimum-workers notification' });
    await waitFor(async () => (await snap()).agents_workers.workers.workers.some((w) => w.id === workerId && w.status === 'offline'), { message: 'the worker offline in the snapshot' });
  });

  it('worker:offline posted directly: offline, a warning line, worker:down to admin and alerts', async () => {
    const other = randomUUID();
    await appendEvents(redis, keys, [newEvent('worker:heartbeat', { worker_id: other, queues: ['default'], active_jobs: 0, concurrency: 1 })], EVENT_STREAM_MAXLEN);
    await waitFor(() => prisma.worker.findUnique({ where: { id: other } }));
    const event = newEvent('worker:offline', { worker_id: other, reason: 'drained for deploy' });
    await dispatchAndSee(event, (s) => s.dashboard.workers.details.some((w) => w.id === other && w.status === 'offline'));
    expect(await prisma.logEntry.findUniqueOrThrow({ where: { id: event.id } })).toMatchObject({ level: 'warn', message: `Worker ${other} offline: drained for deploy` });
    expect((await waitFor(() => broadcastOf(event.id, 'worker:down'))).rooms).toEqual(['admin', 'alerts']);
  });

  it('queue:threshold_warning: a warning line, a scaling recommendation in the snapshot and the metrics; queue:warning to admin', async () => {
    const event = newEvent('queue:threshold_warning', { queue: 'ingest', pending: 1500, threshold: 1000 });
    await dispatchAndSee(event, (s) => s.queue.queues.some((q) => q.name === 'ingest' && q.recommended_workers !== null));
    expect(await prisma.logEntry.findUniqueOrThrow({ where: { id: event.id } })).toMatchObject({ level: 'warn' });
    expect((await waitFor(() => broadcastOf(event.id, 'queue:warning'))).rooms).toEqual(['admin']);
    const metrics = await dispatcher.registry.metrics();
    expect(metrics).toMatch(/agentos_recommended_workers\{queue="ingest"\} \d+/);
  });

  it('raises queue:threshold_warning once when a queue crosses its threshold', async () => {
    await prisma.queue.update({ where: { name: 'notifications' }, data: { pendingThreshold: 3 } });
    const created = Array.from({ length: 5 }, () => newEvent('job:created', { job_id: randomUUID(), queue: 'notifications', type: 'email' }));
    await appendEvents(redis, keys, created, EVENT_STREAM_MAXLEN);
    const warnings = await waitFor(async () => {
      const all = (await redis.xrange(keys.events, '-', '+')).map(([, f]) => JSON.parse(f[1]!) as AgentEvent);
      const found = all.filter((e) => e.name === 'queue:threshold_warning' && e.payload.queue === 'notifications');
      return found.length > 0 ? found : null;
    }, { timeoutMs: 2000, message: 'the threshold warning' });
    await appendEvents(redis, keys, [newEvent('job:created', { job_id: randomUUID(), queue: 'notifications', type: 'email' })], EVENT_STREAM_MAXLEN);
    await waitFor(async () => (await prisma.job.count({ where: { queue: 'notifications' } })) === 6);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.payload).toEqual({ queue: 'notifications', pending: expect.any(Number), threshold: 3 });
  });

  it('system:health_check: in system_control, a log line; system:status to monitoring', async () => {
    const event = newEvent('system:health_check', { services: { api: 'up', collector: 'up' }, redis_ms: 0.4, database_ms: 1.2 });
    await dispatchAndSee(event, (s) => s.system_control.health_check?.at === event.occurred_at);
    expect(await prisma.logEntry.findUniqueOrThrow({ where: { id: event.id } })).toMatchObject({ level: 'info' });
    expect((await waitFor(() => broadcastOf(event.id, 'system:status'))).rooms).toEqual(['monitoring']);
  });

  it('dead-letters an event that keeps failing, goes on with the others, and replays it once fixed', async () => {
    // The database refuses this one event's effect (its log line) until the check is dropped.
    await prisma.$executeRawUnsafe(`ALTER TABLE log_entries ADD CONSTRAINT test_poison CHECK (message NOT LIKE '%poison%')`);
    const failing = newEvent('worker:offline', { worker_id: randomUUID(), reason: 'test: poison' });
    const behind = newEvent('job:created', { job_id: randomUUID(), queue: 'default', type: 'after' });
    await appendEvents(redis, keys, [failing, behind], EVENT_STREAM_MAXLEN);

    // The event behind it is not held back.
    await waitFor(() => prisma.job.findUnique({ where: { id: behind.payload.job_id } }), { timeoutMs: 5000, message: 'the event behind' });
    const letter = await waitFor(async () => (await listDeadLetters(redis, keys)).find((l) => l.event.includes(failing.id)), {
      timeoutMs: 10_000,
      message: 'the dead letter',
    });
    expect(letter.deliveries).toBe('3');
    expect(letter.reason).toMatch(/^persist: .*violates check constraint "test_poison"/);
    expect(await prisma.processedEvent.count({ where: { id: failing.id } })).toBe(0);
    await waitFor(async () => (await redis.xpending(keys.events, 'dispatchers'))[0] === 0, { timeoutMs: 3000, message: 'nothing pending' });

    await prisma.$executeRawUnsafe('ALTER TABLE log_entries DROP CONSTRAINT test_poison');
    const listed = await dlq('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${letter.id}  worker:offline  event ${failing.id}  deliveries 3`);
    expect(listed.stdout).toContain('test_poison');
    const replay = await dlq('replay', letter.id);
    expect(replay).toEqual({ code: 0, stdout: `replayed 1 dead letter(s): ${letter.id}\n` });
    await waitFor(async () => (await prisma.logEntry.count({ where: { id: failing.id } })) === 1, { timeoutMs: 3000, message: 'the replayed effect' });
    expect(await redis.xlen(keys.eventsDeadLetter)).toBe(0);
    // Its alert went out once, from the outbox written with the effect.
    await waitFor(() => webhook.received.filter((r) => r.id === failing.id).length === 1, { timeoutMs: 5000, message: 'the replayed alert' });
  });

  it('holds no event for a webhook that does not answer, and delivers every alert once when it does', async () => {
    webhook.hold();
    try {
      const offline = Array.from({ length: 6 }, (_, i) => newEvent('worker:offline', { worker_id: randomUUID(), reason: `test: held ${i}` }));
      const jobs = Array.from({ length: 50 }, () => newEvent('job:created', { job_id: randomUUID(), queue: 'default', type: 'while-held' }));
      await appendEvents(redis, keys, [...offline.slice(0, 3), ...jobs, ...offline.slice(3)], EVENT_STREAM_MAXLEN);
      // Every event's effect goes in while the webhook holds its first answers back: first a post
      // held (the outbox is delivered after the batch that wrote it), then every effect, still held.
      await waitFor(() => webhook.waiting > 0, { message: 'the webhook holding a first alert' });
      await waitFor(async () => (await prisma.processedEvent.count({ where: { id: { in: [...offline, ...jobs].map((e) => e.id) } } })) === 56, { message: 'every event persisted' });
      expect(webhook.waiting).toBeGreaterThan(0);
      expect(webhook.received.filter((r) => offline.some((e) => e.id === r.id))).toEqual([]);
      expect(await prisma.alertOutbox.count({ where: { eventId: { in: offline.map((e) => e.id) } } })).toBe(6);

      webhook.release();
      await waitFor(
        async () => (await prisma.alertOutbox.count({ where: { eventId: { in: offline.map((e) => e.id) }, deliveredAt: { not: null } } })) === 6,
        { timeoutMs: 10_000, message: 'every alert delivered' },
      );
      // Once each, keyed by the event id.
      for (const event of offline) expect(webhook.received.filter((r) => r.id === event.id).map((r) => r.key)).toEqual([event.id]);
    } finally {
      webhook.release();
    }
  });

  it('retries an alert the webhook refused until it takes it', async () => {
    webhook.answer(500);
    const event = newEvent('worker:offline', { worker_id: randomUUID(), reason: 'test: webhook down' });
    await appendEvents(redis, keys, [event], EVENT_STREAM_MAXLEN);
    await waitFor(async () => (await prisma.alertOutbox.findUnique({ where: { eventId: event.id } }))?.lastError, { message: 'a first, refused attempt' });
    expect(await prisma.alertOutbox.findUniqueOrThrow({ where: { eventId: event.id } })).toMatchObject({ deliveredAt: null, lastError: 'webhook answered 500' });
    // The event itself is done: refusal is the outbox's business.
    expect(await prisma.processedEvent.count({ where: { id: event.id } })).toBe(1);
    webhook.answer(200);
    // The row is marked after the webhook has answered: wait on the row, then check the webhook saw it once.
    await waitFor(
      async () => expect(await prisma.alertOutbox.findUniqueOrThrow({ where: { eventId: event.id } })).toMatchObject({ lastError: null, deliveredAt: expect.any(Date) }) ?? true,
      { timeoutMs: 10_000, message: 'delivered on a retry' },
    );
    expect(webhook.received.filter((r) => r.id === event.id)).toHaveLength(1);
  });

  it('the sweeper bumps the workers\' generation with the removals it announces, and only then', async () => {
    const own = redisKeys(uniqueNamespace('sweeper'));
    const sweeper = startHeartbeatSweeper({ redis, keys: own, logger: pino({ level: 'silent' }), instance: 'test', heartbeatTtlS: 2, intervalMs: 60_000, streamMaxLen: EVENT_STREAM_MAXLEN });
    try {
      await redis.zadd(own.workersLive, Date.now() - 1, 'lapsed', Date.now() + 60_000, 'alive');
      expect(await sweeper.sweep()).toEqual(['lapsed']);
      expect(await redis.get(own.workersGeneration)).toBe('1');
      expect(await sweeper.sweep()).toEqual([]);
      expect(await redis.get(own.workersGeneration)).toBe('1');
    } finally {
      await sweeper.stop();
      await cleanupNamespace(own.namespace);
    }
  });

  it('dead-letters malformed stream entries at once', async () => {
    await redis.xadd(keys.events, '*', 'event', '{"name":"job:created","payload":{}}');
    await waitFor(async () => (await listDeadLetters(redis, keys)).some((l) => l.reason.startsWith('malformed')), { timeoutMs: 2000 });
  });
});
