// Hostile input against the api and the gateway as the processes they run as (CONTRACT §4, §6;
// issue 8): each attack gets a 4xx in the contract's error format (or an error ack), costs
// nothing but its own request, and the process that received it is still the same process after.
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { MAX_EVENTS_PER_BATCH, MAX_INGEST_BYTES, redisKeys } from '@agentos/contracts';
import { createTestDatabase, type TestDatabase } from '@agentos/db';
import Redis from 'ioredis';
import { SignJWT, UnsecuredJWT } from 'jose';
import WebSocket from 'ws';
import { securityHeaders } from '../../services/api/src/request-guard';
import { TestClient } from '../../services/realtime-gateway/test/harness';
import { type ServiceProcess, spawnService } from '../support/processes';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../support/redis';
import { signToken, TEST_SECRET } from '../support/tokens';
import { waitFor } from '../support/wait';

const INGEST_TOKEN = 'hostile-input-ingest-token-0123';
const LISTED_ORIGIN = 'https://ops.example.com';
const FOREIGN_ORIGIN = 'https://evil.example.net';

jest.setTimeout(60_000);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any;
}

/** One request exactly as written (no URL normalisation, any header size), on a fresh connection. */
function raw(port: number, options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('hostile input', () => {
  const namespace = uniqueNamespace('hostile');
  const keys = redisKeys(namespace);
  let db: TestDatabase;
  let redis: Redis;
  let api: ServiceProcess;
  let gateway: ServiceProcess;
  let collector: ServiceProcess;
  let admin: string;

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    db = await createTestDatabase('hostile');
    const env = {
      REDIS_URL: TEST_REDIS_URL,
      SSOT_NAMESPACE: namespace,
      AUTH_JWT_SECRET: TEST_SECRET,
      INGEST_TOKENS: INGEST_TOKEN,
      CORS_ORIGINS: LISTED_ORIGIN,
      LOG_LEVEL: 'warn',
    };
    collector = await spawnService('collector', { ...env, DATABASE_URL: db.url, SNAPSHOT_TTL_S: '3600' });
    api = await spawnService('api', env);
    gateway = await spawnService('realtime-gateway', env);
    admin = await signToken({ sub: 'operator', role: 'admin' });
    // A snapshot to read (the first read asks for it).
    await waitFor(async () => (await raw(api.port, { path: '/api/admin/ssot', headers: { authorization: `Bearer ${admin}` } })).status === 200, {
      timeoutMs: 20_000,
      intervalMs: 200,
      message: 'a first snapshot',
    });
  });

  afterAll(async () => {
    await Promise.all([api, gateway, collector].map((service) => service?.stop()));
    await db?.drop();
    await cleanupNamespace(namespace);
    redis?.disconnect();
  });

  /** The same processes as at the start, healthy, and nothing reached the event stream. */
  async function unharmed(): Promise<void> {
    for (const service of [api, gateway]) {
      expect({ service: service.name, alive: service.alive() }).toEqual({ service: service.name, alive: true });
      expect((await service.get('/healthz')).status).toBe(200);
    }
    expect(await redis.xlen(keys.events)).toBe(0);
  }

  const error = (answer: Answer) => answer.json().error as { code: string; message: string; details?: unknown };
  const ingest = (body: string | Buffer, headers: Record<string, string> = {}) =>
    raw(api.port, { method: 'POST', path: '/api/events', headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json', ...headers }, body });
  const jobEvent = (payload: Record<string, unknown> = {}) => ({
    name: 'job:created',
    payload: { job_id: randomUUID(), queue: 'default', type: 'render', ...payload },
  });

  it('answers a malformed percent-escape in every route parameter and the query with 400, with and without a token', async () => {
    const targets = [
      ['GET', '/api/admin/ssot/%E0%A4%A', 'path'],
      ['GET', '/api/admin/ssot/%', 'path'],
      ['GET', '/api/admin/ssot/%ZZlogs', 'path'],
      ['GET', '/api/admin/ssot?section=%E0%A4%A', 'query string'],
      ['POST', '/api/events?x=%FF%', 'query string'],
      ['GET', '/api/%C0%80', 'path'],
      ['GET', '/api/admin/ssot/%00', 'path'],
    ] as const;
    for (const [method, path, where] of targets) {
      for (const authorization of [undefined, `Bearer ${admin}`]) {
        const answer = await raw(api.port, { method, path, headers: authorization ? { authorization } : {} });
        expect({ path, status: answer.status }).toEqual({ path, status: 400 });
        expect(error(answer).code).toBe('invalid_request');
        expect(error(answer).message).toMatch(where === 'path' ? /(percent-escape|control character) in the path/ : /percent-escape in the query string/);
      }
    }
    await unharmed();
  });

  it('answers oversized heads, paths and section names with 431 and 414', async () => {
    const big = await raw(api.port, { path: '/api/admin/ssot', headers: { authorization: `Bearer ${'a'.repeat(20_000)}` } });
    expect(big.status).toBe(431);
    expect(error(big)).toEqual({ code: 'headers_too_large', message: 'request line and headers over 16384 bytes' });
    // Node writes this answer itself, before any route: it carries the security headers too.
    expect(big.headers['x-content-type-options']).toBe('nosniff');

    const long = await raw(api.port, { path: `/api/admin/ssot/${'s'.repeat(10_000)}`, headers: { authorization: `Bearer ${admin}` } });
    expect(long.status).toBe(414);
    expect(error(long)).toEqual({ code: 'uri_too_long', message: 'request target over 4096 characters' });

    const unknown = await raw(api.port, { path: `/api/admin/ssot/${'s'.repeat(3000)}`, headers: { authorization: `Bearer ${admin}` } });
    expect(unknown.status).toBe(404);
    expect(error(unknown).message).toBe(`unknown section '${'s'.repeat(64)}…'`);
    await unharmed();
  });

  it('refuses bodies that are not JSON, too deep, poisoned, too large, or dated in the future, naming where', async () => {
    const cases: [string, string | Buffer, number, RegExp | string][] = [
      ['bad JSON', '{not json', 400, 'request body is not valid JSON'],
      ['NUL bytes', Buffer.from([0, 0, 0]), 400, 'request body is not valid JSON'],
      ['100,000 nested brackets', '['.repeat(100_000) + ']'.repeat(100_000), 400, /^(\[0\]){32}: nested deeper than 32 levels$/],
      ['__proto__ at the top', `{"__proto__":{"admin":true},${JSON.stringify(jobEvent()).slice(1)}`, 400, "__proto__: reserved key '__proto__' is not allowed"],
      [
        '__proto__ deep in a payload',
        `{"events":[${JSON.stringify(jobEvent())},{"name":"job:created","payload":{"job_id":"${randomUUID()}","queue":"q","type":"t","meta":{"a":[{"__proto__":{"polluted":1}}]}}}]}`,
        400,
        "events[1].payload.meta.a[0].__proto__: reserved key '__proto__' is not allowed",
      ],
      ['escaped __proto__', `{"name":"job:created","payload":{"\\u005f_proto__":{}}}`, 400, "payload.__proto__: reserved key '__proto__' is not allowed"],
      ['constructor.prototype', `{"name":"job:created","payload":{"constructor":{"prototype":{"x":1}}}}`, 400, "payload.constructor: reserved key 'constructor' is not allowed"],
      ['a number past float range', `{"name":"queue:threshold_warning","payload":{"queue":"q","pending":1e999,"threshold":1}}`, 400, 'payload.pending: number out of range (not finite)'],
      ['2 MiB', JSON.stringify({ events: [jobEvent({ type: 'x'.repeat(2 * MAX_INGEST_BYTES) })] }), 413, 'request body over 1048576 bytes (1 MiB)'],
      ['501 events', JSON.stringify({ events: Array.from({ length: MAX_EVENTS_PER_BATCH + 1 }, () => jobEvent()) }), 413, 'at most 500 events per batch'],
    ];
    for (const [what, body, status, message] of cases) {
      const answer = await ingest(body);
      expect({ what, status: answer.status }).toEqual({ what, status });
      if (typeof message === 'string') expect({ what, message: error(answer).message }).toEqual({ what, message });
      else expect(error(answer).message).toMatch(message);
    }

    const future = await ingest(JSON.stringify({ ...jobEvent(), occurred_at: '2099-01-01T00:00:00Z' }));
    expect(future.status).toBe(400);
    expect(error(future).details).toEqual([{ index: 0, field: 'occurred_at', message: expect.stringMatching(/^more than 5 minutes ahead of the server's clock/) }]);

    const form = await ingest('name=job:created', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(error(form).code).toBe('unsupported_media_type');
    await unharmed();
  });

  it('refuses `alg: none`, a future nbf and a forged token with 401 `unauthorized` and nothing more', async () => {
    const none = new UnsecuredJWT({ role: 'admin' }).setSubject('operator').setExpirationTime('1h').encode();
    const notYet = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('operator')
      .setNotBefore(Math.floor(Date.now() / 1000) + 600)
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_SECRET));
    const forged = await signToken({ role: 'admin' }, { secret: 'another-secret-that-is-long-enough-0123456789' });
    for (const token of [none, notYet, forged, 'not.a.jwt', '']) {
      const answer = await raw(api.port, { path: '/api/admin/ssot', headers: { authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(401);
      expect(answer.json()).toEqual({ error: { code: 'unauthorized', message: 'unauthorized' } });
    }
    await unharmed();
  });

  it('puts the default security headers on every api answer, and CORS only for the listed origin', async () => {
    const expected = securityHeaders();
    const answers: [string, Answer][] = [
      ['snapshot 200', await raw(api.port, { path: '/api/admin/ssot', headers: { authorization: `Bearer ${admin}` } })],
      ['section 200', await raw(api.port, { path: '/api/admin/ssot/logs', headers: { authorization: `Bearer ${admin}` } })],
      ['401', await raw(api.port, { path: '/api/admin/ssot' })],
      ['404', await raw(api.port, { path: '/nowhere' })],
      ['400', await raw(api.port, { path: '/%' })],
      ['202', await ingest(JSON.stringify(jobEvent()))],
      ['healthz', await raw(api.port, { path: '/healthz' })],
      ['metrics', await raw(api.port, { path: '/metrics' })],
    ];
    const etag = answers[0]![1].headers.etag as string;
    answers.push(['304', await raw(api.port, { path: '/api/admin/ssot', headers: { authorization: `Bearer ${admin}`, 'if-none-match': etag } })]);
    expect(answers.map(([what, a]) => [what, a.status])).toEqual([
      ['snapshot 200', 200],
      ['section 200', 200],
      ['401', 401],
      ['404', 404],
      ['400', 400],
      ['202', 202],
      ['healthz', 200],
      ['metrics', 200],
      ['304', 304],
    ]);
    expect(Object.keys(expected)).toEqual(expect.arrayContaining(['content-security-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options']));
    for (const [what, answer] of answers) {
      for (const [name, value] of Object.entries(expected)) expect({ what, name, value: answer.headers[name] }).toEqual({ what, name, value });
      expect({ what, requestId: typeof answer.headers['x-request-id'] }).toEqual({ what, requestId: 'string' });
    }
    // The one event above reached the stream; drop it so the other tests' "nothing reached it" holds.
    await redis.del(keys.events);

    const withOrigin = (origin: string, method = 'GET') =>
      raw(api.port, {
        method,
        path: '/api/admin/ssot',
        headers: method === 'OPTIONS' ? { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } : { origin, authorization: `Bearer ${admin}` },
      });
    const listed = await withOrigin(LISTED_ORIGIN);
    expect(listed.headers['access-control-allow-origin']).toBe(LISTED_ORIGIN);
    expect(listed.headers['access-control-expose-headers']).toContain('X-SSOT-Version');
    const foreign = await withOrigin(FOREIGN_ORIGIN);
    expect(foreign.status).toBe(200);
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await withOrigin(LISTED_ORIGIN, 'OPTIONS');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(LISTED_ORIGIN);
    expect(String(preflight.headers['access-control-allow-headers'])).toMatch(/Authorization/);
    expect((await withOrigin(FOREIGN_ORIGIN, 'OPTIONS')).headers['access-control-allow-origin']).toBeUndefined();

    // The gateway: a browser page of a foreign origin neither gets a CORS grant for long-polling
    // nor connects over WebSocket; the listed origin does both.
    const poll = (origin: string) => raw(gateway.port, { path: '/socket.io/?EIO=4&transport=polling', headers: { origin } });
    const polled = await poll(LISTED_ORIGIN);
    expect(polled.status).toBe(200);
    expect(polled.headers['access-control-allow-origin']).toBe(LISTED_ORIGIN);
    const refused = await poll(FOREIGN_ORIGIN);
    expect(refused.status).toBe(403);
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    const upgrade = (origin: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/socket.io/?EIO=4&transport=websocket`, { origin });
        ws.once('open', () => {
          ws.close();
          resolve('open');
        });
        ws.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`));
        ws.once('error', () => resolve('error'));
      });
    expect(await upgrade(LISTED_ORIGIN)).toBe('open');
    // engine.io answers every refused upgrade with 400 (its abortUpgrade), polling with 403.
    expect(await upgrade(FOREIGN_ORIGIN)).toBe('refused 400');
    await unharmed();
  });

  it('answers bad socket messages with an error ack, survives an oversized one, and still admits the next admin', async () => {
    const client = await TestClient.connect(gateway.port, admin);
    try {
      await waitFor(() => client.of('initial_data').length === 1, { message: 'initial_data' });
      expect(await client.emitWithAck('subscribe', null)).toEqual({ ok: false, error: 'invalid payload' });
      expect(await client.emitWithAck('subscribe', { room: { $ne: null } })).toEqual({ ok: false, error: 'invalid payload' });
      expect(await client.emitWithAck('subscribe', { room: 'x'.repeat(10_000) })).toEqual({ ok: false, error: 'invalid payload' });
      expect(await client.emitWithAck('subscribe')).toEqual({ ok: false, error: 'invalid payload' });
      expect(await client.emitWithAck('resync', 'please')).toEqual({ ok: false, error: 'invalid payload' });
      for (const name of ['hello', '__proto__', 'constructor', 'ssot:update', 'x'.repeat(1000)]) {
        expect(await client.emitWithAck(name, { any: 'thing' })).toEqual({ ok: false, error: 'unknown message' });
      }
      // Still served after all of it.
      expect(await client.emitWithAck('resync')).toEqual({ ok: true, version: expect.any(Number) });
      expect(client.socket.connected).toBe(true);

      // 200 KB is over what a client may send in one packet: the engine closes that connection.
      const closed = new Promise<string>((resolve) => client.socket.once('disconnect', resolve));
      client.socket.emit('resync', { padding: 'x'.repeat(200_000) });
      expect(await closed).toMatch(/^transport (close|error)$/);
    } finally {
      client.close();
    }

    // Raw garbage on the wire: the connection may go, the gateway stays.
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/socket.io/?EIO=4&transport=websocket`);
    await new Promise((resolve) => ws.once('open', resolve));
    for (const frame of ['42["disconnect"]', '4{', '2probe', '\u0000\u0001', '40{"token":', '42[{"a":1}]', '9'.repeat(70_000)]) ws.send(frame);
    await new Promise((resolve) => {
      ws.once('close', resolve);
      ws.close();
    });

    const next = await TestClient.connect(gateway.port, admin);
    try {
      await waitFor(() => next.of('initial_data').length === 1, { message: 'initial_data for the next admin' });
    } finally {
      next.close();
    }
    await unharmed();
  });
});
