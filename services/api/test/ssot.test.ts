import { once } from 'node:events';
import { createServer, get, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { redisKeys, SECTION_NAMES, snapshot } from '@agentos/contracts';
import { createTestDatabase, type TestDatabase } from '@agentos/db';
import Redis from 'ioredis';
import request from 'supertest';
import { loadCollectorConfig } from '../../collector/src/config';
import { startCollectorService, type CollectorService } from '../../collector/src/service';
import { loadApiConfig } from '../src/config';
import { startApiService, type ApiService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { signToken, TEST_SECRET } from '../../../test/support/tokens';
import { startTcpProxy } from '../../../test/support/tcp-proxy';
import { waitFor } from '../../../test/support/wait';

const apiConfig = (namespace: string, extra: Record<string, string> = {}) =>
  loadApiConfig({ REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', ...extra });
const collectorConfig = (namespace: string, databaseUrl: string) =>
  loadCollectorConfig({ REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' });

function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

async function buildsOf(service: CollectorService): Promise<number> {
  const metric = await service.registry.getSingleMetric('ssot_collector_builds_total')!.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

describe('GET /api/admin/ssot', () => {
  let db: TestDatabase;
  let redis: Redis;
  let admin: string;
  const namespaces: string[] = [];
  const running: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('api');
    redis = new Redis(TEST_REDIS_URL);
    admin = await signToken({ sub: 'admin-1', role: 'admin' });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => {
    await db.drop();
    await Promise.all(namespaces.map((ns) => cleanupNamespace(ns)));
    redis.disconnect();
  });

  async function start(options: { apis?: number; collector?: boolean; databaseUrl?: string } = {}) {
    const namespace = uniqueNamespace('api');
    namespaces.push(namespace);
    const apis: ApiService[] = [];
    for (let i = 0; i < (options.apis ?? 1); i += 1) {
      const api = await startApiService(apiConfig(namespace));
      running.push(api);
      apis.push(api);
    }
    let collector: CollectorService | undefined;
    if (options.collector !== false) {
      collector = await startCollectorService(collectorConfig(namespace, options.databaseUrl ?? db.url));
      running.push(collector);
    }
    return { namespace, apis, api: apis[0]!, collector, keys: redisKeys(namespace) };
  }

  describe('auth', () => {
    it('answers 401 without a token, 403 for a user token, 401 for a bad signature or an expired token', async () => {
      const { api } = await start({ collector: false });
      const user = await signToken({ sub: 'u1', role: 'user' });
      const forged = await signToken({ role: 'admin' }, { secret: 'another-secret-that-is-long-enough-0123456789' });
      const expired = await signToken({ role: 'admin' }, { expiresIn: Math.floor(Date.now() / 1000) - 60 });

      const none = await request(api.app).get('/api/admin/ssot');
      expect(none.status).toBe(401);
      expect(none.body).toEqual({ error: { code: 'unauthorized', message: 'unauthorized' } });

      const asUser = await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${user}`);
      expect(asUser.status).toBe(403);
      expect(asUser.body).toEqual({ error: { code: 'forbidden', message: 'admin role required' } });

      for (const token of [forged, expired, 'not-a-jwt']) {
        const res = await request(api.app).get('/api/admin/ssot/dashboard').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(401);
        expect(res.body.error.code).toBe('unauthorized');
      }
    });
  });

  it('serves the snapshot with ETag, version and source headers, 304 on If-None-Match, gzip and br', async () => {
    const { api, collector, keys } = await start();
    const { version } = await collector!.collector.refresh([]);
    const stored = await redis.get(keys.snapshot);

    const res = await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`).set('Accept-Encoding', 'identity');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['x-ssot-version']).toBe(String(version));
    expect(res.headers['x-ssot-source']).toBe('cache');
    expect(res.headers.etag).toBe(`W/"v${version}"`);
    expect(res.text).toBe(stored);
    expect(snapshot.safeParse(res.body).success).toBe(true);

    const again = await request(api.app)
      .get('/api/admin/ssot')
      .set('Authorization', `Bearer ${admin}`)
      .set('If-None-Match', res.headers.etag!);
    expect(again.status).toBe(304);

    // Raw node:http: supertest and fetch would decompress behind our back.
    const server = createServer(api.app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as AddressInfo).port;
      for (const [encoding, decode] of [
        ['gzip', gunzipSync],
        ['br', brotliDecompressSync],
      ] as const) {
        const { headers, body } = await rawGet(port, '/api/admin/ssot', { authorization: `Bearer ${admin}`, 'accept-encoding': encoding });
        expect(headers['content-encoding']).toBe(encoding);
        expect(Number(headers['content-length'])).toBe(body.length);
        expect(body.length).toBeLessThan(stored!.length / 3);
        expect(decode(body).toString()).toBe(stored);
      }
    } finally {
      server.close();
    }
  });

  it('serves one section, and 404 for an unknown one', async () => {
    const { api, collector } = await start();
    await collector!.collector.refresh([]);
    for (const name of SECTION_NAMES) {
      const res = await request(api.app).get(`/api/admin/ssot/${name}`).set('Authorization', `Bearer ${admin}`);
      expect(res.status).toBe(200);
      expect(snapshot.shape[name].safeParse(res.body).success).toBe(true);
    }
    const unknown = await request(api.app).get('/api/admin/ssot/nope').set('Authorization', `Bearer ${admin}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: { code: 'not_found', message: "unknown section 'nope'" } });
  });

  it('follows new versions: an announcement drops the in-process copy', async () => {
    const { api, collector } = await start();
    await collector!.collector.refresh([]);
    const first = await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`);
    const { version } = await collector!.collector.refresh(['logs']);
    await waitFor(async () => {
      const res = await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`);
      return res.headers['x-ssot-version'] === String(version);
    }, { timeoutMs: 2000, message: 'new version served' });
    expect(Number(first.headers['x-ssot-version'])).toBeLessThan(version);
  });

  it('answers 100 concurrent reads on a cold cache across two replicas with exactly one rebuild', async () => {
    const { apis, collector } = await start({ apis: 2 });
    const before = await buildsOf(collector!);
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        request(apis[i % 2]!.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(new Set(responses.map((r) => r.headers['x-ssot-version'])).size).toBe(1);
    expect(responses.some((r) => r.headers['x-ssot-source'] === 'rebuilt')).toBe(true);
    expect((await buildsOf(collector!)) - before).toBe(1);
    expect(apis.reduce((sum, api) => sum + api.rebuildRequests(), 0)).toBe(1);
  });

  it('answers 503 with Retry-After when no snapshot has ever existed and nobody can build one', async () => {
    const { api } = await start({ collector: false });
    const res = await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body.error.code).toBe('snapshot_unavailable');
  });

  it('serves the last good snapshot, stale, when the snapshot lapsed and the database is gone', async () => {
    const url = new URL(db.url);
    const proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
    url.host = `127.0.0.1:${proxy.port}`;
    try {
      const { api, collector, keys } = await start({ databaseUrl: url.toString() });
      await collector!.collector.refresh([]);

      proxy.cut();
      // The database is gone: the collector still writes, every section kept and flagged.
      const { version: flagged } = await collector!.collector.refresh([]);
      const res1 = await waitFor(async () => {
        const res = await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`);
        return res.headers['x-ssot-version'] === String(flagged) ? res : null;
      }, { timeoutMs: 2000, message: 'the flagged version' });
      expect(res1.status).toBe(200);
      expect(res1.body.meta.stale).toBe(true);
      expect(Object.keys(res1.body.meta.errors).sort()).toEqual([...SECTION_NAMES].sort());

      // And with the snapshot key lapsed and no collector able to rebuild in time: last good, stale.
      await running.find((s) => s === collector)!.stop();
      running.splice(running.indexOf(collector!), 1);
      await redis.del(keys.snapshot);
      await waitFor(async () => {
        const res = await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`);
        return res.headers['x-ssot-source'] === 'stale' ? res : null;
      }, { timeoutMs: 6000, message: 'a stale answer' }).then((res) => {
        expect(res.status).toBe(200);
        expect(res.body.meta.stale).toBe(true);
        expect(res.body.meta.version).toBe(flagged);
        expect(res.headers.etag).toBe(`W/"v${flagged}-stale"`);
      });
      // Further reads answer at once from the fallback copy, still 200, without waiting on Redis:
      // with a snapshot back in Redis, a read that went there would say "cache". The one retry it
      // starts in the background then finds that snapshot.
      await redis.set(keys.snapshot, (await redis.getBuffer(keys.lastGood))!);
      const fast = await request(api.app).get('/api/admin/ssot/dashboard').set('Authorization', `Bearer ${admin}`);
      expect(fast.status).toBe(200);
      expect(fast.headers['x-ssot-source']).toBe('stale');
      expect(fast.headers['x-ssot-version']).toBe(String(flagged));
      await waitFor(async () => {
        const res = await request(api.app).get('/api/admin/ssot/dashboard').set('Authorization', `Bearer ${admin}`);
        return res.headers['x-ssot-source'] === 'cache';
      }, { message: 'the snapshot found again' });
    } finally {
      await proxy.close();
    }
  });

  it('keeps answering 200 from its last copy, stale, while Redis is unreachable', async () => {
    const proxy = await startTcpProxy('127.0.0.1', Number(new URL(TEST_REDIS_URL).port || 6379));
    try {
      const namespace = uniqueNamespace('api-redis');
      namespaces.push(namespace);
      const collector = await startCollectorService(collectorConfig(namespace, db.url));
      running.push(collector);
      const api = await startApiService(apiConfig(namespace, { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, SNAPSHOT_MAX_AGE_MS: '100' }));
      running.push(api);
      const { version } = await collector.collector.refresh([]);
      const first = await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`);
      expect(first.status).toBe(200);

      proxy.cut();
      const res = await waitFor(async () => {
        const r = await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`);
        expect(r.status).toBe(200);
        return r.headers['x-ssot-source'] === 'stale' ? r : null;
      }, { timeoutMs: 5000, message: 'a stale answer while Redis is away' });
      expect(res.body.meta.version).toBe(version);
      expect(res.body.meta.stale).toBe(true);
      const section = await request(api.app).get('/api/admin/ssot/queue').set('Authorization', `Bearer ${admin}`);
      expect(section.status).toBe(200);

      proxy.restore();
      await collector.collector.refresh([]);
      await waitFor(async () => {
        const r = await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`);
        return r.headers['x-ssot-source'] === 'cache' && r.body.meta.stale === false;
      }, { timeoutMs: 10_000, message: 'fresh answers once Redis is back' });
    } finally {
      await proxy.close();
    }
  });

  it('exposes health, readiness and the cache hit rate', async () => {
    const { api, collector } = await start();
    const notReady = await request(api.app).get('/readyz');
    expect(notReady.status).toBe(503);
    await collector!.collector.refresh([]);
    expect((await request(api.app).get('/healthz')).status).toBe(200);
    expect((await request(api.app).get('/readyz')).status).toBe(200);
    for (let i = 0; i < 5; i += 1) await request(api.app).get('/api/admin/ssot').set('Authorization', `Bearer ${admin}`);
    const metrics = await request(api.app).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/ssot_cache_hit_ratio 1\b/);
    expect(metrics.text).toMatch(/ssot_reads_total\{source="cache"\} 5/);
  });
});
