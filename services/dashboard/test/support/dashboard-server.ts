// The dashboard as the api will serve it, for browser tests until the api wires serve.cjs
// itself: the built files through that same handler (same headers, same CSP), `/api/*` passed
// to a real api, and the page's gateway a real realtime-gateway process behind a TCP proxy (so
// the test can stop it and bring a new one back at the same address).
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type ServiceProcess, spawnService } from '../../../../test/support/processes';
import { startTcpProxy } from '../../../../test/support/tcp-proxy';
import { TEST_SECRET } from '../../../../test/support/tokens';
import { createDashboardHandler, type DashboardAuth } from '../../serve.cjs';

export const DIST = join(__dirname, '..', '..', 'dist');

export interface DashboardServerOptions {
  /** The api `/api/*` goes to. */
  apiUrl: string;
  /** The stack's Redis and namespace, for the gateway process. */
  redisUrl: string;
  namespace: string;
  /** How the gateway verifies tokens. @default the test HS256 secret */
  gatewayAuth?: Record<string, string>;
  auth?: DashboardAuth;
}

export type DashboardServer = Awaited<ReturnType<typeof startDashboardServer>>;

export async function startDashboardServer(options: DashboardServerOptions) {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const gatewayEnv = {
    REDIS_URL: options.redisUrl,
    SSOT_NAMESPACE: options.namespace,
    LOG_LEVEL: 'warn',
    VERSION_CHECK_MS: '1000',
    // The page is another origin than the gateway: it must be let in (CONTRACT §2).
    CORS_ORIGINS: url,
    ...(options.gatewayAuth ?? { AUTH_JWT_SECRET: TEST_SECRET }),
  };
  let gateway: ServiceProcess | null = await spawnService('realtime-gateway', gatewayEnv);
  const proxy = await startTcpProxy('127.0.0.1', gateway.port);
  const gatewayUrl = `http://127.0.0.1:${proxy.port}`;
  const handler = createDashboardHandler(DIST, { gatewayUrls: [gatewayUrl], auth: options.auth });
  if (!handler.available) throw new Error(`${DIST} holds no build: run npm run build first`);
  const api = new URL(options.apiUrl);

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (handler(req, res)) return;
    if (!req.url?.startsWith('/api/')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"no such route"}}');
      return;
    }
    const upstream = request({ host: api.hostname, port: api.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.headersSent ? res.destroy() : res.writeHead(502).end());
    req.pipe(upstream);
  });

  return {
    url,
    gatewayUrl,
    csp: handler.csp,
    /** Stops the gateway process (its sockets drop; new connections are refused at the proxy's target). */
    async stopGateway(): Promise<void> {
      await gateway?.stop();
      gateway = null;
    },
    /** A new gateway process, reached at the same address. */
    async startGateway(): Promise<void> {
      gateway = await spawnService('realtime-gateway', gatewayEnv);
      proxy.retarget('127.0.0.1', gateway.port);
    },
    async close(): Promise<void> {
      await gateway?.stop();
      await proxy.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
