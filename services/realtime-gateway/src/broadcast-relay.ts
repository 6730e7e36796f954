import type { BroadcastMessage, RedisKeys } from '@agentos/contracts';
import { type Logger, type Redis, withTimeout } from '@agentos/runtime';
import type { Server } from 'socket.io';
import { z } from 'zod';
import { LagMeter } from './lag-meter';
import type { GatewayMetrics } from './metrics';

// Typed against the contract's interface, so the two cannot drift apart.
const broadcastMessage: z.ZodType<BroadcastMessage> = z.object({
  rooms: z.array(z.string().min(1)).min(1),
  // A bounded name: it becomes a metric label and a socket.io event name.
  message: z.object({ type: z.string().regex(/^[a-z][a-z0-9_:.-]{0,63}$/), data: z.unknown(), timestamp: z.string() }),
});

export interface BroadcastRelayOptions {
  subscriber: Redis;
  keys: RedisKeys;
  io: Server;
  metrics: GatewayMetrics;
  logger: Logger;
  /** A message older than this when handled (a backlog read after a stall) is dropped and counted. @default 30000 */
  maxAgeMs?: number;
}

/**
 * The dispatch table's socket messages: every `BroadcastMessage` the dispatchers publish on the
 * broadcast channel goes to the sockets of its rooms, emitted as the event named by its `type`
 * with the whole `{type, data, timestamp}` as argument.
 *
 * Every gateway subscribes to the channel and emits to its LOCAL sockets only: each gateway
 * already receives every message from Redis, so emitting through the adapter would hand every
 * socket one copy per gateway. socket.io delivers a message once to a socket that is in several
 * of its rooms.
 */
export function startBroadcastRelay(options: BroadcastRelayOptions) {
  const { subscriber, keys, io, metrics, logger } = options;
  const maxAgeMs = options.maxAgeMs ?? 30_000;
  const lag = new LagMeter();
  let warned = false;

  // Inbound data never throws (one bad message is counted, logged once, and dropped).
  const onMessage = (channel: string, raw: string) => {
    if (channel !== keys.broadcastChannel) return;
    let parsed: BroadcastMessage;
    try {
      parsed = broadcastMessage.parse(JSON.parse(raw));
      const ageMs = lag.lag(Date.parse(parsed.message.timestamp));
      metrics.intakeLag.set({ channel: 'broadcast' }, ageMs / 1000);
      if (ageMs > maxAgeMs) {
        metrics.intakeDropped.inc({ kind: 'broadcast' });
        return;
      }
      // Throws for names socket.io reserves ('connect', 'disconnect', …).
      io.local.to(parsed.rooms).emit(parsed.message.type, parsed.message);
    } catch (error) {
      metrics.malformedBroadcasts.inc();
      if (!warned) {
        warned = true;
        logger.warn({ err: error, message: raw.slice(0, 200) }, 'dropped a malformed broadcast message (logged once)');
      }
      return;
    }
    metrics.emitted.inc({ type: parsed.message.type });
  };

  return {
    async start(): Promise<void> {
      subscriber.on('message', onMessage);
      await subscriber.subscribe(keys.broadcastChannel);
    },
    async stop(): Promise<void> {
      subscriber.off('message', onMessage);
      // With Redis away the command would wait for ever: never hang a shutdown.
      await withTimeout(subscriber.unsubscribe(keys.broadcastChannel), 500, 'unsubscribe').catch(() => {});
    },
  };
}
