// The dashboard as users reach it: a real api (in this process) serving the build at `/` from
// its own DASHBOARD_* configuration, beside the stack's, on the same namespace and database, and
// the page's gateway a real realtime-gateway process behind a TCP proxy (so a test can stop it
// and bring a new one back at the same address).
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadApiConfig } from '../../../api/src/config';
import { type ApiService, startApiService } from '../../../api/src/service';
import { freePort, type ServiceProcess, spawnService } from '../../../../test/support/processes';
import { startTcpProxy } from '../../../../test/support/tcp-proxy';
import { TEST_SECRET } from '../../../../test/support/tokens';
import type { DashboardAuth } from '../../serve.cjs';

export const DIST = join(__dirname, '..', '..', 'dist');

export interface DashboardServerOptions {
  /** The stack's Redis, namespace and database: the api and the gateway use them. */
  redisUrl: string;
  namespace: string;
  databaseUrl?: string;
  /** How the api and the gateway verify tokens. @default the test HS256 secret */
  tokenAuth?: Record<string, string>;
  /** How the dashboard signs users in. @default { mode: 'token' } */
  auth?: DashboardAuth;
}

export type DashboardServer = Awaited<ReturnType<typeof startDashboardServer>>;

export async function startDashboardServer(options: DashboardServerOptions) {
  const tokenAuth = options.tokenAuth ?? { AUTH_JWT_SECRET: TEST_SECRET };
  const apiPort = await freePort();
  const url = `http://127.0.0.1:${apiPort}`;
  const gatewayEnv = {
    REDIS_URL: options.redisUrl,
    SSOT_NAMESPACE: options.namespace,
    LOG_LEVEL: 'warn',
    VERSION_CHECK_MS: '1000',
    // The page is another origin than the gateway: it must be let in (CONTRACT §2).
    CORS_ORIGINS: url,
    ...tokenAuth,
  };
  let gateway: ServiceProcess | null = await spawnService('realtime-gateway', gatewayEnv);
  const proxy = await startTcpProxy('127.0.0.1', gateway.port);
  const gatewayUrl = `http://127.0.0.1:${proxy.port}`;
  const auth = options.auth ?? { mode: 'token' };
  const api: ApiService = await startApiService(
    loadApiConfig({
      REDIS_URL: options.redisUrl,
      SSOT_NAMESPACE: options.namespace,
      LOG_LEVEL: 'silent',
      PORT: String(apiPort),
      INGEST_TOKENS: 'dashboard-test-ingest-token-0123456789',
      ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
      ...tokenAuth,
      DASHBOARD_DIR: DIST,
      DASHBOARD_GATEWAY_URLS: gatewayUrl,
      DASHBOARD_AUTH: auth.mode,
      ...(auth.mode === 'oidc'
        ? {
            DASHBOARD_OIDC_ISSUER: auth.issuer ?? '',
            DASHBOARD_OIDC_CLIENT_ID: auth.clientId ?? '',
            ...(auth.scope ? { DASHBOARD_OIDC_SCOPE: auth.scope } : {}),
            ...(auth.roleClaim ? { DASHBOARD_OIDC_ROLE_CLAIM: auth.roleClaim } : {}),
            ...(auth.resource ? { DASHBOARD_OIDC_RESOURCE: auth.resource } : {}),
          }
        : {}),
    }),
    { listen: true },
  );
  if ((api.server!.address() as AddressInfo).port !== apiPort) throw new Error('the api is not on the port it was given');
  const probe = await fetch(`${url}/`);
  await probe.arrayBuffer();
  if (probe.status !== 200) throw new Error(`${DIST} holds no build (GET / answered ${probe.status}): run npm run build first`);

  return {
    url,
    gatewayUrl,
    csp: probe.headers.get('content-security-policy') ?? '',
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
      await api.stop();
    },
  };
}
