import { createHash } from 'node:crypto';
import type { EventPublisher } from '@agentos/client';
import { type BullmqBridgeKeys, MAX_ID_LENGTH, type RedisKeys, type WorkerHeartbeatPayload } from '@agentos/contracts';
import { Lease, type Logger, type LoopWatch, type Redis } from '@agentos/runtime';
import type { BullQueues } from './bull-queues';
import type { QueueSet } from './discovery';
import { isOpaqueId } from './ids';
import { bullKeys } from './keys';
import type { BridgeMetrics } from './metrics';

/** One worker connection in BullMQ's worker list (`queue.getWorkers()`: its `CLIENT LIST` entries). */
export interface WorkerConnection {
  queue: string;
  /** The Worker's `name` option, when it has one. */
  name?: string;
  /** The connection's address, `ip:port`. */
  addr: string;
}

/**
 * BullMQ's worker list for every queue under `prefix`, from one `CLIENT LIST`: a Worker names its
 * blocking connection `{prefix}:{base64(queue)}`, with `:w:{name}` when it has a name, which is
 * what `queue.getWorkers()` matches, one queue and one CLIENT LIST at a time.
 */
export function parseWorkerList(clientList: string, prefix: string): WorkerConnection[] {
  const head = `${prefix}:`;
  const found: WorkerConnection[] = [];
  for (const line of clientList.split(/\r?\n/)) {
    const fields = new Map<string, string>();
    for (const pair of line.split(' ')) {
      const at = pair.indexOf('=');
      if (at > 0) fields.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const clientName = fields.get('name');
    if (!clientName?.startsWith(head)) continue;
    const rest = clientName.slice(head.length);
    const colon = rest.indexOf(':');
    const encoded = colon < 0 ? rest : rest.slice(0, colon);
    const tail = colon < 0 ? '' : rest.slice(colon);
    // `:qe` is a QueueEvents connection, anything else not a worker either.
    if (tail !== '' && !tail.startsWith(':w:')) continue;
    const queue = Buffer.from(encoded, 'base64').toString('utf8');
    if (queue === '' || Buffer.from(queue, 'utf8').toString('base64') !== encoded) continue;
    const name = tail === '' ? undefined : tail.slice(3);
    found.push({ queue, ...(name ? { name } : {}), addr: fields.get('addr') ?? '' });
  }
  return found;
}

/** A worker as the SSOT knows it: named workers by their name (one name across queues is one worker), others by queue and connection. */
export function workerIdOf(connection: WorkerConnection): string {
  return connection.name ?? `${connection.queue}@${connection.addr}`;
}

/** BullMQ's `getJobCounts` states that count as pending in the SSOT: everything not yet started. */
export const PENDING_STATES = ['waiting', 'paused', 'prioritized', 'delayed', 'waiting-children'] as const;

export interface PollerOptions {
  bull: Redis;
  /** The SSOT's Redis: the lease, the workers announced, and the SSOT's own live-worker set. */
  redis: Redis;
  keys: BullmqBridgeKeys;
  ssotKeys: RedisKeys;
  prefix: string;
  queues: QueueSet;
  /** Queues are discovered (BULLMQ_QUEUES empty): a worker on an unknown queue adds it. */
  discover: boolean;
  bullQueues: BullQueues;
  publisher: EventPublisher;
  logger: Logger;
  metrics: BridgeMetrics;
  instance: string;
  pollMs: number;
  leaseMs: number;
  concurrency: number;
  watch: LoopWatch;
  onFound?(queues: string[]): void;
}

/** Active jobs counted per worker name at most, per queue. */
const MAX_ACTIVE_SCANNED = 1000;
/** `queue:stats` is posted when the counts change, and at least this often. */
const STATS_REFRESH_MS = 60_000;

/**
 * Every `pollMs`, one replica (a lease) reads BullMQ's worker list and job counts: a
 * `worker:heartbeat` per worker listed, vouching for three periods (`ttl_s`), so one slow poll
 * does not flap it; a `worker:offline` once for a worker no longer listed; and each queue's depth
 * as `queue:stats`. The workers announced are kept in Redis, so a worker that leaves while the
 * bridge is down is announced when it is back (unless the SSOT's own heartbeat sweeper already
 * did, when its heartbeat lapsed: then it is not announced twice).
 */
export function startPoller(options: PollerOptions) {
  const { bull, redis, keys, publisher, logger, metrics } = options;
  const lease = new Lease(redis, keys.pollerLease, options.instance, Math.max(options.leaseMs, 3 * options.pollMs));
  const ttlS = Math.max(1, Math.ceil((3 * options.pollMs) / 1000));
  const lastStats = new Map<string, { json: string; at: number }>();
  const refusedIds = new Set<string>();
  let running: Promise<void> | null = null;
  let stopped = false;

  async function activeByWorker(queues: string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const lists = await Promise.all(queues.map((queue) => bull.lrange(bullKeys(options.prefix, queue).active, 0, MAX_ACTIVE_SCANNED - 1)));
    const pipeline = bull.pipeline();
    queues.forEach((queue, i) => {
      for (const jobId of lists[i]!) pipeline.hget(bullKeys(options.prefix, queue).job(jobId), 'pb');
    });
    for (const [error, name] of (await pipeline.exec()) ?? []) {
      if (!error && typeof name === 'string') counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    return counts;
  }

  async function poll(): Promise<void> {
    if (!(await lease.acquire())) return;
    const connections = parseWorkerList(String(await bull.call('CLIENT', 'LIST')), options.prefix);
    if (options.discover) {
      const added = options.queues.add(connections.map((c) => c.queue));
      if (added.length > 0) options.onFound?.(added);
    }
    const listed = connections.filter((c) => options.queues.has(c.queue));
    const workers = new Map<string, { queues: Set<string>; hostname: string; named: boolean }>();
    for (const c of listed) {
      const id = workerIdOf(c);
      if (!isOpaqueId(id)) {
        if (!refusedIds.has(id)) logger.warn({ worker: id.slice(0, 300) }, 'worker not shown: its name is not an id the SSOT takes (whitespace, or over 200 characters)');
        refusedIds.add(id);
        continue;
      }
      const worker = workers.get(id) ?? { queues: new Set<string>(), hostname: c.addr.replace(/:\d+$/, ''), named: c.name !== undefined };
      worker.queues.add(c.queue);
      workers.set(id, worker);
    }
    metrics.workers.set(workers.size);

    const namedQueues = [...new Set(listed.filter((c) => c.name !== undefined).map((c) => c.queue))];
    const active = namedQueues.length > 0 ? await activeByWorker(namedQueues) : new Map<string, number>();
    const now = new Date();
    const posts: Promise<unknown>[] = [];
    for (const [id, worker] of workers) {
      // BullMQ records which worker took a job (`pb`) only for named workers.
      const activeJobs = worker.named ? (active.get(id) ?? 0) : 0;
      const payload: WorkerHeartbeatPayload = {
        worker_id: id,
        queues: [...worker.queues].slice(0, 100),
        active_jobs: activeJobs,
        concurrency: Math.max(options.concurrency, activeJobs),
        ...(worker.hostname ? { hostname: worker.hostname.slice(0, 255) } : {}),
        ttl_s: ttlS,
      };
      posts.push(publisher.publish('worker:heartbeat', payload, { occurredAt: now }));
    }

    const announced = await redis.hgetall(keys.workers);
    const gone = Object.keys(announced).filter((id) => !workers.has(id));
    const fresh = [...workers.keys()].filter((id) => announced[id] === undefined);
    // Still live in the SSOT? A worker whose heartbeat lapsed there was announced by its sweeper.
    const live = await Promise.all(gone.map((id) => redis.zscore(options.ssotKeys.workersLive, id)));
    for (const [i, id] of gone.entries()) {
      if (live[i] === null) continue;
      const since = safeSince(announced[id]);
      posts.push(
        publisher.publish('worker:offline', { worker_id: id, reason: "gone from BullMQ's worker list" }, { id: derivedId('bullmq-offline', id, since), occurredAt: now }),
      );
    }

    const queues = options.queues.list();
    const counts = await Promise.all(queues.map((queue) => options.bullQueues.get(queue).getJobCounts(...PENDING_STATES)));
    queues.forEach((queue, i) => {
      const pending = PENDING_STATES.reduce((sum, state) => sum + (counts[i]![state] ?? 0), 0);
      const json = JSON.stringify({ queue, pending, workers: listed.filter((c) => c.queue === queue).length });
      const last = lastStats.get(queue);
      if (last && last.json === json && now.getTime() - last.at < STATS_REFRESH_MS) return;
      posts.push(
        publisher.publish('queue:stats', JSON.parse(json), { occurredAt: now }).then(() => lastStats.set(queue, { json, at: now.getTime() })),
      );
    });

    void publisher.flush();
    await Promise.all(posts);
    // Only once the api has the announcements: a crash before this announces them again, with the same ids.
    const pipeline = redis.pipeline();
    if (gone.length > 0) pipeline.hdel(keys.workers, ...gone);
    for (const id of fresh) pipeline.hset(keys.workers, id, JSON.stringify({ since: now.getTime() }));
    if (gone.length + fresh.length > 0) await pipeline.exec();
    if (gone.length > 0) logger.info({ workers: gone }, 'workers gone from BullMQ: announced offline');
  }

  const tick = () => {
    if (stopped || running) return;
    running = poll()
      .then(() => options.watch.progress())
      .catch((error: Error) => logger.warn({ err: error.message }, 'worker poll failed'))
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, options.pollMs);
  tick();

  return {
    /** Polls now, or waits for the poll under way. */
    async poll(): Promise<void> {
      if (running) return running;
      tick();
      await running;
    },
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      options.watch.stop();
      await running;
      await lease.release().catch(() => {});
    },
    halt(): void {
      stopped = true;
      clearInterval(timer);
      options.watch.stop();
    },
  };
}

function safeSince(json: string | undefined): number {
  try {
    const since = (JSON.parse(json ?? '{}') as { since?: unknown }).since;
    return typeof since === 'number' ? since : 0;
  } catch {
    return 0;
  }
}

/** `kind:id:n` as an event id, or with the id's digest when that would be too long. */
function derivedId(kind: string, id: string, n: number): string {
  const plain = `${kind}:${id}:${n}`;
  return plain.length <= MAX_ID_LENGTH ? plain : `${kind}:${createHash('sha256').update(id).digest('hex')}:${n}`;
}
