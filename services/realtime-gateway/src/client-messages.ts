import { z } from 'zod';

/**
 * What a client may send the gateway (CONTRACT §6), parsed in one place. Every inbound packet is
 * `[name, ...args]` with the ack function, when the client asked for one, as the last argument.
 * Anything that is not one of these messages, well formed, is refused here: an error ack when the
 * client can take one, a count either way, and the socket goes on.
 */
export type ClientMessage = { name: 'subscribe'; room: string } | { name: 'resync' };

/** Why a message was refused: the `error` of its ack and a metric label (a bounded set). */
export type Refusal = 'invalid payload' | 'unknown message' | 'rate limited';

export type Ack = (answer: unknown) => void;

export interface ParsedPacket {
  /** The client's ack, if it asked for one. */
  ack?: Ack;
  message?: ClientMessage;
  refusal?: Refusal;
  /** The metric label of the message: its name when known, `unknown` otherwise. */
  label: 'subscribe' | 'resync' | 'unknown';
}

// A room name is a staff room or `user:` and a user id of at most 200 characters; anything
// longer is not worth looking at.
const subscribePayload = z.object({ room: z.string().min(1).max(205) });
// `resync` carries nothing today; an object is accepted (and ignored) so a later client can add
// fields without being refused by older gateways.
const resyncArgs = z.union([z.tuple([]), z.tuple([z.object({})])]);

export function parsePacket(packet: readonly unknown[]): ParsedPacket {
  const [name, ...args] = packet;
  const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
  switch (name) {
    case 'subscribe': {
      const parsed = args.length === 1 ? subscribePayload.safeParse(args[0]) : undefined;
      if (!parsed?.success) return { ack, refusal: 'invalid payload', label: 'subscribe' };
      return { ack, message: { name: 'subscribe', room: parsed.data.room }, label: 'subscribe' };
    }
    case 'resync':
      if (!resyncArgs.safeParse(args).success) return { ack, refusal: 'invalid payload', label: 'resync' };
      return { ack, message: { name: 'resync' }, label: 'resync' };
    default:
      return { ack, refusal: 'unknown message', label: 'unknown' };
  }
}

/**
 * A token bucket per socket: `ratePerSecond` messages a second, bursts of twice that. Checked
 * before a message is parsed, so a flood costs a compare per packet.
 */
export function messageBudget(ratePerSecond: number, now: () => number = Date.now): () => boolean {
  const capacity = ratePerSecond * 2;
  let tokens = capacity;
  let last = now();
  return () => {
    const t = now();
    tokens = Math.min(capacity, tokens + ((t - last) / 1000) * ratePerSecond);
    last = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}
