// Admin commands on a job's platform and a job's detail (CONTRACT §4, §8; issue 9): the api
// checks and keeps a command, queues it for its source, and a CommandConsumer — as a platform
// integrating directly runs it — carries it out and reports back through the ingest API.
import { randomUUID } from 'node:crypto';
import { CommandConsumer, EventPublisher } from '@agentos/client';
import { type Command, COMMAND_GROUP, commandResultEventId, type JobDetail } from '@agentos/contracts';
import Redis from 'ioredis';
import { TEST_REDIS_URL } from '../support/redis';
import { signToken } from '../support/tokens';
import { waitFor } from '../support/wait';
import { type Stack, startStack } from './harness';

jest.setTimeout(60_000);

describe('job detail and commands', () => {
  let stack: Stack;
  let redis: Redis;
  let admin: string;
  let publisher: EventPublisher;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'commands', seed: false });
    redis = new Redis(TEST_REDIS_URL);
    admin = await signToken({ sub: 'auth0|admin-7', role: 'admin' });
    publisher = new EventPublisher({ baseUrl: stack.apiUrl, token: stack.ingestToken, flushIntervalMs: 5 });
  });
  afterAll(async () => {
    await publisher?.close();
    redis?.disconnect();
    await stack?.stop();
  });

  const api = (method: string, path: string, token: string | null = admin) =>
    fetch(`${stack.apiUrl}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const command = (id: string, action: string, token?: string | null) => api('POST', `/api/admin/jobs/${encodeURIComponent(id)}/${action}`, token);
  const detail = async (id: string): Promise<JobDetail> => {
    const res = await api('GET', `/api/admin/jobs/${encodeURIComponent(id)}`);
    expect(res.status).toBe(200);
    return (await res.json()) as JobDetail;
  };

  /** Posts a job's events (from `source`) and waits until the job is in the database in `status`. */
  async function job(source: string, status: 'pending' | 'processing' | 'completed' | 'failed', id = `${source}-${randomUUID().slice(0, 8)}`): Promise<string> {
    const payload = { job_id: id, queue: `q-${source}`, type: 'render', user_id: 'auth0|5f3a' };
    await publisher.publish('job:created', payload, { source, id: `${id}:created` });
    if (status !== 'pending') await publisher.publish('job:processing', { ...payload, progress: 10, attempt: 1 }, { source, id: `${id}:active` });
    if (status === 'completed') await publisher.publish('job:completed', { ...payload, duration_ms: 120, attempt: 1 }, { source, id: `${id}:done` });
    if (status === 'failed') await publisher.publish('job:failed', { ...payload, error: 'boom', attempt: 1 }, { source, id: `${id}:failed` });
    await waitFor(async () => (await stack.prisma.job.findUnique({ where: { id } }))?.status === status, { message: `job ${id} ${status}` });
    return id;
  }

  it('shows a job with its source, its history oldest first, and nothing more to anyone but an admin', async () => {
    const id = await job('bullmq', 'completed', '42');
    const shown = await detail('42');
    expect(shown).toMatchObject({ id: '42', source: 'bullmq', queue: 'q-bullmq', status: 'completed', user_id: 'auth0|5f3a', attempts: 1, duration_ms: 120, events_total: 3, commands: [] });
    expect(shown.events.map((e) => [e.id, e.name, e.source, e.attempt])).toEqual([
      ['42:created', 'job:created', 'bullmq', null],
      ['42:active', 'job:processing', 'bullmq', 1],
      ['42:done', 'job:completed', 'bullmq', 1],
    ]);
    expect(shown.events[2]!.payload).toEqual({ job_id: id, queue: 'q-bullmq', type: 'render', user_id: 'auth0|5f3a', duration_ms: 120, attempt: 1 });

    expect((await api('GET', '/api/admin/jobs/nope')).status).toBe(404);
    expect(await (await api('GET', '/api/admin/jobs/nope')).json()).toEqual({ error: { code: 'not_found', message: "no job 'nope'" } });
    expect((await api('GET', '/api/admin/jobs/42', null)).status).toBe(401);
    expect((await api('GET', '/api/admin/jobs/42', await signToken({ sub: 'u', role: 'user' }))).status).toBe(403);
    expect((await api('GET', `/api/admin/jobs/${'x'.repeat(201)}`)).status).toBe(400);
  });

  it('answers 202, 404, 409 and 401/403 as the contract says, and queues nothing it refuses', async () => {
    const stream = (source: string) => redis.xlen(stack.keys.commands(source));
    const failed = await job('bullmq', 'failed');
    const completed = await job('bullmq', 'completed');
    const running = await job('celery', 'processing');
    const direct = await job('api', 'failed');

    const accepted = await command(failed, 'retry');
    expect(accepted.status).toBe(202);
    const { command_id } = (await accepted.json()) as { command_id: string };
    expect(command_id).toMatch(/^[0-9a-f-]{36}$/);
    const [[, fields]] = (await redis.xrange(stack.keys.commands('bullmq'), '-', '+')) as [string, string[]][];
    expect(fields[0]).toBe('command');
    expect(JSON.parse(fields[1]!)).toEqual({ command_id, job_id: failed, action: 'retry', requested_by: 'auth0|admin-7', requested_at: expect.any(String) });
    expect(await stack.prisma.command.findUniqueOrThrow({ where: { id: command_id } })).toMatchObject({ jobId: failed, source: 'bullmq', action: 'retry', requestedBy: 'auth0|admin-7', status: 'requested' });

    const refused: [string, string, string][] = [
      [completed, 'retry', "source 'bullmq' can retry only failed jobs; this one is completed"],
      [running, 'retry', "source 'celery' cannot retry jobs"],
      [direct, 'cancel', "jobs of source 'api' take no commands: no bridge or CommandConsumer declared what it can do"],
    ];
    for (const [id, action, message] of refused) {
      const res = await command(id, action);
      expect({ id, status: res.status, body: await res.json() }).toEqual({ id, status: 409, body: { error: { code: 'conflict', message } } });
    }
    expect(await command(running, 'cancel').then((r) => r.status)).toBe(202);
    expect((await command('no-such-job', 'cancel')).status).toBe(404);
    expect((await command(failed, 'explode')).status).toBe(404);
    expect((await command(failed, 'retry', null)).status).toBe(401);
    expect((await command(failed, 'retry', await signToken({ sub: 'u', role: 'user' }))).status).toBe(403);
    // One command queued per accepted request, none for a refused one.
    expect([await stream('bullmq'), await stream('celery'), await stream('api')]).toEqual([1, 1, 0]);
    expect(await stack.prisma.command.count()).toBe(2);
  });

  it('shows a command with no consumer for its source as requested, and still pending on its stream', async () => {
    const id = await job('bullmq', 'pending');
    const res = await command(id, 'cancel');
    expect(res.status).toBe(202);
    const { command_id } = (await res.json()) as { command_id: string };
    expect((await detail(id)).commands).toEqual([
      { id: command_id, action: 'cancel', status: 'requested', requested_by: 'auth0|admin-7', requested_at: expect.any(String), error: null, completed_at: null },
    ]);
    // Nobody has read it: no executor group exists yet for the stream, the entry waits there.
    const entries = (await redis.xrange(stack.keys.commands('bullmq'), '-', '+')) as [string, string[]][];
    expect(entries.some(([, f]) => JSON.parse(f[1]!).command_id === command_id)).toBe(true);
  });

  it('carries a command out through a CommandConsumer, and shows its outcome and the job it changed', async () => {
    // A platform of its own ('acme'), integrating directly: it declares what it can do.
    const consumerRedis = new Redis(TEST_REDIS_URL);
    const handled: Command[] = [];
    const acme = new EventPublisher({ baseUrl: stack.apiUrl, token: stack.ingestToken, flushIntervalMs: 5, source: 'acme' });
    const consumer = new CommandConsumer({
      redis: consumerRedis,
      namespace: stack.namespace,
      source: 'acme',
      capabilities: { cancel: ['pending'] },
      publisher: acme,
      async handle(cmd) {
        handled.push(cmd);
        // The platform cancels the job, and says so with the job's own event.
        await acme.publish('job:cancelled', { job_id: cmd.job_id, queue: 'q-acme', type: 'render', reason: 'cancelled by admin' });
        return { ok: true };
      },
    });
    const results = new Redis(TEST_REDIS_URL);
    const messages: { type: string; data: Record<string, unknown> }[] = [];
    await results.subscribe(stack.keys.broadcastChannel);
    results.on('message', (_channel, raw: string) => messages.push(JSON.parse(raw).message));
    try {
      // Before the consumer declares anything, acme's jobs take no commands.
      const id = await job('acme', 'pending');
      expect((await command(id, 'cancel')).status).toBe(409);
      await consumer.start();
      expect(await redis.hget(stack.keys.sourceCapabilities, 'acme')).toBe(JSON.stringify({ cancel: ['pending'] }));

      const res = await command(id, 'cancel');
      expect(res.status).toBe(202);
      const { command_id } = (await res.json()) as { command_id: string };
      await waitFor(
        async () => {
          const shown = await detail(id);
          expect(shown.status).toBe('cancelled');
          expect(shown.commands[0]).toMatchObject({ id: command_id, status: 'succeeded', error: null, completed_at: expect.any(String) });
          return true;
        },
        { timeoutMs: 10_000, message: 'the command succeeded and the job is cancelled' },
      );
      expect(handled.map((c) => [c.command_id, c.job_id, c.action, c.requested_by])).toEqual([[command_id, id, 'cancel', 'auth0|admin-7']]);
      expect((await stack.prisma.processedEvent.count({ where: { id: commandResultEventId(command_id) } }))).toBe(1);
      // The admins are told, as the dispatch table says (command:result and job:cancelled to `admin`).
      await waitFor(() => messages.some((m) => m.type === 'command:result' && m.data.command_id === command_id), { message: 'command:result broadcast' });
      expect(messages.some((m) => m.type === 'job:cancelled' && m.data.job_id === id)).toBe(true);
      // Acknowledged: nothing left pending for the executors.
      const pending = (await redis.xpending(stack.keys.commands('acme'), COMMAND_GROUP)) as [number, ...unknown[]];
      expect(pending[0]).toBe(0);
      // A second cancel is refused now: the job is no longer pending.
      expect((await command(id, 'cancel')).status).toBe(409);
    } finally {
      await consumer.stop();
      await acme.close();
      consumerRedis.disconnect();
      results.disconnect();
    }
  });
});
