import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';

/** How long the development admin token printed in the banner stays valid. */
const DEV_TOKEN_TTL = '30d';

/**
 * The auth settings the services get (CONTRACT §2). With neither AUTH_JWT_SECRET nor
 * AUTH_JWKS_URL set, this is dev mode: an HS256 secret kept in `<data>/dev-secret` (created once,
 * mode 0600) and an admin token signed with it. A secret or JWKS endpoint from the environment is
 * passed through untouched, and no token is made: the launcher does not mint tokens for a real key.
 *
 * @returns {Promise<{env: Record<string, string>, devToken?: string, mode: 'dev' | 'secret' | 'jwks'}>}
 */
export async function resolveAuth(env, dataDir) {
  const ingestTokens = env.INGEST_TOKENS || readOrCreate(join(dataDir, 'dev-ingest-token'), 32);
  if (env.AUTH_JWT_SECRET || env.AUTH_JWKS_URL) {
    return { env: { INGEST_TOKENS: ingestTokens }, mode: env.AUTH_JWT_SECRET ? 'secret' : 'jwks' };
  }
  const secret = readOrCreate(join(dataDir, 'dev-secret'), 48);
  const devToken = await new SignJWT({ role: 'admin' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('dev-admin')
    .setIssuedAt()
    .setExpirationTime(DEV_TOKEN_TTL)
    .sign(new TextEncoder().encode(secret));
  return { env: { AUTH_JWT_SECRET: secret, INGEST_TOKENS: ingestTokens }, devToken, mode: 'dev' };
}

/** The random base64url value in `file`, made on first use; only the owner may read it. */
function readOrCreate(file, bytes) {
  try {
    writeFileSync(file, `${randomBytes(bytes).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
    // Copied around or made by hand: tighten it rather than keep a secret others can read.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  }
  const value = readFileSync(file, 'utf8').trim();
  if (value.length < 32) throw new Error(`${file} holds less than 32 characters; delete it to get a new one`);
  return value;
}
