import { type AddressInfo, createServer, type Socket } from 'node:net';
import {
  AgentStatus,
  CommandAction,
  CommandStatus,
  createPrismaClient,
  createTestDatabase,
  JobStatus,
  LogLevel,
  Prisma,
  type PrismaClient,
  Severity,
  type TestDatabase,
  WorkerStatus,
} from '@agentos/db';

// One row of every model through the Prisma client and the pg adapter: what is written is what
// is read back, field by field, including enums, arrays, JSON and millisecond timestamps.

let database: TestDatabase;
let prisma: PrismaClient;

beforeAll(async () => {
  database = await createTestDatabase('roundtrip');
  prisma = createPrismaClient(database.url, { poolMax: 2 });
});

afterAll(async () => {
  await prisma?.$disconnect();
  await database?.drop();
});

const at = (iso: string) => new Date(iso);

describe('Prisma client round trip', () => {
  it('Job', async () => {
    // Ids as platforms give them (CONTRACT §5), not only UUIDs.
    const data = {
      id: 'bull:render:42',
      source: 'bullmq',
      queue: 'pipeline',
      type: 'agent.step',
      status: JobStatus.processing,
      userId: 'auth0|5f3a',
      agent: 'planner',
      workerId: 'celery@host-1',
      attempts: 2,
      progress: 40,
      error: null,
      durationMs: null,
      createdAt: at('2026-11-30T10:00:00.123Z'),
      startedAt: at('2026-11-30T10:00:00.456Z'),
      finishedAt: null,
      lastEventAt: at('2026-11-30T10:00:00.456Z'),
    };

    const created = await prisma.job.create({ data });
    expect(created).toEqual({ ...data, updatedAt: expect.any(Date) });
    expect(await prisma.job.findUnique({ where: { id: data.id } })).toEqual(created);

    const update = {
      status: JobStatus.failed,
      error: 'TimeoutError: step exceeded 120000 ms',
      durationMs: 120_001,
      progress: 99,
      finishedAt: at('2026-11-30T10:02:00.457Z'),
      lastEventAt: at('2026-11-30T10:02:00.457Z'),
    };
    const updated = await prisma.job.update({ where: { id: data.id }, data: update });
    expect(updated).toEqual({ ...created, ...update, updatedAt: expect.any(Date) });
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(created.updatedAt.getTime());
    expect(await prisma.job.findUnique({ where: { id: data.id } })).toEqual(updated);

    await prisma.job.delete({ where: { id: data.id } });
    expect(await prisma.job.findUnique({ where: { id: data.id } })).toBeNull();
  });

  it('Job with only the required fields takes the schema defaults', async () => {
    const created = await prisma.job.create({ data: { queue: 'default', type: 'task.run' } });

    expect(created).toMatchObject({ status: JobStatus.pending, attempts: 0, progress: 0, userId: null, agent: null });
    expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await prisma.job.findUnique({ where: { id: created.id } })).toEqual(created);
    await prisma.job.delete({ where: { id: created.id } });
  });

  it('Worker', async () => {
    const data = {
      id: '2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d',
      hostname: 'worker-07',
      queues: ['default', 'reports'],
      concurrency: 8,
      activeJobs: 3,
      status: WorkerStatus.online,
      cpu: 37.5,
      memoryMb: 1536,
      startedAt: at('2026-11-29T08:00:00.001Z'),
      lastHeartbeatAt: at('2026-11-30T09:59:59.999Z'),
    };

    const created = await prisma.worker.create({ data });
    expect(created).toEqual(data);
    expect(await prisma.worker.findUnique({ where: { id: data.id } })).toEqual(data);

    const update = { status: WorkerStatus.offline, queues: [], cpu: null, activeJobs: 0 };
    const updated = await prisma.worker.update({ where: { id: data.id }, data: update });
    expect(updated).toEqual({ ...data, ...update });
    expect(await prisma.worker.findUnique({ where: { id: data.id } })).toEqual(updated);

    await prisma.worker.delete({ where: { id: data.id } });
    expect(await prisma.worker.findUnique({ where: { id: data.id } })).toBeNull();
  });

  it('Agent', async () => {
    const data = {
      name: 'reasoner',
      stage: 7,
      description: 'Works out the answer from the enriched facts',
      status: AgentStatus.active,
      jobsProcessed: 1200,
      jobsFailed: 31,
      avgDurationMs: 8100,
      lastActiveAt: at('2026-11-30T10:00:00.999Z'),
    };

    const created = await prisma.agent.create({ data });
    expect(created).toEqual({ ...data, id: expect.any(String), updatedAt: expect.any(Date) });
    expect(await prisma.agent.findUnique({ where: { name: 'reasoner' } })).toEqual(created);
    expect(await prisma.agent.findUnique({ where: { stage: 7 } })).toEqual(created);

    const updated = await prisma.agent.update({
      where: { id: created.id },
      data: { status: AgentStatus.error, jobsFailed: { increment: 1 } },
    });
    expect(updated).toEqual({ ...created, status: AgentStatus.error, jobsFailed: 32, updatedAt: expect.any(Date) });
    expect(await prisma.agent.findUnique({ where: { id: created.id } })).toEqual(updated);

    await prisma.agent.delete({ where: { id: created.id } });
    expect(await prisma.agent.findUnique({ where: { id: created.id } })).toBeNull();
  });

  it('Queue', async () => {
    const created = await prisma.queue.create({ data: { name: 'reports' } });
    expect(created).toEqual({
      name: 'reports',
      pendingThreshold: 1000,
      minWorkers: 1,
      paused: false,
      createdAt: expect.any(Date),
    });
    expect(await prisma.queue.findUnique({ where: { name: 'reports' } })).toEqual(created);

    const updated = await prisma.queue.update({
      where: { name: 'reports' },
      data: { pendingThreshold: 50, paused: true },
    });
    expect(updated).toEqual({ ...created, pendingThreshold: 50, paused: true });
    expect(await prisma.queue.findUnique({ where: { name: 'reports' } })).toEqual(updated);

    await prisma.queue.delete({ where: { name: 'reports' } });
    expect(await prisma.queue.findUnique({ where: { name: 'reports' } })).toBeNull();
  });

  it('LogEntry', async () => {
    const data = {
      level: LogLevel.warn,
      source: 'dispatcher',
      message: 'worker-07 missed its heartbeat',
      jobId: '6f1c3a52-8a0e-4d0b-9a43-1b2f0e3c4d5e',
      context: { replica: 'dispatcher-2', lag_ms: 1250, queues: ['default', 'reports'], nested: { ok: false, n: null } },
      createdAt: at('2026-11-30T10:00:00.010Z'),
    };

    const created = await prisma.logEntry.create({ data });
    expect(created).toEqual({ ...data, id: expect.any(String) });
    expect(await prisma.logEntry.findUnique({ where: { id: created.id } })).toEqual(created);

    const updated = await prisma.logEntry.update({
      where: { id: created.id },
      data: { level: LogLevel.error, context: Prisma.DbNull, jobId: null },
    });
    expect(updated).toEqual({ ...created, level: LogLevel.error, context: null, jobId: null });
    expect(await prisma.logEntry.findUnique({ where: { id: created.id } })).toEqual(updated);

    await prisma.logEntry.delete({ where: { id: created.id } });
    expect(await prisma.logEntry.findUnique({ where: { id: created.id } })).toBeNull();
  });

  it('Service', async () => {
    const created = await prisma.service.create({ data: { name: 'collector', replicas: 2 } });
    expect(created).toEqual({
      name: 'collector',
      description: '',
      replicas: 2,
      version: '0.0.0',
      updatedAt: expect.any(Date),
    });
    expect(await prisma.service.findUnique({ where: { name: 'collector' } })).toEqual(created);

    const updated = await prisma.service.update({ where: { name: 'collector' }, data: { version: '0.2.0' } });
    expect(updated).toEqual({ ...created, version: '0.2.0', updatedAt: expect.any(Date) });
    expect(await prisma.service.findUnique({ where: { name: 'collector' } })).toEqual(updated);

    await prisma.service.delete({ where: { name: 'collector' } });
    expect(await prisma.service.findUnique({ where: { name: 'collector' } })).toBeNull();
  });

  it('Setting', async () => {
    const value = { intervalMs: 5000, enabled: true, queues: ['default'], ratio: 0.25 };
    const created = await prisma.setting.create({
      data: { key: 'warm.interval', value, description: 'How often the snapshot is rebuilt' },
    });
    expect(created).toEqual({
      key: 'warm.interval',
      value,
      description: 'How often the snapshot is rebuilt',
      updatedAt: expect.any(Date),
    });
    expect(await prisma.setting.findUnique({ where: { key: 'warm.interval' } })).toEqual(created);

    // A JSON scalar is a value too: settings like `workers.minimum` are bare numbers.
    const updated = await prisma.setting.update({ where: { key: 'warm.interval' }, data: { value: 3 } });
    expect(updated).toEqual({ ...created, value: 3, updatedAt: expect.any(Date) });
    expect(await prisma.setting.findUnique({ where: { key: 'warm.interval' } })).toEqual(updated);

    await prisma.setting.delete({ where: { key: 'warm.interval' } });
    expect(await prisma.setting.findUnique({ where: { key: 'warm.interval' } })).toBeNull();
  });

  it('Notification', async () => {
    const data = {
      kind: 'alert_ops',
      severity: Severity.critical,
      title: 'Worker worker-07 offline',
      message: 'worker-07 stopped sending heartbeats',
      eventId: 'c0ffee00-1234-4567-89ab-0123456789ab',
      createdAt: at('2026-11-30T10:00:00.500Z'),
      readAt: null,
    };

    const created = await prisma.notification.create({ data });
    expect(created).toEqual({ ...data, id: expect.any(String) });
    expect(await prisma.notification.findUnique({ where: { eventId: data.eventId } })).toEqual(created);

    const readAt = at('2026-11-30T10:05:00.000Z');
    const updated = await prisma.notification.update({ where: { id: created.id }, data: { readAt } });
    expect(updated).toEqual({ ...created, readAt });
    expect(await prisma.notification.findUnique({ where: { id: created.id } })).toEqual(updated);

    await prisma.notification.delete({ where: { id: created.id } });
    expect(await prisma.notification.findUnique({ where: { id: created.id } })).toBeNull();
  });

  it('ProcessedEvent', async () => {
    const data = { id: 'e1e1e1e1-0000-4000-8000-000000000001', name: 'job:created', occurredAt: at('2026-11-30T10:00:00.001Z') };

    const created = await prisma.processedEvent.create({ data });
    expect(created).toEqual({ ...data, processedAt: expect.any(Date) });
    expect(await prisma.processedEvent.findUnique({ where: { id: data.id } })).toEqual(created);
    await expect(prisma.processedEvent.create({ data })).rejects.toMatchObject({ code: 'P2002' });

    const updated = await prisma.processedEvent.update({ where: { id: data.id }, data: { name: 'job:failed' } });
    expect(updated).toEqual({ ...created, name: 'job:failed' });

    await prisma.processedEvent.delete({ where: { id: data.id } });
    expect(await prisma.processedEvent.findUnique({ where: { id: data.id } })).toBeNull();
  });

  it('JobEvent', async () => {
    const data = {
      eventId: 'bullmq:render:42:completed:1',
      jobId: '42',
      name: 'job:completed',
      occurredAt: at('2026-11-30T10:00:01.250Z'),
      source: 'bullmq',
      attempt: 2,
      payload: { job_id: '42', queue: 'render', type: 'thumbnail', duration_ms: 830, attempt: 2 },
    };
    const created = await prisma.jobEvent.create({ data });
    expect(created).toEqual(data);
    expect(await prisma.jobEvent.findMany({ where: { jobId: '42' }, orderBy: { occurredAt: 'asc' } })).toEqual([created]);
    await expect(prisma.jobEvent.create({ data })).rejects.toMatchObject({ code: 'P2002' });
    await prisma.jobEvent.delete({ where: { eventId: data.eventId } });
    expect(await prisma.jobEvent.findUnique({ where: { eventId: data.eventId } })).toBeNull();
  });

  it('Command', async () => {
    const data = {
      id: 'c0ffee00-1234-4567-89ab-0123456789ac',
      jobId: 'celery-task-7',
      source: 'celery',
      action: CommandAction.cancel,
      requestedBy: 'auth0|5f3a',
      requestedAt: at('2026-11-30T10:00:02.000Z'),
    };
    const created = await prisma.command.create({ data });
    expect(created).toEqual({ ...data, status: CommandStatus.requested, error: null, completedAt: null, bulkId: null });
    const done = await prisma.command.update({ where: { id: data.id }, data: { status: CommandStatus.failed, error: 'task already finished', completedAt: at('2026-11-30T10:00:02.300Z') } });
    expect(done).toEqual({ ...created, status: CommandStatus.failed, error: 'task already finished', completedAt: at('2026-11-30T10:00:02.300Z') });
    expect(await prisma.command.findMany({ where: { jobId: 'celery-task-7' } })).toEqual([done]);
    await prisma.command.delete({ where: { id: data.id } });
  });

  it('refuses a second notification for the same event', async () => {
    const data = { kind: 'notify_admin', title: 't', message: 'm', eventId: 'a1a1a1a1-b2b2-4c3c-8d4d-e5e5e5e5e5e5' };
    await prisma.notification.create({ data });

    await expect(prisma.notification.create({ data })).rejects.toMatchObject({ code: 'P2002' });
    await prisma.notification.deleteMany({ where: { eventId: data.eventId } });
  });
});

describe('createPrismaClient', () => {
  it('gives up on a database that accepts the connection and never answers', async () => {
    // A listener that never speaks PostgreSQL: only the connect timeout can end the wait.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const client = createPrismaClient(`postgresql://postgres@127.0.0.1:${port}/none`, { connectionTimeoutMs: 300 });
    try {
      // node-postgres's own connect-timeout error, not some other one; without a connect timeout
      // the query would hang until jest's test timeout fails the test.
      await expect(client.$queryRaw`SELECT 1`).rejects.toThrow('Connection terminated due to connection timeout');
    } finally {
      await client.$disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('applies the statement timeout', async () => {
    const strict = createPrismaClient(database.url, { statementTimeoutMs: 100, poolMax: 1 });
    try {
      await expect(strict.$queryRaw`SELECT pg_sleep(2)`).rejects.toThrow(/statement timeout/);
    } finally {
      await strict.$disconnect();
    }
  });
});
