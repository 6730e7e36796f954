/**
 * What the built app needs to know at run time, read from `/config.json` (written by the server
 * that serves the build: `serve.cjs`, from its options). One build serves every environment.
 */

export type AuthConfig =
  /** Development: a token in the URL's fragment (`#token=…`), kept for the tab. */
  | { mode: 'token' }
  /** Production: OpenID Connect, authorization code + PKCE. */
  | {
      mode: 'oidc';
      /** The provider's issuer URL (its discovery document is at `/.well-known/openid-configuration`). */
      issuer: string;
      clientId: string;
      /** @default 'openid profile' */
      scope: string;
      /** The claim that carries the role (`admin` or `user`, or a list holding one). @default 'role' */
      roleClaim: string;
      /** A resource indicator (RFC 8707) to ask the access token for, when the provider needs one. */
      resource?: string;
    };

export interface DashboardConfig {
  /** The api's base URL; '' for this page's origin. */
  apiUrl: string;
  /** The realtime gateways in the order tried; empty: the api's origin. */
  gatewayUrls: string[];
  auth: AuthConfig;
}

export const DEFAULT_CONFIG: DashboardConfig = { apiUrl: '', gatewayUrls: [], auth: { mode: 'token' } };

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : []);
const text = (value: unknown, fallback: string): string => (typeof value === 'string' && value !== '' ? value : fallback);

/** The config from its JSON, every missing or unusable field at its default; throws when OIDC is asked for without issuer or client id. */
export function readConfig(raw: unknown): DashboardConfig {
  if (typeof raw !== 'object' || raw === null) return DEFAULT_CONFIG;
  const source = raw as Record<string, unknown>;
  const auth = (typeof source.auth === 'object' && source.auth !== null ? source.auth : {}) as Record<string, unknown>;
  let authConfig: AuthConfig = { mode: 'token' };
  if (auth.mode === 'oidc') {
    if (typeof auth.issuer !== 'string' || !auth.issuer || typeof auth.clientId !== 'string' || !auth.clientId) {
      throw new Error('config.json: auth.mode "oidc" needs auth.issuer and auth.clientId');
    }
    authConfig = {
      mode: 'oidc',
      issuer: auth.issuer,
      clientId: auth.clientId,
      scope: text(auth.scope, 'openid profile'),
      roleClaim: text(auth.roleClaim, 'role'),
      ...(typeof auth.resource === 'string' && auth.resource ? { resource: auth.resource } : {}),
    };
  }
  return { apiUrl: typeof source.apiUrl === 'string' ? source.apiUrl : '', gatewayUrls: strings(source.gatewayUrls), auth: authConfig };
}

export async function loadConfig(fetchFn: typeof fetch = fetch): Promise<DashboardConfig> {
  // The request index.html preloads (same URL, mode and credentials, so this one takes its answer);
  // the server sends it with `Cache-Control: no-store`, so it is never stale.
  const res = await fetchFn('/config.json');
  // No config.json (the Vite dev server): same origin, development sign-in.
  if (res.status === 404) return DEFAULT_CONFIG;
  if (!res.ok) throw new Error(`/config.json: HTTP ${res.status}`);
  return readConfig(await res.json());
}
