import type { IncomingMessage, ServerResponse } from 'node:http';

export interface DashboardAuth {
  /** `token`: development (`#token=…` in the URL); `oidc`: OpenID Connect, authorization code + PKCE. */
  mode: 'token' | 'oidc';
  /** The OIDC issuer URL (mode oidc). */
  issuer?: string;
  /** The OIDC client id: a public client using PKCE (mode oidc). */
  clientId?: string;
  /** @default 'openid profile' */
  scope?: string;
  /** The claim holding `admin`/`user` (a dotted path for nested claims). @default 'role' */
  roleClaim?: string;
  /** An RFC 8707 resource indicator to ask the access token for. */
  resource?: string;
}

export interface DashboardOptions {
  /** The realtime gateways the browser connects to (full URLs). @default [] (this origin) */
  gatewayUrls?: readonly string[];
  /** The api's URL as the browser reaches it. @default '' (this origin) */
  apiUrl?: string;
  /** @default { mode: 'token' } */
  auth?: DashboardAuth;
}

export type DashboardHandler = ((req: IncomingMessage, res: ServerResponse) => boolean) & {
  /** False when `distDir` holds no build: the handler answers nothing. */
  readonly available: boolean;
  /** The Content-Security-Policy every answer carries. */
  readonly csp: string;
};

export function createDashboardHandler(distDir: string, options?: DashboardOptions): DashboardHandler;
export function contentSecurityPolicy(options?: { gatewayUrls?: readonly string[]; apiUrl?: string; oidcIssuer?: string }): string;
export const APP_ROUTES: readonly string[];
/** This package's dist/. */
export const DEFAULT_DIST_DIR: string;
