import {
  EVENT_DISPATCH_CONFIG,
  type EventName,
  type EventPayload,
  type Snapshot,
  type SocketEventName,
  type SocketMessage,
} from '@agentos/contracts';
import type { Operation } from 'fast-json-patch';

/**
 * What the realtime gateway sends (CONTRACT §6), typed, and the one place where it is read: every
 * inbound message goes through a `read…` function here, which never throws. A message that is
 * not what the contract says is answered with the problem, and the caller sets it aside.
 */

/** The event names whose dispatch rule emits socket event `S`. */
type SourceEvents<S extends SocketEventName> = {
  [N in EventName]: (typeof EVENT_DISPATCH_CONFIG)[N] extends { websocket: { event: S } } ? N : never;
}[EventName];

/** `data` of a dispatch-table socket event: the payload of the event behind it, with that event's id. */
export type SocketEventData<S extends SocketEventName> = EventPayload<SourceEvents<S>> & { id: string };

/** `data` of `ssot:update`: the RFC 6902 patch from the snapshot at `base_version` to the one at `version`. */
export interface SnapshotUpdate {
  version: number;
  base_version: number;
  patch: Operation[];
}

/** The dispatch table's socket events (`job:new`, `job:progress`, …), each once. */
export const SOCKET_EVENT_NAMES: readonly SocketEventName[] = [
  ...new Set(Object.values(EVENT_DISPATCH_CONFIG).flatMap((rule) => ('websocket' in rule ? [rule.websocket.event] : []))),
];

export type Read<T> = { message: SocketMessage<T> } | { problem: string };

/** `initial_data`: `data` must be a snapshot, at least as far as `meta.version` goes. */
export function readSnapshotMessage(raw: unknown): Read<Snapshot> {
  const envelope = readEnvelope(raw, 'initial_data');
  if ('problem' in envelope) return envelope;
  const meta = (envelope.message.data as { meta?: { version?: unknown } }).meta;
  if (typeof meta !== 'object' || meta === null || !isVersion(meta.version)) return { problem: 'initial_data without a positive integer meta.version' };
  return envelope as Read<Snapshot>;
}

/** `ssot:update`: `{version, base_version, patch}`, both versions integers and `patch` an array of operations. */
export function readUpdateMessage(raw: unknown): Read<SnapshotUpdate> {
  const envelope = readEnvelope(raw, 'ssot:update');
  if ('problem' in envelope) return envelope;
  const data = envelope.message.data as Partial<SnapshotUpdate>;
  if (!isVersion(data.version) || !Number.isInteger(data.base_version) || (data.base_version as number) < 0) {
    return { problem: 'ssot:update without integer version and base_version' };
  }
  if (!Array.isArray(data.patch) || !data.patch.every((op) => typeof op === 'object' && op !== null && typeof op.op === 'string' && typeof op.path === 'string')) {
    return { problem: 'ssot:update whose patch is not a list of operations' };
  }
  return envelope as Read<SnapshotUpdate>;
}

/** A dispatch-table event: `data` must be an object carrying the event's `id`. */
export function readEventMessage<S extends SocketEventName>(raw: unknown, name: S): Read<SocketEventData<S>> {
  const envelope = readEnvelope(raw, name);
  if ('problem' in envelope) return envelope;
  if (typeof (envelope.message.data as { id?: unknown }).id !== 'string') return { problem: `${name} without data.id` };
  return envelope as Read<SocketEventData<S>>;
}

function readEnvelope(raw: unknown, type: string): Read<object> {
  if (typeof raw !== 'object' || raw === null) return { problem: `${type}: not an object` };
  const message = raw as Partial<SocketMessage>;
  if (message.type !== type) return { problem: `${type}: type is ${JSON.stringify(message.type)}` };
  if (typeof message.data !== 'object' || message.data === null) return { problem: `${type}: data is not an object` };
  return { message: message as SocketMessage<object> };
}

function isVersion(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0;
}
