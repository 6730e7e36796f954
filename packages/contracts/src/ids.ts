import { z } from 'zod';

/** Longest id accepted (CONTRACT §5). */
export const MAX_ID_LENGTH = 200;

/**
 * An id as the platform gives it (CONTRACT §5): event ids, `job_id`, `worker_id`, `user_id` —
 * `42` (BullMQ), `celery@host-1` (a Celery worker), `auth0|5f3a…` (a JWT subject), a UUID. 1–200
 * characters, none of them whitespace or a control character, and well-formed Unicode (a lone
 * surrogate cannot be stored, escaped or shown). Stored, shown and matched as given: `A` and `a`
 * are two ids.
 */
export const opaqueId = z
  .string()
  // One problem per id: a wrong length says so alone.
  .min(1, { abort: true })
  .max(MAX_ID_LENGTH, { abort: true })
  // \p{White_Space} and \p{Cc} cover the ASCII and the Unicode spaces and controls.
  .regex(/^[^\p{White_Space}\p{Cc}]+$/u, 'must contain no whitespace or control characters')
  .refine((id) => isWellFormed(id), 'must be well-formed Unicode');

export type OpaqueId = z.infer<typeof opaqueId>;

/**
 * An id as one segment of a Redis key: percent-encoded outside `[A-Za-z0-9._~-]`, so it is
 * injective (two ids never share a key), it never contains the key separator `:`, and never
 * braces — which Redis Cluster would read as a hash tag and send the key to another slot.
 */
export function idKeyPart(id: string): string {
  return encodeURIComponent(id).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function isWellFormed(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i += 1;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      return false;
    }
  }
  return true;
}
