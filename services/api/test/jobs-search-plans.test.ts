// The job search reads through indexes, never a sequential scan of `jobs` (issue 11): every
// statement the search runs, for each filter alone, with statuses, without any, and for a page
// after a cursor, is EXPLAINed on the reference dataset. The planner only prefers indexes over a
// scan once a table is big enough, hence 200,000 jobs (seeded in ~10 s).
import type { JobFilter } from '@agentos/contracts';
import { createTestDatabase, seedReferenceDataset, type TestDatabase } from '@agentos/db';
import pg from 'pg';
import { findJobs, type JobKey, type RunSql } from '../src/job-search';

jest.setTimeout(180_000);

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/** Every node of a plan, flattened. */
function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe('job search plans on 200,000 jobs', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let middle: JobKey;
  let user: string;
  let worker: string;

  beforeAll(async () => {
    db = await createTestDatabase('jobplans');
    await seedReferenceDataset(db.url, { jobs: 200_000, workers: 50, logs: 0 });
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const one = async (sql: string) => (await client.query(sql)).rows[0];
    const row = await one(`SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, id FROM jobs ORDER BY created_at DESC, id DESC OFFSET 100000 LIMIT 1`);
    middle = { createdAt: row.at, id: row.id };
    user = (await one('SELECT user_id AS v FROM jobs WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1')).v;
    worker = (await one('SELECT worker_id AS v FROM jobs WHERE worker_id IS NOT NULL GROUP BY 1 ORDER BY count(*) ASC LIMIT 1')).v;
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  const day = 86_400_000;
  const filters: [string, () => JobFilter][] = [
    ['no filter', () => ({})],
    ['a common status', () => ({ status: ['completed'] })],
    ['a rare status', () => ({ status: ['processing'] })],
    ['several statuses', () => ({ status: ['failed', 'cancelled'] })],
    ['queue', () => ({ queue: 'reports' })],
    ['queue and status', () => ({ queue: 'reports', status: ['failed'] })],
    ['agent', () => ({ agent: 'publisher' })],
    ['agent and status', () => ({ agent: 'publisher', status: ['failed'] })],
    ['user_id', () => ({ user_id: user })],
    ['worker_id', () => ({ worker_id: worker })],
    ['a source every job has', () => ({ source: 'api' })],
    ['a source no job has', () => ({ source: 'celery' })],
    ['q, common', () => ({ q: 'sync' })],
    ['q, a few percent', () => ({ q: 'timeout' })],
    ['q, rare', () => ({ q: 'mailbox' })],
    ['q, nowhere', () => ({ q: 'zzqqxx' })],
    ['q that other statuses have', () => ({ q: 'timeout', status: ['completed'] })],
    ['from and to', () => ({ from: new Date(Date.now() - 8 * day).toISOString(), to: new Date(Date.now() - 7 * day).toISOString() })],
  ];

  const cases = filters.flatMap(([name, filter]) => [
    [name, filter, false] as const,
    [`${name}, after a cursor`, filter, true] as const,
  ]);

  it.each(cases)('%s: no sequential scan of jobs', async (_name, filter, afterCursor) => {
    const statements: { sql: string; params: unknown[] }[] = [];
    const run: RunSql = async <T>(sql: string, params: unknown[]) => {
      statements.push({ sql, params });
      return (await client.query(sql, params)).rows as T[];
    };
    await findJobs(run, { filter: filter(), take: 51, ...(afterCursor ? { after: middle } : {}) });

    expect(statements.length).toBeGreaterThan(0);
    for (const { sql, params } of statements) {
      const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
      const plan = (rows[0]['QUERY PLAN'] as { Plan: PlanNode }[])[0]!.Plan;
      const scans = nodes(plan).filter((node) => node['Relation Name'] === 'jobs');
      expect(scans.length).toBeGreaterThan(0);
      expect(scans.filter((node) => node['Node Type'] === 'Seq Scan')).toEqual([]);
    }
  });
});
