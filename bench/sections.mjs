// npm run bench:sections — what one build of the sections a job event refreshes (dashboard,
// queue, analytics, agents_workers) costs, in CPU: the collector's own (this process, which runs
// the section builders as the collector does) and its PostgreSQL backends', side by side for the
// ways the sections' SQL can reach PostgreSQL:
//   prepared    createDatabase's `query`, as shipped: named statements, planned once per connection
//   unprepared  the same pool with DB_PREPARED_STATEMENTS=false: parsed and planned on every call
//   prisma      Prisma's $queryRawUnsafe, how the sections read before (its pool, its conversions)
//   base        as prepared, with the section builders of another checkout (BENCH_BASE_ROOT, built)
// The configurations run interleaved (BENCH_ROUNDS rounds of each, in turn) on a copy of the
// bench:events reference dataset (200,000 jobs), BENCH_BUILDS builds each after 30 to warm up.
//
// Options (env): BENCH_ADMIN_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/postgres),
// REDIS_URL (redis://127.0.0.1:6379), BENCH_BUILDS (300), BENCH_ROUNDS (2), BENCH_SECTIONS (the
// sections built, comma-separated: "dashboard,queue,analytics,agents_workers"), BENCH_CONFIGS
// ("prepared,unprepared,prisma"; "base,prepared" when BENCH_BASE_ROOT is set), BENCH_BASE_ROOT (a
// built checkout of another version, for `base`), BENCH_OUT (results file; default
// bench/results/sections-<date>.json).
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import pg from 'pg';
import { processTicks } from './lib/bridge-bench.mjs';
import { copyOfTemplate, referenceTemplate } from './lib/dataset.mjs';
import { writeResults } from './lib/results.mjs';

const root = join(import.meta.dirname, '..');
const require = createRequire(import.meta.url);
const { SECTION_BUILDERS } = require(join(root, 'services/collector/dist/sections/index.js'));
const { toJson } = require(join(root, 'services/collector/dist/serialize.js'));
const { createDatabase } = require(join(root, 'packages/db/dist/index.js'));
const { redisKeys } = require(join(root, 'packages/contracts/dist/index.js'));

const adminUrl = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const builds = Number(process.env.BENCH_BUILDS ?? 300);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const SECTIONS = (process.env.BENCH_SECTIONS ?? 'dashboard,queue,analytics,agents_workers').split(',');
const baseRoot = process.env.BENCH_BASE_ROOT;
const CONFIGS = (process.env.BENCH_CONFIGS ?? (baseRoot ? 'base,prepared' : 'prepared,unprepared,prisma')).split(',');
if (CONFIGS.includes('base') && !baseRoot) throw new Error('the configuration base needs BENCH_BASE_ROOT: a built checkout of the version to compare with');
const base = baseRoot && {
  SECTION_BUILDERS: require(join(baseRoot, 'services/collector/dist/sections/index.js')).SECTION_BUILDERS,
  toJson: require(join(baseRoot, 'services/collector/dist/serialize.js')).toJson,
};
const APP = `bench-sections-${randomBytes(4).toString('hex')}`;
const log = (...args) => console.error('[bench:sections]', ...args);

const dataset = await referenceTemplate(adminUrl, 'ssot_bench_events', log);
const url = await copyOfTemplate(adminUrl, 'ssot_bench_events', 'ssot_bench_sections_run');
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const keys = redisKeys(`${APP}.`);
const settings = { warmIntervalMs: 5000, snapshotTtlS: 60, heartbeatTtlS: 120, serviceHeartbeatStaleS: 15 };

/** CPU ticks (1/100 s) of every PostgreSQL backend serving this benchmark. */
async function backendTicks() {
  const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [APP]);
  return rows.reduce((ticks, { pid }) => {
    const { user, system } = processTicks(pid);
    return ticks + user + system;
  }, 0);
}

async function measure(config) {
  // As the collector opens it (DB_POOL_MAX 10), one pool per configuration and round.
  const db = createDatabase(url, { poolMax: 10, applicationName: APP, preparedStatements: config !== 'unprepared' });
  const query = config === 'prisma' ? (text, ...values) => db.prisma.$queryRawUnsafe(text, ...values) : db.query;
  const code = config === 'base' ? base : { SECTION_BUILDERS, toJson };
  const build = async () => {
    const ctx = { prisma: db.prisma, query, redis, keys, now: new Date(), settings, memo: new Map() };
    const values = await Promise.all(SECTIONS.map((name) => code.SECTION_BUILDERS[name](ctx)));
    return values.reduce((bytes, value) => bytes + code.toJson(value).length, 0);
  };
  try {
    for (let i = 0; i < 30; i += 1) await build();
    const ticks0 = await backendTicks();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < builds; i += 1) bytes = await build();
    const cpu = process.cpuUsage(cpu0);
    const ticks = (await backendTicks()) - ticks0;
    return {
      config,
      builds,
      section_bytes: bytes,
      postgres_cpu_ms_per_build: Math.round(((ticks * 10) / builds) * 100) / 100,
      collector_cpu_ms_per_build: Math.round(((cpu.user + cpu.system) / 1000 / builds) * 100) / 100,
      wall_ms_per_build: Math.round(((performance.now() - t0) / builds) * 100) / 100,
    };
  } finally {
    await db.prisma.$disconnect();
  }
}

const runs = [];
try {
  for (let round = 1; round <= rounds; round += 1) {
    for (const config of CONFIGS) {
      const result = { round, ...(await measure(config)) };
      log(JSON.stringify(result));
      runs.push(result);
    }
  }
} finally {
  redis.disconnect();
  await admin.query('DROP DATABASE IF EXISTS ssot_bench_sections_run WITH (FORCE)');
  await admin.end();
}

const mean = (config, field) => {
  const xs = runs.filter((r) => r.config === config).map((r) => r[field]);
  return Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
};
const summary = Object.fromEntries(
  CONFIGS.map((config) => [config, { postgres_cpu_ms_per_build: mean(config, 'postgres_cpu_ms_per_build'), collector_cpu_ms_per_build: mean(config, 'collector_cpu_ms_per_build') }]),
);
const total = (config) => summary[config].postgres_cpu_ms_per_build + summary[config].collector_cpu_ms_per_build;
const result = {
  date: new Date().toISOString(),
  machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}`,
  dataset,
  sections: SECTIONS,
  runs,
  summary,
  base_root: baseRoot ?? null,
  // prepared against each other configuration measured: CPU per build (collector + PostgreSQL).
  ratios: Object.fromEntries(CONFIGS.filter((c) => c !== 'prepared' && CONFIGS.includes('prepared')).map((c) => [`prepared_vs_${c}`, Math.round((total('prepared') / total(c)) * 100) / 100])),
};
const out = writeResults(process.env.BENCH_OUT ?? join(root, 'bench', 'results', `sections-${result.date.slice(0, 10)}.json`), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify({ summary, ratios: result.ratios }, null, 2));
log(`written to ${out}`);
