// The api serves the dashboard's build at `/` (CONTRACT §1, issue 11): the app's routes are
// index.html, never cached; hashed assets are cached for a year; /config.json tells the page
// where the gateways are and how to sign in; every answer carries the dashboard's own CSP and the
// api's security headers. Everything else is still the api's. This reads the real build
// (`npm test` builds it first) through the default DASHBOARD_DIR.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { loadApiConfig } from '../src/config';
import { startApiService, type ApiService } from '../src/service';
import { cleanupNamespace, TEST_REDIS_URL, uniqueNamespace } from '../../../test/support/redis';
import { TEST_SECRET } from '../../../test/support/tokens';

jest.setTimeout(30_000);

const GATEWAY = 'https://gw.example.test:8443';
const base = (namespace: string, extra: Record<string, string> = {}) =>
  loadApiConfig({ REDIS_URL: TEST_REDIS_URL, SSOT_NAMESPACE: namespace, AUTH_JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'silent', REBUILD_WAIT_MS: '100', ...extra });

describe('the dashboard at /', () => {
  const namespace = uniqueNamespace('api-dashboard');
  let api: ApiService;

  beforeAll(async () => {
    api = await startApiService(
      base(namespace, {
        DASHBOARD_GATEWAY_URLS: GATEWAY,
        DASHBOARD_AUTH: 'oidc',
        DASHBOARD_OIDC_ISSUER: 'https://id.example.test/realms/ops',
        DASHBOARD_OIDC_CLIENT_ID: 'ssot-dashboard',
      }),
    );
  });
  afterAll(async () => {
    await api?.stop();
    await cleanupNamespace(namespace);
  });

  it('answers / and every view with index.html, never cached, under the dashboard CSP and the security headers', async () => {
    for (const path of ['/', '/analytics', '/queue?status=failed&queue=reports', '/agents', '/logs', '/system', '/auth/callback?code=x&state=y']) {
      const res = await request(api.app).get(path);
      expect({ path, status: res.status, type: res.headers['content-type'], cache: res.headers['cache-control'] }).toEqual({
        path,
        status: 200,
        type: 'text/html; charset=utf-8',
        cache: 'no-store',
      });
      expect(res.text).toMatch(/<script type="module" crossorigin src="\/assets\/[^"]+\.js"><\/script>/);
      const csp = res.headers['content-security-policy'];
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      // The gateway, its WebSocket twin and the OIDC issuer, and nothing else beyond this origin.
      expect(csp).toMatch(/connect-src 'self' https:\/\/gw\.example\.test:8443 wss:\/\/gw\.example\.test:8443 https:\/\/id\.example\.test wss:\/\/id\.example\.test;/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['strict-transport-security']).toBeDefined();
      expect(res.headers['x-request-id']).toBeDefined();
    }
  });

  it('serves the hashed assets for a year, compressed when asked', async () => {
    const page = await request(api.app).get('/');
    const assets = [...page.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      const res = await request(api.app).get(asset).set('accept-encoding', 'br, gzip');
      expect({ asset, status: res.status, cache: res.headers['cache-control'], encoding: res.headers['content-encoding'] }).toEqual({
        asset,
        status: 200,
        cache: 'public, max-age=31536000, immutable',
        encoding: 'br',
      });
    }
    const missing = await request(api.app).get('/assets/no-such-file.js');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: 'not_found', message: 'no such route' } });
  });

  it('tells the page where the gateways are and how to sign in (/config.json), never cached', async () => {
    const res = await request(api.app).get('/config.json');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(res.text)).toEqual({
      apiUrl: '',
      gatewayUrls: [GATEWAY],
      auth: { mode: 'oidc', issuer: 'https://id.example.test/realms/ops', clientId: 'ssot-dashboard', scope: 'openid profile', roleClaim: 'role' },
    });
  });

  it('leaves everything else to the api: other methods, the api routes, unknown paths', async () => {
    expect((await request(api.app).post('/').send({})).status).toBe(404);
    const ssot = await request(api.app).get('/api/admin/ssot');
    expect(ssot.status).toBe(401);
    // The api's own (helmet's) policy, not the page's.
    expect(ssot.headers['content-security-policy']).not.toMatch(/connect-src/);
    expect((await request(api.app).get('/healthz')).status).toBe(200);
    expect((await request(api.app).get('/../../etc/passwd')).status).toBe(404);
    expect((await request(api.app).get('/%2e%2e/package.json')).status).toBe(404);
  });
});

describe('the dashboard configuration', () => {
  it('refuses DASHBOARD_AUTH=oidc without its issuer and client id, naming both', () => {
    expect(() => base('unused', { DASHBOARD_AUTH: 'oidc' })).toThrow(/DASHBOARD_OIDC_ISSUER: required with DASHBOARD_AUTH=oidc[\s\S]*DASHBOARD_OIDC_CLIENT_ID: required/);
    expect(() => base('unused', { DASHBOARD_GATEWAY_URLS: 'ftp://x' })).toThrow(/DASHBOARD_GATEWAY_URLS/);
  });

  it('starts without a build: / answers 404 and the api goes on', async () => {
    const namespace = uniqueNamespace('api-no-dashboard');
    const empty = mkdtempSync(join(tmpdir(), 'ssot-no-dashboard-'));
    const api = await startApiService(base(namespace, { DASHBOARD_DIR: empty }));
    try {
      const res = await request(api.app).get('/');
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      expect((await request(api.app).get('/healthz')).status).toBe(200);
    } finally {
      await api.stop();
      rmSync(empty, { recursive: true, force: true });
      await cleanupNamespace(namespace);
    }
  });
});
