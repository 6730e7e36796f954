// Serves the dashboard's build (dist/) from the api's own HTTP server (CONTRACT §1: the api
// serves the dashboard at `/`). A plain node:http handler, so the api wires it without express:
//
//   const { createDashboardHandler } = require('@agentos/dashboard');
//   const dashboard = createDashboardHandler(distDir, { gatewayUrls, auth });
//   if (dashboard(req, res)) return;   // it answered; otherwise the api's routes go on
//
// What it answers (GET and HEAD only; anything else is left to the api):
//   /assets/*            the hashed files Vite wrote: cached for a year, immutable
//   /, /analytics, /queue, /agents, /logs, /system, /auth/callback, /index.html
//                        index.html, never cached (a new build is seen at once)
//   /config.json         the app's runtime configuration (apiUrl, gatewayUrls, auth), never cached
//   other files at the top of dist/ (none today), revalidated every time
// gzip or brotli when asked, from the .gz/.br files the build wrote next to each file. Every
// answer carries the Content-Security-Policy the app needs and nothing more.
'use strict';

const { createHash } = require('node:crypto');
const { existsSync, readdirSync, readFileSync, statSync } = require('node:fs');
const { extname, join, relative, sep } = require('node:path');
const { gzipSync } = require('node:zlib');

/** The app's views and the OIDC callback: every one is index.html (the app routes itself). */
const APP_ROUTES = ['/', '/index.html', '/analytics', '/queue', '/agents', '/logs', '/system', '/auth/callback'];

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const YEAR = 'public, max-age=31536000, immutable';
const NEVER = 'no-store';
const REVALIDATE = 'no-cache';

/**
 * The origins a URL list allows the page to connect to: each origin, and for http(s) its
 * ws(s) twin (socket.io's WebSocket transport).
 * @param {readonly string[]} urls
 */
function connectSources(urls) {
  const sources = new Set();
  for (const url of urls) {
    const parsed = new URL(url);
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol)) throw new TypeError(`not an http(s) or ws(s) URL: ${url}`);
    sources.add(parsed.origin);
    const twin = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'http:', 'wss:': 'https:' }[parsed.protocol];
    sources.add(`${twin}//${parsed.host}`);
  }
  return [...sources];
}

/**
 * The Content-Security-Policy of the dashboard: its own scripts and styles only (no inline
 * script, no eval), connections to this origin, the gateways and the OIDC issuer, no frames,
 * no plugins, forms posting nowhere else.
 * @param {{ gatewayUrls?: readonly string[], apiUrl?: string, oidcIssuer?: string }} options
 */
function contentSecurityPolicy(options = {}) {
  const connect = ["'self'", ...connectSources([...(options.gatewayUrls ?? []), ...(options.apiUrl ? [options.apiUrl] : []), ...(options.oidcIssuer ? [options.oidcIssuer] : [])])];
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src ${[...new Set(connect)].join(' ')}`,
    "worker-src 'none'",
    "frame-src 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/**
 * @typedef {object} DashboardAuth
 * @property {'token' | 'oidc'} mode `token`: development (`#token=…` in the URL); `oidc`: OpenID Connect, code + PKCE.
 * @property {string} [issuer] OIDC issuer URL (mode oidc).
 * @property {string} [clientId] OIDC client id, a public client with PKCE (mode oidc).
 * @property {string} [scope] @default 'openid profile'
 * @property {string} [roleClaim] The claim holding `admin`/`user` (a dotted path for nested claims). @default 'role'
 * @property {string} [resource] An RFC 8707 resource indicator to ask the access token for.
 */

/**
 * @typedef {object} DashboardOptions
 * @property {readonly string[]} [gatewayUrls] The realtime gateways the browser connects to (full URLs). @default [] (this origin)
 * @property {string} [apiUrl] The api's URL as the browser reaches it. @default '' (this origin)
 * @property {DashboardAuth} [auth] @default { mode: 'token' }
 */

/**
 * A node:http handler serving the build in `distDir`: `(req, res) => true` when it answered.
 * Files are read once, here; a missing or unbuilt `distDir` gives a handler that answers nothing
 * (`handler.available` is false) so the api still starts.
 * @param {string} distDir
 * @param {DashboardOptions} [options]
 * @returns {((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean) & { available: boolean, csp: string }}
 */
function createDashboardHandler(distDir, options = {}) {
  const auth = options.auth ?? { mode: 'token' };
  if (auth.mode === 'oidc' && (!auth.issuer || !auth.clientId)) throw new TypeError('dashboard auth mode oidc needs issuer and clientId');
  const csp = contentSecurityPolicy({ gatewayUrls: options.gatewayUrls, apiUrl: options.apiUrl, oidcIssuer: auth.mode === 'oidc' ? auth.issuer : undefined });
  const config = JSON.stringify({ apiUrl: options.apiUrl ?? '', gatewayUrls: [...(options.gatewayUrls ?? [])], auth });

  /** @type {Map<string, {body: Buffer, gzip: Buffer | null, br: Buffer | null, type: string, etag: string, cache: string}>} */
  const files = new Map();
  const index = join(distDir, 'index.html');
  const available = existsSync(index);
  if (available) {
    for (const file of walk(distDir)) {
      if (file.endsWith('.gz') || file.endsWith('.br') || file.endsWith('.map')) continue;
      const urlPath = `/${relative(distDir, file).split(sep).join('/')}`;
      const body = readFileSync(file);
      const sibling = (suffix) => (existsSync(file + suffix) ? readFileSync(file + suffix) : null);
      files.set(urlPath, {
        body,
        gzip: sibling('.gz') ?? (body.length > 1024 ? gzipSync(body) : null),
        br: sibling('.br'),
        type: TYPES[extname(file)] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        cache: urlPath.startsWith('/assets/') ? YEAR : urlPath === '/index.html' ? NEVER : REVALIDATE,
      });
    }
    files.set('/config.json', { body: Buffer.from(config), gzip: null, br: null, type: TYPES['.json'], etag: '', cache: NEVER });
  }
  const page = files.get('/index.html');

  const handler = (req, res) => {
    if (!available || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const path = pathOf(req.url);
    if (path === null) return false;
    const file = APP_ROUTES.includes(path) ? page : files.get(path);
    if (!file) return false;

    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', file.cache);
    res.setHeader('Content-Type', file.type);
    if (file.etag) res.setHeader('ETag', file.etag);
    if (file.gzip || file.br) res.setHeader('Vary', 'Accept-Encoding');
    if (file.etag && file.cache !== NEVER && req.headers['if-none-match'] === file.etag) {
      res.statusCode = 304;
      res.end();
      return true;
    }
    const accepted = String(req.headers['accept-encoding'] ?? '');
    let body = file.body;
    if (file.br && /\bbr\b/.test(accepted)) {
      body = file.br;
      res.setHeader('Content-Encoding', 'br');
    } else if (file.gzip && /\bgzip\b/.test(accepted)) {
      body = file.gzip;
      res.setHeader('Content-Encoding', 'gzip');
    }
    res.setHeader('Content-Length', body.length);
    res.statusCode = 200;
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
  return Object.assign(handler, { available, csp });
}

/** The path of a request target, or null when it is not a plain absolute path (the api answers those). */
function pathOf(url) {
  if (typeof url !== 'string' || !url.startsWith('/')) return null;
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  // Files are looked up by exact name in a map made at start: no decoding, no way out of dist/.
  return path;
}

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) yield* walk(full);
    else yield full;
  }
}

/** Where this package's build is, for the api's default. */
const DEFAULT_DIST_DIR = join(__dirname, 'dist');

module.exports = { createDashboardHandler, contentSecurityPolicy, APP_ROUTES, DEFAULT_DIST_DIR };
