// A real OpenID Connect provider (oidc-provider, the certified Node implementation) for the
// sign-in test, as its own process: the package is ESM-only and jest's module loader is not.
// Authorization code + PKCE for a public client `dashboard`; access tokens are JWTs (RFC 9068,
// via a resource indicator) signed with a key made at start, carrying `role` — `admin` for the
// account `ada-admin`, `user` for any other — so the api and the gateway verify them through
// the provider's JWKS. The login and consent pages are oidc-provider's development ones.
//
//   PORT=… DASHBOARD_ORIGIN=http://127.0.0.1:… node oidc-provider.mjs   → prints "ready <issuer>"
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const origin = process.env.DASHBOARD_ORIGIN;
const issuer = `http://127.0.0.1:${port}`;
const roleOf = (accountId) => (accountId === 'ada-admin' ? 'admin' : 'user');

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const key = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'dashboard',
      token_endpoint_auth_method: 'none',
      redirect_uris: [`${origin}/auth/callback`],
      post_logout_redirect_uris: [`${origin}/`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [key] },
  cookies: { keys: ['oidc-test-cookie-key-0123456789abcdef'] },
  pkce: { required: () => true },
  clientBasedCORS: (_ctx, requestOrigin) => requestOrigin === origin,
  claims: { openid: ['sub'], profile: ['role'] },
  findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, role: roleOf(id) }) }),
  extraTokenClaims: (_ctx, token) => (token.kind === 'AccessToken' ? { role: roleOf(token.accountId) } : undefined),
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:agentos:ssot',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'openid profile', audience: 'urn:agentos:ssot', accessTokenTTL: 600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    },
  },
});
provider.on('server_error', (_ctx, error) => console.error('server_error', error));
provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
