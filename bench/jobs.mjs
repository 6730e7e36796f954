// npm run bench:jobs — the job search (GET /api/admin/jobs, issue 11) on 1,000,000 jobs:
//   1. each filter alone (and a few with statuses), values rotating over what the data holds,
//      one request at a time: latency per request as a dashboard sees it (HTTP, keep-alive);
//   2. the keyset page walk: consecutive pages (next_cursor back as cursor) from the newest job,
//      from deep in the history, and through a filter.
// Target: p99 ≤ 20 ms per request (issue 11; Flower's /api/tasks?limit=100 takes 18–33 ms over
// 2,000 tasks).
//
// Real processes (services/*/dist): one api with DATABASE_URL, one collector (the api is ready
// only once a snapshot exists). Database: `ssot_bench_jobs`, migrated and seeded once with the
// reference dataset at BENCH_JOBS jobs (as `npm run seed -- --jobs 1000000` would), kept between
// runs; vacuumed and analysed by the seeder.
//
// Options (env): BENCH_ADMIN_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/postgres),
// REDIS_URL (redis://127.0.0.1:6379), BENCH_JOBS (1000000), BENCH_REQUESTS (300 per filter),
// BENCH_WALK_PAGES (1000 per walk), BENCH_LIMIT (50), BENCH_RESEED=1.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';
import { SignJWT } from 'jose';
import pg from 'pg';
import { cpuSampler } from './lib/cpu.mjs';
import { writeResults } from './lib/results.mjs';
import { createLogBook, startService, stopAll } from './lib/services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const db = require(join(root, 'packages/db/dist/index.js'));
const { redisKeys } = require(join(root, 'packages/contracts/dist/index.js'));
const { requestRefresh } = require(join(root, 'packages/runtime/dist/index.js'));

const adminUrl = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const jobCount = Number(process.env.BENCH_JOBS ?? 1_000_000);
const requests = Number(process.env.BENCH_REQUESTS ?? 300);
const walkPages = Number(process.env.BENCH_WALK_PAGES ?? 1000);
const limit = Number(process.env.BENCH_LIMIT ?? 50);
const WARMUP = 20;
const TARGET_P99_MS = 20;
const DATABASE = 'ssot_bench_jobs';
const namespace = `bench-jobs-${process.pid}`;
const keys = redisKeys(namespace);
const secret = `bench-secret-${randomBytes(16).toString('hex')}`;
const log = (...args) => console.error('[bench:jobs]', ...args);
const round = (x, d = 2) => (x === null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** Nearest-rank percentiles of request latencies, ms. */
function percentiles(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, p50: round(q(0.5)), p95: round(q(0.95)), p99: round(q(0.99)), max: round(s[s.length - 1]), mean: round(s.reduce((a, b) => a + b, 0) / s.length) };
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

/** `ssot_bench_jobs`, migrated, holding `jobCount` jobs of the reference dataset (seeded once). */
async function benchDatabase() {
  await withClient(adminUrl, async (admin) => {
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE])).rowCount > 0;
    if (!exists) await admin.query(`CREATE DATABASE ${DATABASE}`);
  });
  const url = db.withDatabaseName(adminUrl, DATABASE);
  await db.migrate(url);
  const count = await withClient(url, async (client) => (await client.query('SELECT count(*)::int AS n FROM jobs')).rows[0].n);
  if (count !== jobCount || process.env.BENCH_RESEED === '1') {
    log(`seeding the reference dataset with ${jobCount.toLocaleString('en')} jobs into ${DATABASE}, once …`);
    const t0 = performance.now();
    await db.seedReferenceDataset(url, { jobs: jobCount });
    log(`seeded in ${round((performance.now() - t0) / 1000, 1)} s`);
  }
  return url;
}

/** What the data holds, for filter values that match something (and a few that match nothing). */
async function valuePools(url) {
  return withClient(url, async (client) => {
    const list = async (sql) => (await client.query(sql)).rows.map((row) => row.v);
    const deep = (await client.query(
      `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, id FROM jobs ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`,
      [Math.floor(jobCount * 0.9)],
    )).rows[0];
    const span = (await client.query('SELECT min(created_at) AS first, max(created_at) AS last FROM jobs')).rows[0];
    return {
      queues: await list('SELECT DISTINCT queue AS v FROM jobs ORDER BY 1'),
      agents: await list('SELECT DISTINCT agent AS v FROM jobs WHERE agent IS NOT NULL ORDER BY 1'),
      // The busiest users and a sample of the rest: a filter's cost depends on its share.
      users: [
        ...(await list('SELECT user_id AS v FROM jobs WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 10')),
        ...(await list('SELECT user_id AS v FROM jobs WHERE user_id IS NOT NULL GROUP BY 1 ORDER BY md5(user_id) LIMIT 30')),
      ],
      workers: await list('SELECT DISTINCT worker_id AS v FROM jobs WHERE worker_id IS NOT NULL ORDER BY 1'),
      // The cursor format is the api's business; the benchmark writes one to start a walk deep
      // in the history without walking there first (as a client would, page by page).
      deepCursor: Buffer.from(JSON.stringify([deep.at, deep.id])).toString('base64url'),
      first: span.first.getTime(),
      last: span.last.getTime(),
    };
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** One GET, timed from the request to the last byte; rejects on anything but 200. */
function get(port, token, path) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const ms = performance.now() - started;
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode} ${body.slice(0, 300)}`));
        else resolve({ ms, body: JSON.parse(body), bytes: Buffer.byteLength(body) });
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

/** The filter cases: a name and the query of its i-th request. */
function filterCases(pools) {
  const pick = (list, i) => list[i % list.length];
  const statuses = ['pending', 'processing', 'completed', 'failed', 'cancelled'];
  const day = 86_400_000;
  const span = pools.last - pools.first;
  const window = (i, width) => {
    const from = pools.first + ((i * 7919) % 997) / 997 * Math.max(0, span - width);
    return { from: new Date(from).toISOString(), to: new Date(from + width).toISOString() };
  };
  return [
    ['no filter', () => ({})],
    ['status (each of the five)', (i) => ({ status: pick(statuses, i) })],
    ['status, two at once', (i) => ({ status: `${pick(statuses, i)},${pick(statuses, i + 2)}` })],
    ['queue', (i) => ({ queue: pick(pools.queues, i) })],
    ['queue and status', (i) => ({ queue: pick(pools.queues, i), status: pick(statuses, i * 3) })],
    ['agent', (i) => ({ agent: pick(pools.agents, i) })],
    ['agent and status', (i) => ({ agent: pick(pools.agents, i), status: pick(['failed', 'completed', 'cancelled'], i) })],
    ['user_id', (i) => ({ user_id: pick(pools.users, i) })],
    ['worker_id', (i) => ({ worker_id: pick(pools.workers, i) })],
    ['source (every job / none)', (i) => ({ source: pick(['api', 'celery', 'bullmq'], i) })],
    ['q (common, some, rare, none)', (i) => ({ q: pick(['sync', 'report', 'timeout', 'ECONNRESET', 'mailbox', 'schema', 'zzqqxx'], i) })],
    ['q and status', (i) => ({ q: pick(['timeout', 'rate', 'mailbox'], i), status: pick(['failed', 'completed'], i) })],
    ['from and to (an hour)', (i) => window(i, 3_600_000)],
    ['from and to (a day)', (i) => window(i, day)],
  ];
}

/** `count` pages in a row, each the previous page's next_cursor. */
async function walk(port, token, query, count) {
  const times = [];
  let cursor = query.cursor;
  let items = 0;
  for (let page = 0; page < count; page += 1) {
    const { ms, body } = await get(port, token, `/api/admin/jobs?${new URLSearchParams({ ...query, limit: String(limit), ...(cursor ? { cursor } : {}) })}`);
    times.push(ms);
    items += body.items.length;
    if (body.next_cursor === null) break;
    cursor = body.next_cursor;
  }
  return { ...percentiles(times), pages: times.length, jobs: items };
}

async function main() {
  const databaseUrl = await benchDatabase();
  const pools = await valuePools(databaseUrl);
  const pgVersion = await withClient(databaseUrl, async (c) => (await c.query('SHOW server_version')).rows[0].server_version);
  const redis = new Redis(redisUrl);
  const logBook = createLogBook();
  const common = { REDIS_URL: redisUrl, SSOT_NAMESPACE: namespace, LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl };
  const results = { filters: {}, walks: {} };
  const loadBefore = loadavg();
  const idle = cpuSampler(async () => ({}));
  idle.start();
  await new Promise((r) => setTimeout(r, 2000));
  const idleBefore = await idle.stop();
  log(`machine before the run: ${idleBefore?.machine_busy_cores ?? '?'} cores busy`);
  let cpu;
  try {
    const collector = await startService('collector', common, { logBook });
    await requestRefresh(redis, keys, [], 'bench:jobs: first build');
    for (const deadline = Date.now() + 30_000; !(await redis.exists(keys.snapshot)); ) {
      if (Date.now() > deadline) throw new Error('no snapshot within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const api = await startService('api', { ...common, AUTH_JWT_SECRET: secret }, { logBook });
    const token = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('1h').sign(new TextEncoder().encode(secret));
    cpu = cpuSampler(async () => ({ [api.child.pid]: 'api', [collector.child.pid]: 'collector' }));
    cpu.start();

    for (const [name, query] of filterCases(pools)) {
      for (let i = 0; i < WARMUP; i += 1) await get(api.port, token, `/api/admin/jobs?${new URLSearchParams({ ...query(i), limit: String(limit) })}`);
      const times = [];
      let items = 0;
      for (let i = 0; i < requests; i += 1) {
        const { ms, body } = await get(api.port, token, `/api/admin/jobs?${new URLSearchParams({ ...query(i), limit: String(limit) })}`);
        times.push(ms);
        items += body.items.length;
      }
      results.filters[name] = { ...percentiles(times), mean_items: round(items / requests, 1) };
      log(`${name.padEnd(30)} p50 ${results.filters[name].p50} ms  p99 ${results.filters[name].p99} ms  max ${results.filters[name].max} ms`);
    }
    for (const [name, query] of [
      ['from the newest job', {}],
      ['from 90 % deep in the history', { cursor: pools.deepCursor }],
      ['through status=failed', { status: 'failed' }],
      ['through q=timeout', { q: 'timeout' }],
    ]) {
      results.walks[name] = await walk(api.port, token, query, walkPages);
      log(`walk ${name.padEnd(30)} ${results.walks[name].pages} pages  p50 ${results.walks[name].p50} ms  p99 ${results.walks[name].p99} ms`);
    }
    const big = [];
    for (let i = 0; i < 50; i += 1) big.push((await get(api.port, token, `/api/admin/jobs?limit=500${i % 2 ? '&status=failed' : ''}`)).ms);
    results.largest_page = { limit: 500, ...percentiles(big) };
    results.cpu_cores = await cpu.stop();
  } finally {
    await stopAll();
    await redis.del(...(await redis.keys(`${namespace}:*`)), 'never-a-key').catch(() => {});
    redis.disconnect();
  }
  const over = [...Object.entries(results.filters), ...Object.entries(results.walks).map(([k, v]) => [`walk ${k}`, v])].filter(([, r]) => r.p99 > TARGET_P99_MS).map(([k]) => k);
  const out = {
    benchmark: 'jobs',
    recorded_at: new Date().toISOString(),
    command: 'npm run bench:jobs',
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, node: process.version, postgres: pgVersion, load_before: loadBefore.map((x) => round(x)), load_after: loadavg().map((x) => round(x)) },
    dataset: { database: DATABASE, jobs: jobCount },
    options: { requests_per_filter: requests, warmup_per_filter: WARMUP, walk_pages: walkPages, limit, clients: 1 },
    target: { p99_ms: TARGET_P99_MS, met: over.length === 0, over },
    machine_before: idleBefore,
    ...results,
    service_warnings: logBook.list(),
  };
  const file = writeResults(join(root, 'bench', 'results', `jobs-${out.recorded_at.slice(0, 10)}.json`), `${JSON.stringify(out, null, 2)}\n`);
  log(`written ${file}; target p99 ≤ ${TARGET_P99_MS} ms ${over.length === 0 ? 'met' : `missed by: ${over.join(', ')}`}`);
}

main().catch(async (error) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
