// node bench/bridge-celery.mjs — the celery-bridge's half of `npm run bench:bridges`. Three
// phases, each on fresh processes, a fresh copy of the reference database and its own namespace:
//   1. replay: the bridge alone, fed Celery envelopes recorded from a real worker (the bridge's
//      test fixtures; fresh task ids and timestamps) by PUBLISH at BENCH_RATE events/s for
//      BENCH_STEADY_S: the bridge's own cost, apart from Celery's;
//   2. steady: a real Celery worker (Debian's python3-celery, `-P solo`: the fastest pool for
//      trivial tasks on this machine) and a Celery client pacing trivial tasks at BENCH_RATE / 4
//      tasks/s (each task is 4 events: task-sent, -received, -started, -succeeded), open loop;
//   3. max: BENCH_MAX_TASKS trivial tasks queued first (their task-sent flow through while they
//      are), then the worker drains them as fast as it can: the highest rate a real worker
//      sustains here, with the whole SSOT running beside it.
// For each phase: Celery events/s, the bridge's CPU per 1,000 events (utime + stime of its process
// from /proc/<pid>/stat, from the phase's start until it has posted all it read), lag p50/p99 from
// Celery's event timestamp to the first snapshot version covering the event (announced
// `events_upto` ≥ its stream entry) — split at the api's XADD (bridge and api, then the SSOT's
// pipeline) — the bridge's own lag (timestamp → the api's 202, from its histogram's buckets),
// and every process's CPU. The machine's busy cores before the run are recorded too: on a shared
// machine they say how much of a figure is someone else's.
//
// The broker is a redis-server of the benchmark's own (database 1); the SSOT uses REDIS_URL and
// the reference dataset of bench:events (template `ssot_bench_events`, seeded once).
// Options (env): BENCH_ADMIN_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/postgres),
// REDIS_URL (redis://127.0.0.1:6379), BENCH_RATE (1000 events/s), BENCH_STEADY_S (20),
// BENCH_WARMUP_S (5: the same load first, unmeasured, so the JIT has compiled the bridge's code),
// BENCH_MAX_TASKS (8000), BENCH_CELERY_POOL ("solo"; e.g. "prefork -c 2"), BENCH_PHASES
// ("replay,steady,max"), BENCH_DRAIN_S (20: how long a phase may take to catch up), BENCH_OUT (the results file; default bench/results/bridges-celery-{date}.json). The bridge's
// own settings (INGEST_FLUSH_MS, …) pass through from the environment.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Redis from 'ioredis';
import { cpuSampler } from './lib/cpu.mjs';
import { copyOfTemplate, referenceTemplate } from './lib/dataset.mjs';
import { compareIds, groupIdle as groupIdleOn, parseId, percentiles, processTicks, removeKeys, round, sleep, startRedisServer, until } from './lib/bridge-bench.mjs';
import { writeResults } from './lib/results.mjs';
import { createLogBook, scrapeSeries, startService, stopAll } from './lib/services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { redisKeys, DISPATCHER_GROUP, COLLECTOR_GROUP } = require(join(root, 'packages/contracts/dist/index.js'));
const { requestRefresh } = require(join(root, 'packages/runtime/dist/index.js'));

const adminUrl = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const rate = Number(process.env.BENCH_RATE ?? 1000);
const steadyS = Number(process.env.BENCH_STEADY_S ?? 20);
// A service runs for days: its code is measured once the JIT has compiled it, not while it is cold.
const warmupS = Number(process.env.BENCH_WARMUP_S ?? 5);
const maxTasks = Number(process.env.BENCH_MAX_TASKS ?? 8000);
const pool = (process.env.BENCH_CELERY_POOL ?? 'solo').split(' ');
const phases = (process.env.BENCH_PHASES ?? 'replay,steady,max').split(',');
const drainMs = Number(process.env.BENCH_DRAIN_S ?? 20) * 1000;
const TEMPLATE_DB = 'ssot_bench_events'; // the reference dataset, shared with bench:events
const RUN_DB = 'ssot_bench_celery_run';
const BROKER_DB = 1;
const TICK_MS = 10;
const PYTHON = '/usr/bin/python3';
const FIXTURES = join(root, 'services/celery-bridge/test/fixtures');
const TICKS_PER_S = 100;

const ingestToken = `bench-ingest-${randomBytes(12).toString('hex')}`;
const secret = 'bench-secret-that-is-long-enough-for-hs256-0123456789';
const log = (...args) => console.error('[bench:celery]', ...args);
const logBook = createLogBook();
const redis = new Redis(redisUrl);
const groupIdle = (stream, group) => groupIdleOn(redis, stream, group);

// ---------------------------------------------------------------------------------------------
// Helpers

/** A redis-server of the benchmark's own: the Celery broker. */
const startBroker = () => startRedisServer('celery-broker', BROKER_DB);

function pythonEnv(brokerUrl) {
  // No result backend: the tasks are trivial and their results nobody's business here.
  return { PATH: process.env.PATH ?? '', PYTHONDONTWRITEBYTECODE: '1', CELERY_BROKER_URL: brokerUrl, CELERY_RESULT_URL: '' };
}

function startWorker(brokerUrl) {
  const name = `bench@${hostname()}`;
  const child = spawn(PYTHON, ['-m', 'celery', '-A', 'bridge_app', 'worker', '-E', '-P', ...pool, '-Q', 'celery', '-n', name, '-l', 'warning', '--without-mingle', '--without-gossip'], {
    cwd: FIXTURES,
    env: pythonEnv(brokerUrl),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (chunk) => (err = (err + chunk).slice(-5000)));
  return {
    child,
    name,
    output: () => err,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await new Promise((resolve) => child.once('exit', resolve));
      clearTimeout(timer);
    },
  };
}

/** bench_client.py: `fill N` or `pace RATE SECONDS`; resolves with its JSON line. */
function runClient(brokerUrl, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['bench_client.py', ...args.map(String)], { cwd: FIXTURES, env: pythonEnv(brokerUrl), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) => (code === 0 ? resolve({ ...JSON.parse(out), pid: child.pid }) : reject(new Error(`bench_client.py ${args.join(' ')} exited ${code}: ${err}`))));
  });
}

// ---------------------------------------------------------------------------------------------
// Recorded envelopes, replayed

/**
 * The four messages a trivial task makes, as a real session recorded them (task 83014908…: its
 * task-sent on task.sent, the worker's three on task.multi), with the task id, timestamps and
 * clocks replaced: `next(now)` returns the next message to publish.
 */
function recordedTaskMessages() {
  const lines = readFileSync(join(FIXTURES, 'recorded-events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const template = [];
  for (const { channel, message } of lines) {
    const envelope = JSON.parse(message);
    const body = JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8'));
    for (const event of Array.isArray(body) ? body : [body]) {
      if (event.uuid === '83014908-df25-44ea-bbb0-a3d55b4dd6e9') template.push({ routing: channel.slice(channel.lastIndexOf('/') + 1), envelope, event, batch: Array.isArray(body) });
    }
  }
  if (template.map((t) => t.event.type).join() !== 'task-sent,task-received,task-started,task-succeeded') throw new Error('the recorded fixture changed');
  let task = null;
  let step = 4;
  let clock = 0;
  return (now) => {
    if (step === 4) {
      task = randomUUID();
      step = 0;
    }
    const t = template[step++];
    clock += 1;
    const event = { ...t.event, uuid: task, timestamp: now / 1000, clock, ...(t.event.root_id ? { root_id: task } : {}) };
    const envelope = { ...t.envelope, body: Buffer.from(JSON.stringify(t.batch ? [event] : event)).toString('base64'), properties: { ...t.envelope.properties, delivery_tag: randomUUID() } };
    return { channel: `/${BROKER_DB}.celeryev/${t.routing}`, message: JSON.stringify(envelope) };
  };
}

// ---------------------------------------------------------------------------------------------
// The system

async function startStack(phase, brokerUrl) {
  const dbUrl = await copyOfTemplate(adminUrl, TEMPLATE_DB, RUN_DB);
  const namespace = `bench-celery-${process.pid}.${phase}`;
  const keys = redisKeys(namespace);
  const common = { REDIS_URL: redisUrl, SSOT_NAMESPACE: namespace, LOG_LEVEL: 'warn' };
  const collector = await startService('collector', { ...common, DATABASE_URL: dbUrl }, { logBook, label: `${phase}/collector` });
  await requestRefresh(redis, keys, [], 'bench:celery: first build');
  if (!(await until(() => redis.exists(keys.snapshot), 15_000))) throw new Error(`${phase}: no snapshot within 15 s`);
  const [api, dispatcher] = await Promise.all([
    startService('api', { ...common, DATABASE_URL: dbUrl, AUTH_JWT_SECRET: secret, INGEST_TOKENS: ingestToken, INGEST_RATE_LIMIT: '1000000' }, { logBook, label: `${phase}/api` }),
    startService('dispatcher', { ...common, DATABASE_URL: dbUrl }, { logBook, label: `${phase}/dispatcher` }),
  ]);
  const bridge = await startService(
    'celery-bridge',
    { ...common, CELERY_BROKER_URL: brokerUrl, INGEST_URL: `http://127.0.0.1:${api.port}`, INGEST_TOKEN: ingestToken, CELERY_QUEUES: 'celery' },
    { logBook, label: `${phase}/celery-bridge` },
  );
  const services = [collector, api, dispatcher, bridge];
  return { keys, namespace, bridge, services, stop: () => Promise.all(services.map((s) => s.stop())) };
}

/** Every snapshot version announced, with its arrival time here, as running maxima of `events_upto`. */
async function watchVersions(keys) {
  const sub = new Redis(redisUrl);
  const marks = [];
  sub.on('message', (_channel, message) => {
    const t = Date.now();
    const { events_upto: upto } = JSON.parse(message);
    if (!upto) return;
    const id = parseId(upto);
    if (marks.length === 0 || compareIds(id, marks[marks.length - 1].upto) > 0) marks.push({ t, upto: id });
  });
  await sub.subscribe(keys.versionChannel);
  return {
    marks,
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
  const [read, posted, dropped, buckets] = await Promise.all([
    scrapeSeries(url, 'celery_bridge_events_read_total'),
    scrapeSeries(url, 'celery_bridge_events_posted_total'),
    scrapeSeries(url, 'celery_bridge_events_dropped_total'),
    scrapeSeries(url, 'celery_bridge_lag_seconds_bucket'),
  ]);
  const lag = [...buckets].map(([labels, n]) => ({ le: /le="([^"]+)"/.exec(labels)[1], n })).map(({ le, n }) => ({ le: le === '+Inf' ? Infinity : Number(le), n }));
  return { read: total(read), posted: total(posted), dropped: total(dropped), lag };
}

/** The bucket bound under which a quantile of the bridge's own lag falls, between two scrapes. */
function histogramQuantile(before, after, q) {
  const counts = after.lag.map((b, i) => ({ le: b.le, n: b.n - (before.lag[i]?.n ?? 0) }));
  const total = counts[counts.length - 1]?.n ?? 0;
  if (total === 0) return null;
  const bucket = counts.find((b) => b.n >= q * total);
  return bucket.le === Infinity ? '>10000' : `≤${bucket.le * 1000}`;
}

/** Waits until the bridge posted everything it read and the SSOT's consumers are idle. */
async function settle(stack) {
  let last = -1;
  return until(async () => {
    const counts = await bridgeCounts(stack.bridge);
    const still = counts.posted + counts.dropped === last;
    last = counts.posted + counts.dropped;
    return still && (await groupIdle(stack.keys.events, DISPATCHER_GROUP)) && (await groupIdle(stack.keys.refreshRequests, COLLECTOR_GROUP));
  }, drainMs, 250);
}

/** Lag of every Celery event posted in [from, to]: its timestamp → the first version covering its stream entry. */
async function lagToSnapshot(stack, watch, from, to) {
  const lags = [];
  // The split: timestamp → the api's XADD (the stream entry's ms: the bridge and the api), and
  // → the covering version (the SSOT's pipeline: dispatcher, collector).
  const toStream = [];
  const toVersion = [];
  let uncovered = 0;
  let start = '-';
  for (;;) {
    const entries = await redis.xrange(stack.keys.events, start, '+', 'COUNT', 10_000);
    for (const [entryId, fields] of entries) {
      const event = JSON.parse(fields[fields.indexOf('event') + 1]);
      // queue:stats is the bridge's own reading, dated by the bridge: not a Celery event.
      if (event.source !== 'celery' || event.name === 'queue:stats') continue;
      const at = Date.parse(event.occurred_at);
      if (at < from || at > to) continue;
      const entry = parseId(entryId);
      const covering = watch.firstCovering(entry);
      toStream.push(entry[0] - at);
      if (covering) {
        lags.push(covering.t - at);
        toVersion.push(covering.t - entry[0]);
      } else uncovered += 1;
    }
    if (entries.length < 10_000) break;
    const [ms, seq] = parseId(entries[entries.length - 1][0]);
    start = `${ms}-${seq + 1}`;
  }
  const split = (xs) => ({ p50: percentiles(xs).p50, p99: percentiles(xs).p99 });
  return { ...percentiles(lags), uncovered, to_stream: split(toStream), stream_to_version: split(toVersion) };
}

function labelsFor(stack, extra) {
  return async () => ({ ...Object.fromEntries(stack.services.map((s) => [s.child.pid, s.name.slice(s.name.indexOf('/') + 1)])), ...extra() });
}

async function measure(stack, watch, window, extra = () => ({})) {
  const cpu = cpuSampler(labelsFor(stack, extra));
  const before = await bridgeCounts(stack.bridge);
  const ticks0 = processTicks(stack.bridge.child.pid);
  cpu.start();
  const t0 = Date.now();
  const info = await window();
  const t1 = Date.now();
  const machine = await cpu.stop();
  const loadEnd = await bridgeCounts(stack.bridge);
  await settle(stack);
  // The bridge's CPU until it has posted all it read, not just while the load lasted: a bridge
  // that fell behind would otherwise look cheap.
  const ticks1 = processTicks(stack.bridge.child.pid);
  const after = await bridgeCounts(stack.bridge);
  const seconds = (t1 - t0) / 1000;
  const events = loadEnd.read - before.read;
  const handled = after.read - before.read;
  const userS = (ticks1.user - ticks0.user) / TICKS_PER_S;
  const systemS = (ticks1.system - ticks0.system) / TICKS_PER_S;
  const bridgeCpuS = userS + systemS;
  return {
    seconds: round(seconds, 2),
    celery_events: events,
    events_per_s: Math.round(events / seconds),
    posted: after.posted - before.posted,
    dropped: after.dropped - before.dropped,
    bridge_cpu_s: round(bridgeCpuS, 2),
    bridge_user_s: round(userS, 2),
    bridge_system_s: round(systemS, 2),
    bridge_cores: round(bridgeCpuS / seconds, 3),
    // Read after the load stopped: what the bridge still had to catch up on.
    read_after_load: handled - events,
    bridge_cpu_s_per_1000_events: handled > 0 ? round((bridgeCpuS / handled) * 1000, 3) : null,
    lag_to_snapshot_ms: await lagToSnapshot(stack, watch, t0, t1),
    bridge_lag_ms: { p50: histogramQuantile(before, after, 0.5), p99: histogramQuantile(before, after, 0.99) },
    cpu: machine,
    ...info,
  };
}

// ---------------------------------------------------------------------------------------------
// Phases

async function replayPhase(broker) {
  const stack = await startStack('replay', broker.url);
  const watch = await watchVersions(stack.keys);
  try {
    const next = recordedTaskMessages();
    const publishFor = async (seconds) => {
      const started = Date.now();
      let sent = 0;
      let late = 0;
      while (Date.now() - started < seconds * 1000) {
        const tickAt = started + Math.floor((Date.now() - started) / TICK_MS) * TICK_MS;
        const due = Math.floor(((Date.now() - started) / 1000) * rate) - sent;
        if (due > 0) {
          const pipeline = broker.client.pipeline();
          for (let i = 0; i < due; i += 1) {
            const { channel, message } = next(Date.now());
            pipeline.publish(channel, message);
          }
          await pipeline.exec();
          sent += due;
        }
        const wait = tickAt + TICK_MS - Date.now();
        if (wait > 0) await sleep(wait);
        else late += 1;
      }
      return { published: sent, late_ticks: late };
    };
    log(`replay: publishing recorded envelopes at ${rate} events/s, ${warmupS} s of warm-up then ${steadyS} s measured …`);
    await publishFor(warmupS);
    await settle(stack);
    const result = await measure(stack, watch, () => publishFor(steadyS), () => ({ [broker.pid]: 'broker' }));
    log('replay', summary(result));
    return { phase: 'replay', target_events_per_s: rate, ...result };
  } finally {
    watch.close();
    await stack.stop();
  }
}

async function steadyPhase(broker) {
  const stack = await startStack('steady', broker.url);
  const watch = await watchVersions(stack.keys);
  const worker = startWorker(broker.url);
  try {
    if (!(await until(async () => (await bridgeCounts(stack.bridge)).read > 0, 20_000, 100))) throw new Error(`no event from the worker:\n${worker.output()}`);
    const tasksPerS = rate / 4;
    log(`steady: a Celery client sending ${tasksPerS} trivial tasks/s (${rate} events/s) to a ${pool.join(' ')} worker, ${warmupS} s of warm-up then ${steadyS} s measured …`);
    await runClient(broker.url, ['pace', tasksPerS, warmupS]);
    await settle(stack);
    let clientPid;
    const result = await measure(stack, watch, async () => {
      const client = runClient(broker.url, ['pace', tasksPerS, steadyS]);
      const depths = [];
      const sampler = setInterval(() => broker.client.llen('celery').then((n) => depths.push(n), () => {}), 500);
      const answer = await client;
      clearInterval(sampler);
      clientPid = answer.pid;
      // The client has exited when the sampler names processes: its CPU is its own account.
      return { tasks_sent: answer.sent, client_late_ticks: answer.late_ticks, celery_client_cores: round(answer.cpu_s / answer.seconds, 2), broker_depth_max: Math.max(0, ...depths) };
    }, () => ({ [worker.child.pid]: 'celery-worker', [broker.pid]: 'broker', ...(clientPid ? { [clientPid]: 'celery-client' } : {}) }));
    log('steady', summary(result));
    return { phase: 'steady', pool: pool.join(' '), target_events_per_s: rate, ...result };
  } finally {
    await worker.stop();
    watch.close();
    await stack.stop();
  }
}

async function maxPhase(broker) {
  const stack = await startStack('max', broker.url);
  const watch = await watchVersions(stack.keys);
  let worker;
  try {
    await broker.client.del('celery');
    log(`max: queueing ${maxTasks} trivial tasks …`);
    const filled = await runClient(broker.url, ['fill', maxTasks]);
    await settle(stack);
    log(`max: queued in ${filled.seconds} s; a ${pool.join(' ')} worker drains them …`);
    worker = startWorker(broker.url);
    // Measured from the worker's first task on, so its start-up does not count.
    if (!(await until(async () => (await broker.client.llen('celery')) < maxTasks, 30_000, 20))) throw new Error(`the worker took no task:\n${worker.output()}`);
    const result = await measure(stack, watch, async () => {
      const t0 = Date.now();
      const depth0 = await broker.client.llen('celery');
      const drained = await until(async () => (await broker.client.llen('celery')) === 0 && (await bridgeCounts(stack.bridge)).read >= 4 * maxTasks, 300_000, 20);
      if (!drained) throw new Error(`the worker did not drain the queue:\n${worker.output()}`);
      return { tasks: depth0, tasks_per_s: Math.round(depth0 / ((Date.now() - t0) / 1000)) };
    }, () => ({ [worker.child.pid]: 'celery-worker', [broker.pid]: 'broker' }));
    log('max', summary(result));
    return { phase: 'max', pool: pool.join(' '), ...result };
  } finally {
    await worker?.stop();
    watch.close();
    await stack.stop();
  }
}

function gitCommit() {
  return new Promise((resolve) => {
    const child = spawn('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', () => resolve(out.trim() || null));
    child.on('error', () => resolve(null));
  });
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

// ---------------------------------------------------------------------------------------------

/** Cores busy on the machine over `ms`, before the run: what else is running (this is a shared box). */
async function machineBusy(ms = 2000) {
  const sample = () => {
    const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    return { busy: v.slice(0, 8).reduce((a, b) => a + b, 0) - v[3] - (v[4] ?? 0), t: performance.now() };
  };
  const a = sample();
  await sleep(ms);
  const b = sample();
  return round((b.busy - a.busy) / TICKS_PER_S / ((b.t - a.t) / 1000), 2);
}

async function main() {
  const busyBefore = await machineBusy();
  const dataset = await referenceTemplate(adminUrl, TEMPLATE_DB, log);
  const broker = await startBroker();
  const results = [];
  try {
    for (const phase of phases) {
      if (phase === 'replay') results.push(await replayPhase(broker));
      else if (phase === 'steady') results.push(await steadyPhase(broker));
      else if (phase === 'max') results.push(await maxPhase(broker));
      else throw new Error(`unknown phase ${phase}`);
      await broker.client.flushdb();
    }
  } finally {
    await broker.stop();
  }
  const celery = await new Promise((resolve) => {
    const child = spawn(PYTHON, ['-c', 'import celery, kombu; print(celery.__version__, kombu.__version__)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('exit', () => resolve(out.trim()));
  });
  const output = {
    benchmark: 'bridge-celery',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, celery_kombu: celery },
    machine_busy_cores_before: busyBefore,
    commit: await gitCommit(),
    dataset,
    options: { rate, steady_s: steadyS, max_tasks: maxTasks, pool: pool.join(' ') },
    targets: { bridge_cpu_s_per_1000_events: 0.1, p99_lag_ms_at_1000_events_per_s: 100 },
    phases: results,
    warnings_and_errors: logBook.list(),
  };
  const dir = join(root, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = writeResults(process.env.BENCH_OUT || join(dir, `bridges-celery-${output.at.slice(0, 10)}.json`), `${JSON.stringify(output, null, 2)}\n`);
  console.log(`\ncelery-bridge (Celery/kombu ${celery || '?'}, ${output.machine.cpus} cores, ${busyBefore} busy before the run) — ${file}`);
  for (const r of results) {
    const lag = r.lag_to_snapshot_ms;
    console.log(
      `  ${r.phase.padEnd(6)} ${String(r.events_per_s).padStart(5)} events/s  bridge ${r.bridge_cpu_s_per_1000_events} CPU-s per 1,000 events (${r.bridge_cores} cores)  ` +
        `lag to snapshot p50 ${lag.p50} p99 ${lag.p99} ms (n ${lag.n}, uncovered ${lag.uncovered}; to the stream ${lag.to_stream.p50}/${lag.to_stream.p99}, ` +
        `then to the version ${lag.stream_to_version.p50}/${lag.stream_to_version.p99})  bridge's own p50 ${r.bridge_lag_ms.p50} p99 ${r.bridge_lag_ms.p99} ms  dropped ${r.dropped}  machine ${r.cpu?.machine_busy_cores} cores busy`,
    );
  }
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopAll(5000);
    // This run's namespaces (one per phase): thousands of keys each, which every SCAN of the shared Redis would wade through.
    await removeKeys(redis, `bench-celery-${process.pid}.*`).catch((error) => console.error('[bench] keys left behind:', error.message));
    redis.disconnect();
  });
