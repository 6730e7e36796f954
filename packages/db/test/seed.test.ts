import pg from 'pg';
import { PIPELINE_AGENTS, REFERENCE_QUEUES } from '@agentos/contracts';
import {
  createTestDatabase,
  DatabaseNotMigratedError,
  InvalidSeedOptionsError,
  seedIfEmpty,
  seedReferenceDataset,
  type SeedSummary,
  type TestDatabase,
} from '@agentos/db';

// The reference dataset on a real PostgreSQL, at a size a test can afford. Timing the full
// 200,000-job dataset is left to the CLI (`npm run seed`), which prints it.

const databases: TestDatabase[] = [];

async function database(prefix: string, bare = false): Promise<TestDatabase> {
  const created = await createTestDatabase(prefix, { bare });
  databases.push(created);
  return created;
}

afterAll(async () => {
  await Promise.all(databases.map((d) => d.drop()));
});

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function count(client: pg.Client, sql: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(`SELECT (${sql})::int AS n`);
  return rows[0]?.n ?? Number.NaN;
}

describe('seedReferenceDataset', () => {
  let url: string;
  let summary: SeedSummary;
  const lines: string[] = [];

  beforeAll(async () => {
    ({ url } = await database('seed'));
    summary = await seedReferenceDataset(url, { jobs: 5_000, workers: 5, logs: 500, days: 7, log: (l) => lines.push(l) });
  });

  it('creates the requested counts and reports them', async () => {
    await withClient(url, async (client) => {
      expect(await count(client, 'SELECT count(*) FROM jobs')).toBe(5_000);
      expect(await count(client, 'SELECT count(*) FROM workers')).toBe(5);
      expect(await count(client, 'SELECT count(*) FROM log_entries')).toBe(500);
    });
    expect(summary).toMatchObject({ jobs: 5_000, workers: 5, logs: 500, agents: 11, queues: 5, services: 5 });
    expect(Object.values(summary.jobsByStatus).reduce((a, b) => a + b, 0)).toBe(5_000);
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^jobs: 5,000 in \d+ ms$/)]));
  });

  it('creates the 11 pipeline agents in stage order, the reference queues and the services', async () => {
    await withClient(url, async (client) => {
      const agents = await client.query('SELECT stage, name, description FROM agents ORDER BY stage');
      expect(agents.rows).toEqual(PIPELINE_AGENTS.map(({ stage, name, description }) => ({ stage, name, description })));
      const queues = await client.query<{ name: string }>('SELECT name FROM queues ORDER BY name');
      expect(queues.rows.map((q) => q.name)).toEqual([...REFERENCE_QUEUES].sort());
      const services = await client.query<{ name: string }>('SELECT name FROM services ORDER BY name');
      expect(services.rows.map((s) => s.name)).toEqual(['api', 'cache-warmer', 'collector', 'dispatcher', 'realtime-gateway']);
    });
  });

  it('stores the effective settings as JSON values', async () => {
    await withClient(url, async (client) => {
      const { rows } = await client.query<{ key: string; value: unknown }>('SELECT key, value FROM settings');
      expect(Object.fromEntries(rows.map((r) => [r.key, r.value]))).toMatchObject({
        'workers.minimum': 3,
        'warm.interval_ms': 5000,
        'snapshot.ttl_s': 15,
        'worker.heartbeat_ttl_s': 120,
        'queue.default_pending_threshold': 1000,
      });
    });
  });

  it('ends most jobs completed, some failed or cancelled, and keeps only recent ones live', async () => {
    const share = (status: keyof SeedSummary['jobsByStatus']) => summary.jobsByStatus[status] / summary.jobs;
    expect(share('completed')).toBeGreaterThan(0.85);
    expect(share('completed')).toBeLessThan(0.95);
    expect(share('failed')).toBeGreaterThan(0.04);
    expect(share('failed')).toBeLessThan(0.09);
    expect(share('cancelled')).toBeGreaterThan(0.005);
    expect(share('cancelled')).toBeLessThan(0.04);
    expect(summary.jobsByStatus.pending).toBeGreaterThan(0);
    await withClient(url, async (client) => {
      expect(
        await count(client, "SELECT count(*) FROM jobs WHERE status IN ('pending', 'processing') AND created_at < now() - interval '1 hour'"),
      ).toBe(0);
    });
  });

  it('puts jobs in the last hour and the last 24 hours, more of them recently', async () => {
    expect(summary.jobsLastHour).toBeGreaterThan(0);
    expect(summary.jobsLast24h).toBeGreaterThan(summary.jobsLastHour);
    await withClient(url, async (client) => {
      expect(await count(client, "SELECT count(*) FROM jobs WHERE created_at > now() OR created_at < now() - interval '7 days'")).toBe(0);
      const newest = await count(client, "SELECT count(*) FROM jobs WHERE created_at > now() - interval '1 day'");
      const oldest = await count(client, "SELECT count(*) FROM jobs WHERE created_at < now() - interval '6 days'");
      expect(newest).toBeGreaterThan(oldest);
    });
  });

  it('keeps every job consistent with its status', async () => {
    await withClient(url, async (client) => {
      const violations = await client.query(`
        SELECT status, count(*)::int AS n FROM jobs
         WHERE started_at < created_at
            OR finished_at < started_at
            OR finished_at < created_at
            OR finished_at > now()
            OR (status = 'completed' AND (progress <> 100 OR finished_at - started_at <> duration_ms * interval '1 ms'))
            OR (status = 'failed' AND (error IS NULL OR finished_at IS NULL OR attempts NOT BETWEEN 1 AND 3))
            OR (status <> 'failed' AND error IS NOT NULL)
            OR (status = 'pending' AND (started_at IS NOT NULL OR worker_id IS NOT NULL OR attempts <> 0))
            OR (status = 'processing' AND (started_at IS NULL OR finished_at IS NOT NULL OR worker_id IS NULL))
            OR (status IN ('completed', 'failed', 'cancelled') AND finished_at IS NULL)
         GROUP BY status`);
      expect(violations.rows).toEqual([]);
    });
  });

  it('draws queues, agents, workers and users from the reference sets', async () => {
    await withClient(url, async (client) => {
      const queues = await client.query<{ queue: string; n: number }>(
        'SELECT queue, count(*)::int AS n FROM jobs GROUP BY queue ORDER BY n DESC',
      );
      expect(queues.rows.map((q) => q.queue).sort()).toEqual([...REFERENCE_QUEUES].sort());
      // Skewed, not uniform: the busiest queue carries several times the quietest one's load.
      expect((queues.rows[0]?.n ?? 0) / (queues.rows.at(-1)?.n ?? 1)).toBeGreaterThan(4);

      expect(await count(client, 'SELECT count(*) FROM jobs WHERE agent IS NOT NULL AND agent NOT IN (SELECT name FROM agents)')).toBe(0);
      expect(await count(client, 'SELECT count(DISTINCT agent) FROM jobs')).toBe(11);
      expect(await count(client, 'SELECT count(*) FROM jobs WHERE agent IS NULL')).toBeGreaterThan(0);
      expect(await count(client, 'SELECT count(*) FROM jobs WHERE worker_id IS NOT NULL AND worker_id NOT IN (SELECT id FROM workers)')).toBe(0);
      const users = await count(client, 'SELECT count(DISTINCT user_id) FROM jobs');
      expect(users).toBeGreaterThan(100);
      expect(users).toBeLessThanOrEqual(500);
    });
  });

  it('keeps agent and worker counters consistent with the jobs', async () => {
    await withClient(url, async (client) => {
      const mismatched = await client.query(`
        SELECT a.name FROM agents a
          LEFT JOIN (SELECT agent, count(*) FILTER (WHERE status IN ('completed', 'failed'))::int AS processed,
                            count(*) FILTER (WHERE status = 'failed')::int AS failed
                       FROM jobs GROUP BY agent) j ON j.agent = a.name
         WHERE a.jobs_processed <> coalesce(j.processed, 0) OR a.jobs_failed <> coalesce(j.failed, 0)`);
      expect(mismatched.rows).toEqual([]);
      const busy = await client.query(`
        SELECT w.hostname FROM workers w
          LEFT JOIN (SELECT worker_id, count(*)::int AS n FROM jobs WHERE status = 'processing' GROUP BY worker_id) j
            ON j.worker_id = w.id
         WHERE w.active_jobs <> coalesce(j.n, 0) OR w.active_jobs > w.concurrency`);
      expect(busy.rows).toEqual([]);
    });
  });

  it('names workers like hosts, most online with a fresh heartbeat, some offline', async () => {
    await withClient(url, async (client) => {
      const { rows } = await client.query<{ hostname: string; status: string; fresh: boolean; queues: string[] }>(
        "SELECT hostname, status, last_heartbeat_at > now() - interval '120 seconds' AS fresh, queues FROM workers ORDER BY hostname",
      );
      expect(rows.map((w) => w.hostname)).toEqual(['worker-01', 'worker-02', 'worker-03', 'worker-04', 'worker-05']);
      expect(rows.filter((w) => w.status === 'online').every((w) => w.fresh)).toBe(true);
      expect(rows.filter((w) => w.status === 'offline').map((w) => w.fresh)).toEqual([false]);
      for (const worker of rows) expect(REFERENCE_QUEUES).toEqual(expect.arrayContaining(worker.queues));
    });
  });

  it('writes log lines of every level from the services, some about jobs', async () => {
    await withClient(url, async (client) => {
      const { rows } = await client.query<{ level: string; n: number }>(
        'SELECT level, count(*)::int AS n FROM log_entries GROUP BY level',
      );
      const levels = Object.fromEntries(rows.map((r) => [r.level, r.n]));
      expect(Object.keys(levels).sort()).toEqual(['debug', 'error', 'info', 'warn']);
      expect(levels.info).toBeGreaterThan(500 / 2);
      expect(await count(client, "SELECT count(*) FROM log_entries WHERE source NOT IN (SELECT name FROM services)")).toBe(0);
      expect(await count(client, 'SELECT count(*) FROM log_entries WHERE job_id IS NOT NULL')).toBeGreaterThan(0);
      expect(await count(client, 'SELECT count(*) FROM log_entries WHERE job_id NOT IN (SELECT id FROM jobs)')).toBe(0);
      expect(await count(client, "SELECT count(*) FROM log_entries WHERE message ~ '[{}]'")).toBe(0);
    });
  });

  it('leaves every index and constraint as the migrations made them', async () => {
    // The seeder drops and rebuilds indexes around its bulk inserts; a fresh clone is the reference.
    const fresh = await database('seedref');
    const catalog = (client: pg.Client) =>
      client
        .query(
          `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
           UNION ALL
           SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
           ORDER BY 1, 2`,
        )
        .then((result) => result.rows);

    const expected = await withClient(fresh.url, catalog);

    expect(expected.length).toBeGreaterThan(15);
    expect(await withClient(url, catalog)).toEqual(expected);
  });

  it('replaces the previous dataset when run again', async () => {
    const again = await seedReferenceDataset(url, { jobs: 300, workers: 2, logs: 40, days: 1 });

    expect(again).toMatchObject({ jobs: 300, workers: 2, logs: 40, agents: 11, queues: 5 });
  });
});

describe('seedReferenceDataset with reset: false', () => {
  it('adds to what is there, with new ids', async () => {
    const { url } = await database('append');
    await seedReferenceDataset(url, { jobs: 200, workers: 3, logs: 50, days: 2 });

    const summary = await seedReferenceDataset(url, { jobs: 200, workers: 3, logs: 50, days: 2, reset: false });

    expect(summary).toMatchObject({ jobs: 400, workers: 6, logs: 100, agents: 11, queues: 5, services: 5 });
    await withClient(url, async (client) => {
      expect(await count(client, 'SELECT count(DISTINCT hostname) FROM workers')).toBe(6);
    });
  });
});

describe('seedIfEmpty', () => {
  it('seeds an empty database once, even when called from several processes at once', async () => {
    const { url } = await database('ifempty');
    const small = { jobs: 150, workers: 3, logs: 30 };

    const results = await Promise.all([seedIfEmpty(url, small), seedIfEmpty(url, small), seedIfEmpty(url, small)]);

    expect(results.map((r) => r.seeded).sort()).toEqual([false, false, true]);
    for (const result of results) expect(result.summary).toMatchObject({ jobs: 150, workers: 3, logs: 30 });
    expect(await seedIfEmpty(url, small)).toMatchObject({ seeded: false, summary: { jobs: 150 } });
  });
});

describe('seed errors', () => {
  it('lists every bad option at once', async () => {
    const attempt = seedReferenceDataset('postgresql://unused', { jobs: -1, days: 0, workers: 1.5 });

    await expect(attempt).rejects.toBeInstanceOf(InvalidSeedOptionsError);
    await expect(attempt).rejects.toMatchObject({
      code: 'INVALID_SEED_OPTIONS',
      problems: [
        'jobs must be an integer from 0 to 50000000 (got -1)',
        'workers must be an integer from 0 to 10000 (got 1.5)',
        'days must be an integer from 1 to 3650 (got 0)',
      ],
    });
  });

  it('says so when the database is not migrated', async () => {
    const { url } = await database('bare', true);

    await expect(seedReferenceDataset(url, { jobs: 10 })).rejects.toBeInstanceOf(DatabaseNotMigratedError);
  });
});
