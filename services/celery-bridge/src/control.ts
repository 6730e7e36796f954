import { randomUUID } from 'node:crypto';
import type { Redis } from '@agentos/runtime';

/**
 * Celery's remote control (`app.control`), spoken from Node the way kombu speaks it on a Redis
 * broker — checked with `redis-cli MONITOR` while Python ran `app.control.revoke(id,
 * terminate=True)` and `app.control.inspect(destination=[…]).stats()`:
 *
 * - A command is a kombu message PUBLISHed on the `celery.pidbox` fanout exchange, i.e. the
 *   channel `/{db}.celery.pidbox`, which every worker subscribes to. Its body (base64 JSON) is
 *   `{method, arguments, destination, pattern, matcher}`; headers carry the sender's Lamport
 *   `clock` and `expires` (epoch seconds: a worker ignores the command after it).
 * - A command that wants replies adds `ticket` and `reply_to: {exchange: "reply.celery.pidbox",
 *   routing_key: <oid>}`, after binding the queue `<oid>.reply.celery.pidbox` to that direct
 *   exchange (kombu keeps bindings in the set `_kombu.binding.reply.celery.pidbox`, members
 *   `routing_key \x06\x16 pattern \x06\x16 queue`). Each worker LPUSHes its reply, `{hostname:
 *   result}`, onto that list.
 */

const CONTROL_EXCHANGE = 'celery.pidbox';
const REPLY_EXCHANGE = 'reply.celery.pidbox';
/** kombu's separator in binding entries (`kombu/transport/redis.py`, `sep`). */
const BINDING_SEP = '\x06\x16';
/** How long a command stays valid, as `app.control` sends it (broadcast `timeout`, 1 s). */
export const COMMAND_EXPIRES_S = 1;

/**
 * A Lamport clock as Celery's processes keep one: the bridge sees every event's clock, so its
 * commands are stamped after everything it has seen.
 */
export class LamportClock {
  private value = 0;
  observe(clock: number): void {
    if (clock > this.value) this.value = clock;
  }
  tick(): number {
    this.value += 1;
    return this.value;
  }
}

export interface ControlBody {
  method: string;
  arguments: Record<string, unknown>;
  destination: string[] | null;
  pattern: null;
  matcher: null;
  ticket?: string;
  reply_to?: { exchange: string; routing_key: string };
}

/** The kombu message of a control command, byte for byte in meaning as kombu builds it. */
export function controlEnvelope(body: ControlBody, options: { clock: number; nowS: number; deliveryTag?: string }): string {
  return JSON.stringify({
    body: Buffer.from(JSON.stringify(body)).toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: { clock: options.clock, expires: options.nowS + COMMAND_EXPIRES_S },
    properties: {
      delivery_mode: 2,
      delivery_info: { exchange: CONTROL_EXCHANGE, routing_key: '' },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: options.deliveryTag ?? randomUUID(),
    },
  });
}

/** `app.control.revoke(task_id, terminate=…, signal=…)`'s body. */
export function revokeBody(taskId: string, terminate: boolean, signal = 'SIGTERM'): ControlBody {
  return { method: 'revoke', arguments: { task_id: taskId, terminate, signal }, destination: null, pattern: null, matcher: null };
}

export class CeleryControl {
  private readonly channel: string;

  constructor(
    /** A command connection to the broker, on its database. */
    private readonly redis: Redis,
    db: number,
    private readonly clock: LamportClock,
    private readonly now: () => number = Date.now,
  ) {
    this.channel = `/${db}.${CONTROL_EXCHANGE}`;
  }

  /**
   * Revokes a task as `app.control.revoke(id, terminate=True)` does: every worker adds it to its
   * revoked set (a queued task is discarded when it comes up) and the one running it kills the
   * process (SIGTERM). Resolves with how many subscribers the command reached: 0 means no worker
   * was listening, and nothing was revoked — Celery's broadcast is fire-and-forget too.
   */
  async revoke(taskId: string, options: { terminate: boolean; signal?: string }): Promise<number> {
    return this.publish(revokeBody(taskId, options.terminate, options.signal));
  }

  /**
   * `app.control.inspect(destination).<method>()`: asks the workers named and resolves with the
   * replies that came within `timeoutMs`, by worker name (an empty object when none answered).
   */
  async inspect(method: string, destination: readonly string[], timeoutMs: number): Promise<Record<string, unknown>> {
    const oid = randomUUID();
    const queue = `${oid}.${REPLY_EXCHANGE}`;
    const bindings = `_kombu.binding.${REPLY_EXCHANGE}`;
    const binding = `${oid}${BINDING_SEP}${BINDING_SEP}${queue}`;
    const ticket = randomUUID();
    const replies: Record<string, unknown> = Object.create(null);
    await this.redis.sadd(bindings, binding);
    try {
      await this.publish({
        method,
        arguments: {},
        destination: [...destination],
        pattern: null,
        matcher: null,
        ticket,
        reply_to: { exchange: REPLY_EXCHANGE, routing_key: oid },
      });
      const deadline = this.now() + timeoutMs;
      while (Object.keys(replies).length < destination.length && this.now() < deadline) {
        const message = await this.redis.rpop(queue);
        if (message === null) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          continue;
        }
        const reply = parseReply(message, ticket);
        if (reply) Object.assign(replies, reply);
      }
    } finally {
      await this.redis.srem(bindings, binding).catch(() => {});
      await this.redis.del(queue).catch(() => {});
    }
    return replies;
  }

  private publish(body: ControlBody): Promise<number> {
    return this.redis.publish(this.channel, controlEnvelope(body, { clock: this.clock.tick(), nowS: this.now() / 1000 }));
  }
}

/** A worker's reply: its body `{hostname: result}` when it answers our ticket, else null. */
export function parseReply(message: string, ticket: string): Record<string, unknown> | null {
  try {
    const envelope = JSON.parse(message) as { body?: unknown; headers?: { ticket?: unknown }; properties?: { body_encoding?: unknown } };
    if (typeof envelope.body !== 'string') return null;
    if (envelope.headers?.ticket !== undefined && envelope.headers.ticket !== ticket) return null;
    const text = envelope.properties?.body_encoding === 'base64' ? Buffer.from(envelope.body, 'base64').toString('utf8') : envelope.body;
    const body: unknown = JSON.parse(text);
    if (!body || typeof body !== 'object' || Array.isArray(body)) return null;
    // Own keys only, onto a fresh object: a reply names workers, nothing else.
    const out: Record<string, unknown> = Object.create(null);
    for (const [key, value] of Object.entries(body)) out[key] = value;
    return out;
  } catch {
    return null;
  }
}

/** What `active_queues` and `stats` say of one worker: its queues and its pool's size. */
export function workerInfoFrom(activeQueues: unknown, stats: unknown): { queues?: string[]; concurrency?: number } {
  const info: { queues?: string[]; concurrency?: number } = {};
  if (Array.isArray(activeQueues)) {
    const names = activeQueues.map((q) => (q && typeof q === 'object' ? (q as { name?: unknown }).name : undefined)).filter((n): n is string => typeof n === 'string' && n !== '' && n.length <= 200);
    info.queues = names.slice(0, 100);
  }
  const pool = stats && typeof stats === 'object' ? (stats as { pool?: { 'max-concurrency'?: unknown } }).pool : undefined;
  const concurrency = pool?.['max-concurrency'];
  if (typeof concurrency === 'number' && Number.isInteger(concurrency) && concurrency > 0) info.concurrency = concurrency;
  return info;
}
