// Ids are the platforms' own (CONTRACT §5, issue 9): accepted as given, stored and matched as
// given, and none can reach another id's Redis key or socket room.
import { randomUUID } from 'node:crypto';
import { idKeyPart, redisKeys } from '@agentos/contracts';
import Redis from 'ioredis';
import { TestClient } from '../../services/realtime-gateway/test/harness';
import { TEST_REDIS_URL } from '../support/redis';
import { signToken } from '../support/tokens';
import { waitFor } from '../support/wait';
import { type Stack, startStack } from './harness';

jest.setTimeout(60_000);

/** Ids as platforms make them: BullMQ counters, Celery workers, JWT subjects, separators, non-ASCII, the longest. */
const IDS = ['42', 'celery@host-1', 'auth0|5f3a', 'a:b:c', 'user:x', '{tag}', 'x'.repeat(200), 'Jörg-ß-日本', 'A'];

describe('opaque ids', () => {
  let stack: Stack;
  let redis: Redis;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 1, name: 'ids', seed: false });
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  const post = (body: unknown) =>
    fetch(`${stack.apiUrl}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.ingestToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('accepts every id a platform uses, as event, job, worker and user id, and stores each as given', async () => {
    // Each id as an event id too (the job's); the heartbeats' ids are left to the server.
    const events = IDS.flatMap((id) => [
      { id, name: 'job:created', payload: { job_id: id, queue: 'ids', type: 't', user_id: id, worker_id: id } },
      { name: 'worker:heartbeat', payload: { worker_id: id, queues: ['ids'], active_jobs: 0, concurrency: 1 } },
    ]);
    const res = await post({ events });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: events.length, duplicates: 0, ids: events.map((e) => ('id' in e ? e.id : expect.any(String))) });
    await waitFor(async () => (await stack.prisma.job.count({ where: { queue: 'ids' } })) === IDS.length, { message: 'every job stored' });
    const jobs = await stack.prisma.job.findMany({ where: { queue: 'ids' }, select: { id: true, userId: true, workerId: true } });
    expect(jobs.map((j) => j.id).sort()).toEqual([...IDS].sort());
    for (const j of jobs) expect([j.userId, j.workerId]).toEqual([j.id, j.id]);
    await waitFor(async () => (await stack.prisma.worker.count({ where: { id: { in: IDS } } })) === IDS.length, { message: 'every worker stored' });
    // `a` and `A` are two ids; posting one again is a duplicate of itself only.
    const again = await post({ events: [{ id: 'A', name: 'worker:heartbeat', payload: { worker_id: 'a', queues: [], active_jobs: 0, concurrency: 1 } }, { id: 'a', name: 'worker:heartbeat', payload: { worker_id: 'a', queues: [], active_jobs: 0, concurrency: 1 } }] });
    expect(await again.json()).toEqual({ accepted: 1, duplicates: 1, ids: ['A', 'a'] });
  });

  it('refuses ids with a space, a control character, or 201 characters', async () => {
    for (const [id, message] of [
      ['has space', 'must contain no whitespace or control characters'],
      ['tab\there', 'must contain no whitespace or control characters'],
      ['nul\u0000', 'must contain no whitespace or control characters'],
      ['nbsp\u00a0x', 'must contain no whitespace or control characters'],
      ['x'.repeat(201), 'Too big: expected string to have <=200 characters'],
      ['', 'Too small: expected string to have >=1 characters'],
    ]) {
      for (const [field, event] of [
        ['id', { id, name: 'job:created', payload: { job_id: 'fine', queue: 'q', type: 't' } }],
        ['payload.job_id', { name: 'job:created', payload: { job_id: id, queue: 'q', type: 't' } }],
        ['payload.user_id', { name: 'job:created', payload: { job_id: 'fine', queue: 'q', type: 't', user_id: id } }],
        ['payload.worker_id', { name: 'worker:offline', payload: { worker_id: id, reason: 'r' } }],
      ] as const) {
        const res = await post(event);
        expect({ id: JSON.stringify(id).slice(0, 30), field, status: res.status }).toEqual({ id: JSON.stringify(id).slice(0, 30), field, status: 400 });
        expect((await res.json()).error.details).toEqual([{ index: 0, field, message }]);
      }
    }
  });

  it('keeps every id in a Redis key of its own: escaped, never a separator or a hash tag', () => {
    const keys = redisKeys('ns');
    const seen = new Set<string>();
    for (const id of [...IDS, 'a%3Ab', 'a%b', 'user%3Ax']) {
      for (const key of [keys.eventSeen(id), keys.workerLive(id)]) {
        expect(key).not.toMatch(/[{}]/);
        // Only the namespace's and the family's separators; the id adds none.
        expect(key.slice(key.lastIndexOf(':') + 1)).toBe(idKeyPart(id));
        expect(seen.has(key)).toBe(false);
        seen.add(key);
      }
    }
    expect(keys.workerLive('a:b')).toBe('ns:workers:live:a%3Ab');
    expect(keys.workerLive('a%3Ab')).toBe('ns:workers:live:a%253Ab');
  });

  it('sends a user their own job progress and nobody else\'s, whatever their ids look like', async () => {
    const gateway = stack.gateways[0]!;
    const subs = ['auth0|5f3a', 'user:x', 'a:b:c', 'auth0'];
    const clients = await Promise.all(subs.map(async (sub) => TestClient.connect(gateway.port, await signToken({ sub, role: 'user' }))));
    try {
      const progress = subs.map((sub) => ({ job_id: `progress-${randomUUID()}`, user_id: sub }));
      for (const { job_id, user_id } of progress) {
        expect((await post({ name: 'job:processing', payload: { job_id, user_id, queue: 'ids', type: 't', progress: 50 }, source: 'bullmq' })).status).toBe(202);
      }
      await waitFor(() => clients.every((c) => c.of('job:progress').length >= 1), { timeoutMs: 10_000, message: 'each user got a job:progress' });
      // Each got its own, and only its own (the last one posted has been delivered to its user too).
      await waitFor(() => clients[clients.length - 1]!.of('job:progress').some((m) => m.data.job_id === progress.at(-1)!.job_id), { message: 'the last progress delivered' });
      clients.forEach((client, i) => expect(client.of('job:progress').map((m) => m.data.job_id)).toEqual([progress[i]!.job_id]));
    } finally {
      for (const client of clients) client.close();
    }
  });
});
