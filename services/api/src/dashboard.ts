import { createDashboardHandler, DEFAULT_DIST_DIR, type DashboardAuth, type DashboardHandler } from '@agentos/dashboard';
import type { Logger } from '@agentos/runtime';
import type { ApiConfig } from './config';

/**
 * The dashboard's build as the api serves it at `/` (CONTRACT §1), configured from the api's
 * env. Its files are read once, here. Without a build (a checkout where the dashboard was not
 * built, an image without it) the api still starts, says so once, and answers `/` with 404.
 */
export function dashboardHandler(config: Readonly<ApiConfig>, logger: Pick<Logger, 'info' | 'warn'>): DashboardHandler | undefined {
  const dir = config.DASHBOARD_DIR ?? DEFAULT_DIST_DIR;
  const handler = createDashboardHandler(dir, { gatewayUrls: config.DASHBOARD_GATEWAY_URLS, auth: dashboardAuth(config) });
  if (!handler.available) {
    logger.warn({ dir }, 'no dashboard build (index.html) here: / answers 404 (npm run build builds it)');
    return undefined;
  }
  logger.info({ dir, auth: config.DASHBOARD_AUTH, gateways: config.DASHBOARD_GATEWAY_URLS.length === 0 ? 'same origin' : config.DASHBOARD_GATEWAY_URLS }, 'serving the dashboard at /');
  return handler;
}

function dashboardAuth(config: Readonly<ApiConfig>): DashboardAuth {
  if (config.DASHBOARD_AUTH === 'token') return { mode: 'token' };
  return {
    mode: 'oidc',
    // Both present: loadApiConfig refuses oidc without them.
    issuer: config.DASHBOARD_OIDC_ISSUER!,
    clientId: config.DASHBOARD_OIDC_CLIENT_ID!,
    scope: config.DASHBOARD_OIDC_SCOPE,
    roleClaim: config.DASHBOARD_OIDC_ROLE_CLAIM,
    ...(config.DASHBOARD_OIDC_RESOURCE ? { resource: config.DASHBOARD_OIDC_RESOURCE } : {}),
  };
}
