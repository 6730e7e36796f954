import { DISPATCHER_GROUP, type RedisKeys } from '@agentos/contracts';
import type { ChainableCommander } from '@agentos/runtime';

/**
 * The highest event stream id up to which every event has been handled by the dispatchers
 * (acknowledged: its effect committed, or dead-lettered), or undefined when no dispatcher group
 * exists yet. That is the group's last delivered id, or — while some are pending, in any replica
 * — just below the oldest pending one. A single dispatcher's own batch says less: with two
 * replicas, the other may still be committing lower ids (the overclaim bench:events measured).
 *
 * Two commands added to `pipeline` (the build's first round trip); the returned function reads
 * the answer from their replies, undefined too when they failed.
 */
export function addDispatchedUpto(pipeline: ChainableCommander, keys: RedisKeys): (replies: readonly [Error | null, unknown][]) => string | undefined {
  pipeline.xinfo('GROUPS', keys.events).xpending(keys.events, DISPATCHER_GROUP);
  return readDispatchedUpto;
}

function readDispatchedUpto(replies: readonly [Error | null, unknown][]): string | undefined {
  const [groupsError, groups] = replies[0] ?? [new Error('no reply')];
  const [pendingError, pending] = replies[1] ?? [new Error('no reply')];
  if (groupsError || pendingError) return undefined;
  const group = (groups as unknown[][]).map(fieldsOf).find((g) => g.name === DISPATCHER_GROUP);
  if (!group || typeof group['last-delivered-id'] !== 'string') return undefined;
  const [count, oldest] = pending as [number, string | null, string | null, unknown];
  return count > 0 && oldest ? previousStreamId(oldest) : group['last-delivered-id'];
}

/** The stream id just before `id` (`ms-seq`). */
export function previousStreamId(id: string): string {
  const [ms, seq] = id.split('-').map(BigInt) as [bigint, bigint];
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  return ms > 0n ? `${ms - 1n}-18446744073709551615` : '0-0';
}

function fieldsOf(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}
