// node bench/bridge-bullmq.mjs — the bullmq-bridge's half of `npm run bench:bridges`. Real BullMQ
// (its own redis-server, producer and workers in a child process) through the bridge into the
// SSOT (api, dispatcher, collector as processes, on a fresh copy of the reference database and a
// namespace of their own per phase):
//   1. steady: jobs added at BENCH_RATE / 3 jobs/s, open loop (each trivial job is three SSOT
//      events: job:created from `added`, job:processing from `active`, job:completed), to workers
//      with concurrency 10, for BENCH_STEADY_S after BENCH_WARMUP_S unmeasured;
//   2. max: the producer keeps the queue full and workers with concurrency BENCH_CONCURRENCY take
//      jobs as fast as they can, for BENCH_MAX_S: the highest rate BullMQ sustains here, with the
//      whole SSOT on the same cores.
// For each phase: BullMQ events/s carried (SSOT events the api accepted from the bridge), the
// bridge's CPU per 1,000 events (utime + stime of its process from /proc/<pid>/stat, over the
// phase), lag p50/p99 from BullMQ's event time (its stream entry's) to the first snapshot version
// covering the event (announced `events_upto` ≥ its entry on the SSOT event stream) with its
// stages (→ the api's XADD, → the dispatcher's transaction, → its refresh request, → the covering
// build's start, → the announcement), the bridge's own lag (entry → the api's 202, from its
// histogram), and every process's CPU. The services' own settings (BULLMQ_BATCH_MS,
// REFRESH_MIN_INTERVAL_MS, …) pass through from the environment.
//
// Options (env): BENCH_ADMIN_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/postgres),
// REDIS_URL (redis://127.0.0.1:6379: the SSOT's), BENCH_RATE (1000 events/s), BENCH_STEADY_S (20),
// BENCH_WARMUP_S (5: the same load first, unmeasured, so the JIT has compiled the bridge's code),
// BENCH_MAX_S (20), BENCH_CONCURRENCY (50), BENCH_PHASES ("steady,max"), BENCH_DRAIN_S (30: how
// long a phase may take to catch up), BENCH_NODE_ARGS (node flags for the services, e.g.
// "--cpu-prof --cpu-prof-dir=/tmp/prof"), BENCH_OUT (the results file; default
// bench/results/bridges-bullmq-{date}.json).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';
import pg from 'pg';
import { cpuSampler } from './lib/cpu.mjs';
import { copyOfTemplate, referenceTemplate } from './lib/dataset.mjs';
import { compareIds, groupIdle as groupIdleOn, parseId, percentiles, processTicks, removeKeys, round, sleep, startRedisServer, until } from './lib/bridge-bench.mjs';
import { writeResults } from './lib/results.mjs';
import { createLogBook, scrapeSeries, startService, stopAll } from './lib/services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const QUEUE = 'bench';
const EVENTS_PER_JOB = 3;
const TICKS_PER_S = 100;
const TICK_MS = 10;

// ---------------------------------------------------------------------------------------------
// The BullMQ side, in a process of its own (`--workload`): a producer and workers, so their CPU
// is theirs and not the benchmark's. It says what it does as JSON lines on stdout.

async function workload() {
  const { Queue, Worker } = require('bullmq');
  const { BENCH_BULL_URL: url, BENCH_PREFIX: prefix, BENCH_MODE: mode } = process.env;
  const jobsPerS = Number(process.env.BENCH_JOBS_PER_S);
  const concurrency = Number(process.env.BENCH_CONCURRENCY);
  const warmupS = Number(process.env.BENCH_WARMUP_S);
  const seconds = Number(process.env.BENCH_SECONDS);
  const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  // Room for the whole run: at the max phase's rate BullMQ's default (10,000 entries) holds about
  // a second, less than the SSOT falls behind, and what it trims is lost, not measured.
  const queue = new Queue(QUEUE, { connection, prefix, streams: { events: { maxLen: 2_000_000 } } });
  let completed = 0;
  const worker = new Worker(QUEUE, async () => 1, { connection, prefix, concurrency, name: 'bench-worker' });
  worker.on('completed', () => (completed += 1));
  worker.on('error', () => {});
  let added = 0;
  const data = { user_id: 'bench-user', agent: 'researcher' };
  const addSome = (n) => {
    added += n;
    return queue.addBulk(Array.from({ length: n }, () => ({ name: 'trivial', data })));
  };

  /** Open loop: jobs due by the clock go in every tick, whether or not the last add was answered. */
  async function paced(forS) {
    const started = Date.now();
    const base = added;
    let late = 0;
    const pending = new Set();
    while (Date.now() - started < forS * 1000) {
      const due = Math.floor(((Date.now() - started) / 1000) * jobsPerS) - (added - base);
      if (due > 0) {
        const p = addSome(due).finally(() => pending.delete(p));
        pending.add(p);
      }
      const wait = TICK_MS - ((Date.now() - started) % TICK_MS);
      if (wait < 2) late += 1;
      await sleep(wait);
    }
    await Promise.all(pending);
    return { late_ticks: late };
  }

  /** Closed loop: keeps a few thousand jobs waiting, so the workers never wait for one. */
  async function flooded(forS) {
    const started = Date.now();
    while (Date.now() - started < forS * 1000) {
      if ((await queue.getWaitingCount()) < 3000) await addSome(500);
      else await sleep(5);
    }
    return {};
  }

  const run = mode === 'steady' ? paced : flooded;
  say({ mark: 'ready' });
  await run(warmupS);
  const c0 = completed;
  say({ mark: 'start', at: Date.now() });
  const info = await run(seconds);
  say({ mark: 'end', at: Date.now(), jobs_added: added, jobs_completed_in_window: completed - c0, ...info });
  while (completed < added) await sleep(20);
  await worker.close();
  await queue.close();
  connection.disconnect();
  say({ mark: 'done', jobs: added });
}

// ---------------------------------------------------------------------------------------------
// The benchmark

async function bench() {
  const { redisKeys, DISPATCHER_GROUP, COLLECTOR_GROUP } = require(join(root, 'packages/contracts/dist/index.js'));
  const { requestRefresh } = require(join(root, 'packages/runtime/dist/index.js'));
  const adminUrl = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const rate = Number(process.env.BENCH_RATE ?? 1000);
  const steadyS = Number(process.env.BENCH_STEADY_S ?? 20);
  const warmupS = Number(process.env.BENCH_WARMUP_S ?? 5);
  const maxS = Number(process.env.BENCH_MAX_S ?? 20);
  const maxConcurrency = Number(process.env.BENCH_CONCURRENCY ?? 50);
  const phases = (process.env.BENCH_PHASES ?? 'steady,max').split(',');
  const drainMs = Number(process.env.BENCH_DRAIN_S ?? 30) * 1000;
  const TEMPLATE_DB = 'ssot_bench_events'; // the reference dataset, shared with bench:events
  const RUN_DB = 'ssot_bench_bullmq_run';
  const ingestToken = `bench-ingest-${randomBytes(12).toString('hex')}`;
  const secret = 'bench-secret-that-is-long-enough-for-hs256-0123456789';
  const log = (...args) => console.error('[bench:bullmq]', ...args);
  const logBook = createLogBook();
  const redis = new Redis(redisUrl);

  /** BullMQ's Redis: a redis-server of the benchmark's own, so its CPU shows apart from the SSOT's. */
  const startBullRedis = () => startRedisServer('bullmq-redis');
  const groupIdle = (stream, group) => groupIdleOn(redis, stream, group);

  /** The workload process; `marks` resolves each of its JSON lines by mark. */
  function startWorkload(bull, prefix, mode, seconds) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--workload'], {
      env: {
        PATH: process.env.PATH ?? '',
        BENCH_BULL_URL: bull.url,
        BENCH_PREFIX: prefix,
        BENCH_MODE: mode,
        BENCH_JOBS_PER_S: String(rate / EVENTS_PER_JOB),
        BENCH_CONCURRENCY: String(mode === 'steady' ? 10 : maxConcurrency),
        BENCH_WARMUP_S: String(warmupS),
        BENCH_SECONDS: String(seconds),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (chunk) => (err = (err + chunk).slice(-5000)));
    const waiting = new Map();
    const seen = new Map();
    createInterface({ input: child.stdout }).on('line', (line) => {
      const message = JSON.parse(line);
      const t = Date.now();
      seen.set(message.mark, { ...message, t });
      waiting.get(message.mark)?.({ ...message, t });
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    return {
      pid: child.pid,
      mark(name, timeoutMs) {
        if (seen.has(name)) return Promise.resolve(seen.get(name));
        return Promise.race([
          new Promise((resolve) => waiting.set(name, resolve)),
          exited.then((code) => {
            throw new Error(`the workload exited (${code}) before '${name}':\n${err}`);
          }),
          sleep(timeoutMs).then(() => {
            throw new Error(`no '${name}' from the workload within ${timeoutMs} ms:\n${err}`);
          }),
        ]);
      },
      async stop() {
        if (child.exitCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
  }

  async function startStack(phase, bull, prefix) {
    const dbUrl = await copyOfTemplate(adminUrl, TEMPLATE_DB, RUN_DB);
    const namespace = `bench-bullmq-${process.pid}.${phase}`;
    const keys = redisKeys(namespace);
    const common = { REDIS_URL: redisUrl, SSOT_NAMESPACE: namespace, LOG_LEVEL: 'warn' };
    const collector = await startService('collector', { ...common, DATABASE_URL: dbUrl }, { logBook, label: `${phase}/collector` });
    await requestRefresh(redis, keys, [], 'bench:bullmq: first build');
    if (!(await until(() => redis.exists(keys.snapshot), 15_000))) throw new Error(`${phase}: no snapshot within 15 s`);
    const [api, dispatcher] = await Promise.all([
      startService('api', { ...common, DATABASE_URL: dbUrl, AUTH_JWT_SECRET: secret, INGEST_TOKENS: ingestToken, INGEST_RATE_LIMIT: '1000000' }, { logBook, label: `${phase}/api` }),
      startService('dispatcher', { ...common, DATABASE_URL: dbUrl }, { logBook, label: `${phase}/dispatcher` }),
    ]);
    const bridge = await startService(
      'bullmq-bridge',
      { ...common, BULLMQ_REDIS_URL: bull.url, BULLMQ_PREFIX: prefix, BULLMQ_QUEUES: QUEUE, INGEST_URL: `http://127.0.0.1:${api.port}`, INGEST_TOKEN: ingestToken },
      { logBook, label: `${phase}/bullmq-bridge` },
    );
    const services = [collector, api, dispatcher, bridge];
    return { keys, bridge, services, dbUrl, stop: () => Promise.all(services.map((s) => s.stop())) };
  }

  /** Every snapshot version announced, with its arrival time here, as running maxima of `events_upto`. */
  async function watchVersions(keys) {
    const sub = new Redis(redisUrl);
    const marks = [];
    sub.on('message', (_channel, message) => {
      const t = Date.now();
      const { events_upto: upto, generated_at: generatedAt } = JSON.parse(message);
      if (!upto) return;
      const id = parseId(upto);
      if (marks.length === 0 || compareIds(id, marks[marks.length - 1].upto) > 0) marks.push({ t, upto: id, generatedAt: Date.parse(generatedAt) });
    });
    await sub.subscribe(keys.versionChannel);
    return {
      firstCovering(entry) {
        let lo = 0;
        let hi = marks.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (compareIds(marks[mid].upto, entry) >= 0) hi = mid;
          else lo = mid + 1;
        }
        return marks[lo];
      },
      close: () => sub.disconnect(),
    };
  }

  async function bridgeCounts(bridge) {
    const url = bridge.url('/metrics');
    const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
    const [read, posted, dropped, buckets, reads, failures, lost] = await Promise.all([
      scrapeSeries(url, 'ssot_bullmq_entries_read_total'),
      scrapeSeries(url, 'ssot_bullmq_events_posted_total'),
      scrapeSeries(url, 'ssot_bullmq_events_dropped_total'),
      scrapeSeries(url, 'ssot_bullmq_event_age_seconds_bucket'),
      scrapeSeries(url, 'ssot_bullmq_reads_total'),
      scrapeSeries(url, 'ssot_bullmq_post_failures_total'),
      scrapeSeries(url, 'ssot_bullmq_entries_lost_total'),
    ]);
    const lag = [...buckets].map(([labels, n]) => ({ le: /le="([^"]+)"/.exec(labels)[1], n })).map(({ le, n }) => ({ le: le === '+Inf' ? Infinity : Number(le), n }));
    return { read: total(read), posted: total(posted), dropped: total(dropped), lag, reads: total(reads), failures: total(failures), lost: total(lost) };
  }

  /** The bucket bound under which a quantile of the bridge's own lag falls, between two scrapes. */
  function histogramQuantile(before, after, q) {
    const counts = after.lag.map((b, i) => ({ le: b.le, n: b.n - (before.lag[i]?.n ?? 0) }));
    const total = counts[counts.length - 1]?.n ?? 0;
    if (total === 0) return null;
    const bucket = counts.find((b) => b.n >= q * total);
    return bucket.le === Infinity ? '>60000' : `≤${bucket.le * 1000}`;
  }

  /** Waits until the bridge read and posted everything and the SSOT's consumers are idle. */
  async function settle(stack, bull, prefix) {
    let last = -1;
    return until(async () => {
      const counts = await bridgeCounts(stack.bridge);
      const still = counts.posted + counts.dropped === last;
      last = counts.posted + counts.dropped;
      const info = await bull.client.xinfo('STREAM', `${prefix}:${QUEUE}:events`).catch(() => null);
      const head = info ? info[info.indexOf('last-generated-id') + 1] : null;
      // A saved position is `{entry id} {entries up to it}` (positions.ts): the id is its first word.
      const saved = (await redis.hget(`${stack.keys.namespace}:bullmq-bridge:${prefix}:positions`, QUEUE))?.split(' ')[0];
      return still && head === saved && (await groupIdle(stack.keys.events, DISPATCHER_GROUP)) && (await groupIdle(stack.keys.refreshRequests, COLLECTOR_GROUP));
    }, drainMs, 250);
  }

  /**
   * Lag of every BullMQ job event dated in [from, to]: its entry time → the first version covering
   * its SSOT stream entry; split at the SSOT stream entry (the api's XADD): the bridge and the
   * api's ingest before it, the dispatcher and the collector after. That second part is split
   * again: → the start of the dispatcher's transaction that persisted the event
   * (`processed_events.processed_at`), → the first refresh request naming the event (its entry on
   * the refresh stream: the dispatcher is done with the event's batch), → the start of the
   * covering build (its `generated_at`), → the announcement's arrival here.
   */
  async function lagToSnapshot(stack, watch, from, to) {
    const lags = [];
    const toStream = [];
    const toVersion = [];
    const covered = [];
    let uncovered = 0;
    let start = '-';
    for (;;) {
      const entries = await redis.xrange(stack.keys.events, start, '+', 'COUNT', 10_000);
      for (const [entryId, fields] of entries) {
        const event = JSON.parse(fields[fields.indexOf('event') + 1]);
        // Heartbeats and queue:stats are the bridge's own readings, dated by it: not BullMQ events.
        if (event.source !== 'bullmq' || !event.name.startsWith('job:')) continue;
        const at = Date.parse(event.occurred_at);
        if (at < from || at > to) continue;
        const covering = watch.firstCovering(parseId(entryId));
        if (!covering) {
          uncovered += 1;
          continue;
        }
        const streamAt = parseId(entryId)[0];
        lags.push(covering.t - at);
        toStream.push(streamAt - at);
        toVersion.push(covering.t - streamAt);
        covered.push({ id: event.id, entry: parseId(entryId), streamAt, covering });
      }
      if (entries.length < 10_000) break;
      const [ms, seq] = parseId(entries[entries.length - 1][0]);
      start = `${ms}-${seq + 1}`;
    }
    // Refresh requests as running maxima of the `events_upto` they name, with their entry time.
    const requests = [];
    for (let from = '-'; ; ) {
      const batch = await redis.xrange(stack.keys.refreshRequests, from, '+', 'COUNT', 10_000);
      for (const [entryId, fields] of batch) {
        const upto = JSON.parse(fields[fields.indexOf('request') + 1]).events_upto;
        if (!upto) continue;
        const id = parseId(upto);
        if (requests.length === 0 || compareIds(id, requests[requests.length - 1].upto) > 0) requests.push({ t: parseId(entryId)[0], upto: id });
      }
      if (batch.length < 10_000) break;
      const [ms, seq] = parseId(batch[batch.length - 1][0]);
      from = `${ms}-${seq + 1}`;
    }
    const firstRequest = (entry) => {
      let lo = 0;
      let hi = requests.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareIds(requests[mid].upto, entry) >= 0) hi = mid;
        else lo = mid + 1;
      }
      return requests[lo];
    };
    const split = { stream_to_tx: [], tx_to_request: [], request_to_build: [], build_to_announce: [] };
    const client = new pg.Client({ connectionString: stack.dbUrl });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT id::text, (extract(epoch FROM processed_at) * 1000)::float8 AS at FROM processed_events WHERE id = ANY($1::text[])', [covered.map((c) => c.id)]);
      const processedAt = new Map(rows.map((r) => [r.id, r.at]));
      for (const { id, entry, streamAt, covering } of covered) {
        const tx = processedAt.get(id);
        const request = firstRequest(entry);
        if (tx === undefined || !request) continue;
        split.stream_to_tx.push(tx - streamAt);
        split.tx_to_request.push(request.t - tx);
        split.request_to_build.push(covering.generatedAt - request.t);
        split.build_to_announce.push(covering.t - covering.generatedAt);
      }
    } finally {
      await client.end();
    }
    return {
      ...percentiles(lags),
      uncovered,
      stages: {
        bullmq_to_ssot_stream: percentiles(toStream),
        ssot_stream_to_version: percentiles(toVersion),
        ...Object.fromEntries(Object.entries(split).map(([name, xs]) => [name, percentiles(xs)])),
      },
    };
  }

  async function runPhase(phase, bull) {
    const prefix = `bench-${phase}-${process.pid}`;
    const stack = await startStack(phase, bull, prefix);
    const watch = await watchVersions(stack.keys);
    const seconds = phase === 'steady' ? steadyS : maxS;
    const work = startWorkload(bull, prefix, phase, seconds);
    const labels = async () => ({
      ...Object.fromEntries(stack.services.map((s) => [s.child.pid, s.name.slice(s.name.indexOf('/') + 1)])),
      [work.pid]: 'bullmq-workload',
      [bull.pid]: 'bullmq-redis',
    });
    try {
      await work.mark('ready', 20_000);
      log(
        phase === 'steady'
          ? `steady: ${rate / EVENTS_PER_JOB} jobs/s (${rate} events/s) for ${warmupS} s of warm-up, then ${seconds} s measured …`
          : `max: workers at concurrency ${maxConcurrency} on a queue kept full, ${warmupS} s of warm-up, then ${seconds} s measured …`,
      );
      const start = await work.mark('start', (warmupS + 30) * 1000);
      const cpu = cpuSampler(labels);
      cpu.start();
      const before = await bridgeCounts(stack.bridge);
      const ticks0 = processTicks(stack.bridge.child.pid);
      const end = await work.mark('end', (seconds + 30) * 1000);
      const ticks1 = processTicks(stack.bridge.child.pid);
      const atEnd = await bridgeCounts(stack.bridge);
      const machine = await cpu.stop();
      await work.mark('done', drainMs);
      if (!(await settle(stack, bull, prefix))) log(`${phase}: the bridge or the SSOT had not caught up within ${drainMs / 1000} s`);
      const after = await bridgeCounts(stack.bridge);
      const windowS = (end.t - start.t) / 1000;
      const events = atEnd.posted - before.posted;
      const userS = (ticks1.user - ticks0.user) / TICKS_PER_S;
      const systemS = (ticks1.system - ticks0.system) / TICKS_PER_S;
      const cpuS = userS + systemS;
      const result = {
        phase,
        ...(phase === 'steady' ? { target_events_per_s: rate } : { concurrency: maxConcurrency }),
        seconds: round(windowS, 2),
        entries_read: atEnd.read - before.read,
        events_posted: events,
        events_per_s: Math.round(events / windowS),
        bullmq_jobs_per_s: Math.round(end.jobs_completed_in_window / windowS),
        dropped: after.dropped - before.dropped,
        // One read, one request to the api per read: what the bridge's CPU mostly goes on.
        bridge_reads_per_s: Math.round((atEnd.reads - before.reads) / windowS),
        bridge_post_failures: after.failures - before.failures,
        entries_lost: after.lost - before.lost,
        bridge_cpu_s: round(cpuS, 2),
        bridge_user_s: round(userS, 2),
        bridge_system_s: round(systemS, 2),
        bridge_cores: round(cpuS / windowS, 3),
        bridge_cpu_s_per_1000_events: events > 0 ? round((cpuS / events) * 1000, 3) : null,
        lag_to_snapshot_ms: await lagToSnapshot(stack, watch, start.at, end.at),
        bridge_lag_ms: { p50: histogramQuantile(before, after, 0.5), p99: histogramQuantile(before, after, 0.99) },
        cpu: machine,
        workload: { jobs_added: end.jobs_added, late_ticks: end.late_ticks },
      };
      log(phase, summary(result));
      return result;
    } finally {
      await work.stop();
      watch.close();
      await stack.stop();
      await bull.client.flushall();
    }
  }

  function summary(r) {
    return {
      events_per_s: r.events_per_s,
      bridge_cpu_s_per_1000_events: r.bridge_cpu_s_per_1000_events,
      bridge_cores: r.bridge_cores,
      lag_to_snapshot_ms: r.lag_to_snapshot_ms,
      bridge_lag_ms: r.bridge_lag_ms,
      dropped: r.dropped,
      machine_busy_cores: r.cpu?.machine_busy_cores,
    };
  }

  try {
    const dataset = await referenceTemplate(adminUrl, TEMPLATE_DB, log);
    const bull = await startBullRedis();
    const results = [];
    try {
      for (const phase of phases) {
        if (phase !== 'steady' && phase !== 'max') throw new Error(`unknown phase ${phase}`);
        results.push(await runPhase(phase, bull));
      }
    } finally {
      await bull.stop();
    }
    const output = {
      benchmark: 'bridge-bullmq',
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, bullmq: require('bullmq/package.json').version },
      dataset,
      options: { rate, steady_s: steadyS, warmup_s: warmupS, max_s: maxS, concurrency: maxConcurrency },
      targets: { bridge_cpu_s_per_1000_events: 0.1, p99_lag_ms_at_1000_events_per_s: 100 },
      phases: results,
      warnings_and_errors: logBook.list(),
    };
    const dir = join(root, 'bench/results');
    mkdirSync(dir, { recursive: true });
    const file = writeResults(process.env.BENCH_OUT || join(dir, `bridges-bullmq-${output.at.slice(0, 10)}.json`), `${JSON.stringify(output, null, 2)}\n`);
    console.log(`\nbullmq-bridge (BullMQ ${output.machine.bullmq}, ${output.machine.cpus} cores) — ${file}`);
    for (const r of results) {
      const lag = r.lag_to_snapshot_ms;
      console.log(
        `  ${r.phase.padEnd(6)} ${String(r.events_per_s).padStart(5)} events/s (${r.bullmq_jobs_per_s} jobs/s)  bridge ${r.bridge_cpu_s_per_1000_events} CPU-s per 1,000 events (${r.bridge_cores} cores)  ` +
          `lag to snapshot p50 ${lag.p50} ms p99 ${lag.p99} ms (n ${lag.n}, uncovered ${lag.uncovered})  bridge's own p50 ${r.bridge_lag_ms.p50} p99 ${r.bridge_lag_ms.p99} ms  dropped ${r.dropped}`,
      );
    }
  } finally {
    await stopAll(5000);
    // This run's namespaces (one per phase): thousands of keys each, which every SCAN of the shared Redis would wade through.
    await removeKeys(redis, `bench-bullmq-${process.pid}.*`).catch((error) => console.error('[bench] keys left behind:', error.message));
    redis.disconnect();
  }
}

(process.argv.includes('--workload') ? workload() : bench()).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
