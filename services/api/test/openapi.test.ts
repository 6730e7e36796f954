// GET /api/openapi.json (CONTRACT §4, issue 11): an OpenAPI 3.1 document, generated from the zod
// schemas, that Redocly's linter accepts, and that describes exactly the routes the api serves:
// the route table and the document list the same operations, every documented operation is
// answered by a route, and no other method on a documented path is.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '@agentos/db';
import request from 'supertest';
import { loadApiConfig } from '../src/config';
import { startApiService, type ApiService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { signToken, TEST_SECRET } from '../../../test/support/tokens';

jest.setTimeout(60_000);

const REDOCLY = join(__dirname, '..', '..', '..', 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');
const INGEST_TOKEN = 'openapi-ingest-token-0123456789';
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
}
type Document = { openapi: string; paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>> };

describe('GET /api/openapi.json', () => {
  let db: TestDatabase;
  let api: ApiService;
  let admin: string;
  let document: Document;
  const namespace = uniqueNamespace('openapi');

  beforeAll(async () => {
    db = await createTestDatabase('openapi');
    api = await startApiService(
      loadApiConfig({ REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, AUTH_JWT_SECRET: TEST_SECRET, DATABASE_URL: db.url, INGEST_TOKENS: INGEST_TOKEN, REBUILD_WAIT_MS: '100', LOG_LEVEL: 'silent' }),
    );
    admin = await signToken({ sub: 'admin-1', role: 'admin' });
    const res = await request(api.app).get('/api/openapi.json');
    document = res.body as Document;
  });
  afterAll(async () => {
    await api?.stop();
    await db?.drop();
    await cleanupNamespace(namespace);
  });

  /** Every operation of the document as `METHOD /path`. */
  const operations = () => Object.entries(document.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`));

  it('is served to anyone as OpenAPI 3.1 JSON', async () => {
    const res = await request(api.app).get('/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.body.info).toMatchObject({ title: 'AgentOS SSOT api', version: '0.1.0' });
  });

  it('passes Redocly lint with no error, and warns only of the paths that differ by method alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssot-openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(document));
      // The bundled CLI from node_modules, offline: no telemetry, no update check.
      const lint = spawnSync(process.execPath, [REDOCLY, 'lint', file, '--format', 'json'], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      });
      const report = JSON.parse(lint.stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; severity: string; message: string }[] };
      expect(report.totals.errors).toBe(0);
      expect(report.problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message}`)).toEqual([
        // GET /jobs/bulk/{bulk_id} and POST /jobs/{id}/retry|cancel share no method: a request reaches one.
        'warn no-ambiguous-paths: Paths should resolve unambiguously. Found two ambiguous paths: `/api/admin/jobs/bulk/{bulk_id}` and `/api/admin/jobs/{id}/retry`.',
        'warn no-ambiguous-paths: Paths should resolve unambiguously. Found two ambiguous paths: `/api/admin/jobs/bulk/{bulk_id}` and `/api/admin/jobs/{id}/cancel`.',
      ]);
      expect(lint.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists exactly the routes the api serves', () => {
    expect([...operations()].sort()).toEqual([...api.app.routes].sort());
    // Every route of CONTRACT §4, by name: a route table that lost one would agree with itself.
    expect([...operations()].sort()).toEqual(
      [
        'GET /api/admin/ssot',
        'GET /api/admin/ssot/{section}',
        'POST /api/events',
        'GET /api/admin/jobs',
        'GET /api/admin/jobs/{id}',
        'POST /api/admin/jobs/{id}/retry',
        'POST /api/admin/jobs/{id}/cancel',
        'POST /api/admin/jobs/bulk',
        'GET /api/admin/jobs/bulk/{bulk_id}',
        'GET /api/openapi.json',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
      ].sort(),
    );
  });

  /** A concrete request target for a documented path. */
  const concrete = (path: string) =>
    path.replace('{section}', 'dashboard').replace('{bulk_id}', '00000000-0000-4000-8000-000000000000').replace('{id}', '42');
  const NO_ROUTE = { error: { code: 'not_found', message: 'no such route' } };

  it('is answered by a route for every operation it documents', async () => {
    for (const operation of operations()) {
      const [method, path] = operation.split(' ') as [string, string];
      const token = path === '/api/events' ? INGEST_TOKEN : admin;
      let req = request(api.app)[method.toLowerCase() as 'get' | 'post'](concrete(path)).set('Authorization', `Bearer ${token}`);
      if (method === 'POST') req = req.set('Content-Type', 'application/json').send('{}');
      const res = await req;
      expect({ operation, status: res.status, body: res.body }).not.toEqual({ operation, status: 404, body: NO_ROUTE });
    }
  });

  /** Whether a documented operation answers `method target` (a template's `{x}` is one segment). */
  const documented = (method: string, target: string) =>
    operations().some((operation) => {
      const [m, template] = operation.split(' ') as [string, string];
      return m === method.toUpperCase() && new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`).test(target);
    });

  it('answers no method it does not document on a documented path', async () => {
    for (const [path, item] of Object.entries(document.paths)) {
      // GET /api/admin/jobs/bulk is GET /api/admin/jobs/{id} for the job 'bulk': documented.
      for (const method of METHODS.filter((m) => !item[m] && !documented(m, concrete(path)))) {
        const res = await request(api.app)[method](concrete(path)).set('Authorization', `Bearer ${admin}`);
        expect({ operation: `${method.toUpperCase()} ${path}`, status: res.status, body: res.body }).toEqual({ operation: `${method.toUpperCase()} ${path}`, status: 404, body: NO_ROUTE });
      }
    }
  });

  it('names every operation once, secures the admin and ingest ones, and writes patterns JSON Schema can use', () => {
    const ops = Object.values(document.paths).flatMap((item) => METHODS.map((m) => item[m]).filter((op): op is Operation => op !== undefined));
    const ids = ops.map((op) => op.operationId);
    expect(new Set(ids).size).toBe(ops.length);
    const secured = Object.entries(document.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((m) => [`${m.toUpperCase()} ${path}`, Object.keys(item[m]!.security?.[0] ?? {}).join(',') || 'public']),
    );
    for (const [operation, scheme] of secured) {
      const expected = operation === 'POST /api/events' ? 'ingestToken' : /\/api\/admin\//.test(operation) ? 'adminToken' : 'public';
      expect({ operation, scheme }).toEqual({ operation, scheme: expected });
    }
    const patterns: string[] = [];
    JSON.stringify(document, (key, value: unknown) => {
      if (key === 'pattern' && typeof value === 'string') patterns.push(value);
      return value;
    });
    expect(patterns.length).toBeGreaterThan(0);
    for (const pattern of patterns) expect(() => new RegExp(pattern, 'u')).not.toThrow();
    // The opaque-id pattern as the contract has it, not with zod-to-openapi's `/u` suffix.
    expect(patterns).toContain('^[^\\p{White_Space}\\p{Cc}]+$');
  });
});
