import type { Server as HttpServer } from 'node:http';
import type { Logger, TokenVerifier } from '@agentos/runtime';
import { Server, type Socket } from 'socket.io';
import { authenticateHandshake, type SocketData } from './handshake';
import type { GatewayMetrics } from './metrics';
import { messageBudget, parsePacket } from './client-messages';
import { maySubscribe, roomKind, roomsOnConnect } from './rooms';
import type { SnapshotFeed } from './snapshot-feed';
import { coalesceWrites, limitBufferedOutput } from './socket-output';

export interface GatewayDeps {
  /** The HTTP server socket.io attaches to (it also answers /healthz, /readyz, /metrics). */
  server: HttpServer;
  verifier: TokenVerifier;
  feed: SnapshotFeed;
  metrics: GatewayMetrics;
  logger: Logger;
  /** The socket.io adapter (the Redis adapter in production). */
  adapter: NonNullable<ConstructorParameters<typeof Server>[1]>['adapter'];
  /** Browser origins allowed besides the gateway's own (`CORS_ORIGINS`); `*` for any. */
  corsOrigins: readonly string[];
  /** Buffered packets at which a socket is disconnected as a slow consumer. */
  maxBufferedPackets: number;
  /** Messages one socket may send per second (`SOCKET_MESSAGE_RATE`). */
  messageRate: number;
}

/** The longest delay setTimeout honours (~24.8 days); a token living longer is not timed out. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Largest packet a client may send: its messages are a room name and nothing. Over it the engine closes the connection. */
export const MAX_CLIENT_PACKET_BYTES = 64 * 1024;

/**
 * The socket.io server: handshake authentication, rooms, `subscribe` and `resync`. What is sent
 * comes from the snapshot feed and the broadcast relay.
 */
export function createGateway(deps: GatewayDeps): Server {
  const anyOrigin = deps.corsOrigins.includes('*');
  const io = new Server(deps.server, {
    // WebSocket first. Long-polling stays as the fallback for networks that block WebSocket; it
    // needs sticky sessions behind a load balancer (docs/architecture.md).
    transports: ['websocket', 'polling'],
    serveClient: false,
    // Clients send only `subscribe` and `resync`: refuse anything large.
    maxHttpBufferSize: MAX_CLIENT_PACKET_BYTES,
    // An engine connection that never completes the socket.io handshake is dropped after this.
    connectTimeout: 10_000,
    cors: { origin: anyOrigin ? '*' : deps.corsOrigins.length > 0 ? [...deps.corsOrigins] : false },
    // Browsers send Origin on both transports: a page of another site does not get to connect,
    // whatever it holds. Clients without Origin (servers, the Node client) are not browsers.
    allowRequest: (req, callback) => {
      const allowed = anyOrigin || originAllowed(req.headers.origin, req.headers.host, deps.corsOrigins);
      if (!allowed) deps.metrics.originsRefused.inc();
      callback(allowed ? null : 'origin not allowed', allowed);
    },
    adapter: deps.adapter,
  });
  io.use(authenticateHandshake(deps.verifier, deps.metrics, deps.logger));
  io.on('connection', (socket) => onConnection(socket, deps));
  return io;
}

/** No Origin (not a browser), the gateway's own host, or a listed origin. */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allowed.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

function onConnection(socket: Socket, deps: GatewayDeps): void {
  const { feed, metrics, logger } = deps;
  const { principal, expiresAt } = socket.data as SocketData;
  const { role } = principal;
  metrics.connections.inc({ role });
  metrics.connectionsTotal.inc({ role });

  coalesceWrites(socket);
  limitBufferedOutput(socket, deps.maxBufferedPackets, () => {
    metrics.slowConsumers.inc();
    logger.warn({ socket: socket.id, sub: principal.sub, role }, 'disconnected a slow consumer: its buffered output reached SOCKET_MAX_PACKETS');
  });

  const rooms = roomsOnConnect(principal);
  void socket.join(rooms);
  for (const room of rooms) metrics.roomJoins.inc({ room: roomKind(room) });

  // A socket does not outlive its token: the client reconnects with a fresh one.
  const delay = expiresAt - Date.now();
  const expiry = delay < MAX_TIMER_MS ? setTimeout(() => socket.disconnect(true), Math.max(0, delay)) : undefined;
  expiry?.unref();

  // Every inbound packet passes here, and no further: there are no per-event listeners, so an
  // unknown name, a bad payload or a flood ends in an error ack and a count, never a throw.
  const budget = messageBudget(deps.messageRate);
  socket.use((packet) => {
    const parsed = parsePacket(packet);
    const answer = (result: { ok: true; version?: number } | { ok: false; error: string }) => {
      metrics.clientMessages.inc({ message: parsed.label, result: result.ok ? 'ok' : result.error });
      parsed.ack?.(result);
    };
    if (!budget()) return answer({ ok: false, error: 'rate limited' });
    if (!parsed.message) return answer({ ok: false, error: parsed.refusal! });
    if (parsed.message.name === 'subscribe') {
      const { room } = parsed.message;
      const verdict = maySubscribe(principal, room);
      if (verdict.ok && !socket.rooms.has(room)) {
        void socket.join(room);
        metrics.roomJoins.inc({ room: roomKind(room) });
      }
      return answer(verdict);
    }
    if (role !== 'admin') return answer({ ok: false, error: 'forbidden' });
    feed.resync(socket).then(
      (version) => answer(version > 0 ? { ok: true, version } : { ok: false, error: 'no snapshot yet' }),
      (error: unknown) => {
        logger.warn({ err: error }, 'resync failed');
        answer({ ok: false, error: 'unavailable' });
      },
    );
  });

  socket.on('disconnect', (reason) => {
    clearTimeout(expiry);
    metrics.connections.dec({ role });
    metrics.disconnects.inc({ reason: DISCONNECT_REASONS.has(reason) ? reason : 'other' });
    if (role === 'admin') feed.removeAdmin(socket);
    logger.debug({ socket: socket.id, sub: principal.sub, reason }, 'socket disconnected');
  });

  if (role === 'admin') {
    feed.addAdmin(socket).catch((error: unknown) => logger.warn({ err: error, socket: socket.id }, 'could not send initial_data'));
  }
}

/** socket.io's disconnect reasons, as metric labels; an oversized or malformed packet shows as `transport error` / `parse error`. */
const DISCONNECT_REASONS = new Set([
  'client namespace disconnect',
  'server namespace disconnect',
  'server shutting down',
  'ping timeout',
  'transport close',
  'transport error',
  'parse error',
  'forced close',
  'forced server close',
]);
