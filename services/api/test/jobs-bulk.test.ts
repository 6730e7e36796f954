// Bulk commands (CONTRACT §4, §8, issue 11): POST /api/admin/jobs/bulk retries or cancels every
// job a search filter matches, in batches, each job checked as a single command is; progress at
// GET /api/admin/jobs/bulk/:bulk_id. Kept in the database: a replica that crashes mid-way is
// taken over from its cursor, and every job gets its command exactly once.
import { randomUUID } from 'node:crypto';
import { bulkCommandProgress, type BulkCommandProgress, MAX_BULK_JOBS, redisKeys } from '@agentos/contracts';
import { createTestDatabase, type TestDatabase } from '@agentos/db';
import Redis from 'ioredis';
import pg from 'pg';
import request from 'supertest';
import { loadApiConfig } from '../src/config';
import { startApiService, type ApiService } from '../src/service';
import { spawnService } from '../../../test/support/processes';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { signToken, TEST_SECRET } from '../../../test/support/tokens';
import { waitFor } from '../../../test/support/wait';

jest.setTimeout(90_000);

describe('bulk commands', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let redis: Redis;
  let admin: string;
  const namespace = uniqueNamespace('bulk');
  const keys = redisKeys(namespace);
  const running: { stop(): Promise<unknown> }[] = [];

  const env = (extra: Record<string, string> = {}) => ({
    REDIS_URL: TEST_REDIS_URL,
    SSOT_NAMESPACE: namespace,
    AUTH_JWT_SECRET: TEST_SECRET,
    DATABASE_URL: db.url,
    LOG_LEVEL: 'silent',
    BULK_BATCH_SIZE: '7',
    ...extra,
  });
  async function startApi(extra: Record<string, string> = {}): Promise<ApiService> {
    const api = await startApiService(loadApiConfig(env(extra)));
    running.push(api);
    return api;
  }

  beforeAll(async () => {
    db = await createTestDatabase('bulk');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    redis = new Redis(TEST_REDIS_URL);
    admin = await signToken({ sub: 'auth0|admin-9', role: 'admin' });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((service) => service.stop()));
  });
  afterAll(async () => {
    await client?.end();
    redis?.disconnect();
    await db?.drop();
    await cleanupNamespace(namespace);
  });

  /** `count` jobs of one source and status in `queue`, ids `<queue>-<source>-<status>-<n>`, one millisecond apart. */
  async function jobs(queue: string, source: string, status: string, count: number): Promise<string[]> {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO jobs (id, source, queue, type, status, error, created_at, updated_at)
       SELECT $1 || '-' || $2 || '-' || $3 || '-' || i, $2, $1, 'render', $3::job_status, CASE WHEN $3 = 'failed' THEN 'boom' END,
              now() - i * interval '1 millisecond', now()
       FROM generate_series(1, $4::int) AS i RETURNING id`,
      [queue, source, status, count],
    );
    return rows.map((row) => row.id);
  }

  const post = (api: ApiService, body: unknown, token: string | null = admin) => {
    const req = request(api.app).post('/api/admin/jobs/bulk').set('Content-Type', 'application/json');
    return (token ? req.set('Authorization', `Bearer ${token}`) : req).send(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const progress = async (api: ApiService, id: string): Promise<BulkCommandProgress> => {
    const res = await request(api.app).get(`/api/admin/jobs/bulk/${id}`).set('Authorization', `Bearer ${admin}`);
    expect(res.status).toBe(200);
    return bulkCommandProgress.parse(res.body);
  };
  const done = (api: ApiService, id: string, timeoutMs = 30_000) =>
    waitFor(async () => {
      const shown = await progress(api, id);
      return shown.done ? shown : null;
    }, { timeoutMs, intervalMs: 50, message: `bulk ${id} done` });

  /** Every command on a source's stream: the ids of the commands and of their jobs. */
  async function stream(source: string): Promise<{ commands: string[]; jobs: string[] }> {
    const entries = (await redis.xrange(keys.commands(source), '-', '+')) as [string, string[]][];
    const parsed = entries.map(([, fields]) => JSON.parse(fields[1]!) as { command_id: string; job_id: string });
    return { commands: parsed.map((c) => c.command_id), jobs: parsed.map((c) => c.job_id) };
  }
  async function commandsOf(bulkId: string): Promise<{ id: string; job_id: string; source: string; action: string; requested_by: string; status: string }[]> {
    const { rows } = await client.query('SELECT id::text, job_id, source, action::text, requested_by, status::text FROM commands WHERE bulk_id = $1 ORDER BY job_id', [bulkId]);
    return rows;
  }

  it('retries every job it can, on two replicas at once, skipping the rest with the reason, each job once', async () => {
    const retryable = await jobs('mixed', 'bullmq', 'failed', 40);
    await jobs('mixed', 'bullmq', 'completed', 10);
    await jobs('mixed', 'celery', 'failed', 15);
    await jobs('mixed', 'api', 'failed', 5);
    const [one, two] = [await startApi(), await startApi()];

    const accepted = await post(one, { action: 'retry', filter: { queue: 'mixed' } });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ bulk_id: expect.stringMatching(/^[0-9a-f-]{36}$/), matched: 70 });
    const id: string = accepted.body.bulk_id;

    const shown = await done(two, id);
    expect(shown).toEqual({
      bulk_id: id,
      action: 'retry',
      filter: { queue: 'mixed' },
      requested_by: 'auth0|admin-9',
      matched: 70,
      queued: 40,
      skipped: 30,
      failed: 0,
      skipped_reasons: [
        { reason: "source 'celery' cannot retry jobs", jobs: 15 },
        { reason: "source 'bullmq' can retry only failed jobs; this one is completed", jobs: 10 },
        { reason: "jobs of source 'api' take no commands: no bridge or CommandConsumer declared what it can do", jobs: 5 },
      ],
      done: true,
      started_at: expect.any(String),
      finished_at: expect.any(String),
    });
    // Each retryable job has one command, kept with who asked and its bulk, and queued once.
    const kept = await commandsOf(id);
    expect(kept.map((c) => c.job_id)).toEqual([...retryable].sort());
    expect(new Set(kept.map((c) => [c.source, c.action, c.requested_by, c.status].join(' ')))).toEqual(new Set(['bullmq retry auth0|admin-9 requested']));
    const queued = await stream('bullmq');
    expect([...queued.commands].sort()).toEqual(kept.map((c) => c.id).sort());
    expect([...queued.jobs].sort()).toEqual([...retryable].sort());
    expect((await stream('celery')).commands).toEqual([]);
    // One runner carried it out: the other replica never took it over.
    expect((await client.query('SELECT runs FROM bulk_commands WHERE id = $1', [id])).rows).toEqual([{ runs: 1 }]);
    // A job's detail lists its command, as for a single one.
    const detail = await request(two.app).get(`/api/admin/jobs/${encodeURIComponent(retryable[0]!)}`).set('Authorization', `Bearer ${admin}`);
    expect(detail.body.commands).toEqual([expect.objectContaining({ action: 'retry', status: 'requested', requested_by: 'auth0|admin-9' })]);
  });

  it('cancels by every search filter, and finishes at once when nothing matches', async () => {
    const waiting = await jobs('cancel-me', 'bullmq', 'pending', 9);
    await jobs('cancel-me', 'bullmq', 'completed', 4);
    const api = await startApi();

    const accepted = await post(api, { action: 'cancel', filter: { queue: 'cancel-me', status: ['pending', 'completed'], source: 'bullmq', q: 'render' } });
    expect(accepted.body.matched).toBe(13);
    const shown = await done(api, accepted.body.bulk_id);
    expect([shown.queued, shown.skipped, shown.failed]).toEqual([9, 4, 0]);
    expect(shown.skipped_reasons).toEqual([{ reason: "source 'bullmq' can cancel only pending or processing jobs; this one is completed", jobs: 4 }]);
    expect((await commandsOf(accepted.body.bulk_id)).map((c) => c.job_id)).toEqual([...waiting].sort());

    const none = await post(api, { action: 'cancel', filter: { queue: 'no-such-queue' } });
    expect(none.body.matched).toBe(0);
    expect(await done(api, none.body.bulk_id)).toMatchObject({ matched: 0, queued: 0, skipped: 0, failed: 0, skipped_reasons: [], done: true });
  });

  it('refuses bad requests with 400, unknown bulks with 404, and anyone but an admin', async () => {
    const api = await startApi();
    await client.query(
      `INSERT INTO jobs (id, queue, type, status, created_at, updated_at)
       SELECT 'huge-' || i, 'huge', 'render', 'failed', now(), now() FROM generate_series(1, $1::int) AS i`,
      [MAX_BULK_JOBS + 1],
    );
    const refusals: [unknown, number, Record<string, unknown>][] = [
      ['{"action": "retry", "filter": ', 400, { code: 'invalid_request', message: 'request body is not valid JSON' }],
      [{ action: 'explode', filter: {} }, 400, { code: 'invalid_request', message: 'invalid bulk command: action: Invalid option: expected one of "retry"|"cancel"', details: [{ field: 'action', message: 'Invalid option: expected one of "retry"|"cancel"' }] }],
      [{ action: 'retry' }, 400, { code: 'invalid_request', message: 'invalid bulk command: filter: required', details: [{ field: 'filter', message: 'required' }] }],
      [{ action: 'retry', filter: { status: ['done'], colour: 'red' } }, 400, {
        code: 'invalid_request',
        message: 'invalid bulk command: filter.status.0: Invalid option: expected one of "pending"|"processing"|"completed"|"failed"|"cancelled"; filter.colour: unknown field',
        details: [
          { field: 'filter.status.0', message: 'Invalid option: expected one of "pending"|"processing"|"completed"|"failed"|"cancelled"' },
          { field: 'filter.colour', message: 'unknown field' },
        ],
      }],
      ['{"action": "retry", "filter": {}, "__proto__": {"admin": true}}', 400, { code: 'invalid_request', message: expect.stringContaining('__proto__') }],
      [{ action: 'retry', filter: { queue: 'huge' } }, 400, { code: 'invalid_request', message: 'the filter matches more than 10,000 jobs, the most one bulk command acts on: narrow it (from and to, say) and send several' }],
    ];
    for (const [body, status, error] of refusals) {
      const res = await post(api, body);
      expect({ body, status: res.status, error: res.body.error }).toEqual({ body, status, error });
    }
    expect(await client.query('SELECT count(*)::int AS n FROM bulk_commands WHERE matched > 10000')).toMatchObject({ rows: [{ n: 0 }] });

    const unknown = await request(api.app).get(`/api/admin/jobs/bulk/${randomUUID()}`).set('Authorization', `Bearer ${admin}`);
    expect(unknown.status).toBe(404);
    const malformed = await request(api.app).get('/api/admin/jobs/bulk/not-a-uuid').set('Authorization', `Bearer ${admin}`);
    expect({ status: malformed.status, body: malformed.body }).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'no such bulk command: bulk ids are UUIDs' } } });
    expect((await post(api, { action: 'retry', filter: {} }, null)).status).toBe(401);
    expect((await post(api, { action: 'retry', filter: {} }, await signToken({ sub: 'u', role: 'user' }))).status).toBe(403);
    const asText = await request(api.app).post('/api/admin/jobs/bulk').set('Authorization', `Bearer ${admin}`).set('Content-Type', 'text/plain').send('{}');
    expect(asText.status).toBe(415);
    await client.query("DELETE FROM jobs WHERE queue = 'huge'");
  });

  it('is taken over from its cursor when its replica crashes mid-way, every job queued exactly once', async () => {
    const failed = await jobs('crash', 'bullmq', 'failed', 1_500);
    // A real process, so it can die as a process does: SIGKILL, no chance to let go of its lease.
    const doomed = await spawnService('api', { ...env({ BULK_BATCH_SIZE: '5', BULK_LEASE_MS: '1500', LOG_LEVEL: 'warn' }) });
    running.push({ stop: () => doomed.kill() });
    const accepted = await fetch(`${doomed.url}/api/admin/jobs/bulk`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'retry', filter: { queue: 'crash', status: ['failed'] } }),
    });
    expect(accepted.status).toBe(202);
    const { bulk_id: id } = (await accepted.json()) as { bulk_id: string };
    await waitFor(async () => (await client.query<{ queued: number }>('SELECT queued FROM bulk_commands WHERE id = $1', [id])).rows[0]!.queued >= 100, {
      timeoutMs: 20_000,
      message: 'the first replica under way',
    });
    await doomed.kill();
    const left = (await client.query<{ queued: number; finished: boolean }>('SELECT queued, finished_at IS NOT NULL AS finished FROM bulk_commands WHERE id = $1', [id])).rows[0]!;
    expect(left.finished).toBe(false);
    expect(left.queued).toBeLessThan(1_500);

    const successor = await startApi({ BULK_BATCH_SIZE: '50' });
    const shown = await done(successor, id);
    expect([shown.matched, shown.queued, shown.skipped, shown.failed]).toEqual([1_500, 1_500, 0, 0]);
    expect((await client.query('SELECT runs FROM bulk_commands WHERE id = $1', [id])).rows).toEqual([{ runs: 2 }]);
    const kept = await commandsOf(id);
    expect(kept.map((c) => c.job_id)).toEqual([...failed].sort());
    const queued = (await stream('bullmq')).jobs.filter((job) => job.startsWith('crash-'));
    expect(queued).toHaveLength(1_500);
    expect(new Set(queued).size).toBe(1_500);
  });

  it('settles a batch its runner left between commit and queueing: adds what is missing, never twice', async () => {
    // Two bulks as a runner that died would leave them: commands kept, the batch listed as
    // unqueued, the lease lapsed. The first runner got its MULTI through before dying, the second not.
    const [sentJob, unsentJob] = [...(await jobs('settle-a', 'bullmq', 'failed', 1)), ...(await jobs('settle-b', 'bullmq', 'failed', 1))];
    const left = async (jobId: string, queue: string, onStream: boolean) => {
      const bulkId = randomUUID();
      const command = { command_id: randomUUID(), job_id: jobId, action: 'retry', requested_by: 'auth0|admin-9', requested_at: new Date().toISOString() };
      const unqueued = { at: Date.now(), last: true, entries: [{ source: 'bullmq', command }] };
      await client.query(
        `INSERT INTO bulk_commands (id, action, filter, requested_by, requested_at, matched, queued, skipped_reasons, cursor_created_at, cursor_id, unqueued, runner, lease_until, runs)
         SELECT $1, 'retry', $2, 'auth0|admin-9', now(), 1, 1, '{}', j.created_at, j.id, $3, 'a-runner-that-died', now() - interval '1 second', 1 FROM jobs j WHERE j.id = $4`,
        [bulkId, JSON.stringify({ queue }), JSON.stringify(unqueued), jobId],
      );
      await client.query(`INSERT INTO commands (id, job_id, source, action, requested_by, requested_at, bulk_id) VALUES ($1, $2, 'bullmq', 'retry', 'auth0|admin-9', now(), $3)`, [command.command_id, jobId, bulkId]);
      if (onStream) await redis.xadd(keys.commands('bullmq'), '*', 'command', JSON.stringify(command));
      return { bulkId, commandId: command.command_id };
    };
    const sent = await left(sentJob!, 'settle-a', true);
    const unsent = await left(unsentJob!, 'settle-b', false);

    const api = await startApi();
    for (const { bulkId } of [sent, unsent]) expect(await done(api, bulkId)).toMatchObject({ matched: 1, queued: 1, failed: 0, done: true });
    const onStream = (await stream('bullmq')).commands;
    expect(onStream.filter((c) => c === sent.commandId)).toHaveLength(1);
    expect(onStream.filter((c) => c === unsent.commandId)).toHaveLength(1);
    expect((await client.query('SELECT count(*)::int AS n FROM bulk_commands WHERE unqueued IS NOT NULL')).rows).toEqual([{ n: 0 }]);
  });

  it('lets go of its bulk on a clean stop, and another replica goes on at once', async () => {
    await jobs('handover', 'bullmq', 'failed', 600);
    const first = await startApi({ BULK_BATCH_SIZE: '3', BULK_LEASE_MS: '60000' });
    const accepted = await post(first, { action: 'retry', filter: { queue: 'handover' } });
    await waitFor(async () => (await progress(first, accepted.body.bulk_id)).queued >= 30, { message: 'under way' });
    await first.stop();
    running.splice(running.indexOf(first), 1);
    const startedAt = Date.now();
    const second = await startApi({ BULK_BATCH_SIZE: '100' });
    // Well within the first runner's 60 s lease: it let go.
    expect((await done(second, accepted.body.bulk_id, 20_000)).queued).toBe(600);
    expect(Date.now() - startedAt).toBeLessThan(20_000);
  });
});
