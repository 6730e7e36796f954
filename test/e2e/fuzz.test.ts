// Property-based fuzzing of every surface a stranger can reach (issue 8): `POST /api/events`,
// `GET /api/admin/ssot/:section`, every socket message, and token parsing, against the api, the
// gateway, a collector and a dispatcher running as their own processes. Every generated input is
// invalid by construction and must get a 4xx (or an error ack); no process may exit; nothing may
// reach the event stream or the database.
//
// `npm test` runs FUZZ_RUNS (default 100) cases per surface; `npm run test:fuzz` runs 10,000.
import { EVENT_NAMES, redisKeys, SECTION_NAMES } from '@agentos/contracts';
import { createTestDatabase, type TestDatabase } from '@agentos/db';
import { createTokenVerifier, UnauthorizedError } from '@agentos/runtime';
import fc from 'fast-check';
import Redis from 'ioredis';
import { SignJWT } from 'jose';
import pg from 'pg';
import { io as connect } from 'socket.io-client';
import { SCHEMA_TABLES } from '../../packages/db/test/support/tables';
import { TestClient } from '../../services/realtime-gateway/test/harness';
import { type ServiceProcess, spawnService } from '../support/processes';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../support/redis';
import { signToken, TEST_SECRET } from '../support/tokens';
import { waitFor } from '../support/wait';

const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const INGEST_TOKEN = 'fuzz-ingest-token-0123456789abcdef';
const RESERVED_KEYS = ['__proto__', 'constructor', 'prototype'];
const STAFF_ROOMS = ['admin', 'alerts', 'monitoring'];
/** Names socket.io-client refuses to emit itself. */
const CLIENT_RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

// Generous for 10,000 cases per surface on a 2-core machine; a bounded run takes seconds.
jest.setTimeout(Math.max(120_000, RUNS * 60));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A key JSON.stringify writes as given, even `__proto__` (an own, enumerable data property). */
function withKey(target: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

// ---- generators -------------------------------------------------------------------------------

const jobEvent = fc.record({
  name: fc.constantFrom('job:created', 'job:processing', 'job:completed', 'job:failed'),
  payload: fc.record({ job_id: fc.uuid(), queue: fc.string({ minLength: 1, maxLength: 20 }), type: fc.string({ minLength: 1, maxLength: 20 }) }),
});

/** One valid event made invalid by exactly one poison; the body as text. */
const poisonedEvent: fc.Arbitrary<Record<string, unknown> | string> = fc.oneof(
  // A reserved key somewhere: at the top, in the payload, or deep inside a value of its own.
  fc.tuple(jobEvent, fc.constantFrom(...RESERVED_KEYS), fc.constantFrom('top', 'payload', 'deep'), fc.jsonValue({ maxDepth: 2 })).map(([event, key, where, value]) => {
    if (where === 'top') return withKey({ ...event }, key, value);
    if (where === 'payload') return { ...event, payload: withKey({ ...event.payload }, key, value) };
    return { ...event, payload: { ...event.payload, meta: [{ a: withKey({}, key, value) }] } };
  }),
  // Dated more than 5 minutes ahead.
  fc.tuple(jobEvent, fc.date({ min: new Date(Date.now() + 10 * 60_000), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })).map(([event, date]) => ({ ...event, occurred_at: date.toISOString() })),
  // An unknown name.
  fc.tuple(jobEvent, fc.string({ maxLength: 40 }).filter((name) => !(EVENT_NAMES as string[]).includes(name))).map(([event, name]) => ({ ...event, name })),
  // A required field of the wrong type or missing.
  fc.tuple(jobEvent, fc.constantFrom('job_id', 'queue', 'type'), fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.array(fc.string()))).map(([event, field, value]) => ({
    ...event,
    payload: { ...event.payload, [field]: value },
  })),
  // An id that is no id (CONTRACT §5: 1–200 characters, no whitespace or control character): as
  // the event id or as one of the payload's ids.
  fc
    .tuple(
      jobEvent,
      fc.oneof(
        fc.tuple(fc.string({ maxLength: 40 }), fc.constantFrom(' ', '\t', '\n', '\u0000', '\u007f', '\u00a0', '\u2028', '\u3000'), fc.string({ maxLength: 40 })).map(([a, bad, b]) => a + bad + b),
        fc.string({ minLength: 201, maxLength: 400 }),
        fc.constant(''),
        fc.integer(),
        fc.constant(null),
      ),
      fc.constantFrom('id', 'job_id', 'user_id', 'worker_id'),
    )
    .map(([event, id, where]) => (where === 'id' ? { ...event, id } : { ...event, payload: { ...event.payload, [where]: id } })),
  // Nested past the limit.
  fc.tuple(jobEvent, fc.integer({ min: 33, max: 3000 })).map(([event, depth]) => `{"name":"${event.name}","payload":{"job_id":"${event.payload.job_id}","queue":"q","type":"t","meta":${'['.repeat(depth)}${']'.repeat(depth)}}}`),
  // A number JSON can write and a double cannot hold.
  fc.tuple(fc.constantFrom('1e999', '-1e400', '123e4567'), fc.constantFrom('pending', 'threshold')).map(
    ([number, field]) => `{"name":"queue:threshold_warning","payload":{"queue":"q","pending":${field === 'pending' ? number : 1},"threshold":${field === 'threshold' ? number : 1}}}`,
  ),
);

/** The bodies: a poisoned event alone or in a batch among valid ones, or bytes that are no event at all. */
const ingestBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 3, arbitrary: poisonedEvent.map((event) => (typeof event === 'string' ? event : JSON.stringify(event))) },
  { weight: 3, arbitrary: fc.tuple(fc.array(jobEvent, { maxLength: 5 }), poisonedEvent, fc.nat()).map(([valid, bad, at]) => {
    const parts = valid.map((event) => JSON.stringify(event));
    parts.splice(at % (parts.length + 1), 0, typeof bad === 'string' ? bad : JSON.stringify(bad));
    return `{"events":[${parts.join(',')}]}`;
  }) },
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.string({ unit: 'binary', maxLength: 2000 }),
  fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
);

const headerValue = fc.stringMatching(/^[\x21-\x7e]{0,60}$/);

interface IngestCase {
  body: string | Buffer;
  contentType?: string;
  contentEncoding?: string;
  authorization?: string;
}

// Mostly the right token and content type, so that most cases reach the body's checks.
const ingestCase: fc.Arbitrary<IngestCase> = fc.record({
  body: ingestBody,
  contentType: fc.oneof(
    { weight: 20, arbitrary: fc.constant('application/json') },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16') },
    { weight: 1, arbitrary: headerValue },
  ),
  contentEncoding: fc.oneof({ weight: 20, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('gzip', 'br', 'deflate', 'compress') }, { weight: 1, arbitrary: headerValue }),
  authorization: fc.oneof(
    { weight: 20, arbitrary: fc.constant(`Bearer ${INGEST_TOKEN}`) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, `Bearer ${INGEST_TOKEN.slice(1)}`) },
    { weight: 1, arbitrary: headerValue.map((t) => `Bearer ${t}`) },
  ),
});

/** A section name that is none: any text, percent-encoded for the path, or raw percent garbage. */
const sectionPath: fc.Arbitrary<string> = fc
  .oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 80 }).map((name) => encodeURIComponent(name)),
    // Any bytes, percent-encoded: mostly not UTF-8 at all.
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
    fc.array(fc.oneof(fc.constant('%'), fc.constantFrom(...'0123456789abcdefABCDEFgxyzZ'), fc.stringMatching(/^[\x21-\x7e]$/)), { minLength: 1, maxLength: 40 }).map((parts) => parts.join('')),
    fc.integer({ min: 4097, max: 12_000 }).map((length) => 'a'.repeat(length)),
  )
  .filter((raw) => {
    // Not a real section, nor the whole snapshot under another spelling.
    if (/^[?#/]/.test(raw)) return false;
    try {
      const decoded = decodeURIComponent(raw.split(/[?#]/, 1)[0]!);
      return decoded !== '' && !(SECTION_NAMES as string[]).includes(decoded) && decoded !== 'meta';
    } catch {
      return true;
    }
  });

/** Tokens that must not verify: noise, JWT-shaped noise, valid tokens altered, or signed with bad claims. */
function tokenArbitrary(valid: string, badlySigned: string[]): fc.Arbitrary<string> {
  const segments = valid.split('.');
  const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  return fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.tuple(fc.uint8Array({ maxLength: 60 }), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 64 })).map((parts) => parts.map((p) => Buffer.from(p).toString('base64url')).join('.')),
    fc
      .tuple(
        fc.record({ alg: fc.oneof(fc.constantFrom('none', 'None', 'HS256', 'HS384', 'RS256', 'ES256', ''), fc.string()), typ: fc.constantFrom('JWT', 'jwt', undefined) }, { requiredKeys: ['alg'] }),
        fc.record({ sub: fc.oneof(fc.string(), fc.integer()), role: fc.constantFrom('admin', 'user', 'root'), exp: fc.integer() }),
        fc.string({ maxLength: 60 }),
      )
      .map(([header, payload, signature]) => `${b64(header)}.${b64(payload)}.${b64(signature)}`),
    // One character of a valid token changed (never a segment's last: its spare bits may not count).
    fc.tuple(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')).filter(([segment, at, char]) => {
      const s = segments[segment]!;
      return s.length > 1 && s[at % (s.length - 1)] !== char;
    }).map(([segment, at, char]) => {
      const parts = [...segments];
      const s = parts[segment]!;
      const i = at % (s.length - 1);
      parts[segment] = s.slice(0, i) + char + s.slice(i + 1);
      return parts.join('.');
    }),
    fc.nat({ max: valid.length - 2 }).map((length) => valid.slice(0, length)),
    fc.string({ minLength: 1, maxLength: 20 }).map((suffix) => `${valid}${suffix}`),
    fc.constantFrom(...badlySigned),
  );
}

// ---- the system -------------------------------------------------------------------------------

describe(`fuzzing (${RUNS} cases per surface)`, () => {
  const namespace = uniqueNamespace('fuzz');
  const keys = redisKeys(namespace);
  let db: TestDatabase;
  let redis: Redis;
  let database: pg.Client;
  const services: ServiceProcess[] = [];
  let api: ServiceProcess;
  let gateway: ServiceProcess;
  let admin: string;
  let user: string;
  let before: Record<string, number>;

  const rowCounts = async () => {
    const counts: Record<string, number> = {};
    for (const table of SCHEMA_TABLES) counts[table] = Number((await database.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
    return counts;
  };

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    db = await createTestDatabase('fuzz');
    database = new pg.Client({ connectionString: db.url });
    await database.connect();
    const env = {
      REDIS_URL: TEST_REDIS_URL,
      SSOT_NAMESPACE: namespace,
      AUTH_JWT_SECRET: TEST_SECRET,
      INGEST_TOKENS: INGEST_TOKEN,
      LOG_LEVEL: 'warn',
      // The fuzzer sends thousands of messages a second; the budget is not what is tested here.
      SOCKET_MESSAGE_RATE: '10000',
      INGEST_RATE_LIMIT: '1000000',
    };
    // No cache-warmer: its health checks are events, and this suite proves none reach the stream.
    services.push(await spawnService('collector', { ...env, DATABASE_URL: db.url, SNAPSHOT_TTL_S: '3600' }));
    services.push(await spawnService('dispatcher', { ...env, DATABASE_URL: db.url }));
    api = await spawnService('api', env);
    gateway = await spawnService('realtime-gateway', env);
    services.push(api, gateway);
    admin = await signToken({ sub: 'fuzz-admin', role: 'admin' });
    user = await signToken({ sub: 'fuzz-user', role: 'user' });
    await waitFor(async () => (await fetch(`${api.url}/api/admin/ssot`, { headers: { authorization: `Bearer ${admin}` } })).status === 200, {
      timeoutMs: 20_000,
      intervalMs: 200,
      message: 'a first snapshot',
    });
    before = await rowCounts();
  });

  afterEach(async () => {
    // After every surface: every process is the one started, nothing reached the stream or the
    // database, and nothing was logged as an unhandled rejection or a failed request.
    for (const service of services) {
      expect({ service: service.name, alive: service.alive() }).toEqual({ service: service.name, alive: true });
      expect(service.output()).not.toMatch(/unhandled promise rejection|"msg":"request failed"/);
    }
    expect(await redis.xlen(keys.events)).toBe(0);
    expect(await rowCounts()).toEqual(before);
  });

  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop()));
    await database?.end();
    await db?.drop();
    await cleanupNamespace(namespace);
    redis?.disconnect();
  });

  const report = (surface: string, cases: number, outcomes: Map<string, number>) => {
    const summary = [...outcomes].sort((a, b) => b[1] - a[1]).map(([outcome, n]) => `${outcome} ×${n}`).join(', ');
    console.log(`fuzz ${surface}: ${cases} cases — ${summary}`);
  };
  const count = (outcomes: Map<string, number>, key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);

  it('POST /api/events: every hostile body answers 4xx', async () => {
    const outcomes = new Map<string, number>();
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(ingestCase, async (c) => {
        cases += 1;
        const headers: Record<string, string> = {};
        if (c.contentType !== undefined) headers['content-type'] = c.contentType;
        if (c.contentEncoding !== undefined) headers['content-encoding'] = c.contentEncoding;
        if (c.authorization !== undefined) headers.authorization = c.authorization;
        const res = await fetch(`${api.url}/api/events`, { method: 'POST', headers, body: c.body });
        const text = await res.text();
        expect({ status: res.status, body: text.slice(0, 300) }).toEqual({ status: expect.toBeWithin(400, 500), body: expect.stringContaining('"error"') });
        count(outcomes, String(res.status));
      }),
      { numRuns: RUNS },
    );
    report('POST /api/events', cases, outcomes);
  });

  it('GET /api/admin/ssot/:section: every name that is none answers 4xx', async () => {
    const outcomes = new Map<string, number>();
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(sectionPath, fc.constantFrom(admin, admin, admin, user, undefined), async (path, token) => {
        cases += 1;
        const res = await rawGet(api.port, `/api/admin/ssot/${path}`, token ? { authorization: `Bearer ${token}` } : {});
        expect({ path: path.slice(0, 100), status: res.status }).toEqual({ path: path.slice(0, 100), status: expect.toBeWithin(400, 500) });
        count(outcomes, String(res.status));
      }),
      { numRuns: RUNS },
    );
    report('GET /api/admin/ssot/:section', cases, outcomes);
  });

  it('socket messages: every message gets the ack its rules give, and both sockets stay connected', async () => {
    const sockets = { admin: await TestClient.connect(gateway.port, admin), user: await TestClient.connect(gateway.port, user) };
    const outcomes = new Map<string, number>();
    let cases = 0;
    const args = fc.oneof(
      { weight: 4, arbitrary: fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 3 }) },
      fc.constantFrom<Json[]>([], [{}], [{ room: 'admin' }], [{ room: 'user:fuzz-user' }], [{ room: 'user:someone-else' }], [{ room: 'alerts' }]),
      fc.record({ room: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 2 })) }).map((payload) => [payload as Json]),
      fc.string({ minLength: 1000, maxLength: 30_000 }).map((big) => [big]),
    );
    const name = fc.oneof(fc.constantFrom('subscribe', 'resync'), fc.string({ maxLength: 100 }).filter((n) => !CLIENT_RESERVED.has(n)));
    try {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom<'admin' | 'user'>('admin', 'user'), name, args, async (role, event, payload) => {
          cases += 1;
          const answer = await sockets[role].socket.timeout(5000).emitWithAck(event, ...payload);
          expect({ role, event, payload: JSON.stringify(payload).slice(0, 200), answer }).toEqual({ role, event, payload: JSON.stringify(payload).slice(0, 200), answer: expectedAck(role, event, payload) });
          expect([sockets.admin.socket.connected, sockets.user.socket.connected]).toEqual([true, true]);
          count(outcomes, answer.ok ? `${event === 'subscribe' || event === 'resync' ? event : 'other'} ok` : answer.error);
        }),
        { numRuns: RUNS },
      );
    } finally {
      sockets.admin.close();
      sockets.user.close();
    }
    report('socket messages', cases, outcomes);
  });

  it('tokens: every token that is not valid is refused — by the verifier, over HTTP and at the socket handshake', async () => {
    const verifier = createTokenVerifier({ secret: TEST_SECRET });
    const key = new TextEncoder().encode(TEST_SECRET);
    const now = Math.floor(Date.now() / 1000);
    const claims = (extra: Record<string, unknown>) => new SignJWT({ role: 'admin', ...extra }).setProtectedHeader({ alg: 'HS256' }).setSubject('fuzz-admin');
    const badlySigned = [
      await claims({}).setExpirationTime(now - 120).sign(key),
      await claims({}).setNotBefore(now + 600).setExpirationTime('1h').sign(key),
      await claims({ role: 'root' }).setExpirationTime('1h').sign(key),
      await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key), // no sub
      await claims({}).sign(key), // no exp
      await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS384' }).setSubject('fuzz-admin').setExpirationTime('1h').sign(key),
    ];
    const outcomes = new Map<string, number>();
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(tokenArbitrary(admin, badlySigned), async (token) => {
        cases += 1;
        const refused = await verifier.verify(token).then(
          () => 'accepted',
          (error: unknown) => (error instanceof UnauthorizedError && error.message === 'unauthorized' ? 'refused' : `threw ${String(error)}`),
        );
        expect({ token, refused }).toEqual({ token, refused: 'refused' });
        if (/^[\x21-\x7e]*$/.test(token)) {
          const res = await rawGet(api.port, '/api/admin/ssot', { authorization: `Bearer ${token}` });
          expect({ token, status: res.status, body: res.body }).toEqual({ token, status: 401, body: '{"error":{"code":"unauthorized","message":"unauthorized"}}' });
        }
        expect({ token, handshake: await handshake(gateway.port, token) }).toEqual({ token, handshake: 'unauthorized' });
        count(outcomes, 'refused');
      }),
      { numRuns: RUNS },
    );
    report('tokens', cases, outcomes);
  });
});

/** The ack CONTRACT §6 gives a message, from the rules, not from the gateway's code. */
function expectedAck(role: 'admin' | 'user', event: string, args: Json[]): unknown {
  if (event === 'subscribe') {
    const payload = args.length === 1 ? args[0] : undefined;
    const room = payload && typeof payload === 'object' && !Array.isArray(payload) ? payload.room : undefined;
    if (typeof room !== 'string' || room.length === 0 || room.length > 205) return { ok: false, error: 'invalid payload' };
    const known = STAFF_ROOMS.includes(room) || (room.startsWith('user:') && room.length > 5);
    if (!known) return { ok: false, error: 'unknown room' };
    return role === 'admin' || room === 'user:fuzz-user' ? { ok: true } : { ok: false, error: 'forbidden' };
  }
  if (event === 'resync') {
    const plain = args.length === 0 || (args.length === 1 && typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0]));
    if (!plain) return { ok: false, error: 'invalid payload' };
    return role === 'admin' ? { ok: true, version: expect.any(Number) } : { ok: false, error: 'forbidden' };
  }
  return { ok: false, error: 'unknown message' };
}

/** A GET with the path exactly as given (fetch would normalise it). */
async function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `connect_error`'s message for a handshake with `token`, or `connected`. */
function handshake(port: number, token: string): Promise<string> {
  const socket = connect(`http://127.0.0.1:${port}`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true, timeout: 5000 });
  return new Promise((resolve) => {
    socket.once('connect', () => {
      socket.close();
      resolve('connected');
    });
    socket.once('connect_error', (error) => {
      socket.close();
      resolve(error.message);
    });
  });
}

expect.extend({
  toBeWithin(received: number, min: number, max: number) {
    const pass = typeof received === 'number' && received >= min && received < max;
    return { pass, message: () => `expected ${received} to be within [${min}, ${max})` };
  },
});

declare module 'expect' {
  interface AsymmetricMatchers {
    toBeWithin(min: number, max: number): void;
  }
}

