import { createHash } from 'node:crypto';
import { MAX_ID_LENGTH } from '@agentos/contracts';

/**
 * Event ids are the SSOT's idempotency keys (CONTRACT §4, §5). The bridge derives each from the
 * Celery event itself — who it is about (task uuid, worker name), its type and its timestamp,
 * which the sender fixed once — so the same Celery event posted twice (a retried request, two
 * bridges on one broker) has one effect. Nothing the bridge remembers goes into an id: a bridge
 * that restarted names an event exactly as the one before it did.
 */
export function celeryEventId(subject: string, type: string, timestamp: number): string {
  return bounded(`celery:${subject}:${type}:${timestamp}`);
}

/** A `queue:stats` reading: one per queue and poll. */
export function queueStatsEventId(queue: string, atMs: number): string {
  return bounded(`celery:queue:${queue}:${atMs}`);
}

/** Ids are at most 200 characters: a long task id or queue name is hashed (sha256) instead. */
function bounded(id: string): string {
  if (id.length <= MAX_ID_LENGTH) return id;
  return `celery:sha256:${createHash('sha256').update(id).digest('hex')}`;
}
