// The event mix of bench:events: what the job platform posts to `POST /api/events`.
//
// Job lifecycles — job:created, then job:processing, then job:completed or (as often as in the
// reference dataset) job:failed — over the 5 reference queues in their shares, each job handled
// by one of the 11 pipeline agents as often as the queue's profile says; lifecycles interleave
// (a few hundred jobs in flight at once), as they do when many workers report. Plus a small share
// of worker:heartbeat from a fixed set of workers. Proportions come from the reference dataset
// (packages/db reference-data.ts), so the events land on data shaped like the seeded history.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const root = join(import.meta.dirname, '..', '..');
const { PIPELINE_AGENTS, REFERENCE_QUEUES } = require(join(root, 'packages/contracts/dist/index.js'));
const { QUEUE_PROFILES, AGENT_SHARES, OUTCOME_SHARES, JOB_ERRORS } = require(join(root, 'packages/db/dist/reference-data.js'));

/** Picks an index with probability proportional to `weights`, from a uniform `u` in [0, 1). */
function pick(weights, u) {
  const total = weights.reduce((a, b) => a + b, 0);
  let x = u * total;
  for (let i = 0; i < weights.length; i += 1) {
    x -= weights[i];
    if (x < 0) return i;
  }
  return weights.length - 1;
}

/** Deterministic PRNG (mulberry32), so two runs post the same mix. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @param {object} [options]
 * @param {number} [options.inFlight] jobs between created and finished at any time. @default 300
 * @param {number} [options.heartbeatShare] share of events that are worker:heartbeat. @default 0.02
 * @param {number} [options.workers] workers sending heartbeats and running jobs. @default 20
 * @param {number} [options.offlineShare] share of events that are worker:offline (the one event
 *   whose action, alert_ops, calls the alert webhook). @default 0
 * @param {number} [options.seed] @default 1
 */
export function createWorkload({ inFlight = 300, heartbeatShare = 0.02, offlineShare = 0, workers = 20, seed = 1 } = {}) {
  const random = prng(seed);
  const queues = [...REFERENCE_QUEUES];
  const queueShares = queues.map((q) => QUEUE_PROFILES[q].share);
  const failedShare = OUTCOME_SHARES.failed / (OUTCOME_SHARES.completed + OUTCOME_SHARES.failed);
  const users = Array.from({ length: 50 }, () => randomUUID());
  const workerIds = Array.from({ length: workers }, () => randomUUID());
  const jobs = [];
  const counts = {};
  /** The ids of the worker:offline events made: each should reach the alert webhook once. */
  const offlineIds = new Set();

  const lognormal = (median) => {
    // Box–Muller; sigma 0.8 like a run-time distribution with a long right tail.
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return Math.max(1, Math.round(median * Math.exp(0.8 * z)));
  };

  function newJob() {
    const queue = queues[pick(queueShares, random())];
    const profile = QUEUE_PROFILES[queue];
    const job = {
      job_id: randomUUID(),
      queue,
      type: profile.types[Math.floor(random() * profile.types.length)],
      user_id: users[Math.floor(random() * users.length)],
      ...(random() < profile.agentShare ? { agent: PIPELINE_AGENTS[pick(AGENT_SHARES, random())].name } : {}),
    };
    jobs.push({ payload: job, state: 'created' });
    return { name: 'job:created', payload: job };
  }

  function advance(index) {
    const job = jobs[index];
    if (job.state === 'created') {
      job.state = 'processing';
      job.payload = { ...job.payload, worker_id: workerIds[Math.floor(random() * workerIds.length)] };
      return { name: 'job:processing', payload: { ...job.payload, progress: 0 } };
    }
    // Finished: out of the in-flight set (swap-remove keeps it O(1)).
    jobs[index] = jobs[jobs.length - 1];
    jobs.pop();
    const duration_ms = lognormal(QUEUE_PROFILES[job.payload.queue].medianRunMs);
    if (random() < failedShare) {
      return { name: 'job:failed', payload: { ...job.payload, duration_ms, error: JOB_ERRORS[Math.floor(random() * JOB_ERRORS.length)] } };
    }
    return { name: 'job:completed', payload: { ...job.payload, progress: 100, duration_ms } };
  }

  function heartbeat() {
    const i = Math.floor(random() * workerIds.length);
    return {
      name: 'worker:heartbeat',
      payload: {
        worker_id: workerIds[i],
        queues: [queues[i % queues.length], queues[(i + 1) % queues.length]],
        active_jobs: Math.floor(random() * 8),
        concurrency: 8,
        hostname: `bench-worker-${i}`,
        cpu: Math.round(random() * 1000) / 10,
        memory_mb: 256 + Math.floor(random() * 1024),
      },
    };
  }

  function offline() {
    const i = Math.floor(random() * workerIds.length);
    return { name: 'worker:offline', payload: { worker_id: workerIds[i], reason: 'bench: worker stopped' } };
  }

  /** The next event, with a fresh id; `occurred_at` is stamped when it is posted. */
  function next() {
    let event;
    const u = random();
    if (u < offlineShare) event = offline();
    else if (u < offlineShare + heartbeatShare) event = heartbeat();
    // Below the target, mostly start jobs; at it, starts and advances balance (1 in 3 events of a
    // lifecycle is a start), so the number in flight hovers around the target.
    else if (jobs.length < inFlight * 0.9 || (jobs.length < inFlight * 1.1 && random() < 1 / 3)) event = newJob();
    else event = advance(Math.floor(random() * jobs.length));
    counts[event.name] = (counts[event.name] ?? 0) + 1;
    const id = randomUUID();
    if (event.name === 'worker:offline') offlineIds.add(id);
    return { id, ...event };
  }

  /** `n` events as one `POST /api/events` body, stamped `at` (ms since epoch). */
  function body(n, at = Date.now()) {
    const occurred_at = new Date(at).toISOString();
    const events = [];
    for (let i = 0; i < n; i += 1) events.push({ ...next(), occurred_at });
    return { ids: events.map((e) => e.id), json: JSON.stringify({ events }) };
  }

  return { next, body, counts, offlineIds };
}
