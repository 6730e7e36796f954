// serve.cjs, the handler the api calls to serve the build: which paths it answers, the cache
// headers (hashed assets a year, index.html and config.json never), compression, the CSP, and
// that it leaves everything else — the api's routes, other methods, paths outside dist — alone.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { contentSecurityPolicy, createDashboardHandler, type DashboardOptions } from '../serve.cjs';

function fakeDist(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-dist-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/index-AbC123.js"></script>');
  writeFileSync(join(dir, 'assets', 'index-AbC123.js'), `console.log(${JSON.stringify('x'.repeat(5000))});`);
  writeFileSync(join(dir, 'assets', 'index-AbC123.js.map'), '{}');
  writeFileSync(join(dir, 'assets', 'index-AbC123.js.br'), 'brotli-bytes');
  return dir;
}

async function serve(dist: string, options?: DashboardOptions) {
  const handler = createDashboardHandler(dist, options);
  const server: Server = createServer((req, res) => {
    if (!handler(req, res)) res.writeHead(418).end('api');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { handler, base, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('serve.cjs', () => {
  const dist = fakeDist();
  let s: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    s = await serve(dist, { gatewayUrls: ['http://127.0.0.1:3001', 'https://rt.example.com'], auth: { mode: 'oidc', issuer: 'https://id.example.com/realm', clientId: 'dashboard' } });
  });
  afterAll(() => s.close());

  it('answers every view and the OIDC callback with index.html, never cached', async () => {
    for (const path of ['/', '/analytics', '/queue?status=failed&job=42', '/agents', '/logs', '/system', '/auth/callback?code=x&state=y', '/index.html']) {
      const res = await fetch(`${s.base}${path}`);
      expect({ path, status: res.status, cache: res.headers.get('cache-control'), type: res.headers.get('content-type') }).toEqual({ path, status: 200, cache: 'no-store', type: 'text/html; charset=utf-8' });
      expect(await res.text()).toContain('/assets/index-AbC123.js');
    }
  });

  it('serves hashed assets for a year, compressed when asked, with an ETag and 304', async () => {
    const plain = await fetch(`${s.base}/assets/index-AbC123.js`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(plain.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(plain.headers.get('vary')).toBe('Accept-Encoding');
    const body = await plain.text();
    expect(body).toContain('console.log');
    const etag = plain.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]{22}"$/);

    // fetch() undoes gzip itself: read the raw bytes with node:http instead.
    const raw = await new Promise<{ encoding?: string; bytes: Buffer }>((resolve) => {
      require('node:http').get(`${s.base}/assets/index-AbC123.js`, { headers: { 'accept-encoding': 'gzip' } }, (res: import('node:http').IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ encoding: res.headers['content-encoding'], bytes: Buffer.concat(chunks) }));
      });
    });
    expect(raw.encoding).toBe('gzip');
    expect(gunzipSync(raw.bytes).toString()).toBe(body);
    const br = await new Promise<string | undefined>((resolve) => {
      require('node:http').get(`${s.base}/assets/index-AbC123.js`, { headers: { 'accept-encoding': 'gzip, br' } }, (res: import('node:http').IncomingMessage) => {
        res.resume();
        resolve(res.headers['content-encoding']);
      });
    });
    expect(br).toBe('br');
    expect((await fetch(`${s.base}/assets/index-AbC123.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const head = await fetch(`${s.base}/assets/index-AbC123.js`, { method: 'HEAD', headers: { 'accept-encoding': 'identity' } });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, String(Buffer.byteLength(body))]);
  });

  it('writes /config.json from its options, never cached', async () => {
    const res = await fetch(`${s.base}/config.json`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ apiUrl: '', gatewayUrls: ['http://127.0.0.1:3001', 'https://rt.example.com'], auth: { mode: 'oidc', issuer: 'https://id.example.com/realm', clientId: 'dashboard' } });
  });

  it('sends the CSP the app needs: own scripts only, connections to itself, the gateways (http and ws) and the issuer', async () => {
    const csp = (await fetch(`${s.base}/`)).headers.get('content-security-policy');
    expect(csp).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
        "connect-src 'self' http://127.0.0.1:3001 ws://127.0.0.1:3001 https://rt.example.com wss://rt.example.com https://id.example.com wss://id.example.com; " +
        "worker-src 'none'; frame-src 'none'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'",
    );
    expect(csp).not.toContain('unsafe');
    expect(contentSecurityPolicy()).toContain("connect-src 'self';");
    expect(() => contentSecurityPolicy({ gatewayUrls: ['javascript:alert(1)'] })).toThrow('not an http(s) or ws(s) URL');
  });

  it('leaves everything else to the api: its routes, other methods, maps, unknown and escaping paths', async () => {
    for (const [method, path] of [
      ['GET', '/api/admin/ssot'],
      ['GET', '/healthz'],
      ['POST', '/'],
      ['GET', '/assets/index-AbC123.js.map'],
      ['GET', '/assets/nope.js'],
      ['GET', '/queue/extra'],
    ]) {
      const res = await fetch(`${s.base}${path}`, { method });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 418 });
    }
    // Targets a browser never sends (fetch would normalise them): looked up as given, found nowhere.
    for (const url of ['/assets/../index.html', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json', 'http://evil.example/', '*']) {
      expect({ url, answered: s.handler({ method: 'GET', url, headers: {} } as never, {} as never) }).toEqual({ url, answered: false });
    }
  });

  it('answers nothing when there is no build, so the api still starts', async () => {
    const empty = createDashboardHandler(join(tmpdir(), 'no-such-dashboard-dist'));
    expect(empty.available).toBe(false);
    expect(empty({ method: 'GET', url: '/', headers: {} } as never, {} as never)).toBe(false);
    expect(() => createDashboardHandler(dist, { auth: { mode: 'oidc' } })).toThrow('needs issuer and clientId');
  });
});
