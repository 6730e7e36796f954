import { createHash, timingSafeEqual } from 'node:crypto';
import { bearerToken, UnauthorizedError } from '@agentos/runtime';

/**
 * The bearer tokens allowed to post events (`INGEST_TOKENS`). Only their SHA-256 digests are
 * kept; a presented token is hashed and compared with every digest in constant time (equal-length
 * digests, no early exit), so neither timing nor which entry matched leaks.
 */
export class IngestTokens {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = [...new Set(tokens)].map(sha256);
  }

  get size(): number {
    return this.digests.length;
  }

  /**
   * The identity of the token in an `Authorization` header — the first 16 hex digits of its
   * SHA-256, used to key its rate limit (the token itself never reaches Redis or a log) — or
   * UnauthorizedError.
   */
  authenticate(authorization: string | undefined): string {
    const token = bearerToken(authorization);
    if (!token) throw new UnauthorizedError('missing bearer token');
    const digest = sha256(token);
    let known = false;
    for (const candidate of this.digests) known = timingSafeEqual(digest, candidate) || known;
    if (!known) throw new UnauthorizedError('unknown ingest token');
    return digest.toString('hex').slice(0, 16);
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
