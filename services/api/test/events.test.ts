import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EVENT_ID_TTL_S, EVENT_NAMES, type EventName, MAX_EVENTS_PER_BATCH, MAX_INGEST_BYTES, redisKeys } from '@agentos/contracts';
import Redis from 'ioredis';
import pino from 'pino';
import request from 'supertest';
import { loadApiConfig } from '../src/config';
import { startApiService, type ApiService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { signToken, TEST_SECRET } from '../../../test/support/tokens';
import { startTcpProxy } from '../../../test/support/tcp-proxy';

const TOKEN_A = 'ingest-token-a-0123456789abcdef';
const TOKEN_B = 'ingest-token-b-0123456789abcdef';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const KNOWN_NAMES = EVENT_NAMES.join(', ');

/** A valid payload for every event name (CONTRACT §5). */
const PAYLOADS: Record<EventName, Record<string, unknown>> = {
  'job:created': { job_id: randomUUID(), queue: 'default', type: 'render', user_id: randomUUID() },
  'job:processing': { job_id: randomUUID(), queue: 'default', type: 'render', worker_id: randomUUID(), agent: 'planner', progress: 40 },
  'job:completed': { job_id: randomUUID(), queue: 'default', type: 'render', progress: 100, duration_ms: 1234 },
  'job:failed': { job_id: randomUUID(), queue: 'default', type: 'render', error: 'out of memory' },
  'worker:heartbeat': { worker_id: randomUUID(), queues: ['default', 'bulk'], active_jobs: 2, concurrency: 4, hostname: 'w1', cpu: 12.5, memory_mb: 512 },
  'worker:offline': { worker_id: randomUUID(), reason: 'heartbeat lapsed' },
  'queue:threshold_warning': { queue: 'default', pending: 120, threshold: 100 },
  'system:health_check': { services: { api: 'ok', collector: 'degraded' }, redis_ms: 1.5, database_ms: 3 },
  'job:cancelled': { job_id: '42', queue: 'default', type: 'render', reason: 'cancelled by admin' },
  'queue:stats': { queue: 'default', pending: 17, workers: 2 },
  'command:result': { command_id: randomUUID(), job_id: '42', ok: false, error: 'job is not failed' },
};

const jobCreated = (over: Record<string, unknown> = {}) => ({
  name: 'job:created',
  payload: { job_id: randomUUID(), queue: 'default', type: 'render' },
  ...over,
});

describe('POST /api/events', () => {
  let redis: Redis;
  let admin: string;
  const namespaces: string[] = [];
  const running: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS_URL);
    admin = await signToken({ sub: 'admin-1', role: 'admin' });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await Promise.all(namespaces.map((ns) => cleanupNamespace(ns)));
    redis.disconnect();
  });

  /** `replicas` api services on one fresh namespace. */
  async function start(options: { replicas?: number; env?: Record<string, string>; logger?: pino.Logger } = {}) {
    const namespace = uniqueNamespace('events');
    namespaces.push(namespace);
    const apis: ApiService[] = [];
    for (let i = 0; i < (options.replicas ?? 1); i += 1) {
      const config = loadApiConfig({
        REDIS_URL: TEST_REDIS_URL,
        SSOT_NAMESPACE: namespace,
        AUTH_JWT_SECRET: TEST_SECRET,
        LOG_LEVEL: 'silent',
        INGEST_TOKENS: `${TOKEN_A}, ${TOKEN_B}`,
        ...options.env,
      });
      const api = await startApiService(config, { logger: options.logger });
      running.push(api);
      apis.push(api);
    }
    const keys = redisKeys(namespace);
    return { apis, api: apis[0]!, keys, xlen: () => redis.xlen(keys.events) };
  }

  const post = (api: ApiService, body: unknown, token: string | null = TOKEN_A) => {
    const req = request(api.app).post('/api/events');
    if (token !== null) req.set('Authorization', `Bearer ${token}`);
    return typeof body === 'string' ? req.set('Content-Type', 'application/json').send(body) : req.send(body as object);
  };

  async function streamEntries(stream: string): Promise<{ fields: string[]; event: Record<string, unknown> }[]> {
    const entries = await redis.xrange(stream, '-', '+');
    return entries.map(([, fields]) => ({ fields, event: JSON.parse(fields[1]!) as Record<string, unknown> }));
  }

  async function metric(api: ApiService, name: string, labels: Record<string, string> = {}): Promise<number> {
    const values = (await api.registry.getSingleMetric(name)!.get()).values;
    const found = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
    return found?.value ?? 0;
  }

  it('accepts each of the eleven events, filling id and occurred_at, one stream entry each', async () => {
    const { api, keys } = await start();
    const before = Date.now();
    const ids: string[] = [];
    for (const name of EVENT_NAMES) {
      const res = await post(api, { name, payload: PAYLOADS[name] });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ accepted: 1, duplicates: 0, ids: [expect.stringMatching(UUID_V4)] });
      ids.push(res.body.ids[0]);
    }
    const after = Date.now();
    expect(new Set(ids).size).toBe(EVENT_NAMES.length);

    const entries = await streamEntries(keys.events);
    expect(entries).toHaveLength(EVENT_NAMES.length);
    entries.forEach(({ fields, event }, i) => {
      const name = EVENT_NAMES[i]!;
      expect(fields[0]).toBe('event');
      expect(fields).toHaveLength(2);
      // Exactly these fields, in this order: what the dispatcher reads.
      expect(Object.keys(event)).toEqual(['id', 'name', 'payload', 'occurred_at', 'source']);
      expect(event).toEqual({ id: ids[i], name, payload: PAYLOADS[name], occurred_at: expect.any(String), source: 'api' });
      const at = Date.parse(event.occurred_at as string);
      expect(new Date(at).toISOString()).toBe(event.occurred_at);
      expect(at).toBeGreaterThanOrEqual(before);
      expect(at).toBeLessThanOrEqual(after);
    });
    // The idempotency marker of each, remembered for EVENT_ID_TTL_S.
    const ttl = await redis.ttl(keys.eventSeen(ids[0]!));
    expect(ttl).toBeGreaterThan(EVENT_ID_TTL_S - 60);
    expect(ttl).toBeLessThanOrEqual(EVENT_ID_TTL_S);
    for (const name of EVENT_NAMES) expect(await metric(api, 'ssot_events_accepted_total', { name })).toBe(1);
  });

  it('keeps a posted id and occurred_at (in UTC), drops unknown fields, and takes {"events": [...]}', async () => {
    const { api, keys } = await start();
    const id = randomUUID();
    const payload = { job_id: randomUUID(), queue: 'q', type: 't' };
    const res = await post(api, {
      events: [
        { id, name: 'job:created', payload: { ...payload, surplus: 1 }, occurred_at: '2026-01-02T03:04:05.678+02:00', extra: true },
        { name: 'worker:offline', payload: PAYLOADS['worker:offline'] },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 2, duplicates: 0, ids: [id, expect.stringMatching(UUID_V4)] });
    const [first, second] = await streamEntries(keys.events);
    expect(first!.event).toEqual({ id, name: 'job:created', payload, occurred_at: '2026-01-02T01:04:05.678Z', source: 'api' });
    expect(second!.event.id).toBe(res.body.ids[1]);
  });

  it('answers the same on the bare hot path (/api/events) and through express (other spellings), with the headers of every answer', async () => {
    const { api, xlen } = await start();
    const answers = [];
    for (const path of ['/api/events', '/api/events?via=query', '/api/events/', '/API/Events']) {
      const res = await request(api.app).post(path).set('Authorization', `Bearer ${TOKEN_A}`).send(jobCreated());
      answers.push({ path, status: res.status, type: res.headers['content-type'], accepted: res.body.accepted, nosniff: res.headers['x-content-type-options'], requestId: typeof res.headers['x-request-id'] });
    }
    expect(answers).toEqual(
      ['/api/events', '/api/events?via=query', '/api/events/', '/API/Events'].map((path) => ({
        path,
        status: 202,
        type: 'application/json; charset=utf-8',
        accepted: 1,
        nosniff: 'nosniff',
        requestId: 'string',
      })),
    );
    expect(await xlen()).toBe(4);
    // Other methods on the path are not the hot path's: express answers them as before.
    const get = await request(api.app).get('/api/events').set('Authorization', `Bearer ${TOKEN_A}`);
    expect(get.status).toBe(404);
  });

  describe('refuses, with the exact status and body', () => {
    it('a post without a token, with an unknown token, and with an admin JWT (401)', async () => {
      const { api, xlen } = await start();
      const event = jobCreated();

      const none = await post(api, event, null);
      expect(none.status).toBe(401);
      expect(none.body).toEqual({ error: { code: 'unauthorized', message: 'unauthorized' } });

      const basic = await request(api.app).post('/api/events').set('Authorization', `Basic ${Buffer.from('a:b').toString('base64')}`).send(event);
      expect(basic.status).toBe(401);
      expect(basic.body).toEqual({ error: { code: 'unauthorized', message: 'unauthorized' } });

      for (const token of [`${TOKEN_A}x`, TOKEN_A.slice(0, -1), admin]) {
        const res = await post(api, event, token);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: { code: 'unauthorized', message: 'unauthorized' } });
      }
      // The second token of the list is as good as the first.
      expect((await post(api, jobCreated(), TOKEN_B)).status).toBe(202);
      expect(await xlen()).toBe(1);
      expect(await metric(api, 'ssot_events_refused_total', { reason: 'unauthorized' })).toBe(5);
    });

    it('every post when INGEST_TOKENS is empty, after one warning at start', async () => {
      const lines: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
      const { api, xlen } = await start({ env: { INGEST_TOKENS: '' }, logger });
      const warnings = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40);
      expect(warnings.map((w) => w.msg).filter((m) => m.startsWith('INGEST_TOKENS'))).toEqual(['INGEST_TOKENS is empty: every POST /api/events is refused with 401 until ingest tokens are configured']);

      for (const token of [TOKEN_A, admin, 'x']) {
        const res = await post(api, jobCreated(), token);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: { code: 'unauthorized', message: 'unauthorized' } });
      }
      expect(await xlen()).toBe(0);
    });

    it('a body that is not JSON (400)', async () => {
      const { api, xlen } = await start();
      for (const body of ['{"name": "job:created",', '', 'null']) {
        const res = await post(api, body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          error: body === 'null'
            ? { code: 'invalid_request', message: 'request body: expected one event object or {"events": [...]}' }
            : { code: 'invalid_request', message: 'request body is not valid JSON' },
        });
      }
      const form = await request(api.app).post('/api/events').set('Authorization', `Bearer ${TOKEN_A}`).type('form').send('name=job:created');
      expect(form.status).toBe(415);
      expect(form.body).toEqual({
        error: { code: 'unsupported_media_type', message: 'request body must be JSON (Content-Type: application/json), not application/x-www-form-urlencoded' },
      });
      expect(await xlen()).toBe(0);
      expect(await metric(api, 'ssot_events_refused_total', { reason: 'invalid' })).toBe(4);
    });

    it('an unknown event name (400, listing the known names)', async () => {
      const { api, xlen } = await start();
      const res = await post(api, { name: 'job:exploded', payload: {} });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: {
          code: 'invalid_request',
          message: '1 of 1 event is invalid; none was accepted',
          details: [{ index: 0, field: 'name', message: `unknown event name 'job:exploded'; known names: ${KNOWN_NAMES}` }],
        },
      });
      const nameless = await post(api, { payload: {} });
      expect(nameless.body.error.details).toEqual([{ index: 0, field: 'name', message: `required; known names: ${KNOWN_NAMES}` }]);
      expect(await xlen()).toBe(0);
    });

    it('a field of the wrong type and a missing field (400, by dotted path)', async () => {
      const { api, xlen } = await start();
      const wrongType = await post(api, { name: 'worker:heartbeat', payload: { ...PAYLOADS['worker:heartbeat'], active_jobs: 'two' } });
      expect(wrongType.status).toBe(400);
      expect(wrongType.body).toEqual({
        error: {
          code: 'invalid_request',
          message: '1 of 1 event is invalid; none was accepted',
          details: [{ index: 0, field: 'payload.active_jobs', message: 'Invalid input: expected number, received string' }],
        },
      });

      const { job_id: _, ...withoutJobId } = PAYLOADS['job:failed'];
      const missing = await post(api, { name: 'job:failed', payload: withoutJobId });
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual({
        error: {
          code: 'invalid_request',
          message: '1 of 1 event is invalid; none was accepted',
          details: [{ index: 0, field: 'payload.job_id', message: 'required' }],
        },
      });
      expect(await xlen()).toBe(0);
    });

    it('a whole batch with one bad event among valid ones (400, that problem only; nothing kept)', async () => {
      const { api, keys, xlen } = await start();
      expect((await post(api, { events: [jobCreated(), jobCreated()] })).status).toBe(202);
      expect(await xlen()).toBe(2);

      const good = [jobCreated({ id: randomUUID() }), jobCreated({ id: randomUUID() })];
      const bad = { name: 'job:completed', payload: { job_id: 'not an id', queue: 'default', type: 'render' } };
      const res = await post(api, { events: [good[0], bad, good[1]] });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: {
          code: 'invalid_request',
          message: '1 of 3 events is invalid; none was accepted',
          details: [{ index: 1, field: 'payload.job_id', message: 'must contain no whitespace or control characters' }],
        },
      });
      expect(await xlen()).toBe(2);
      // Not even remembered: the good events are new when posted again.
      expect(await redis.exists(keys.eventSeen(good[0]!.id as string))).toBe(0);
      const again = await post(api, { events: good });
      expect(again.body).toEqual({ accepted: 2, duplicates: 0, ids: [good[0]!.id, good[1]!.id] });

      const several = await post(api, { events: [bad, 42, jobCreated()] });
      expect(several.body.error.message).toBe('2 of 3 events are invalid; none was accepted');
      expect(several.body.error.details).toEqual([
        { index: 0, field: 'payload.job_id', message: 'must contain no whitespace or control characters' },
        { index: 1, field: '(event)', message: 'expected an event object, received number' },
      ]);
      expect(await xlen()).toBe(4);
    });

    it('a batch of 501 events (413), while 500 pass', async () => {
      const { api, xlen } = await start();
      const over = await post(api, { events: Array.from({ length: MAX_EVENTS_PER_BATCH + 1 }, () => jobCreated()) });
      expect(over.status).toBe(413);
      expect(over.body).toEqual({ error: { code: 'payload_too_large', message: 'at most 500 events per batch' } });
      expect(await xlen()).toBe(0);

      const full = await post(api, { events: Array.from({ length: MAX_EVENTS_PER_BATCH }, () => jobCreated()) });
      expect(full.status).toBe(202);
      expect(full.body.accepted).toBe(500);
      expect(await xlen()).toBe(500);

      const empty = await post(api, { events: [] });
      expect(empty.status).toBe(400);
      expect(empty.body).toEqual({ error: { code: 'invalid_request', message: 'events must hold at least one event' } });
      expect(await metric(api, 'ssot_events_refused_total', { reason: 'too_large' })).toBe(1);
    });

    it('a body over 1 MiB, with or without Content-Length (413), while exactly 1 MiB passes', async () => {
      const { api, xlen } = await start();
      // A valid event padded with JSON whitespace to an exact size.
      const sized = (bytes: number) => {
        const json = JSON.stringify(jobCreated());
        return json + ' '.repeat(bytes - Buffer.byteLength(json));
      };
      const tooLarge = { error: { code: 'payload_too_large', message: 'request body over 1048576 bytes (1 MiB)' } };

      const over = await post(api, sized(MAX_INGEST_BYTES + 1));
      expect(over.status).toBe(413);
      expect(over.body).toEqual(tooLarge);

      const server = createServer(api.app).listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const chunked = await postChunked(server, sized(MAX_INGEST_BYTES + 1));
        expect(chunked.status).toBe(413);
        expect(JSON.parse(chunked.body)).toEqual(tooLarge);
      } finally {
        server.close();
      }
      expect(await xlen()).toBe(0);

      const exact = await post(api, sized(MAX_INGEST_BYTES));
      expect(exact.status).toBe(202);
      expect(await xlen()).toBe(1);
    });
  });

  describe('rate limit', () => {
    it('refuses what is over INGEST_RATE_LIMIT events/s of one token (429, Retry-After: 1), nothing of it stored', async () => {
      const { api, xlen, keys } = await start({ env: { INGEST_RATE_LIMIT: '10' } });
      const batch = (n: number) => ({ events: Array.from({ length: n }, () => jobCreated()) });

      expect((await post(api, batch(6))).status).toBe(202);
      const over = await post(api, batch(5));
      expect(over.status).toBe(429);
      expect(over.headers['retry-after']).toBe('1');
      expect(over.body).toEqual({
        error: { code: 'rate_limited', message: 'rate limit of 10 events per second reached for this ingest token; retry after 1 s' },
      });
      // A refused batch costs nothing: what still fits, passes.
      expect((await post(api, batch(4))).status).toBe(202);
      expect((await post(api, batch(1))).status).toBe(429);
      // Another token has its own budget.
      expect((await post(api, batch(3), TOKEN_B)).status).toBe(202);
      expect(await xlen()).toBe(13);
      // One window per token, keyed by its hash (the token itself never reaches Redis), lasting 1 s.
      const window = keys.rateLimit(createHash('sha256').update(TOKEN_A).digest('hex').slice(0, 16));
      expect(await redis.get(window)).toBe('10');
      const pttl = await redis.pttl(window);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(1000);
      expect(await metric(api, 'ssot_events_refused_total', { reason: 'rate_limited' })).toBe(2);
    });

    it('is shared by every api replica', async () => {
      const { apis, xlen } = await start({ replicas: 2, env: { INGEST_RATE_LIMIT: '10' } });
      const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => post(apis[i % 2]!, jobCreated())));
      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 202)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(20);
      expect(await xlen()).toBe(10);
    });
  });

  describe('idempotency by event id', () => {
    it('has one effect for the same id posted twice, or twice in one batch; ids are matched as given, case included', async () => {
      const { api, xlen } = await start();
      const event = jobCreated({ id: randomUUID() });
      const first = await post(api, event);
      expect(first.status).toBe(202);
      expect(first.body).toEqual({ accepted: 1, duplicates: 0, ids: [event.id] });
      const second = await post(api, { ...event, occurred_at: new Date().toISOString() });
      expect(second.status).toBe(202);
      expect(second.body).toEqual({ accepted: 0, duplicates: 1, ids: [event.id] });
      // Opaque ids (CONTRACT §5): another spelling is another id.
      const upper = await post(api, { ...event, id: (event.id as string).toUpperCase() });
      expect(upper.body).toEqual({ accepted: 1, duplicates: 0, ids: [(event.id as string).toUpperCase()] });
      expect(await xlen()).toBe(2);

      const twin = jobCreated({ id: randomUUID() });
      const other = jobCreated();
      const batch = await post(api, { events: [twin, other, twin] });
      expect(batch.body).toEqual({ accepted: 2, duplicates: 1, ids: [twin.id, expect.stringMatching(UUID_V4), twin.id] });
      expect(await xlen()).toBe(4);
      expect(await metric(api, 'ssot_events_duplicates_total')).toBe(2);
      expect(await metric(api, 'ssot_events_accepted_total', { name: 'job:created' })).toBe(4);
    });

    it('enqueues an id posted 20 times concurrently across two replicas exactly once', async () => {
      const { apis, keys, xlen } = await start({ replicas: 2 });
      const event = jobCreated({ id: randomUUID() });
      const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => post(apis[i % 2]!, event)));
      expect(responses.map((r) => r.status)).toEqual(Array(20).fill(202));
      expect(responses.reduce((sum, r) => sum + r.body.accepted, 0)).toBe(1);
      expect(responses.reduce((sum, r) => sum + r.body.duplicates, 0)).toBe(19);
      expect(await xlen()).toBe(1);
      expect((await streamEntries(keys.events))[0]!.event.id).toBe(event.id);
    });
  });

  it('trims the stream to about EVENT_STREAM_MAXLEN entries', async () => {
    const { api, xlen } = await start({ env: { EVENT_STREAM_MAXLEN: '10' } });
    const res = await post(api, { events: Array.from({ length: 500 }, () => jobCreated()) });
    expect(res.body.accepted).toBe(500);
    // Approximate trimming (MAXLEN ~) removes whole stream nodes (100 entries by default).
    const length = await xlen();
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThanOrEqual(110);
  });

  it('refuses to start with a weak ingest token, without echoing it', () => {
    const load = () => loadApiConfig({ AUTH_JWT_SECRET: TEST_SECRET, INGEST_TOKENS: `${TOKEN_A},hunter2` });
    expect(load).toThrow('api: invalid environment (1 problem):\n  INGEST_TOKENS: each token must be at least 16 characters, without whitespace');
    expect(load).not.toThrow(/hunter2/);
  });

  it('answers 503 with Retry-After while Redis is unreachable, and accepts the retry once it is back', async () => {
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(TEST_REDIS_URL).port || 6379));
    try {
      const { api, xlen } = await start({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
      const event = jobCreated({ id: randomUUID() });
      proxy.cut();
      const res = await post(api, event);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.body.error.code).toBe('unavailable');
      expect(await xlen()).toBe(0);
      proxy.restore();
      const retry = await post(api, event);
      expect(retry.status).toBe(202);
      // The abandoned call may have gone through once Redis was back (it waited in the client's
      // offline queue); either way the event is on the stream once.
      expect(retry.body.accepted + retry.body.duplicates).toBe(1);
      expect(await xlen()).toBe(1);
    } finally {
      // The api first, while its connections can still close cleanly through the proxy.
      await Promise.all(running.splice(0).map((s) => s.stop()));
      await proxy.close();
    }
  });
});

/** POST with `Transfer-Encoding: chunked` (no Content-Length), so the limit must be found while reading. */
function postChunked(server: Server, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        path: '/api/events',
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN_A}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.slice(at, at + 64 * 1024));
    req.end();
  });
}
