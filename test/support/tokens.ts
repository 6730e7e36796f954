import { SignJWT } from 'jose';

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export async function signToken(
  claims: { sub?: string; role?: string },
  options: { secret?: string; expiresIn?: string | number; issuer?: string } = {},
): Promise<string> {
  let jwt = new SignJWT({ role: claims.role ?? 'admin' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub ?? 'user-1')
    .setIssuedAt();
  jwt = jwt.setExpirationTime(options.expiresIn ?? '1h');
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}
