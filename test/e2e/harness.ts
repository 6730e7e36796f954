// The whole system for end-to-end tests: the api, a collector and a dispatcher in this process,
// the realtime gateways as processes of their own (so one can be SIGKILLed), a database of the
// suite's own, and CentralDataService clients spread over the gateways. Events go in as a job
// platform posts them: over HTTP, with the ingest token.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { CentralDataService, type CentralDataServiceOptions, EventPublisher } from '@agentos/client';
import { type EventName, type EventPayload, REFERENCE_QUEUES, redisKeys, type Snapshot } from '@agentos/contracts';
import { createPrismaClient, createTestDatabase, seedReferenceDataset, type PrismaClient, type TestDatabase } from '@agentos/db';
import { isClusterUrl } from '@agentos/runtime';
import { loadApiConfig } from '../../services/api/src/config';
import { startApiService, type ApiService } from '../../services/api/src/service';
import { loadCollectorConfig } from '../../services/collector/src/config';
import { startCollectorService, type CollectorService } from '../../services/collector/src/service';
import { loadDispatcherConfig } from '../../services/dispatcher/src/config';
import { startDispatcherService, type DispatcherService } from '../../services/dispatcher/src/service';
import { type ServiceProcess, spawnService } from '../support/processes';
import { cleanupNamespace, uniqueNamespace } from '../support/redis';
import { signToken, TEST_SECRET } from '../support/tokens';
import { waitFor } from '../support/wait';

const INGEST_TOKEN = 'e2e-ingest-token-0123456789';

/** Client timings for tests: quick to notice a loss and to come back. */
const CLIENT_TIMINGS: Partial<CentralDataServiceOptions> = {
  reconnectMinDelayMs: 100,
  reconnectMaxDelayMs: 2000,
  connectTimeoutMs: 3000,
  syncTimeoutMs: 2000,
  pollIntervalMs: 500,
  requestTimeoutMs: 5000,
};

/** One gateway process. */
export type GatewayProcess = ServiceProcess;

/** Runs the built gateway as its own process (so one can be SIGKILLed); resolves once it is healthy. */
export function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  return spawnService('realtime-gateway', { AUTH_JWT_SECRET: TEST_SECRET, ...env });
}

export interface StackOptions {
  /** The Redis every service uses; on a Redis Cluster the namespace is a hash tag. */
  redisUrl: string;
  /** How many gateway processes. */
  gateways: number;
  /** Names the database and the namespace. */
  name: string;
  /** Seed the small reference dataset first (100 jobs in the reference queues). @default true */
  seed?: boolean;
  /** Collector replicas, writing concurrently. @default 1 */
  collectors?: number;
  /** More environment for the gateway processes (their tunables). */
  gatewayEnv?: Record<string, string>;
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

/** The system on its own namespace and database, with a first snapshot built. */
export async function startStack(options: StackOptions) {
  const namespace = uniqueNamespace(options.name, { hashTag: isClusterUrl(options.redisUrl) });
  const keys = redisKeys(namespace);
  const db: TestDatabase = await createTestDatabase(options.name);
  const prisma: PrismaClient = createPrismaClient(db.url);
  const env = { REDIS_URL: options.redisUrl, SSOT_NAMESPACE: namespace, LOG_LEVEL: 'silent' };
  // The in-process services share the test runner's event loop with every client of the test, on a
  // CI machine busy with the other suites: a command may wait past the production default of 1 s
  // for its turn (in CI a command of job-sections' stack once timed out, and failed the suite).
  // The gateways are processes of their own and keep the default.
  const inProcess = { ...env, REDIS_COMMAND_TIMEOUT_MS: '5000' };
  const started: { stop(): Promise<unknown> }[] = [];
  const gateways: GatewayProcess[] = [];
  const clients: CentralDataService[] = [];
  const publishers: EventPublisher[] = [];

  const stop = async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(publishers.splice(0).map((publisher) => publisher.close()));
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    for (const service of started.reverse()) await service.stop();
    await prisma.$disconnect();
    await db.drop();
    await cleanupNamespace(namespace, options.redisUrl).catch(() => {});
  };

  try {
    if (options.seed !== false) await seedReferenceDataset(db.url, { jobs: 100, workers: 4, logs: 30 });
    // Versions change only when events (or a cache miss) ask for a build: no warmer, and a
    // snapshot that outlives the test, so "the version stopped changing" means something.
    const collectors: CollectorService[] = [];
    for (let i = 0; i < (options.collectors ?? 1); i += 1) {
      collectors.push(await startCollectorService(loadCollectorConfig({ ...inProcess, DATABASE_URL: db.url, SNAPSHOT_TTL_S: '3600' })));
      started.push(collectors[i]!);
    }
    const collector = collectors[0]!;
    // Small batches: 1,000 events make many versions, each a patch to every client.
    const dispatcher: DispatcherService = await startDispatcherService(loadDispatcherConfig({ ...inProcess, DATABASE_URL: db.url, EVENT_BATCH: '50', RETRY_BASE_MS: '200', CLAIM_IDLE_MS: '1000' }));
    started.push(dispatcher);
    await collector.collector.refresh([]);
    const api: ApiService = await startApiService(loadApiConfig({ ...inProcess, DATABASE_URL: db.url, AUTH_JWT_SECRET: TEST_SECRET, INGEST_TOKENS: INGEST_TOKEN, PORT: '0' }), { listen: true });
    started.push(api);
    const apiUrl = `http://127.0.0.1:${(api.server!.address() as AddressInfo).port}`;
    gateways.push(
      ...(await Promise.all(Array.from({ length: options.gateways }, () => spawnGateway({ ...env, LOG_LEVEL: 'info', VERSION_CHECK_MS: '1000', ...options.gatewayEnv })))),
    );
    const httpToken = await signToken({ sub: 'e2e-reader', role: 'admin' });

    return {
      namespace,
      keys,
      prisma,
      /** The stack's database, for another replica of a service on it. */
      databaseUrl: db.url,
      apiUrl,
      /** An ingest token the api takes (`INGEST_TOKENS`). */
      ingestToken: INGEST_TOKEN,
      gateways,
      collector,
      collectors,
      dispatcher,

      /** A client whose first gateway is `gateways[first]`, the others following in order. */
      async client(first: number, options: Partial<CentralDataServiceOptions> = {}): Promise<CentralDataService> {
        const urls = gateways.map((_, i) => gateways[(first + i) % gateways.length]!.url);
        const token = await signToken({ sub: `e2e-admin-${clients.length}`, role: 'admin' });
        const client = new CentralDataService({ apiUrl, gatewayUrls: urls, token, ...CLIENT_TIMINGS, ...options });
        clients.push(client);
        return client;
      },

      /** Closes every client made so far. */
      async closeClients(): Promise<void> {
        await Promise.all(clients.splice(0).map((client) => client.close()));
      },

      publisher(): EventPublisher {
        const publisher = new EventPublisher({ baseUrl: apiUrl, token: INGEST_TOKEN, batchSize: 50, flushIntervalMs: 5, maxRetries: 10, retryBaseMs: 100 });
        publishers.push(publisher);
        return publisher;
      },

      /** `GET /api/admin/ssot` as an operator reads it. */
      async read(): Promise<{ status: number; source: string | null; version: number; body: Snapshot | null }> {
        const res = await fetch(`${apiUrl}/api/admin/ssot`, { headers: { authorization: `Bearer ${httpToken}` } });
        if (res.status !== 200) {
          await res.arrayBuffer();
          return { status: res.status, source: res.headers.get('x-ssot-source'), version: 0, body: null };
        }
        const body = (await res.json()) as Snapshot;
        return { status: res.status, source: res.headers.get('x-ssot-source'), version: body.meta.version, body };
      },

      /** Events whose effect the dispatcher has persisted. */
      processed(ids: readonly string[]): Promise<number> {
        return prisma.processedEvent.count({ where: { id: { in: [...ids] } } });
      },

      stop,
    };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/**
 * Waits until the api's snapshot stops changing and every client holds exactly it: the HTTP
 * version read twice in a row, served current (not the last good copy), and every client live at
 * that version before and after the second read. The clients' copies are taken right then (no
 * await in between, so no update can slip in) and each must deep-equal the HTTP body.
 * Resolves with that body.
 */
export async function expectConverged(stack: Stack, clients: readonly CentralDataService[], timeoutMs = 30_000): Promise<Snapshot> {
  const describe = (version: number) => `api at v${version}; clients: ${clients.map((c) => `v${c.view.version} ${c.state}`).join(', ')}`;
  const allAt = (version: number) => clients.every((c) => c.state === 'live' && c.view.version === version);
  const { body, copies } = await waitFor(
    async () => {
      const first = await stack.read();
      if (first.status !== 200 || first.source === 'stale') throw new Error(`the api answers ${first.status} (${first.source})`);
      if (!allAt(first.version)) throw new Error(describe(first.version));
      const again = await stack.read();
      if (again.version !== first.version) throw new Error(`the api moved on: v${first.version} → v${again.version}`);
      if (!allAt(first.version)) throw new Error(describe(first.version));
      return { body: first.body!, copies: clients.map((c) => c.data) };
    },
    { timeoutMs, intervalMs: 100, message: 'every client at the api snapshot version' },
  );
  for (const copy of copies) expect(copy).toEqual(body);
  return body;
}

/** Deterministic PRNG (mulberry32), so every run posts the same mix. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type AnyEvent = { [N in EventName]: { name: N; payload: EventPayload<N> } }[EventName];

/**
 * A random but realistic event mix over all eight event names: job lifecycles (created →
 * processing → completed or failed) interleaved over the reference queues, plus heartbeats,
 * workers going offline, queue threshold warnings and health checks — as in bench/lib/workload.mjs,
 * with the rarer events added.
 */
export function eventMix(seed: number) {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const workers = Array.from({ length: 6 }, () => randomUUID());
  const users = Array.from({ length: 10 }, () => randomUUID());
  const inFlight: { payload: EventPayload<'job:created'>; started: boolean }[] = [];
  const counts: Partial<Record<EventName, number>> = {};

  function job(): AnyEvent {
    if (inFlight.length < 30 || random() < 1 / 3) {
      const payload = { job_id: randomUUID(), queue: pick(REFERENCE_QUEUES), type: pick(['render', 'summarise', 'classify']), user_id: pick(users) };
      inFlight.push({ payload, started: false });
      return { name: 'job:created', payload };
    }
    const index = Math.floor(random() * inFlight.length);
    const entry = inFlight[index]!;
    const worker_id = pick(workers);
    if (!entry.started) {
      entry.started = true;
      return { name: 'job:processing', payload: { ...entry.payload, worker_id, progress: Math.floor(random() * 90) } };
    }
    inFlight[index] = inFlight[inFlight.length - 1]!;
    inFlight.pop();
    const duration_ms = 100 + Math.floor(random() * 5000);
    const ending = random();
    if (ending < 0.05) return { name: 'job:cancelled', payload: { ...entry.payload, reason: 'cancelled by admin' } };
    return ending < 0.25
      ? { name: 'job:failed', payload: { ...entry.payload, worker_id, duration_ms, error: 'agent step failed' } }
      : { name: 'job:completed', payload: { ...entry.payload, worker_id, duration_ms, progress: 100 } };
  }

  function next(): AnyEvent {
    const r = random();
    let event: AnyEvent;
    if (r < 0.05) {
      const i = Math.floor(random() * workers.length);
      event = { name: 'worker:heartbeat', payload: { worker_id: workers[i]!, queues: [REFERENCE_QUEUES[i % REFERENCE_QUEUES.length]!], active_jobs: Math.floor(random() * 4), concurrency: 4, hostname: `e2e-worker-${i}`, cpu: Math.round(random() * 100) } };
    } else if (r < 0.065) {
      event = { name: 'worker:offline', payload: { worker_id: pick(workers), reason: 'shutdown' } };
    } else if (r < 0.08) {
      event = { name: 'queue:threshold_warning', payload: { queue: pick(REFERENCE_QUEUES), pending: 50 + Math.floor(random() * 500), threshold: 50 } };
    } else if (r < 0.095) {
      event = { name: 'system:health_check', payload: { services: { api: 'up', collector: 'up', dispatcher: random() < 0.5 ? 'up' : 'degraded' }, redis_ms: random() * 3, database_ms: random() * 10 } };
    } else if (r < 0.11) {
      event = { name: 'queue:stats', payload: { queue: pick(REFERENCE_QUEUES), pending: Math.floor(random() * 200), workers: Math.floor(random() * 4) } };
    } else if (r < 0.12) {
      // A platform answering a command nobody asked this SSOT for: broadcast, changes no row.
      event = { name: 'command:result', payload: { command_id: randomUUID(), job_id: randomUUID(), ok: random() < 0.5 } };
    } else {
      event = job();
    }
    counts[event.name] = (counts[event.name] ?? 0) + 1;
    return event;
  }

  return { next, counts };
}

/** Posts `count` events from `mix` over HTTP in rounds of `round` (each round one request, answered before the next). */
export async function postEvents(publisher: EventPublisher, mix: ReturnType<typeof eventMix>, count: number, round = 50): Promise<string[]> {
  const ids: string[] = [];
  for (let sent = 0; sent < count; sent += round) {
    const batch = Array.from({ length: Math.min(round, count - sent) }, () => {
      const event = mix.next();
      return publisher.publish(event.name, event.payload as never);
    });
    ids.push(...(await Promise.all(batch)));
  }
  return ids;
}
