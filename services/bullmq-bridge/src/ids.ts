import { createHash } from 'node:crypto';
import { MAX_ID_LENGTH, opaqueId } from '@agentos/contracts';

/**
 * Ids the bridge gives the SSOT.
 *
 * A BullMQ job id is unique only within its queue (each queue counts from 1), so the SSOT job id
 * is `{queue}:{job id}`: `emails:42`. BullMQ refuses `:` in queue names, so the first `:` always
 * splits it back, which is how a command finds the queue and the job from the SSOT id alone.
 */
export function ssotJobId(queue: string, jobId: string): string {
  return `${queue}:${jobId}`;
}

/** The queue and BullMQ job id of an SSOT job id, or null when it is not one of ours. */
export function parseSsotJobId(id: string): { queue: string; jobId: string } | null {
  const at = id.indexOf(':');
  if (at <= 0 || at === id.length - 1) return null;
  return { queue: id.slice(0, at), jobId: id.slice(at + 1) };
}

/** True when the SSOT accepts `id` as a job, worker or user id (CONTRACT §5). */
export function isOpaqueId(id: string): boolean {
  return opaqueId.safeParse(id).success;
}

/**
 * The id of the SSOT event made from one entry of a queue's BullMQ event stream: the same entry
 * always gives the same id, so posting it again after a crash has no effect (the api dedupes by
 * id). A queue name too long to fit is replaced by its digest.
 */
export function streamEventId(queue: string, entryId: string): string {
  const id = `bullmq:${queue}:${entryId}`;
  if (id.length <= MAX_ID_LENGTH) return id;
  return `bullmq:${createHash('sha256').update(queue).digest('hex').slice(0, 32)}:${entryId}`;
}

/** A stream entry id `ms-seq` as numbers; null when it is not one. */
export function parseEntryId(id: string): [ms: number, seq: number] | null {
  const match = /^(\d+)-(\d+)$/.exec(id);
  return match ? [Number(match[1]), Number(match[2])] : null;
}

/** Orders two stream entry ids (`0` counts as `0-0`). */
export function compareEntryIds(a: string, b: string): number {
  const [am, as] = parseEntryId(a === '0' ? '0-0' : a) ?? [0, 0];
  const [bm, bs] = parseEntryId(b === '0' ? '0-0' : b) ?? [0, 0];
  return am - bm || as - bs;
}

/** When BullMQ's Redis added the entry, ms since the epoch (its id's first part). */
export function entryTime(id: string): number {
  return parseEntryId(id)?.[0] ?? 0;
}
