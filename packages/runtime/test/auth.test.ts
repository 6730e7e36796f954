import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, type KeyLike, SignJWT, UnsecuredJWT } from 'jose';
import { z } from 'zod';
import { TEST_SECRET } from '../../../test/support/tokens';
import { waitFor } from '../../../test/support/wait';
import { authOptions, createTokenVerifier, MAX_TOKEN_LENGTH, type TokenVerifier } from '../src/auth';
import { AUTH_REQUIRED, authEnv, loadEnv } from '../src/env';
import { ConfigError, KeySetUnavailableError, UnauthorizedError } from '../src/errors';

interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  publicKey: KeyLike;
  /** The public half as the JWKS serves it. */
  jwk: JWK;
}

/** Claims of a test token; times in seconds since the epoch. Defaults: an admin, valid for an hour. */
interface Claims {
  role?: string;
  iss?: string;
  aud?: string;
  nbf?: number;
  exp?: number;
}

const nowS = () => Math.floor(Date.now() / 1000);

function claims(c: Claims): SignJWT {
  let jwt = new SignJWT({ role: c.role ?? 'admin' })
    .setSubject('user-1')
    .setIssuedAt()
    .setExpirationTime(c.exp ?? nowS() + 3600);
  if (c.iss !== undefined) jwt = jwt.setIssuer(c.iss);
  if (c.aud !== undefined) jwt = jwt.setAudience(c.aud);
  if (c.nbf !== undefined) jwt = jwt.setNotBefore(c.nbf);
  return jwt;
}

const signRs256 = (key: SigningKey, c: Claims = {}) => claims(c).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(key.privateKey);
const signHs256 = (secret: string | Uint8Array, c: Claims = {}) =>
  claims(c)
    .setProtectedHeader({ alg: 'HS256' })
    .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);

async function signingKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  return { kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

/** The refusal `promise` ends in: an UnauthorizedError that tells the client nothing but `unauthorized`. */
async function refusal(promise: Promise<unknown>): Promise<UnauthorizedError> {
  const error = await promise.then(
    (value) => {
      throw new Error(`expected a refusal, got ${JSON.stringify(value)}`);
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(UnauthorizedError);
  expect((error as UnauthorizedError).message).toBe('unauthorized');
  expect((error as UnauthorizedError).details).toBeUndefined();
  return error as UnauthorizedError;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A JWKS endpoint on 127.0.0.1 serving `keys` (mutable: assign to rotate), counting its fetches. */
async function startJwks(keys: JWK[]): Promise<{ url: string; state: { keys: JWK[]; fetches: number; status: number } }> {
  const state = { keys, fetches: 0, status: 200 };
  const server: Server = createServer((_req, res) => {
    state.fetches += 1;
    res.writeHead(state.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`, state };
}

/** A TCP server that accepts connections and never says a word. */
async function startSilentServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((socket) => void sockets.add(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
}

describe('createTokenVerifier with a JWKS endpoint', () => {
  let keyA: SigningKey;
  let keyB: SigningKey;
  beforeAll(async () => {
    [keyA, keyB] = await Promise.all([signingKey('key-a'), signingKey('key-b')]);
  });

  // Plain http: a TLS test server would need a CA jose can be told to trust. The flag is the
  // development escape hatch, tested on its own below.
  const jwksVerifier = (url: string, options: Partial<Parameters<typeof createTokenVerifier>[0]> = {}): TokenVerifier =>
    createTokenVerifier({ jwksUrl: url, allowInsecureJwks: true, ...options });

  it('verifies a token signed by the current key', async () => {
    const { url } = await startJwks([keyA.jwk]);
    await expect(jwksVerifier(url).verify(await signRs256(keyA))).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });
  });

  it('follows a key rotation: the new kid is fetched after the cooldown, the removed key is refused, remembered tokens included', async () => {
    const { url, state } = await startJwks([keyA.jwk]);
    const verifier = jwksVerifier(url, { jwksCooldownMs: 50 });
    const oldToken = await signRs256(keyA);
    await expect(verifier.verify(oldToken)).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });
    expect(state.fetches).toBe(1);

    state.keys = [keyB.jwk];
    const newToken = await signRs256(keyB);
    // Until the cooldown has passed the unknown kid is refused without a fetch; then it is fetched.
    await waitFor(() => verifier.verify(newToken), { message: 'the rotated-in key to verify' });
    expect(state.fetches).toBe(2);

    // Verified (and remembered) before the rotation: refused now that the key set no longer has its key.
    expect((await refusal(verifier.verify(oldToken))).reason).toBe('JWKSNoMatchingKey: no applicable key found in the JSON Web Key Set');
    expect((await refusal(verifier.verify(await signRs256(keyA, { role: 'user' })))).reason).toMatch(/^JWKSNoMatchingKey: /);
    await expect(verifier.verify(newToken)).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });
  });

  it('refuses a remembered token of a removed key once the key set outlives its max age', async () => {
    const { url, state } = await startJwks([keyA.jwk]);
    const verifier = jwksVerifier(url, { jwksCacheMaxAgeMs: 100 });
    const token = await signRs256(keyA);
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });

    state.keys = [keyB.jwk];
    await waitFor(() => verifier.verify(token).then(() => false, (error: unknown) => error instanceof UnauthorizedError), {
      message: 'the token of the removed key to be refused',
    });
    expect(state.fetches).toBeGreaterThanOrEqual(2);
  });

  it('refuses a remembered token once its kid names another key', async () => {
    const { url, state } = await startJwks([keyA.jwk]);
    const verifier = jwksVerifier(url, { jwksCacheMaxAgeMs: 100 });
    const token = await signRs256(keyA);
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });

    state.keys = [{ ...keyB.jwk, kid: keyA.kid }];
    const refused = await waitFor(() => verifier.verify(token).then(() => false, (error: unknown) => error), {
      message: 'the token to be refused under the replaced key',
    });
    expect((await refusal(Promise.reject(refused))).reason).toBe('JWSSignatureVerificationFailed: signature verification failed');
  });

  it('checks the audience when one is configured', async () => {
    const { url } = await startJwks([keyA.jwk]);
    const verifier = jwksVerifier(url, { audience: 'agentos-ssot' });
    await expect(verifier.verify(await signRs256(keyA, { aud: 'agentos-ssot' }))).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });
    expect((await refusal(verifier.verify(await signRs256(keyA, { aud: 'another-app' })))).reason).toBe('JWTClaimValidationFailed: unexpected "aud" claim value');
    expect((await refusal(verifier.verify(await signRs256(keyA)))).reason).toBe('JWTClaimValidationFailed: missing required "aud" claim');
  });

  it('checks the issuer when one is configured', async () => {
    const { url } = await startJwks([keyA.jwk]);
    const verifier = jwksVerifier(url, { issuer: 'https://idp.example/' });
    await expect(verifier.verify(await signRs256(keyA, { iss: 'https://idp.example/' }))).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });
    expect((await refusal(verifier.verify(await signRs256(keyA, { iss: 'https://evil.example/' })))).reason).toBe(
      'JWTClaimValidationFailed: unexpected "iss" claim value',
    );
    expect((await refusal(verifier.verify(await signRs256(keyA)))).reason).toBe('JWTClaimValidationFailed: missing required "iss" claim');
  });

  it('refuses HS256 tokens, whatever their key: no algorithm confusion with the public key', async () => {
    const { url, state } = await startJwks([keyA.jwk]);
    const verifier = jwksVerifier(url);
    for (const secret of [await exportSPKI(keyA.publicKey), JSON.stringify(keyA.jwk), TEST_SECRET]) {
      expect((await refusal(verifier.verify(await signHs256(secret)))).reason).toBe('JOSEAlgNotAllowed: "alg" (Algorithm) Header Parameter value not allowed');
    }
    // Refused on its header alone: the key set was never asked.
    expect(state.fetches).toBe(0);
  });

  it('refuses `alg: none`', async () => {
    const { url } = await startJwks([keyA.jwk]);
    const unsigned = new UnsecuredJWT({ role: 'admin' }).setSubject('user-1').setExpirationTime('1h').encode();
    expect((await refusal(jwksVerifier(url).verify(unsigned))).reason).toBe('JOSEAlgNotAllowed: "alg" (Algorithm) Header Parameter value not allowed');
  });

  it('fails within the timeout, as "could not be checked", when the JWKS endpoint never answers', async () => {
    const url = await startSilentServer();
    const error = await jwksVerifier(url, { jwksTimeoutMs: 300 })
      .verify(await signRs256(keyA))
      .catch((e: unknown) => e);
    // Not the token's fault, so not an UnauthorizedError; the client is still told only `unauthorized`.
    expect(error).toBeInstanceOf(KeySetUnavailableError);
    expect(error).not.toBeInstanceOf(UnauthorizedError);
    expect(error).toMatchObject({ code: 'unauthorized', message: 'unauthorized', details: undefined });
    expect((error as KeySetUnavailableError).reason).toBe(`JWKS ${new URL(url).host}: JWKSTimeout: request timed out`);
  }, 5_000);

  it('fails as "could not be checked" when the JWKS endpoint answers with an error', async () => {
    const { url, state } = await startJwks([keyA.jwk]);
    state.status = 503;
    const error = await jwksVerifier(url)
      .verify(await signRs256(keyA))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeySetUnavailableError);
    expect((error as KeySetUnavailableError).reason).toBe(`JWKS ${new URL(url).host}: JOSEError: Expected 200 OK from the JSON Web Key Set HTTP response`);
  });

  it('refuses an http JWKS endpoint unless allowInsecureJwks is set', () => {
    expect(() => createTokenVerifier({ jwksUrl: 'http://idp.example/jwks.json' })).toThrow(
      'createTokenVerifier: jwksUrl must be https, not http: (allowInsecureJwks allows http, for development only)',
    );
    expect(() => createTokenVerifier({ jwksUrl: 'ftp://idp.example/jwks.json', allowInsecureJwks: true })).toThrow('jwksUrl must be https, not ftp:');
    expect(() => createTokenVerifier({ jwksUrl: 'http://idp.example/jwks.json', allowInsecureJwks: true })).not.toThrow();
    expect(() => createTokenVerifier({ jwksUrl: 'https://idp.example/jwks.json' })).not.toThrow();
  });
});

describe('createTokenVerifier with a secret', () => {
  const verifier = (clockToleranceS?: number) => createTokenVerifier({ secret: TEST_SECRET, clockToleranceS });

  it('verifies an HS256 token, and tells nothing but `unauthorized` for a missing, forged or role-less one', async () => {
    await expect(verifier().verify(await signHs256(TEST_SECRET, { role: 'user' }))).resolves.toMatchObject({ sub: 'user-1', role: 'user' });
    expect((await refusal(verifier().verify(undefined))).reason).toBe('missing bearer token');
    expect((await refusal(verifier().verify(await signHs256('another-secret-that-is-long-enough-0123456789')))).reason).toBe(
      'JWSSignatureVerificationFailed: signature verification failed',
    );
    expect((await refusal(verifier().verify(await signHs256(TEST_SECRET, { role: 'root' })))).reason).toBe('"role" claim must be admin or user');
    expect((await refusal(verifier().verify('not-a-jwt'))).reason).toBe('not a compact JWS (three base64url segments)');
    // jose alone accepts a valid token with a space appended (its base64url decoding skips it): found by the fuzz suite.
    const valid = await signHs256(TEST_SECRET);
    await expect(verifier().verify(valid)).resolves.toMatchObject({ sub: 'user-1' });
    for (const altered of [`${valid} `, `${valid}=`, ` ${valid}`, valid.replace('.', '.\n')]) {
      expect((await refusal(verifier().verify(altered))).reason).toBe('not a compact JWS (three base64url segments)');
    }
    expect((await refusal(verifier().verify('x'.repeat(MAX_TOKEN_LENGTH + 1)))).reason).toBe(`token over ${MAX_TOKEN_LENGTH} characters`);
  });

  it('refuses RS256 and `alg: none` tokens', async () => {
    const key = await signingKey('key-a');
    expect((await refusal(verifier().verify(await signRs256(key)))).reason).toBe('JOSEAlgNotAllowed: "alg" (Algorithm) Header Parameter value not allowed');
    const unsigned = new UnsecuredJWT({ role: 'admin' }).setSubject('user-1').setExpirationTime('1h').encode();
    expect((await refusal(verifier().verify(unsigned))).reason).toBe('JOSEAlgNotAllowed: "alg" (Algorithm) Header Parameter value not allowed');
  });

  it('honours nbf: 10 minutes ahead is refused, 10 s ahead is within the 30 s tolerance, and refused without one', async () => {
    const nbfReason = 'JWTClaimValidationFailed: "nbf" claim timestamp check failed';
    expect((await refusal(verifier().verify(await signHs256(TEST_SECRET, { nbf: nowS() + 600 })))).reason).toBe(nbfReason);
    const soon = await signHs256(TEST_SECRET, { nbf: nowS() + 10 });
    await expect(verifier().verify(soon)).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });
    expect((await refusal(verifier(0).verify(soon))).reason).toBe(nbfReason);
  });

  it('refuses a token expired beyond the tolerance, accepts one expired within it', async () => {
    const expiredReason = 'JWTExpired: "exp" claim timestamp check failed';
    expect((await refusal(verifier().verify(await signHs256(TEST_SECRET, { exp: nowS() - 60 })))).reason).toBe(expiredReason);
    const exp = nowS() - 10;
    const justExpired = await signHs256(TEST_SECRET, { exp });
    // Accepted until exp + the tolerance, which is when the gateway ends its connection.
    await expect(verifier().verify(justExpired)).resolves.toEqual({ sub: 'user-1', role: 'admin', expiresAt: (exp + 30) * 1000 });
    expect((await refusal(verifier(0).verify(justExpired))).reason).toBe(expiredReason);
  });

  describe('the verified-token cache', () => {
    // Only the clock is faked: jose reads it through `new Date()`, the cache through `Date.now()`.
    beforeEach(() => {
      jest.useFakeTimers({
        doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
      });
    });
    afterEach(() => jest.useRealTimers());

    it('does not serve a remembered token past exp + tolerance', async () => {
      const start = Date.now();
      const token = await signHs256(TEST_SECRET, { exp: Math.floor(start / 1000) + 60 });
      const lenient = verifier();
      const strict = verifier(0);
      await expect(lenient.verify(token)).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });
      await expect(strict.verify(token)).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });

      jest.setSystemTime(start + 80_000);
      await expect(lenient.verify(token)).resolves.toMatchObject({ sub: 'user-1', role: 'admin' });
      expect((await refusal(strict.verify(token))).reason).toBe('JWTExpired: "exp" claim timestamp check failed');

      jest.setSystemTime(start + 95_000);
      expect((await refusal(lenient.verify(token))).reason).toBe('JWTExpired: "exp" claim timestamp check failed');
    });
  });
});

describe('auth environment', () => {
  const schema = z.object(authEnv);
  const load = (env: Record<string, string>) => loadEnv('svc', schema, env, [AUTH_REQUIRED]);

  it('refuses an http AUTH_JWKS_URL without AUTH_JWKS_ALLOW_HTTP, in the one message with every other problem', () => {
    expect(() => load({ AUTH_JWKS_URL: 'http://idp.example/jwks.json', AUTH_CLOCK_TOLERANCE_S: '301' })).toThrow(
      new ConfigError(
        'svc: invalid environment (2 problems):\n' +
          '  AUTH_CLOCK_TOLERANCE_S: Too big: expected number to be <=300\n' +
          '  AUTH_JWKS_URL: must be https (AUTH_JWKS_ALLOW_HTTP=true allows http, for development only)',
      ),
    );
    expect(() => load({ AUTH_JWKS_URL: 'http://idp.example/jwks.json', AUTH_JWKS_ALLOW_HTTP: 'false' })).toThrow(
      'AUTH_JWKS_URL: must be https (AUTH_JWKS_ALLOW_HTTP=true allows http, for development only)',
    );
    expect(() => load({ AUTH_JWKS_URL: 'https://idp.example/jwks.json', AUTH_JWKS_ALLOW_HTTP: 'yes' })).toThrow(
      'svc: invalid environment (1 problem):\n  AUTH_JWKS_ALLOW_HTTP: must be true or false',
    );
  });

  it('maps the variables, with their defaults, to verifier options', () => {
    expect(authOptions(load({ AUTH_JWKS_URL: 'https://idp.example/jwks.json' }))).toEqual({
      jwksUrl: 'https://idp.example/jwks.json',
      allowInsecureJwks: false,
      clockToleranceS: 30,
      jwksTimeoutMs: 5000,
    });
    expect(
      authOptions(
        load({
          AUTH_JWKS_URL: 'http://127.0.0.1:8080/jwks.json',
          AUTH_JWKS_ALLOW_HTTP: 'true',
          AUTH_ISSUER: 'https://idp.example/',
          AUTH_AUDIENCE: 'agentos-ssot',
          AUTH_CLOCK_TOLERANCE_S: '0',
          AUTH_JWKS_TIMEOUT_MS: '1500',
        }),
      ),
    ).toEqual({
      jwksUrl: 'http://127.0.0.1:8080/jwks.json',
      allowInsecureJwks: true,
      issuer: 'https://idp.example/',
      audience: 'agentos-ssot',
      clockToleranceS: 0,
      jwksTimeoutMs: 1500,
    });
  });
});
