import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  CentralDataService,
  type CentralDataServiceOptions,
  type ConnectionState,
  type RealtimeError,
  type SnapshotSource,
  type SocketEventData,
} from '@agentos/client';
import { type BroadcastMessage, redisKeys, type Snapshot } from '@agentos/contracts';
import { createPrismaClient, createTestDatabase, seedReferenceDataset, type PrismaClient, type TestDatabase } from '@agentos/db';
import Redis from 'ioredis';
import { loadApiConfig } from '../../../services/api/src/config';
import { startApiService, type ApiService } from '../../../services/api/src/service';
import { loadCollectorConfig } from '../../../services/collector/src/config';
import { startCollectorService, type CollectorService } from '../../../services/collector/src/service';
import { loadGatewayConfig } from '../../../services/realtime-gateway/src/config';
import { startGatewayService, type GatewayService } from '../../../services/realtime-gateway/src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { startTcpProxy } from '../../../test/support/tcp-proxy';
import { signToken, TEST_SECRET } from '../../../test/support/tokens';
import { waitFor } from '../../../test/support/wait';

// CentralDataService against the real api, gateway and collector, started in this process on the
// real Redis and PostgreSQL. The api and the gateway sit behind TCP proxies, so a test can take
// either away from the client (and give it back) while the services themselves keep running.

const namespace = uniqueNamespace('central-data');
const keys = redisKeys(namespace);

/** Fast timings, so that outages and recoveries play out in well under a second. */
const FAST: Partial<CentralDataServiceOptions> = {
  reconnectMinDelayMs: 50,
  reconnectMaxDelayMs: 400,
  connectTimeoutMs: 1000,
  syncTimeoutMs: 1000,
  pollIntervalMs: 150,
  requestTimeoutMs: 3000,
  ackTimeoutMs: 2000,
};

/** What one client went through, in order. */
interface Recording {
  states: [ConnectionState, ConnectionState][];
  /** Each source the copy came from, in order (repeats folded). */
  sources: SnapshotSource[];
  websocketErrors: RealtimeError[];
  resyncs: unknown[][];
  errors: Error[];
}

describe('CentralDataService against the real api, gateway and collector', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let redis: Redis;
  let collector: CollectorService;
  let api: ApiService;
  let gateway: GatewayService;
  let apiProxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let gatewayProxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let apiUrl: string;
  let gatewayUrl: string;
  let adminToken: string;
  const clients: CentralDataService[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('central_data');
    await seedReferenceDataset(db.url, { jobs: 40, workers: 3, logs: 20 });
    prisma = createPrismaClient(db.url);
    redis = new Redis(TEST_REDIS_URL);
    const env = { REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, LOG_LEVEL: 'silent' };
    // The snapshot lives long: versions change only when a test asks for a build.
    collector = await startCollectorService(loadCollectorConfig({ ...env, DATABASE_URL: db.url, SNAPSHOT_TTL_S: '3600' }));
    await collector.collector.refresh([]);
    api = await startApiService(loadApiConfig({ ...env, AUTH_JWT_SECRET: TEST_SECRET, PORT: '0', SNAPSHOT_MAX_AGE_MS: '50' }), { listen: true });
    // The gateway learns of versions only from announcements (its periodic check is off), so a
    // test can write a version only the api sees.
    // No clock tolerance: a token expiring in 2 s ends its connection in 2 s, not 32.
    gateway = await startGatewayService(loadGatewayConfig({ ...env, AUTH_JWT_SECRET: TEST_SECRET, AUTH_CLOCK_TOLERANCE_S: '0', PORT: '0', VERSION_CHECK_MS: '600000' }));
    apiProxy = await startTcpProxy('127.0.0.1', (api.server!.address() as AddressInfo).port);
    gatewayProxy = await startTcpProxy('127.0.0.1', gateway.port);
    apiUrl = `http://127.0.0.1:${apiProxy.port}`;
    gatewayUrl = `http://127.0.0.1:${gatewayProxy.port}`;
    adminToken = await signToken({ sub: 'admin-1', role: 'admin' });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    apiProxy.restore();
    gatewayProxy.restore();
  });

  afterAll(async () => {
    await apiProxy.close();
    await gatewayProxy.close();
    await gateway.stop();
    await api.stop();
    await collector.stop();
    await prisma.$disconnect();
    await db.drop();
    await cleanupNamespace(namespace);
    redis.disconnect();
  });

  function client(options: Partial<CentralDataServiceOptions> = {}): { service: CentralDataService; seen: Recording } {
    const service = new CentralDataService({ apiUrl, gatewayUrls: [gatewayUrl], token: adminToken, ...FAST, ...options });
    clients.push(service);
    const seen: Recording = { states: [], sources: [], websocketErrors: [], resyncs: [], errors: [] };
    service.on('state', (state, previous) => seen.states.push([state, previous]));
    service.on('change', (view) => {
      if (view.source && seen.sources[seen.sources.length - 1] !== view.source) seen.sources.push(view.source);
      const error = view.errors.websocket;
      if (error && !seen.websocketErrors.includes(error)) seen.websocketErrors.push(error);
    });
    service.on('resync', (...args) => seen.resyncs.push(args));
    service.on('error', (error) => seen.errors.push(error));
    return { service, seen };
  }

  async function stored(): Promise<Snapshot> {
    return JSON.parse((await redis.get(keys.snapshot))!) as Snapshot;
  }

  /** A new version with something visible in it: a job and a log line. */
  async function newVersion(): Promise<number> {
    const job = await prisma.job.create({ data: { queue: 'pipeline', type: `t-${randomUUID().slice(0, 8)}` } });
    await prisma.logEntry.create({ data: { level: 'info', source: 'client-test', message: `job ${job.id}`, jobId: job.id } });
    return (await collector.collector.refresh([])).version;
  }

  const reach = (service: CentralDataService, version: number, state?: ConnectionState) =>
    waitFor(() => service.view.version === version && (!state || service.state === state), {
      timeoutMs: 5000,
      message: `version ${version}${state ? ` and state ${state}` : ''} (at ${service.view.version}, ${service.state})`,
    });

  it('fetchAllData reads over HTTP with the ETag: a 304 keeps the local copy, a new version replaces it', async () => {
    const requests: { ifNoneMatch: string | null; status: number; etag: string | null }[] = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      requests.push({ ifNoneMatch: new Headers(init?.headers).get('if-none-match'), status: res.status, etag: res.headers.get('etag') });
      return res;
    };
    const { service } = client({ fetch: recordingFetch });
    const version = await newVersion();

    const first = await service.fetchAllData();
    expect(first).toEqual(await stored());
    expect(first.meta.version).toBe(version);
    expect(requests).toEqual([{ ifNoneMatch: null, status: 200, etag: expect.stringMatching(/.+/) }]);
    expect(service.view).toMatchObject({ state: 'idle', version, source: 'cache', stale: false, errors: {} });

    const second = await service.fetchAllData();
    expect(requests[1]).toEqual({ ifNoneMatch: requests[0]!.etag, status: 304, etag: requests[0]!.etag });
    // The very object held before: nothing was parsed or replaced.
    expect(second).toBe(first);
    expect(service.stats).toMatchObject({ httpReads: 2, notModified: 1 });

    const next = await newVersion();
    await waitFor(async () => (await service.fetchAllData()).meta.version === next, { message: 'the new version over HTTP' });
    expect(service.data).toEqual(await stored());
    expect(requests[requests.length - 1]).toMatchObject({ ifNoneMatch: requests[0]!.etag, status: 200 });
    expect(requests[requests.length - 1]!.etag).not.toBe(requests[0]!.etag);
  });

  it('connect(): initial_data, then every new version applied as a JSON Patch; reconnecting → live', async () => {
    const { service, seen } = client();
    const view = await service.connect();
    expect(view).toMatchObject({ state: 'live', source: 'socket', gateway: gatewayUrl, stale: false, errors: {} });
    expect(view.snapshot).toEqual(await stored());

    for (let round = 0; round < 3; round += 1) {
      const version = await newVersion();
      await reach(service, version);
      expect(service.data).toEqual(await stored());
    }
    expect(service.stats).toMatchObject({ connections: 1, initialData: 1, updatesApplied: 3, resyncs: 0, httpReads: 0, badMessages: 0 });
    expect(seen.states).toEqual([
      ['reconnecting', 'idle'],
      ['live', 'reconnecting'],
    ]);
    expect(seen.sources).toEqual(['socket']);
  });

  it('a version gap: the update does not fit the local copy, so the client sends resync and gets the whole snapshot', async () => {
    const { service, seen } = client();
    await service.connect();
    const base = service.view.version;

    // A version only the api knows about: written without an announcement, as the collector's
    // script would, with the version counter moved past it.
    const hidden = (await redis.incr(keys.version)) as number;
    const body = await stored();
    await redis.set(keys.snapshot, JSON.stringify({ ...body, meta: { ...body.meta, version: hidden, generated_at: new Date().toISOString() } }));
    await waitFor(async () => (await service.fetchAllData()).meta.version === hidden, { message: 'the unannounced version over HTTP' });
    expect(service.state).toBe('live');

    // The gateway patches from the version it sent (base), which is not the client's.
    const next = await newVersion();
    await reach(service, next, 'live');
    expect(service.data).toEqual(await stored());
    expect(seen.resyncs).toEqual([['version_gap', { local: hidden, version: next, base_version: base }]]);
    expect(service.stats).toMatchObject({ initialData: 2, resyncs: 1, updatesApplied: 0 });
    expect(seen.states).toEqual([
      ['reconnecting', 'idle'],
      ['live', 'reconnecting'],
      ['reconnecting', 'live'],
      ['live', 'reconnecting'],
    ]);
  });

  it('gateway unreachable: HTTP reads keep the copy current (reconnecting), then live again when it is back', async () => {
    const { service, seen } = client();
    await service.connect();

    gatewayProxy.cut();
    await waitFor(() => service.state === 'reconnecting' && service.stats.httpReads > 0, { message: 'reconnecting over HTTP' });
    const version = await newVersion();
    await reach(service, version, 'reconnecting');
    expect(service.view).toMatchObject({ source: 'cache', stale: false, gateway: null });
    expect(service.data).toEqual(await stored());
    expect(['disconnected', 'connect_failed']).toContain(service.view.errors.websocket?.code);

    gatewayProxy.restore();
    await waitFor(() => service.state === 'live', { message: 'live again' });
    expect(service.data).toEqual(await stored());
    expect(service.view).toMatchObject({ source: 'socket', gateway: gatewayUrl, errors: {} });
    expect(service.stats.connections).toBeGreaterThanOrEqual(2);
    expect(seen.websocketErrors[0]).toMatchObject({ code: 'disconnected', reason: 'transport close', gateway: gatewayUrl });
    // It was never without a current copy.
    expect(seen.states.map(([state]) => state)).not.toContain('stale');
    expect(seen.states.slice(0, 3)).toEqual([
      ['reconnecting', 'idle'],
      ['live', 'reconnecting'],
      ['reconnecting', 'live'],
    ]);
    expect(seen.states[seen.states.length - 1]).toEqual(['live', 'reconnecting']);
  });

  it('moves on to the next gateway in the list when one cannot be reached', async () => {
    const dead = await startTcpProxy('127.0.0.1', gateway.port);
    await dead.close();
    const deadUrl = `http://127.0.0.1:${dead.port}`;
    const direct = `http://127.0.0.1:${gateway.port}`;
    const { service, seen } = client({ gatewayUrls: [deadUrl, direct] });
    await service.connect();
    await waitFor(() => service.state === 'live', { message: 'live on the second gateway' });
    expect(service.view.gateway).toBe(direct);
    expect(service.data).toEqual(await stored());
    expect(seen.websocketErrors.map((e) => [e.code, e.gateway])).toEqual([['connect_failed', deadUrl]]);
  });

  it('snapshot missing: the HTTP read makes the api rebuild it', async () => {
    const { service, seen } = client();
    await service.connect();
    gatewayProxy.cut();
    await waitFor(() => service.state === 'reconnecting' && service.view.source === 'cache', { message: 'reading over HTTP' });
    const before = service.view.version;
    const rebuilds = api.rebuildRequests();

    await redis.del(keys.snapshot);
    await waitFor(() => seen.sources.includes('rebuilt'), { message: 'a rebuilt answer' });
    expect(api.rebuildRequests()).toBe(rebuilds + 1);
    await waitFor(async () => service.view.version === JSON.parse((await redis.get(keys.snapshot))!).meta.version, { message: 'the rebuilt version' });
    expect(service.view.version).toBeGreaterThan(before);
    expect(service.data).toEqual(await stored());
    expect(service.state).toBe('reconnecting');
    expect(service.view.stale).toBe(false);
  });

  it('api and gateway unreachable: keeps the last copy, marked stale with error flags; recovers when they are back', async () => {
    const { service, seen } = client();
    await service.connect();
    const held = service.data;
    expect(held).not.toBeNull();

    gatewayProxy.cut();
    apiProxy.cut();
    await waitFor(() => service.state === 'stale', { message: 'stale' });
    expect(service.data).toBe(held);
    expect(service.view).toMatchObject({ stale: true, snapshot: held, gateway: null });
    expect(service.view.errors.http).toMatchObject({ name: 'SnapshotReadError', code: 'network_error', status: 0 });
    expect(service.view.errors.websocket?.name).toBe('RealtimeError');

    // A client that has never seen a snapshot: connect() still settles, with the errors, not a hang.
    const { service: fresh } = client();
    const empty = await fresh.connect();
    expect(empty).toMatchObject({ state: 'stale', snapshot: null, stale: true, version: 0 });
    expect(empty.errors.http?.code).toBe('network_error');
    await expect(fresh.fetchAllData()).rejects.toMatchObject({ code: 'network_error' });

    apiProxy.restore();
    const version = await newVersion();
    await reach(service, version, 'reconnecting');
    expect(service.view).toMatchObject({ stale: false, source: 'cache' });
    expect(service.view.errors.http).toBeUndefined();
    gatewayProxy.restore();
    await waitFor(() => service.state === 'live', { message: 'live again' });
    expect(service.data).toEqual(await stored());
    expect(seen.states.map(([state]) => state)).toEqual(['reconnecting', 'live', 'reconnecting', 'stale', 'reconnecting', 'live']);
  });

  it('partial data: sections the collector could not build are flagged, the others are served', async () => {
    const { service } = client();
    await service.connect();
    // A collector whose section builds cannot finish in time: each keeps its previous value and is named in meta.errors.
    const hurried = await startCollectorService(
      loadCollectorConfig({ REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, LOG_LEVEL: 'silent', DATABASE_URL: db.url, SNAPSHOT_TTL_S: '3600', SECTION_TIMEOUT_MS: '1' }),
    );
    cleanups.push(() => hurried.stop());
    const { version, build } = await hurried.collector.refresh([]);
    expect(build.failed.size).toBeGreaterThan(0);
    await reach(service, version, 'live');

    expect(Object.keys(service.view.sectionErrors).sort()).toEqual([...build.failed.keys()].sort());
    expect(service.view).toMatchObject({ stale: true, state: 'live' });
    expect(service.data).toEqual(await stored());

    const healed = await newVersion();
    await reach(service, healed, 'live');
    expect(service.view).toMatchObject({ stale: false, sectionErrors: {} });
  });

  it('io server disconnect (the token expired): reconnects at once to the same gateway with a fresh token', async () => {
    const direct = `http://127.0.0.1:${gateway.port}`;
    const tokens: string[] = [];
    // The first token expires in a second or two; the gateway then ends the connection itself.
    const token = async () => {
      const fresh = await signToken({ sub: 'admin-expiring', role: 'admin' }, { expiresIn: tokens.length === 0 ? Math.floor(Date.now() / 1000) + 2 : '1h' });
      tokens.push(fresh);
      return fresh;
    };
    const { service, seen } = client({ token, gatewayUrls: [gatewayUrl, direct] });
    await service.connect();
    expect(service.view.gateway).toBe(gatewayUrl);

    await waitFor(() => service.stats.connections === 2 && service.state === 'live', { timeoutMs: 6000, message: 'a second connection, live' });
    expect(seen.websocketErrors.map((e) => [e.code, e.reason, e.gateway])).toEqual([['disconnected', 'io server disconnect', gatewayUrl]]);
    // The gateway's socket of this client now carries a token made after the first one expired.
    const sockets = [...gateway.io.of('/').sockets.values()].filter((s) => (s.data as { principal: { sub: string } }).principal.sub === 'admin-expiring');
    expect(sockets).toHaveLength(1);
    const used = (sockets[0]!.handshake.auth as { token: string }).token;
    expect(used).not.toBe(tokens[0]);
    expect(tokens.slice(1)).toContain(used);
    // Not a failed gateway: no move to the next one.
    expect(service.view.gateway).toBe(gatewayUrl);
    const version = await newVersion();
    await reach(service, version, 'live');
    expect(service.data).toEqual(await stored());
  });

  it('typed socket events and subscribe(room): acks from the gateway, rooms joined again after a reconnection', async () => {
    const { service, seen } = client();
    const userId = randomUUID();
    // Before connect() has finished: subscribe waits for the connection.
    void service.connect();
    expect(await Promise.all([service.subscribe('monitoring'), service.subscribe(`user:${userId}`), service.subscribe('nowhere')])).toEqual([
      { ok: true },
      { ok: true },
      { ok: false, error: 'unknown room' },
    ]);

    const jobs: SocketEventData<'job:progress'>[] = [];
    const down: SocketEventData<'worker:down'>[] = [];
    service.on('job:progress', (data, message) => {
      expect(message.type).toBe('job:progress');
      jobs.push(data);
    });
    service.on('worker:down', (data) => down.push(data));
    const broadcast = (rooms: string[], type: string, data: unknown) =>
      redis.publish(keys.broadcastChannel, JSON.stringify({ rooms, message: { type, data, timestamp: new Date().toISOString() } } satisfies BroadcastMessage));

    const progress = { id: randomUUID(), job_id: randomUUID(), queue: 'pipeline', type: 'step', user_id: userId, progress: 40 };
    const offline = { id: randomUUID(), worker_id: randomUUID(), reason: 'heartbeat lapsed' };
    await broadcast([`user:${userId}`], 'job:progress', progress);
    await broadcast(['alerts'], 'worker:down', offline);
    // Not what the contract says (no id): set aside and reported, and nothing else changes.
    await broadcast(['admin'], 'worker:down', { worker_id: randomUUID() });
    await waitFor(() => jobs.length === 1 && down.length === 1 && service.stats.badMessages === 1, { message: 'the three messages' });
    expect(jobs).toEqual([progress]);
    expect(down).toEqual([offline]);
    expect(seen.errors.map((e) => e.message)).toEqual(['set aside a message from the gateway: worker:down without data.id']);

    // After a reconnection the user room is joined again: a message to it alone still arrives.
    gatewayProxy.cut();
    await waitFor(() => service.state !== 'live', { message: 'disconnected' });
    gatewayProxy.restore();
    await waitFor(() => service.state === 'live', { message: 'live again' });
    const again = { ...progress, id: randomUUID(), progress: 80 };
    await waitFor(
      async () => {
        if (!jobs.some((j) => j.id === again.id)) await broadcast([`user:${userId}`], 'job:progress', again);
        return jobs.some((j) => j.id === again.id);
      },
      { intervalMs: 100, message: 'job:progress to the user room after reconnecting' },
    );
  });

  it('close() leaves no socket, timer or request behind, and settles what waits on it', async () => {
    const activeResources = () => {
      const counts = { timers: 0, sockets: 0 };
      for (const kind of process.getActiveResourcesInfo()) {
        if (kind === 'Timeout') counts.timers += 1;
        if (kind === 'TCPSocketWrap') counts.sockets += 1;
      }
      return counts;
    };
    await waitFor(() => gateway.io.engine.clientsCount === 0, { message: 'no clients left from earlier tests' });
    const baseline = activeResources();

    // One client live, one that cannot connect (backoff and poll timers, HTTP reads under way).
    // Their timers are long: one left behind would still be there when we look.
    const slow = { reconnectMinDelayMs: 6000, reconnectMaxDelayMs: 6000, pollIntervalMs: 10_000, connectTimeoutMs: 10_000 };
    const { service: live } = client(slow);
    await live.connect();
    gatewayProxy.cut();
    apiProxy.cut();
    const { service: failing } = client(slow);
    const started = failing.connect();
    const waiting = failing.subscribe('monitoring');
    await waitFor(() => failing.stats.httpReads > 0 && live.stats.httpReads > 0, { message: 'both reading over HTTP' });
    expect(activeResources().timers).toBeGreaterThan(baseline.timers);

    await Promise.all([live.close(), failing.close()]);
    expect(await waiting).toEqual({ ok: false, error: 'closed' });
    await expect(started).resolves.toMatchObject({ snapshot: null });
    expect(live.state).toBe('idle');
    expect(live.data).not.toBeNull();
    await expect(live.connect()).rejects.toMatchObject({ code: 'service_closed' });
    await expect(live.fetchAllData()).rejects.toMatchObject({ code: 'service_closed' });
    await waitFor(() => gateway.io.engine.clientsCount === 0, { message: 'the gateway has no client left' });
    await waitFor(
      () => {
        const now = activeResources();
        if (now.timers > baseline.timers || now.sockets > baseline.sockets) throw new Error(`${JSON.stringify(now)}, was ${JSON.stringify(baseline)}`);
        return true;
      },
      { timeoutMs: 2000, message: 'timers and sockets back to where they were' },
    );
  });
});
