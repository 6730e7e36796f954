// npm run bench:ingest — what the api costs per POST /api/events, in CPU, and how much of it is
// per request rather than per event: one api process (services/api/dist), nothing reading the
// stream, posts of BENCH_PER events every BENCH_EVERY ms (open loop) for each configuration of
// BENCH_CONFIGS ("per/every_ms,…"), each on a fresh api process after BENCH_WARMUP_S of the same
// load; CPU from /proc/<pid>/stat over the measured BENCH_SECONDS. From two configurations at the
// same event rate and different batch sizes it solves cost = per request + n × per event.
//
// Options (env): REDIS_URL (redis://127.0.0.1:6379), BENCH_CONFIGS ("10/10,40/40,10/2,10/10,40/40,10/2"),
// BENCH_WARMUP_S (10), BENCH_SECONDS (10), BENCH_OUT (results file; default
// bench/results/ingest-<date>.json). The api needs a snapshot to call itself ready: the bench
// writes a placeholder one in its own namespace, and deletes every key of that namespace at the
// end (the event stream and the seen-markers the posts leave).
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { processTicks } from './lib/bridge-bench.mjs';
import { postEvents } from './lib/http.mjs';
import { writeResults } from './lib/results.mjs';
import { createLogBook, startService, stopAll } from './lib/services.mjs';
import { createWorkload } from './lib/workload.mjs';
import contracts from '../packages/contracts/dist/index.js';

const root = join(import.meta.dirname, '..');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const configs = (process.env.BENCH_CONFIGS ?? '10/10,40/40,10/2,10/10,40/40,10/2').split(',').map((c) => {
  const [per, every] = c.split('/').map(Number);
  if (!(per >= 1 && every >= 1)) throw new Error(`BENCH_CONFIGS: "${c}" is not events/interval_ms (e.g. 10/10)`);
  return { per, every };
});
const warmupS = Number(process.env.BENCH_WARMUP_S ?? 10);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const log = (...args) => console.error('[bench:ingest]', ...args);
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

const namespace = `bench-ingest-${process.pid}`;
const keys = contracts.redisKeys(namespace);
const token = `bench-ingest-${randomBytes(12).toString('hex')}`;
const redis = new Redis(redisUrl);
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** Posts `per` events every `every` ms for `s` seconds, open loop; resolves with the posts answered 202. */
async function load(port, workload, { per, every }, s) {
  const answers = [];
  const start = performance.now();
  for (let k = 0; performance.now() - start < s * 1000; k += 1) {
    answers.push(postEvents(agent, port, token, workload.body(per).json).then((res) => res.status === 202));
    const wait = start + (k + 1) * every - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  const ok = await Promise.all(answers);
  if (ok.includes(false)) throw new Error(`${ok.filter((x) => !x).length} of ${ok.length} posts were not accepted`);
  return ok.length;
}

async function measure(config) {
  const api = await startService(
    'api',
    { REDIS_URL: redisUrl, SSOT_NAMESPACE: namespace, LOG_LEVEL: 'warn', AUTH_JWT_SECRET: 'bench-secret-that-is-long-enough-for-hs256-0123456789', INGEST_TOKENS: token, INGEST_RATE_LIMIT: '100000000' },
    { logBook: createLogBook(), label: `api ${config.per}/${config.every}` },
  );
  try {
    const workload = createWorkload({ seed: 7 });
    await load(api.port, workload, config, warmupS);
    const t0 = processTicks(api.child.pid);
    const posts = await load(api.port, workload, config, seconds);
    const t1 = processTicks(api.child.pid);
    const ms = (t1.user + t1.system - t0.user - t0.system) * 10;
    return {
      ...config,
      posts_per_s: round(1000 / config.every, 1),
      events_per_s: round((1000 * config.per) / config.every, 1),
      posts,
      cpu_ms_per_post: round(ms / posts),
      cpu_ms_per_event: round(ms / posts / config.per),
      system_ms_per_post: round(((t1.system - t0.system) * 10) / posts),
    };
  } finally {
    await stopAll();
  }
}

const runs = [];
try {
  await redis.set(keys.snapshot, JSON.stringify({ meta: { version: 1 } }), 'EX', 3600);
  for (const config of configs) {
    const result = await measure(config);
    log(JSON.stringify(result));
    runs.push(result);
  }
} finally {
  agent.destroy();
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 1000);
    if (found.length > 0) await redis.unlink(...found);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
}

const mean = (per, every, field) => {
  const xs = runs.filter((r) => r.per === per && r.every === every).map((r) => r[field]);
  return xs.length === 0 ? null : round(xs.reduce((a, b) => a + b, 0) / xs.length);
};
const summary = [...new Map(runs.map((r) => [`${r.per}/${r.every}`, r])).values()].map(({ per, every, posts_per_s: postsPerS, events_per_s: eventsPerS }) => ({
  per, every, posts_per_s: postsPerS, events_per_s: eventsPerS,
  cpu_ms_per_post: mean(per, every, 'cpu_ms_per_post'),
  cpu_ms_per_event: mean(per, every, 'cpu_ms_per_event'),
}));
// Per request and per event, from two configurations at one event rate and different batch sizes.
const split = [];
for (const a of summary) {
  for (const b of summary) {
    if (a.per < b.per && a.events_per_s === b.events_per_s) {
      const perEvent = (b.cpu_ms_per_post - a.cpu_ms_per_post) / (b.per - a.per);
      split.push({ from: [`${a.per}/${a.every}`, `${b.per}/${b.every}`], per_request_ms: round(a.cpu_ms_per_post - a.per * perEvent), per_event_ms: round(perEvent) });
    }
  }
}
const result = {
  date: new Date().toISOString(),
  machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}`,
  warmup_s: warmupS,
  seconds,
  runs,
  summary,
  split,
};
const out = writeResults(process.env.BENCH_OUT ?? join(root, 'bench', 'results', `ingest-${result.date.slice(0, 10)}.json`), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify({ summary, split }, null, 2));
log(`written to ${out}`);
