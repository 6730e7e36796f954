// npm run bench:ssot — the SSOT read path, side by side in one run (issue #2):
//   1. full rebuild (sections in parallel) vs the same sections one after another
//   2. snapshot size, raw / gzip / br
//   3. GET /api/admin/ssot under autocannon (50 connections) for the api, a bare node:http server
//      sending the same bytes from memory (the ceiling), and the naive handler
//      (Redis GET + JSON.parse + res.json).
// Runs on the reference dataset (200,000 jobs) in database `ssot_bench`, seeded on first use.
//
// Options (env): BENCH_ADMIN_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/postgres),
// REDIS_URL (redis://127.0.0.1:6379), BENCH_DURATION_S (10 per run), BENCH_ROUNDS (2),
// BENCH_BUILDS (20), BENCH_RESEED=1.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import pg from 'pg';
import { SignJWT } from 'jose';
import { writeResults } from './lib/results.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const db = require(join(root, 'packages/db/dist/index.js'));
const { startCollectorService } = require(join(root, 'services/collector/dist/service.js'));
const { loadCollectorConfig } = require(join(root, 'services/collector/dist/config.js'));
const { redisKeys } = require(join(root, 'packages/contracts/dist/index.js'));

const adminUrl = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const duration = Number(process.env.BENCH_DURATION_S ?? 10);
const builds = Number(process.env.BENCH_BUILDS ?? 20);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const namespace = `bench-${process.pid}`;
const keys = redisKeys(namespace);
const secret = 'bench-secret-that-is-long-enough-for-hs256-0123456789';
const log = (...args) => console.error('[bench]', ...args);

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: round(q(0.5)), p95: round(q(0.95)), min: round(s[0]), max: round(s[s.length - 1]) };
};
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function benchDatabase() {
  const databaseUrl = new URL(adminUrl);
  databaseUrl.pathname = '/ssot_bench';
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const exists = (await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'ssot_bench'`)).rowCount > 0;
  if (!exists) await admin.query('CREATE DATABASE ssot_bench');
  await admin.end();
  await db.migrate(databaseUrl.toString());
  const client = new pg.Client({ connectionString: databaseUrl.toString() });
  await client.connect();
  const { rows } = await client.query('SELECT count(*)::int AS n FROM jobs');
  await client.end();
  if (rows[0].n !== 200_000 || process.env.BENCH_RESEED === '1') {
    log('seeding the reference dataset (200,000 jobs) …');
    const t0 = performance.now();
    await db.seedReferenceDataset(databaseUrl.toString(), {});
    log(`seeded in ${round((performance.now() - t0) / 1000, 1)} s`);
  }
  return databaseUrl.toString();
}

function startProcess(file, env) {
  const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.includes('"port"'));
      if (line) resolve({ child, port: JSON.parse(line).port ?? JSON.parse(line).msg });
    });
    child.on('exit', (code) => reject(new Error(`${file} exited ${code}`)));
  });
}

async function load(name, url, headers) {
  const result = await autocannon({ url, connections: 50, duration, headers, pipelining: 1 });
  const row = {
    name,
    requests_per_s: round(result.requests.average, 0),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.non2xx,
    mb_per_s: round(result.throughput.average / 1e6, 1),
  };
  log(name, row);
  return row;
}

const databaseUrl = await benchDatabase();
const config = loadCollectorConfig({ REDIS_URL: redisUrl, SSOT_NAMESPACE: namespace, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' });
const service = await startCollectorService(config);
const redis = new Redis(redisUrl);
const children = [];
try {
  // 1. Rebuild, parallel vs one after another, alternating so drift hits both alike.
  for (let i = 0; i < 3; i += 1) await service.collector.refresh([]);
  const parallel = [];
  const sequential = [];
  const written = [];
  for (let i = 0; i < builds; i += 1) {
    parallel.push((await service.collector.build([])).buildMs);
    sequential.push((await service.collector.build([], { sequential: true })).buildMs);
    const t0 = performance.now();
    await service.collector.refresh([]);
    written.push(performance.now() - t0);
  }
  const rebuild = { parallel_ms: stats(parallel), sequential_ms: stats(sequential), build_and_write_ms: stats(written) };
  rebuild.ratio = round(rebuild.sequential_ms.median / rebuild.parallel_ms.median);
  log('rebuild', rebuild);

  // 2. Size.
  const body = await redis.getBuffer(keys.snapshot);
  const size = { raw: body.length, gzip: gzipSync(body).length, br: brotliCompressSync(body).length };
  log('size', size);

  // 3. HTTP. Keep the snapshot fresh like the warmer does while the load runs.
  const warm = setInterval(() => service.collector.refresh([]).catch(() => {}), 5000);
  const token = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('1h').sign(new TextEncoder().encode(secret));
  const env = { REDIS_URL: redisUrl, SSOT_NAMESPACE: namespace, SNAPSHOT_KEY: keys.snapshot, LOG_LEVEL: 'warn' };

  const bare = await startProcess(join(root, 'bench/servers/bare.mjs'), env);
  children.push(bare.child);
  const naive = await startProcess(join(root, 'bench/servers/naive.mjs'), env);
  children.push(naive.child);
  const apiPort = 20000 + (process.pid % 10000);
  const api = spawn(process.execPath, [join(root, 'services/api/dist/index.js')], {
    env: { ...process.env, ...env, PORT: String(apiPort), AUTH_JWT_SECRET: secret },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(api);
  for (const deadline = Date.now() + 10_000; ; ) {
    const ok = await fetch(`http://127.0.0.1:${apiPort}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('api did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }

  const auth = { authorization: `Bearer ${token}` };
  const targets = [
    ['bare node:http (ceiling)', `http://127.0.0.1:${bare.port}/`, {}],
    ['api GET /api/admin/ssot', `http://127.0.0.1:${apiPort}/api/admin/ssot`, auth],
    ['naive (GET + parse + res.json)', `http://127.0.0.1:${naive.port}/api/admin/ssot`, {}],
    ['api, Accept-Encoding: br', `http://127.0.0.1:${apiPort}/api/admin/ssot`, { ...auth, 'accept-encoding': 'br' }],
  ];
  // Rounds alternate the targets so that drift on a noisy machine falls on all of them alike.
  const runs = [];
  for (let round = 0; round < rounds; round += 1) {
    for (const [name, url, headers] of targets) runs.push(await load(name, url, headers));
  }
  clearInterval(warm);
  const http = targets.map(([name]) => {
    const mine = runs.filter((r) => r.name === name);
    const mean = (key) => round(mine.reduce((sum, r) => sum + r[key], 0) / mine.length, 1);
    return { name, requests_per_s: Math.round(mean('requests_per_s')), p50_ms: mean('p50_ms'), p99_ms: Math.max(...mine.map((r) => r.p99_ms)), errors: mine.reduce((sum, r) => sum + r.errors, 0), mb_per_s: mean('mb_per_s') };
  });
  const [ceiling, ours, naiveRow] = http;
  const ratios = { vs_bare: round(ours.requests_per_s / ceiling.requests_per_s), vs_naive: round(ours.requests_per_s / naiveRow.requests_per_s) };
  log('ratios', ratios);

  const report = { date: new Date().toISOString(), machine: `${(await import('node:os')).cpus().length} cores, node ${process.version}`, duration_s: duration, rounds, rebuild, size, http, runs, ratios };
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const file = writeResults(join(root, 'bench/results', 'ssot-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(JSON.stringify(report, null, 2));
  log(`written to ${file}`);
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : null)));
  await service.stop();
  // Leave the seeded database for the next run; clear this run's keys.
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) await redis.del(...found);
  } while (cursor !== '0');
  redis.disconnect();
}
