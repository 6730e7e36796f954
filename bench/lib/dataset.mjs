// The benchmarks' databases: a template holding the reference dataset (200,000 jobs), seeded
// once and kept between runs, and a fresh copy of it for each phase, so what one phase writes
// never weighs on the next.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import pg from 'pg';

const require = createRequire(import.meta.url);
const db = require(join(import.meta.dirname, '..', '..', 'packages/db/dist/index.js'));
const REFERENCE_JOBS = 200_000;
const round = (x) => Math.round(x * 10) / 10;

/**
 * Creates database `template` if missing, migrates it, and seeds the reference dataset unless it
 * is already there (or `BENCH_RESEED=1`). Resolves with what it holds: jobs, and how many hours
 * ago its newest job was created (an old seed has a thin last 24 h; `log` warns then).
 */
export async function referenceTemplate(adminUrl, template, log) {
  await withClient(adminUrl, async (admin) => {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [template])).rowCount > 0;
    if (!exists) await admin.query(`CREATE DATABASE ${template}`);
  });
  const templateUrl = db.withDatabaseName(adminUrl, template);
  await db.migrate(templateUrl);
  const count = await withClient(templateUrl, async (client) => (await client.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n);
  if (count !== REFERENCE_JOBS || process.env.BENCH_RESEED === '1') {
    log(`seeding the reference dataset (${REFERENCE_JOBS.toLocaleString('en')} jobs) into ${template}, once …`);
    const t0 = performance.now();
    await db.seedReferenceDataset(templateUrl, {});
    log(`seeded in ${round((performance.now() - t0) / 1000)} s`);
  }
  const { jobs, age_h: ageH } = await withClient(templateUrl, async (client) => (await client.query(
    `SELECT (SELECT count(*)::int FROM jobs) AS jobs,
            extract(epoch FROM now() - (SELECT max(created_at) FROM jobs))::float8 / 3600 AS age_h`,
  )).rows[0]);
  if (ageH > 24) log(`warning: the dataset was seeded ${round(ageH)} h ago; its last 24 h are thinner than production's (BENCH_RESEED=1)`);
  return { jobs, seeded_hours_ago: round(ageH) };
}

/**
 * Replaces database `target` with a copy of `template` (a second or so) and resolves with its
 * URL. FILE_COPY: the copy's checkpoint happens here, not as a burst of WAL (the default strategy
 * logs all ~100 MB) that forces a checkpoint in the middle of the phase. The template must have
 * no session open; autovacuum may hold one briefly, hence the retries.
 */
export async function copyOfTemplate(adminUrl, template, target) {
  await withClient(adminUrl, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS ${target} WITH (FORCE)`);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await admin.query(`CREATE DATABASE ${target} TEMPLATE ${template} STRATEGY FILE_COPY`);
        return;
      } catch (error) {
        if (error.code !== '55006' || attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  });
  return db.withDatabaseName(adminUrl, target);
}

async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
