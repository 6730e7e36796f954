import { randomBytes, randomUUID } from 'node:crypto';
import { redisKeys } from '@agentos/contracts';
import { createPrismaClient, createTestDatabase, seedReferenceDataset, type PrismaClient, type TestDatabase } from '@agentos/db';
import { applyPatch, type Operation } from 'fast-json-patch';
import Redis from 'ioredis';
import { io as connectSocket } from 'socket.io-client';
import { loadCollectorConfig } from '../../collector/src/config';
import { startCollectorService, type CollectorService } from '../../collector/src/service';
import type { GatewayService } from '../src/service';
import { fakeSnapshot, httpGet, metric, rawClient, runGatewayToExit, spawnGateway, startGateways, TestClient, writeSnapshot } from './harness';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { startTcpProxy } from '../../../test/support/tcp-proxy';
import { signToken } from '../../../test/support/tokens';
import { waitFor } from '../../../test/support/wait';

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('realtime-gateway', () => {
  let redis: Redis;
  const namespaces: string[] = [];
  /** Run after each test, last registered first: clients close before their gateways stop. */
  const cleanups: (() => unknown)[] = [];

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await Promise.all(namespaces.map((ns) => cleanupNamespace(ns)));
    redis.disconnect();
  });

  function namespace() {
    const ns = uniqueNamespace('gateway');
    namespaces.push(ns);
    return { ns, keys: redisKeys(ns) };
  }

  async function gateways(count: number, ns: string, env: Record<string, string> = {}): Promise<GatewayService[]> {
    const started = await startGateways(count, ns, env);
    cleanups.push(() => started.cleanup());
    return started.gateways;
  }

  async function client(port: number, token: string): Promise<TestClient> {
    const connected = await TestClient.connect(port, token);
    cleanups.push(() => connected.close());
    return connected;
  }

  async function raw(port: number, token: string) {
    const connected = await rawClient(port, token);
    cleanups.push(() => connected.close());
    return connected;
  }

  it('three gateways: an admin message reaches every admin on every node exactly once, a user message only that user; subscribe honours the token', async () => {
    const { ns, keys } = namespace();
    const [g0, g1, g2] = (await gateways(3, ns)) as [GatewayService, GatewayService, GatewayService];
    const adminToken = (i: number) => signToken({ sub: `admin-${i}`, role: 'admin' });
    const admins = [
      await client(g0.port, await adminToken(0)),
      await client(g0.port, await adminToken(1)),
      await client(g1.port, await adminToken(2)),
      await client(g1.port, await adminToken(3)),
      await client(g2.port, await adminToken(4)),
      await client(g2.port, await adminToken(5)),
    ];
    const userA = await signToken({ sub: 'a', role: 'user' });
    const a0 = await client(g0.port, userA);
    const a2 = await client(g2.port, userA);
    const b1 = await client(g1.port, await signToken({ sub: 'b', role: 'user' }));
    const everyone = [...admins, a0, a2, b1];

    const publish = (rooms: string[], type: string, data: Record<string, unknown>) =>
      redis.publish(keys.broadcastChannel, JSON.stringify({ rooms, message: { type, data, timestamp: new Date().toISOString() } }));
    const count = (c: TestClient, id: string) => c.received.filter((r) => r.message?.data?.id === id).length;
    /**
     * Everything published before has reached every client it ever will once a later marker has
     * reached them all (one channel, delivered in order); a second marker leaves room for any copy
     * that took a detour through another gateway.
     */
    const settle = async () => {
      for (let i = 0; i < 2; i += 1) {
        const id = randomUUID();
        await publish(['admin', 'user:a', 'user:b'], 'system:status', { id });
        await waitFor(() => everyone.every((c) => count(c, id) === 1), { message: 'the marker on every client' });
      }
    };

    const jobNew = randomUUID();
    await publish(['admin'], 'job:new', { id: jobNew, job_id: randomUUID(), queue: 'pipeline', type: 'agent.step' });
    await settle();
    for (const admin of admins) expect(count(admin, jobNew)).toBe(1);
    for (const user of [a0, a2, b1]) expect(count(user, jobNew)).toBe(0);
    // The socket.io event is named by the message type; its argument is the whole envelope.
    expect(admins[4]!.of('job:new')).toEqual([
      { type: 'job:new', data: expect.objectContaining({ id: jobNew, queue: 'pipeline' }), timestamp: expect.any(String) },
    ]);

    const progressA = randomUUID();
    await publish(['user:a'], 'job:progress', { id: progressA, progress: 40 });
    await settle();
    expect([count(a0, progressA), count(a2, progressA), count(b1, progressA)]).toEqual([1, 1, 0]);
    for (const admin of admins) expect(count(admin, progressA)).toBe(0);

    // Subscribe: a user only to their own room; an admin to any room of the contract.
    expect(await b1.emitWithAck('subscribe', { room: 'user:a' })).toEqual({ ok: false, error: 'forbidden' });
    expect(await b1.emitWithAck('subscribe', { room: 'admin' })).toEqual({ ok: false, error: 'forbidden' });
    expect(await b1.emitWithAck('subscribe', { room: 'everything' })).toEqual({ ok: false, error: 'unknown room' });
    expect(await b1.emitWithAck('subscribe', 'user:a')).toEqual({ ok: false, error: 'invalid payload' });
    expect(await a0.emitWithAck('subscribe', { room: 'user:a' })).toEqual({ ok: true });
    expect(await admins[2]!.emitWithAck('subscribe', { room: 'user:a' })).toEqual({ ok: true });

    // In two of the rooms: still once.
    const done = randomUUID();
    await publish(['admin', 'user:a'], 'job:done', { id: done });
    const progressAgain = randomUUID();
    await publish(['user:a'], 'job:progress', { id: progressAgain });
    await settle();
    for (const admin of admins) expect(count(admin, done)).toBe(1);
    expect([count(a0, done), count(a2, done), count(b1, done)]).toEqual([1, 1, 0]);
    // Only the admin that subscribed, and never b, whose subscribe was refused.
    expect(admins.map((admin) => count(admin, progressAgain))).toEqual([0, 0, 1, 0, 0, 0]);
    expect([count(a0, progressAgain), count(a2, progressAgain), count(b1, progressAgain)]).toEqual([1, 1, 0]);

    // Malformed broadcasts are counted and dropped; the gateways carry on.
    await redis.publish(keys.broadcastChannel, 'not json');
    await publish([], 'job:new', { id: randomUUID() });
    await publish(['admin'], 'disconnect', { id: randomUUID() });
    await settle();
    for (const gateway of [g0, g1, g2]) expect(await metric(gateway, 'ssot_gateway_broadcasts_malformed_total')).toBe(3);
    expect(admins.every((admin) => admin.socket.connected)).toBe(true);

    expect(await metric(g0, 'ssot_gateway_connections', { role: 'admin' })).toBe(2);
    expect(await metric(g0, 'ssot_gateway_connections', { role: 'user' })).toBe(1);
    const refused = (result: string) => metric(g1, 'ssot_gateway_client_messages_total', { message: 'subscribe', result });
    expect([await refused('forbidden'), await refused('unknown room'), await refused('invalid payload')]).toEqual([2, 1, 1]);

    // One gateway crashes: its clients lose the connection, the others do not notice.
    const lost = new Promise<string>((resolve) => a2.socket.once('disconnect', resolve));
    g2.kill();
    expect(await lost).toBe('transport close');
    const afterCrash = randomUUID();
    await publish(['user:a'], 'job:progress', { id: afterCrash });
    await waitFor(() => count(a0, afterCrash) === 1 && count(admins[2]!, afterCrash) === 1, { message: 'delivery after the crash' });
  });

  it('refuses a missing, expired, badly signed, wrong-issuer, alg none or role-less token with connect_error "unauthorized"', async () => {
    const { ns } = namespace();
    const issuer = 'agentos-test';
    const [gateway] = (await gateways(1, ns, { AUTH_ISSUER: issuer })) as [GatewayService];
    const now = Math.floor(Date.now() / 1000);
    const tokens: Record<string, string | undefined> = {
      missing: undefined,
      empty: '',
      expired: await signToken({ role: 'admin' }, { issuer, expiresIn: now - 60 }),
      'badly signed': await signToken({ role: 'admin' }, { issuer, secret: 'another-secret-that-is-long-enough-0123456789' }),
      'wrong issuer': await signToken({ role: 'admin' }, { issuer: 'someone-else' }),
      'no issuer': await signToken({ role: 'admin' }),
      'alg none': `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'admin-1', role: 'admin', iss: issuer, iat: now, exp: now + 3600 })}.`,
      'unknown role': await signToken({ role: 'root' }, { issuer }),
      'not a token': 'not-a-jwt',
    };
    for (const [name, token] of Object.entries(tokens)) {
      const outcome = await TestClient.connect(gateway.port, token).then(
        (c) => {
          c.close();
          return 'connected';
        },
        (error: Error) => error.message,
      );
      expect({ name, outcome }).toEqual({ name, outcome: 'unauthorized' });
    }
    expect(await metric(gateway, 'ssot_gateway_auth_failures_total')).toBe(Object.keys(tokens).length);

    // The same gateway accepts a good token.
    const good = await client(gateway.port, await signToken({ sub: 'u1', role: 'user' }, { issuer }));
    expect(good.socket.connected).toBe(true);
  });

  it('disconnects a socket when its token expires, not before, and leaves the others connected', async () => {
    const { ns, keys } = namespace();
    // No clock tolerance, so the token's `exp` is the instant (with the default 30 s, it is exp + 30 s).
    const [gateway] = (await gateways(1, ns, { AUTH_CLOCK_TOLERANCE_S: '0' })) as [GatewayService];
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    const shortLived = await client(gateway.port, await signToken({ sub: 'u1', role: 'user' }, { expiresIn: expiresAt }));
    const longLived = await client(gateway.port, await signToken({ sub: 'u2', role: 'user' }));
    const disconnected = await new Promise<{ reason: string; at: number }>((resolve) =>
      shortLived.socket.once('disconnect', (reason) => resolve({ reason, at: Date.now() })),
    );
    expect(disconnected.reason).toBe('io server disconnect');
    // A lower bound only, which a loaded machine cannot break (it can only make the disconnect
    // later); the 50 ms allow for a timer firing a millisecond early and clock rounding.
    expect(disconnected.at).toBeGreaterThanOrEqual(expiresAt * 1000 - 50);
    // The other socket is still served after that instant.
    const id = randomUUID();
    const delivered = longLived.next('job:progress', (m) => m.data.id === id);
    await redis.publish(keys.broadcastChannel, JSON.stringify({ rooms: ['user:u2'], message: { type: 'job:progress', data: { id }, timestamp: new Date().toISOString() } }));
    await delivered;
    expect(longLived.socket.connected).toBe(true);
  });

  describe('with the collector', () => {
    let db: TestDatabase;
    let prisma: PrismaClient;
    let collector: CollectorService;
    let ns: string;
    let keys: ReturnType<typeof redisKeys>;

    beforeAll(async () => {
      ({ ns, keys } = namespace());
      db = await createTestDatabase('gateway');
      await seedReferenceDataset(db.url, { jobs: 50, workers: 3, logs: 20 });
      prisma = createPrismaClient(db.url);
      collector = await startCollectorService(
        loadCollectorConfig({ REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: ns, DATABASE_URL: db.url, LOG_LEVEL: 'silent' }),
      );
    });
    afterAll(async () => {
      await collector.stop();
      await prisma.$disconnect();
      await db.drop();
    });

    async function stored(): Promise<unknown> {
      return JSON.parse((await redis.get(keys.snapshot))!);
    }

    it('admins get initial_data equal to the stored snapshot, then every refresh as a patch that reproduces it, on every gateway', async () => {
      const first = await collector.collector.refresh([]);
      const pair = (await gateways(2, ns)) as [GatewayService, GatewayService];
      const admins = [
        await client(pair[0].port, await signToken({ sub: 'admin-0', role: 'admin' })),
        await client(pair[1].port, await signToken({ sub: 'admin-1', role: 'admin' })),
        await client(pair[0].port, await signToken({ sub: 'admin-2', role: 'admin' })),
      ];
      const user = await client(pair[1].port, await signToken({ sub: 'u1', role: 'user' }));

      const copies: unknown[] = [];
      for (const admin of admins) {
        const initial = await waitFor(() => admin.of('initial_data')[0], { message: 'initial_data' });
        expect(initial).toEqual({ type: 'initial_data', data: await stored(), timestamp: expect.any(String) });
        expect((initial.data as { meta: { version: number } }).meta.version).toBe(first.version);
        copies.push(initial.data);
      }

      let previous = first.version;
      for (let round = 0; round < 3; round += 1) {
        // Change what the sections show: a new job and a log line.
        const job = await prisma.job.create({ data: { queue: 'pipeline', type: `round-${round}` } });
        await prisma.logEntry.create({ data: { level: 'warn', source: 'gateway-test', message: `round ${round}`, jobId: job.id } });
        const next = admins.map((admin) => admin.next('ssot:update'));
        const { version } = await collector.collector.refresh([]);
        const now = await stored();
        for (const [i, pending] of next.entries()) {
          const update = await pending;
          expect(update.type).toBe('ssot:update');
          expect(update.data).toMatchObject({ version, base_version: previous });
          expect((update.data.patch as Operation[]).length).toBeGreaterThan(0);
          copies[i] = applyPatch(copies[i], update.data.patch as Operation[], true, false).newDocument;
          expect(copies[i]).toEqual(now);
        }
        previous = version;
      }

      // resync: the whole snapshot again, the ack naming its version.
      const again = admins[1]!.next('initial_data');
      expect(await admins[1]!.emitWithAck('resync')).toEqual({ ok: true, version: previous });
      expect((await again).data).toEqual(await stored());

      // A user gets none of it, and may not ask.
      expect(await user.emitWithAck('resync')).toEqual({ ok: false, error: 'forbidden' });
      expect(user.of('initial_data').length + user.of('ssot:update').length).toBe(0);
      // Written to each of its two admins; computed once per version by the collector and sent on
      // as it came: the gateways never diffed.
      expect(await metric(pair[0], 'ssot_gateway_messages_emitted_total', { type: 'ssot:update' })).toBe(6);
      for (const gateway of pair) {
        expect(await metric(gateway, 'ssot_gateway_collector_patches_total', { result: 'applied' })).toBe(3);
        const diffs = await gateway.registry.getSingleMetric('ssot_gateway_patch_duration_seconds')!.get();
        expect(diffs.values.find((v) => v.metricName === 'ssot_gateway_patch_duration_seconds_count')?.value ?? 0).toBe(0);
      }
    });
  });

  it('a gateway process whose Redis goes away stays up, and sends its admins the snapshot again when Redis is back', async () => {
    const { ns, keys } = namespace();
    await writeSnapshot(redis, keys, fakeSnapshot(1));
    const redisUrl = new URL(TEST_REDIS_URL);
    const proxy = await startTcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
    cleanups.push(() => proxy.close());
    // Its own process: an unhandled 'error' or rejection would end it, not hide in jest.
    const gateway = await spawnGateway({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, SSOT_NAMESPACE: ns });
    cleanups.push(() => gateway.stop());
    const admin = await client(gateway.port, await signToken({ sub: 'admin-1', role: 'admin' }));
    await waitFor(() => admin.of('initial_data').length === 1, { message: 'initial_data' });
    expect((await httpGet(gateway.port, '/readyz')).status).toBe(200);

    proxy.cut();
    await waitFor(async () => (await httpGet(gateway.port, '/readyz')).status === 503, { message: '/readyz 503' });
    expect(await httpGet(gateway.port, '/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    // A version this gateway cannot hear about.
    await writeSnapshot(redis, keys, fakeSnapshot(2));
    // An admin connecting meanwhile still gets the snapshot the gateway holds.
    const late = await client(gateway.port, await signToken({ sub: 'admin-2', role: 'admin' }));
    // (Recorded, not awaited with next(): it may arrive with the connection itself.)
    const held = await waitFor(() => late.of('initial_data')[0], { timeoutMs: 5000, message: 'initial_data while Redis is away' });
    expect(held.data.meta.version).toBe(1);
    expect(admin.socket.connected).toBe(true);

    const resent = admin.next('initial_data', (m) => m.data.meta.version === 2, 10_000);
    proxy.restore();
    expect((await resent).data).toEqual(JSON.parse((await redis.get(keys.snapshot))!));
    await waitFor(() => late.of('initial_data').some((m) => m.data.meta.version === 2), { message: 'the late admin resynced too' });
    expect(gateway.child.exitCode).toBeNull();

    // Subscriptions are back: announcements and broadcasts flow again.
    const update = admin.next('ssot:update', (m) => m.data.version === 3);
    await writeSnapshot(redis, keys, fakeSnapshot(3));
    expect((await update).data).toMatchObject({ version: 3, base_version: 2 });
    const id = randomUUID();
    const relayed = admin.next('job:new', (m) => m.data.id === id);
    await redis.publish(keys.broadcastChannel, JSON.stringify({ rooms: ['admin'], message: { type: 'job:new', data: { id }, timestamp: new Date().toISOString() } }));
    await relayed;
    await waitFor(async () => (await httpGet(gateway.port, '/readyz')).status === 200, { message: '/readyz 200 again' });
    const metrics = (await httpGet(gateway.port, '/metrics')).body;
    expect(metrics).toContain('ssot_gateway_redis_recoveries_total 1');
    expect(metrics).toContain('ssot_gateway_connections{role="admin"} 2');

    // SIGTERM: a clean exit.
    admin.close();
    late.close();
    expect(await gateway.stop()).toBe(0);
  });

  it('exits 1 with one message naming every bad variable', async () => {
    const { code, stderr } = await runGatewayToExit({ REDIS_URL: 'http://nope', SOCKET_MAX_PACKETS: '-1', LOG_LEVEL: 'loud' });
    expect(code).toBe(1);
    expect(stderr).toContain('realtime-gateway: invalid environment (4 problems)');
    for (const name of ['REDIS_URL', 'SOCKET_MAX_PACKETS', 'LOG_LEVEL', 'AUTH_JWT_SECRET']) expect(stderr).toContain(`  ${name}: `);
    expect(stderr.trim().split('\n')).toHaveLength(5);
  });

  it('sends every admin the snapshot again when Redis lost its data and versions start over', async () => {
    const { ns, keys } = namespace();
    await writeSnapshot(redis, keys, fakeSnapshot(41));
    const [gateway] = (await gateways(1, ns)) as [GatewayService];
    const admin = await client(gateway.port, await signToken({ sub: 'admin-1', role: 'admin' }));
    await waitFor(() => admin.of('initial_data').length === 1, { message: 'initial_data' });
    const restarted = admin.next('initial_data', (m) => m.data.meta.version === 1);
    await writeSnapshot(redis, keys, fakeSnapshot(1));
    await restarted;
    // And patches continue from the new start.
    const update = admin.next('ssot:update');
    await writeSnapshot(redis, keys, fakeSnapshot(2));
    expect((await update).data).toMatchObject({ version: 2, base_version: 1 });
    expect(admin.of('ssot:update')).toHaveLength(1);
  });

  it('serves the last good copy, marked stale, when the snapshot lapsed; a version nobody announced arrives within VERSION_CHECK_MS', async () => {
    const { ns, keys } = namespace();
    await writeSnapshot(redis, keys, fakeSnapshot(7));
    await redis.del(keys.snapshot);
    const [gateway] = (await gateways(1, ns, { VERSION_CHECK_MS: '200' })) as [GatewayService];
    const admin = await client(gateway.port, await signToken({ sub: 'admin-1', role: 'admin' }));
    const initial = await waitFor(() => admin.of('initial_data')[0], { message: 'initial_data' });
    const lastGood = JSON.parse((await redis.get(keys.lastGood))!);
    expect(initial.data).toEqual({ ...lastGood, meta: { ...lastGood.meta, stale: true } });

    // Written, never announced (as when the announcement is lost while the subscriber reconnects).
    const update = admin.next('ssot:update', () => true, 3000);
    await redis.set(keys.snapshot, JSON.stringify(fakeSnapshot(8)));
    const { data } = await update;
    expect(data).toMatchObject({ version: 8, base_version: 7 });
    expect(applyPatch(initial.data, data.patch as Operation[], true, false).newDocument).toEqual(JSON.parse((await redis.get(keys.snapshot))!));
  });

  it('long-polling works as the fallback transport', async () => {
    const { ns, keys } = namespace();
    const [gateway] = (await gateways(1, ns)) as [GatewayService];
    const token = await signToken({ sub: 'p1', role: 'user' });
    const socket = connectSocket(`http://127.0.0.1:${gateway.port}`, { auth: { token }, transports: ['polling'], reconnection: false, forceNew: true });
    cleanups.push(() => socket.close());
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    expect(socket.io.engine.transport.name).toBe('polling');
    const id = randomUUID();
    const received = new Promise((resolve) => socket.on('job:progress', resolve));
    await redis.publish(keys.broadcastChannel, JSON.stringify({ rooms: ['user:p1'], message: { type: 'job:progress', data: { id }, timestamp: new Date().toISOString() } }));
    expect(await received).toMatchObject({ type: 'job:progress', data: { id } });
  });

  it('coalesces the snapshot updates of an admin that stops reading: its buffer stays bounded, and it gets the latest snapshot when it reads again', async () => {
    const { ns, keys } = namespace();
    const coalesceAt = 16;
    const [gateway] = (await gateways(1, ns, { SOCKET_COALESCE_PACKETS: String(coalesceAt), SOCKET_MAX_PACKETS: '1000' })) as [GatewayService];
    await writeSnapshot(redis, keys, fakeSnapshot(1));
    const adminToken = await signToken({ sub: 'admin-1', role: 'admin' });
    const healthy = await client(gateway.port, adminToken);
    const stuck = await raw(gateway.port, adminToken);
    await waitFor(() => healthy.of('initial_data').length === 1 && stuck.events().some(([name]) => name === 'initial_data'), { message: 'initial_data' });

    const serverSide = gateway.io.of('/').sockets.get(stuck.sid)!;
    let largest = 0;
    serverSide.conn.on('packetCreate', () => {
      largest = Math.max(largest, (serverSide.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length + 1);
    });
    stuck.ws.pause();

    // 2,000 versions of 16 KiB each (32 MiB, far more than the kernel buffers hold), every one
    // delivered to the healthy admin before the next is written.
    const updates = 2000;
    for (let version = 2; version <= updates + 1; version += 1) {
      const delivered = healthy.next('ssot:update', (m) => m.data.version === version);
      await writeSnapshot(redis, keys, fakeSnapshot(version, { blob: randomBytes(12 * 1024).toString('base64') }));
      await delivered;
    }
    const final = updates + 1;

    expect(healthy.of('ssot:update')).toHaveLength(updates);
    expect(largest).toBeLessThanOrEqual(coalesceAt + 1);
    expect(await metric(gateway, 'ssot_gateway_updates_coalesced_total')).toBeGreaterThan(0);
    expect(await metric(gateway, 'ssot_gateway_slow_consumer_disconnects_total')).toBe(0);
    expect(serverSide.connected).toBe(true);

    // Reading again: what was buffered, then one initial_data of the latest version.
    stuck.ws.resume();
    await waitFor(() => stuck.events().some(([name, m]) => name === 'initial_data' && m.data.meta.version === final), {
      timeoutMs: 15_000,
      message: 'initial_data of the latest version',
    });
    const snapshotMessages = stuck.events().filter(([name]) => name === 'initial_data' || name === 'ssot:update');
    const [lastName, last] = snapshotMessages.at(-1)!;
    expect(lastName).toBe('initial_data');
    expect(last.data).toEqual(JSON.parse((await redis.get(keys.snapshot))!));
  }, 120_000);

  it.each([
    ['a WebSocket connection', ['websocket']],
    ['a connection upgraded from long-polling', ['polling', 'websocket']],
  ])('writes a burst of messages to %s in a few system calls, not one each, in order', async (_, transports) => {
    const { ns, keys } = namespace();
    const [gateway] = (await gateways(1, ns)) as [GatewayService];
    const socket = connectSocket(`http://127.0.0.1:${gateway.port}`, { auth: { token: await signToken({ sub: 'burst', role: 'user' }) }, transports, reconnection: false, forceNew: true });
    cleanups.push(() => socket.close());
    const received: string[] = [];
    socket.on('job:progress', (message: { data: { id: string } }) => received.push(message.data.id));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    await waitFor(() => socket.io.engine.transport.name === 'websocket', { message: 'the client on WebSocket' });
    const serverSide = gateway.io.of('/').sockets.get(socket.id!)!;
    await waitFor(() => serverSide.conn.transport.name === 'websocket', { message: 'the server on WebSocket' });
    // The gateway's end of the WebSocket: every write the stream hands the kernel passes here.
    const tcp = (serverSide.conn.transport as unknown as { socket: { _socket: Record<'_write' | '_writev', (...args: unknown[]) => unknown> } }).socket._socket;
    let writes = 0;
    for (const method of ['_write', '_writev'] as const) {
      const original = tcp[method];
      tcp[method] = function (this: unknown, ...args: unknown[]) {
        writes += 1;
        return original.apply(this, args);
      };
    }

    const messages = 200;
    const pipeline = redis.pipeline();
    for (let i = 0; i < messages; i += 1) {
      pipeline.publish(keys.broadcastChannel, JSON.stringify({ rooms: ['user:burst'], message: { type: 'job:progress', data: { id: String(i) }, timestamp: new Date().toISOString() } }));
    }
    await pipeline.exec();
    await waitFor(() => received.length >= messages, { message: `${messages} messages delivered` });

    expect(received).toEqual(Array.from({ length: messages }, (_, i) => String(i)));
    // One write per message would be 200. The subscriber reads the burst in a few chunks, and
    // the messages of each chunk leave in one write.
    expect(writes).toBeLessThanOrEqual(10);
  });

  it('disconnects a client that stops reading once its buffered messages reach SOCKET_MAX_PACKETS', async () => {
    const { ns, keys } = namespace();
    const maxPackets = 200;
    const [gateway] = (await gateways(1, ns, { SOCKET_MAX_PACKETS: String(maxPackets) })) as [GatewayService];
    const userToken = await signToken({ sub: 'slow', role: 'user' });
    const healthy = await client(gateway.port, userToken);
    const stuck = await raw(gateway.port, userToken);
    const serverSide = gateway.io.of('/').sockets.get(stuck.sid)!;
    let largest = 0;
    serverSide.conn.on('packetCreate', () => {
      largest = Math.max(largest, (serverSide.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length + 1);
    });
    const disconnected = new Promise<string>((resolve) => serverSide.once('disconnect', resolve));
    stuck.ws.pause();

    // 1,000 messages of 32 KiB to the user's room: far past the kernel buffers.
    const messages = 1000;
    const filler = randomBytes(24 * 1024).toString('base64');
    for (let i = 0; i < messages; i += 50) {
      const pipeline = redis.pipeline();
      for (let j = i; j < i + 50; j += 1) {
        pipeline.publish(keys.broadcastChannel, JSON.stringify({ rooms: ['user:slow'], message: { type: 'job:progress', data: { id: String(j), filler }, timestamp: new Date().toISOString() } }));
      }
      await pipeline.exec();
      // Never more than a few MiB in flight towards the gateway's subscriber.
      await waitFor(() => healthy.of('job:progress').length >= i + 50, { message: `message ${i + 49} delivered` });
    }

    expect(await disconnected).toBe('forced close');
    expect(await metric(gateway, 'ssot_gateway_slow_consumer_disconnects_total')).toBe(1);
    expect(largest).toBeLessThanOrEqual(maxPackets);
    // The client that keeps up lost nothing.
    expect(healthy.of('job:progress').map((m) => m.data.id)).toEqual(Array.from({ length: messages }, (_, i) => String(i)));
    expect(healthy.socket.connected).toBe(true);
    // Reading again, the stuck client finds its connection closed.
    const closed = new Promise((resolve) => stuck.ws.once('close', resolve));
    stuck.ws.resume();
    await closed;
  }, 60_000);
});
