// Job search (CONTRACT §4, issue 11): every filter narrows exactly as a plain SQL query over
// `jobs` says, keyset pages walk the whole set once (ties on created_at included), and bad input
// is a 400 in the contract's format. On the real PostgreSQL and Redis, the api in-process.
import { JOB_SEARCH_MAX_LIMIT, jobSearchPage, type JobSearchPage } from '@agentos/contracts';
import { createTestDatabase, seedReferenceDataset, type TestDatabase } from '@agentos/db';
import pg from 'pg';
import request from 'supertest';
import { loadApiConfig } from '../src/config';
import { startApiService, type ApiService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { signToken, TEST_SECRET } from '../../../test/support/tokens';

jest.setTimeout(60_000);

/** Rows sharing one created_at, spread over every status: pages must cut through them. */
const TIES = 130;
const TIE_AT = '2026-11-20T12:00:00.000Z';

describe('GET /api/admin/jobs', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let api: ApiService;
  let admin: string;
  const namespace = uniqueNamespace('jobsearch');

  beforeAll(async () => {
    db = await createTestDatabase('jobsearch');
    await seedReferenceDataset(db.url, { jobs: 4_000, workers: 6, logs: 0, days: 10 });
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    // Beside the reference dataset: other sources, opaque ids, LIKE wildcards in an error text,
    // and a crowd of jobs created in the same millisecond.
    await client.query(
      `INSERT INTO jobs (id, source, queue, type, status, user_id, agent, worker_id, error, created_at, updated_at)
       SELECT 'tie-' || i, CASE WHEN i % 3 = 0 THEN 'celery' ELSE 'bullmq' END, 'ties', 'tie.check',
              (ARRAY['pending','processing','completed','failed','cancelled'])[1 + i % 5]::job_status,
              'auth0|tie-' || (i % 4), CASE WHEN i % 2 = 0 THEN 'planner' END, 'celery@host-' || (i % 3),
              CASE WHEN i % 5 = 3 THEN 'tie failed: ' || i END, $1::timestamptz, now()
       FROM generate_series(1, $2::int) AS i`,
      [TIE_AT, TIES],
    );
    await client.query(
      `INSERT INTO jobs (id, source, queue, type, status, user_id, worker_id, error, created_at, updated_at) VALUES
         ('42', 'bullmq', 'emails', 'notify.email', 'failed', 'auth0|5f3a', 'bullmq:worker/7', '100% done_now, then ECONNRESET', now() - interval '2 days', now()),
         ('ü-42', 'bullmq', 'emails', 'notify.email', 'failed', 'auth0|5f3a', 'bullmq:worker/7', '1000 done now', now() - interval '3 days', now()),
         ('celery-task-7', 'celery', 'emails', 'Notify.Email', 'completed', NULL, 'celery@host-1', NULL, now() - interval '4 days', now())`,
    );
    await client.query('ANALYZE jobs');
    api = await startApiService(
      loadApiConfig({ REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, AUTH_JWT_SECRET: TEST_SECRET, DATABASE_URL: db.url, LOG_LEVEL: 'silent' }),
    );
    admin = await signToken({ sub: 'admin-1', role: 'admin' });
  });
  afterAll(async () => {
    await api?.stop();
    await client?.end();
    await db?.drop();
    await cleanupNamespace(namespace);
  });

  const search = (query: Record<string, string> | string, token: string | null = admin) => {
    const req = request(api.app).get(`/api/admin/jobs${typeof query === 'string' ? query : `?${new URLSearchParams(query)}`}`);
    return token === null ? req : req.set('Authorization', `Bearer ${token}`);
  };

  /** Every page of a search, in order: the ids, and how many pages it took. */
  async function walk(query: Record<string, string>): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await search({ ...query, ...(cursor ? { cursor } : {}) });
      expect({ status: res.status, body: res.status === 200 ? 'a page' : res.body }).toEqual({ status: 200, body: 'a page' });
      const page: JobSearchPage = jobSearchPage.parse(res.body);
      expect(page.items.length).toBeLessThanOrEqual(Number(query.limit ?? 50));
      ids.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor;
      pages += 1;
      if (pages > 1_000) throw new Error('the walk does not end');
    } while (cursor !== null);
    return { ids, pages };
  }

  /** The ids a plain query over jobs gives, in the search's order. */
  async function expected(where: string, params: unknown[] = []): Promise<string[]> {
    const { rows } = await client.query<{ id: string }>(`SELECT id FROM jobs WHERE ${where} ORDER BY created_at DESC, id DESC`, params);
    return rows.map((row) => row.id);
  }

  async function busiest(column: 'user_id' | 'worker_id'): Promise<string> {
    const { rows } = await client.query<{ value: string }>(`SELECT ${column} AS value FROM jobs WHERE ${column} IS NOT NULL AND id NOT LIKE 'tie-%' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`);
    return rows[0]!.value;
  }

  describe('filters', () => {
    const from = new Date(Date.now() - 5 * 86_400_000).toISOString();
    const to = new Date(Date.now() - 4 * 86_400_000).toISOString();
    const cases: [string, () => Promise<Record<string, string>>, string, () => Promise<unknown[]>][] = [
      ['no filter', async () => ({}), 'true', async () => []],
      ['one status', async () => ({ status: 'failed' }), "status = 'failed'", async () => []],
      ['several statuses, one named twice', async () => ({ status: 'pending,cancelled,pending' }), "status IN ('pending', 'cancelled')", async () => []],
      ['queue', async () => ({ queue: 'reports' }), 'queue = $1', async () => ['reports']],
      ['agent', async () => ({ agent: 'planner' }), 'agent = $1', async () => ['planner']],
      ['user_id', async () => ({ user_id: await busiest('user_id') }), 'user_id = $1', async () => [await busiest('user_id')]],
      ['an opaque user_id', async () => ({ user_id: 'auth0|5f3a' }), 'user_id = $1', async () => ['auth0|5f3a']],
      ['worker_id', async () => ({ worker_id: await busiest('worker_id') }), 'worker_id = $1', async () => [await busiest('worker_id')]],
      ['an opaque worker_id', async () => ({ worker_id: 'bullmq:worker/7' }), 'worker_id = $1', async () => ['bullmq:worker/7']],
      ['source', async () => ({ source: 'celery' }), 'source = $1', async () => ['celery']],
      ['q in type, any case', async () => ({ q: 'SYNC' }), "(type ILIKE '%sync%' OR error ILIKE '%sync%')", async () => []],
      ['q in error, common', async () => ({ q: 'timeout' }), "(type ILIKE '%timeout%' OR error ILIKE '%timeout%')", async () => []],
      ['q in error, rare', async () => ({ q: 'mailbox' }), "(type ILIKE '%mailbox%' OR error ILIKE '%mailbox%')", async () => []],
      ['q with % and _ taken literally', async () => ({ q: '100% done_now' }), "error LIKE '100\\% done\\_now%'", async () => []],
      ['from and to', async () => ({ from, to }), 'created_at >= $1 AND created_at < $2', async () => [from, to]],
      ['status, queue and q together', async () => ({ status: 'failed,cancelled', queue: 'default', q: 'rate' }), "status IN ('failed', 'cancelled') AND queue = 'default' AND (type ILIKE '%rate%' OR error ILIKE '%rate%')", async () => []],
      ['a text only other statuses have', async () => ({ status: 'completed', q: 'timeout' }), "status = 'completed' AND (type ILIKE '%timeout%' OR error ILIKE '%timeout%')", async () => []],
      ['agent and user together', async () => ({ agent: 'planner', user_id: await busiest('user_id') }), 'agent = $1 AND user_id = $2', async () => ['planner', await busiest('user_id')]],
      ['a queue nobody uses', async () => ({ queue: 'no-such-queue' }), 'false', async () => []],
    ];

    it.each(cases)('%s: the same jobs, in the same order, as SQL', async (_name, query, where, params) => {
      const q = await query();
      const want = await expected(where, await params());
      // Big pages for the big sets; default pages where the text search's steps are the point.
      const { ids } = await walk({ ...q, ...(q.q === undefined ? { limit: String(JOB_SEARCH_MAX_LIMIT) } : {}) });
      expect(ids).toEqual(want);
    });

    it('compares the filters against sets that are not empty', async () => {
      // Guards the table above: a filter that matched nothing would agree with SQL trivially.
      const sizes = await Promise.all([
        expected("status = 'failed'"),
        expected("error ILIKE '%mailbox%'"),
        expected("status = 'completed' AND error ILIKE '%timeout%'"),
        expected("error LIKE '100\\% done\\_now%'"),
        expected('created_at >= $1 AND created_at < $2', [from, to]),
        expected("agent = 'planner' AND user_id = $1", [await busiest('user_id')]),
      ]);
      expect(sizes.map((ids) => ids.length > 0)).toEqual([true, true, false, true, true, true]);
      expect(sizes[3]).toEqual(['42']);
    });
  });

  describe('keyset pages', () => {
    it('walk every job once, in order, through ties on created_at that pages cut', async () => {
      const want = await expected("queue = 'ties'");
      expect(want).toHaveLength(TIES);
      const { ids, pages } = await walk({ queue: 'ties', limit: '7' });
      expect(pages).toBe(Math.ceil(TIES / 7));
      expect(ids).toEqual(want);
      expect(new Set(ids).size).toBe(TIES);
    });

    it('walk the whole table once at the largest page', async () => {
      const { ids } = await walk({ limit: String(JOB_SEARCH_MAX_LIMIT) });
      expect(ids).toEqual(await expected('true'));
      expect(new Set(ids).size).toBe(ids.length);
    });

    it('give a full last page no cursor, and each item as the snapshot lists jobs', async () => {
      const res = await search({ queue: 'emails', limit: '3' });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('private, no-store');
      expect(res.body.next_cursor).toBeNull();
      expect(res.body.items.map((j: { id: string }) => j.id)).toEqual(['42', 'ü-42', 'celery-task-7']);
      expect(res.body.items[0]).toEqual({
        id: '42',
        source: 'bullmq',
        queue: 'emails',
        type: 'notify.email',
        status: 'failed',
        user_id: 'auth0|5f3a',
        agent: null,
        worker_id: 'bullmq:worker/7',
        attempts: 0,
        progress: 0,
        error: '100% done_now, then ECONNRESET',
        duration_ms: null,
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        started_at: null,
        finished_at: null,
      });
      const shorter = await search({ queue: 'emails', limit: '2' });
      expect(shorter.body.items.map((j: { id: string }) => j.id)).toEqual(['42', 'ü-42']);
      expect(typeof shorter.body.next_cursor).toBe('string');
      const rest = await search({ queue: 'emails', limit: '2', cursor: shorter.body.next_cursor });
      expect(rest.body).toEqual({ items: [expect.objectContaining({ id: 'celery-task-7' })], next_cursor: null });
    });
  });

  describe('bad input', () => {
    const STATUSES = 'one or more of pending, processing, completed, failed, cancelled, comma separated';
    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const refusals: [string, string, { field: string; message: string }[]][] = [
      ['an unknown status', '?status=bogus', [{ field: 'status', message: `unknown status 'bogus'; ${STATUSES}` }]],
      ['an empty status in the list', '?status=failed,', [{ field: 'status', message: `unknown status ''; ${STATUSES}` }]],
      ['a date without a time', '?from=2026-12-01', [{ field: 'from', message: 'must be an ISO 8601 time with its offset, e.g. 2026-12-03T10:00:00Z' }]],
      ['a date that is not one', '?to=yesterday', [{ field: 'to', message: 'must be an ISO 8601 time with its offset, e.g. 2026-12-03T10:00:00Z' }]],
      ['to before from', '?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', [{ field: 'to', message: 'must not be before from' }]],
      ['limit 0', '?limit=0', [{ field: 'limit', message: 'must be a whole number from 1 to 500' }]],
      ['limit 501', '?limit=501', [{ field: 'limit', message: 'must be a whole number from 1 to 500' }]],
      ['a limit that is not digits', '?limit=1e2', [{ field: 'limit', message: 'must be a whole number from 1 to 500' }]],
      ['a garbage cursor', '?cursor=%40%40garbage', [{ field: 'cursor', message: 'not a cursor this api gave out' }]],
      ['a cursor that is base64url but not JSON', `?cursor=${Buffer.from('hello').toString('base64url')}`, [{ field: 'cursor', message: 'not a cursor this api gave out' }]],
      ['a cursor with a bad time', `?cursor=${cursorOf(['2026-13-45T99:00:00.000Z', '42'])}`, [{ field: 'cursor', message: 'not a cursor this api gave out' }]],
      ['a cursor with a bad id', `?cursor=${cursorOf(['2026-11-20T12:00:00.000Z', 'a b'])}`, [{ field: 'cursor', message: 'not a cursor this api gave out' }]],
      ['a cursor of another shape', `?cursor=${cursorOf({ created_at: '2026-11-20T12:00:00.000Z', id: '42' })}`, [{ field: 'cursor', message: 'not a cursor this api gave out' }]],
      [
        'unknown parameters',
        '?colour=red&queue=default&size=2',
        [
          { field: 'colour', message: 'unknown parameter' },
          { field: 'size', message: 'unknown parameter' },
        ],
      ],
      ['a parameter given twice', '?queue=a&queue=b', [{ field: 'queue', message: 'given more than once (list statuses comma separated)' }]],
      ['a text too short to search for', '?q=ab', [{ field: 'q', message: 'must hold at least 3 letters or digits in a row' }]],
      ['a text of punctuation', '?q=a.b-c', [{ field: 'q', message: 'must hold at least 3 letters or digits in a row' }]],
      ['an empty queue', '?queue=', [{ field: 'queue', message: 'must not be empty' }]],
      ['a user id with a space', '?user_id=a%20b', [{ field: 'user_id', message: 'must contain no whitespace or control characters' }]],
      ['a source no platform can have', '?source=Celery!', [{ field: 'source', message: 'lowercase letters, digits, _ . - (at most 64)' }]],
      [
        'several problems at once',
        '?status=done&limit=0&colour=red',
        [
          { field: 'status', message: `unknown status 'done'; ${STATUSES}` },
          { field: 'limit', message: 'must be a whole number from 1 to 500' },
          { field: 'colour', message: 'unknown parameter' },
        ],
      ],
    ];

    it.each(refusals)('%s: 400 naming every problem', async (_name, query, details) => {
      const res = await search(query);
      expect({ status: res.status, body: res.body }).toEqual({
        status: 400,
        body: { error: { code: 'invalid_request', message: `invalid job search: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`, details } },
      });
    });

    it('answers a malformed percent-escape with 400 at the door', async () => {
      const res = await search('?q=%E0%A4%A');
      expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: 'malformed percent-escape in the query string' } } });
    });
  });

  describe('who may search', () => {
    it('answers 401 without a token or with a bad one, 403 for a user token, before looking at the query', async () => {
      for (const token of [null, 'not-a-jwt']) {
        const res = await search('?status=bogus', token);
        expect({ status: res.status, body: res.body }).toEqual({ status: 401, body: { error: { code: 'unauthorized', message: 'unauthorized' } } });
      }
      const asUser = await search('?status=bogus', await signToken({ sub: 'u1', role: 'user' }));
      expect({ status: asUser.status, body: asUser.body }).toEqual({ status: 403, body: { error: { code: 'forbidden', message: 'admin role required' } } });
    });

    it('answers 503 on an api without a database', async () => {
      const bare = await startApiService(loadApiConfig({ REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' }));
      try {
        const res = await request(bare.app).get('/api/admin/jobs').set('Authorization', `Bearer ${admin}`);
        expect({ status: res.status, body: res.body }).toEqual({
          status: 503,
          body: { error: { code: 'unavailable', message: 'job routes need the database: this api has no DATABASE_URL' } },
        });
      } finally {
        await bare.stop();
      }
    });
  });
});
