// npm run bench:persist — what the dispatcher's persist costs PostgreSQL, alone: batches of
// bench:events' workload (job lifecycles, heartbeats, a few worker:offline) written with the
// dispatcher's own `persistBatch` (one `ssot_persist_events` call per batch) on a copy of the
// reference dataset, one batch after another on one connection. It reports the backend's CPU per
// batch and per event — the share of bench:events' "postgres: dispatcher" that is the work
// itself, with nothing else on the machine competing for the cores.
//
// With BENCH_EXPLAIN=1 it then runs a few more batches under auto_explain (nested statements,
// ANALYZE) and prints each statement of the function by its time, read back from the server's
// log (BENCH_PG_LOG, /var/log/postgresql/postgresql-15-main.log; readable as root). auto_explain's
// timing slows the statements: read those as shares, not as costs.
//
// Options (env): BENCH_ADMIN_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/postgres),
// BENCH_BATCHES (300, after 300 to warm up), BENCH_BATCH (35 events: bench:events' batch at
// 1,000 events/s, one per EVENT_MIN_INTERVAL_MS), BENCH_EXPLAIN, BENCH_PG_LOG, BENCH_OUT (results
// file; default bench/results/persist-<date>.json).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { processTicks } from './lib/bridge-bench.mjs';
import { copyOfTemplate, referenceTemplate } from './lib/dataset.mjs';
import { writeResults } from './lib/results.mjs';
import { createWorkload } from './lib/workload.mjs';

const root = join(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const { createDatabase } = require(join(root, 'packages/db/dist/index.js'));
const { persistBatch } = require(join(root, 'services/dispatcher/dist/persist.js'));

const adminUrl = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const batches = Number(process.env.BENCH_BATCHES ?? 300);
const batchSize = Number(process.env.BENCH_BATCH ?? 35);
const explain = process.env.BENCH_EXPLAIN === '1';
const pgLog = process.env.BENCH_PG_LOG ?? '/var/log/postgresql/postgresql-15-main.log';
const log = (...args) => console.error('[bench:persist]', ...args);

const dataset = await referenceTemplate(adminUrl, 'ssot_bench_events', log);
const url = await copyOfTemplate(adminUrl, 'ssot_bench_events', 'ssot_bench_persist_run');
const db = createDatabase(url, { poolMax: 1, applicationName: 'bench-persist' });
const workload = createWorkload({ seed: 5, offlineShare: 0.001 });
// As the api hands them to the dispatcher: the posted events with their source.
const batch = () => JSON.parse(workload.body(batchSize).json).events.map((event) => ({ source: 'bench', ...event }));

try {
  const [{ pid }] = await db.query('SELECT pg_backend_pid() AS pid');
  const ticks = () => {
    const { user, system } = processTicks(pid);
    return user + system;
  };
  log(`${batches} batches of ${batchSize} events to warm up, then ${batches} measured …`);
  for (let i = 0; i < batches; i += 1) await persistBatch(db.query, batch());
  const ticks0 = ticks();
  const t0 = performance.now();
  for (let i = 0; i < batches; i += 1) await persistBatch(db.query, batch());
  const wallMs = (performance.now() - t0) / batches;
  const cpuMs = ((ticks() - ticks0) * 10) / batches;
  const measured = {
    batches,
    batch_events: batchSize,
    postgres_cpu_ms_per_batch: round(cpuMs, 2),
    postgres_cpu_ms_per_event: round(cpuMs / batchSize, 3),
    wall_ms_per_batch: round(wallMs, 2),
  };
  log(measured);

  let statements = null;
  if (explain) statements = await explainStatements(db.query);

  const file = writeResults(
    process.env.BENCH_OUT ?? join(root, 'bench/results', `persist-${new Date().toISOString().slice(0, 10)}.json`),
    JSON.stringify({ date: new Date().toISOString(), machine: `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`, dataset, ...measured, statements }, null, 1),
  );
  log(`written to ${file}`);
} finally {
  await db.prisma.$disconnect();
  await dropCopy();
}

async function dropCopy() {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS ssot_bench_persist_run WITH (FORCE)').finally(() => admin.end());
}

/**
 * A few batches under auto_explain: each statement `ssot_persist_events` runs, by its median
 * time over them, from the server's log.
 */
async function explainStatements(query) {
  if (!existsSync(pgLog)) {
    log(`BENCH_EXPLAIN: no server log at ${pgLog} (BENCH_PG_LOG)`);
    return null;
  }
  const from = statSync(pgLog).size;
  await query("LOAD 'auto_explain'");
  for (const setting of ['log_min_duration = 0', 'log_nested_statements = on', 'log_analyze = on', 'log_timing = on']) await query(`SET auto_explain.${setting}`);
  const runs = 5;
  for (let i = 0; i < runs; i += 1) await persistBatch(query, batch());
  await query('SET auto_explain.log_min_duration = -1');
  const text = readFileSync(pgLog, 'utf8').slice(from);
  // Each plan: "duration: X ms  plan:" then "Query Text: <first line of the statement>".
  const times = new Map();
  for (const [, ms, statement] of text.matchAll(/duration: ([\d.]+) ms {2}plan:\s*\n\s*Query Text: ([^\n]*)/g)) {
    const key = statement.trim().replace(/\s+/g, ' ').slice(0, 100);
    times.set(key, [...(times.get(key) ?? []), Number(ms)]);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = [...times].map(([statement, ms]) => ({ statement, runs: ms.length, median_ms: median(ms) })).sort((a, b) => b.median_ms - a.median_ms);
  for (const row of rows) log(`${String(row.median_ms).padStart(7)} ms  ×${row.runs / runs}  ${row.statement}`);
  return rows;
}

function round(x, digits) {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}
