import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, seedReferenceDataset, type TestDatabase } from '@agentos/db';

// The job rollups (migrations 20261130080000_job_rollups, 20261207010000_job_queue_counts) must
// equal a recount of `jobs` after any mix of writes: the seeder's bulk insert, the dispatcher's
// persist function, plain UPDATE and DELETE, concurrent writers, TRUNCATE. Each check recounts
// every rollup from scratch.

let database: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase('rollups');
  await seedReferenceDataset(database.url, { jobs: 3_000, workers: 5, logs: 10, days: 3 });
  pool = new pg.Pool({ connectionString: database.url, max: 6 });
  // An idle client ended from outside (seen once in CI: "terminating connection due to
  // administrator command") is dropped by the pool; without a listener pg raises it as an
  // unhandled 'error' that fails whichever test runs. A query that fails still fails its test.
  pool.on('error', () => {});
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

/** Every rollup row that differs from the recount, as readable lines (empty when they agree). */
async function disagreements(): Promise<string[]> {
  const checks: [string, string, string][] = [
    [
      'job_created_minutes',
      // The last 47 h: minute rows end two days back, and the edge minute may be cut mid-way.
      `SELECT minute AS k1, status::text AS k2, NULL AS k3, jobs AS a, NULL::bigint AS b, NULL::int AS c
       FROM job_created_minutes WHERE jobs <> 0 AND minute >= date_trunc('minute', now() - interval '47 hours')`,
      `SELECT date_trunc('minute', created_at), status::text, NULL, count(*)::int, NULL::bigint, NULL::int
       FROM jobs WHERE created_at >= date_trunc('minute', now() - interval '47 hours') GROUP BY 1, 2`,
    ],
    [
      'job_created_hours',
      `SELECT hour, status::text, NULL, jobs, duration_sum, durations FROM job_created_hours
       WHERE jobs <> 0 OR duration_sum <> 0 OR durations <> 0`,
      `SELECT date_trunc('hour', created_at), status::text, NULL, count(*)::int, coalesce(sum(duration_ms), 0)::bigint,
              count(duration_ms)::int FROM jobs GROUP BY 1, 2`,
    ],
    [
      'job_finished_hours',
      `SELECT hour, queue, status::text, jobs, NULL::bigint, NULL::int FROM job_finished_hours WHERE jobs <> 0`,
      `SELECT date_trunc('hour', finished_at), queue, status::text, count(*)::int, NULL::bigint, NULL::int
       FROM jobs WHERE finished_at IS NOT NULL GROUP BY 1, 2, 3`,
    ],
    [
      'job_duration_hours',
      `SELECT hour, bucket::text, NULL, jobs, NULL::bigint, NULL::int FROM job_duration_hours WHERE jobs <> 0`,
      `SELECT date_trunc('hour', created_at), ssot_duration_bucket(duration_ms)::text, NULL, count(*)::int, NULL::bigint, NULL::int
       FROM jobs WHERE status = 'completed' AND duration_ms IS NOT NULL GROUP BY 1, 2`,
    ],
    [
      'job_queue_counts',
      // No time key: the epoch stands in for it.
      `SELECT 'epoch'::timestamptz AS k1, queue AS k2, status::text AS k3, jobs AS a, NULL::bigint AS b, NULL::int AS c
       FROM job_queue_counts WHERE jobs <> 0`,
      `SELECT 'epoch'::timestamptz, queue, status::text, count(*)::int, NULL::bigint, NULL::int
       FROM jobs WHERE status IN ('pending', 'processing') GROUP BY 2, 3`,
    ],
  ];
  const lines: string[] = [];
  for (const [table, rollup, recount] of checks) {
    const { rows } = await pool.query<{ side: string; k1: Date; k2: string; k3: string | null; a: number; b: string | null; c: number | null }>(
      `WITH r AS (${rollup}), j AS (${recount})
       (SELECT 'rollup only' AS side, * FROM r EXCEPT SELECT 'rollup only', * FROM j)
       UNION ALL
       (SELECT 'recount only', * FROM j EXCEPT SELECT 'recount only', * FROM r)
       ORDER BY 2, 3, 4, 1 LIMIT 20`,
    );
    for (const row of rows) lines.push(`${table} ${row.side}: ${row.k1.toISOString()} ${row.k2} ${row.k3 ?? ''} jobs=${row.a} ${row.b ?? ''} ${row.c ?? ''}`.trim());
  }
  return lines;
}

/** A job event batch as the dispatcher hands it to ssot_persist_events. */
function jobTarget(id: string, status: 'pending' | 'processing' | 'completed' | 'failed', at: Date, queue = 'default') {
  const finished = status === 'completed' || status === 'failed';
  return {
    id,
    queue,
    type: 'email',
    status,
    user_id: null,
    agent: null,
    worker_id: null,
    progress: null,
    error: status === 'failed' ? 'boom' : null,
    duration_ms: finished ? 50 + Math.floor(Math.random() * 5000) : null,
    created_at: status === 'pending' ? at.toISOString() : null,
    started_at: status === 'processing' ? at.toISOString() : null,
    finished_at: finished ? at.toISOString() : null,
    last_event_at: at.toISOString(),
    event_ids: [randomUUID()],
  };
}

async function persist(jobs: ReturnType<typeof jobTarget>[]) {
  const marks = jobs.flatMap((j) => j.event_ids.map((id) => ({ id, name: 'job:created', occurred_at: j.last_event_at })));
  await pool.query('SELECT ssot_persist_events($1::jsonb)', [JSON.stringify({ marks, jobs })]);
}

describe('job rollups', () => {
  it('match a recount after the seeder and the migration backfill', async () => {
    const { rows } = await pool.query<{ n: number }>('SELECT sum(jobs)::int AS n FROM job_created_hours');
    expect(rows[0]!.n).toBe(3_000);
    expect(await disagreements()).toEqual([]);
  });

  it('follow the persist function through every transition, including redeliveries and late events', async () => {
    const ids = Array.from({ length: 200 }, () => randomUUID());
    const now = Date.now();
    await persist(ids.map((id, i) => jobTarget(id, 'pending', new Date(now - i * 60_000))));
    await persist(ids.slice(0, 150).map((id) => jobTarget(id, 'processing', new Date(now))));
    await persist(ids.slice(0, 100).map((id, i) => jobTarget(id, i % 7 === 0 ? 'failed' : 'completed', new Date(now + 1000))));
    // Late processing events after completion, and the same completions delivered again.
    await persist(ids.slice(0, 50).map((id) => jobTarget(id, 'processing', new Date(now + 2000))));
    await persist(ids.slice(0, 30).map((id) => jobTarget(id, 'completed', new Date(now + 1000))));
    expect(await disagreements()).toEqual([]);
  });

  it('follow plain UPDATE and DELETE statements, whatever column they move', async () => {
    await pool.query(`UPDATE jobs SET progress = 42 WHERE status = 'processing'`);
    await pool.query(`UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' LIMIT 20)`);
    await pool.query(`UPDATE jobs SET duration_ms = duration_ms * 2 WHERE id IN (SELECT id FROM jobs WHERE status = 'completed' LIMIT 50)`);
    await pool.query(`UPDATE jobs SET created_at = created_at - interval '3 hours', queue = 'reports' WHERE id IN (SELECT id FROM jobs LIMIT 100)`);
    await pool.query(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status = 'failed' LIMIT 40)`);
    expect(await disagreements()).toEqual([]);
  });

  it('stay exact under concurrent writers', async () => {
    const ids = Array.from({ length: 400 }, () => randomUUID());
    const now = Date.now();
    // Eight writers at once over overlapping jobs: persist batches and plain updates interleave.
    await Promise.all([
      ...[0, 1, 2, 3].map((w) => persist(ids.slice(w * 100, w * 100 + 100).map((id) => jobTarget(id, 'pending', new Date(now))))),
    ]);
    await Promise.all([
      persist(ids.slice(0, 200).map((id) => jobTarget(id, 'processing', new Date(now + 10)))),
      persist(ids.slice(100, 300).map((id) => jobTarget(id, 'completed', new Date(now + 20)))),
      persist(ids.slice(250, 400).map((id) => jobTarget(id, 'failed', new Date(now + 30)))),
      pool.query(`UPDATE jobs SET finished_at = finished_at + interval '1 hour' WHERE id = ANY($1::text[]) AND finished_at IS NOT NULL`, [ids.slice(0, 300)]),
      pool.query(`DELETE FROM jobs WHERE id = ANY($1::text[])`, [ids.slice(390)]),
    ]);
    expect(await disagreements()).toEqual([]);
  });

  it('are emptied with the table by TRUNCATE, and a reseed counts again', async () => {
    await seedReferenceDataset(database.url, { jobs: 500, workers: 2, logs: 0, days: 1 });
    const { rows } = await pool.query<{ n: number }>('SELECT sum(jobs)::int AS n FROM job_created_hours');
    expect(rows[0]!.n).toBe(500);
    expect(await disagreements()).toEqual([]);
  });
});
