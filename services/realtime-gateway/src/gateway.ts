import type { Server as HttpServer } from 'node:http';
import type { Logger, TokenVerifier } from '@agentos/runtime';
import { Server, type Socket } from 'socket.io';
import { authenticateHandshake, type SocketData } from './handshake';
import type { GatewayMetrics } from './metrics';
import { maySubscribe, roomKind, roomsOnConnect } from './rooms';
import type { SnapshotFeed } from './snapshot-feed';
import { limitBufferedOutput } from './socket-output';

export interface GatewayDeps {
  /** The HTTP server socket.io attaches to (it also answers /healthz, /readyz, /metrics). */
  server: HttpServer;
  verifier: TokenVerifier;
  feed: SnapshotFeed;
  metrics: GatewayMetrics;
  logger: Logger;
  /** The socket.io adapter (the Redis adapter in production). */
  adapter: NonNullable<ConstructorParameters<typeof Server>[1]>['adapter'];
  corsOrigins: readonly string[];
  /** Buffered packets at which a socket is disconnected as a slow consumer. */
  maxBufferedPackets: number;
}

type Ack = (answer: unknown) => void;

/** The longest delay setTimeout honours (~24.8 days); a token living longer is not timed out. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The socket.io server: handshake authentication, rooms, `subscribe` and `resync`. What is sent
 * comes from the snapshot feed and the broadcast relay.
 */
export function createGateway(deps: GatewayDeps): Server {
  const io = new Server(deps.server, {
    // WebSocket first. Long-polling stays as the fallback for networks that block WebSocket; it
    // needs sticky sessions behind a load balancer (docs/architecture.md).
    transports: ['websocket', 'polling'],
    serveClient: false,
    // Clients send only `subscribe` and `resync`: refuse anything large.
    maxHttpBufferSize: 64 * 1024,
    cors: { origin: deps.corsOrigins.includes('*') ? '*' : [...deps.corsOrigins] },
    adapter: deps.adapter,
  });
  io.use(authenticateHandshake(deps.verifier, deps.metrics, deps.logger));
  io.on('connection', (socket) => onConnection(socket, deps));
  return io;
}

function onConnection(socket: Socket, deps: GatewayDeps): void {
  const { feed, metrics, logger } = deps;
  const { principal, expiresAt } = socket.data as SocketData;
  const { role } = principal;
  metrics.connections.inc({ role });
  metrics.connectionsTotal.inc({ role });

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

  socket.on('subscribe', (payload: unknown, ack?: unknown) => {
    const room = typeof payload === 'object' && payload !== null ? (payload as { room?: unknown }).room : undefined;
    const answer = maySubscribe(principal, room);
    if (answer.ok) {
      if (!socket.rooms.has(room as string)) {
        void socket.join(room as string);
        metrics.roomJoins.inc({ room: roomKind(room as string) });
      }
    } else {
      metrics.subscribeRefused.inc({ error: answer.error });
    }
    if (typeof ack === 'function') (ack as Ack)(answer);
  });

  // `resync` may come with or without a payload; the ack, when given, is the last argument.
  socket.on('resync', (...args: unknown[]) => {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (last as Ack) : undefined;
    if (role !== 'admin') {
      ack?.({ ok: false, error: 'forbidden' });
      return;
    }
    feed.resync(socket).then(
      (version) => ack?.(version > 0 ? { ok: true, version } : { ok: false, error: 'no snapshot yet' }),
      (error: unknown) => {
        logger.warn({ err: error }, 'resync failed');
        ack?.({ ok: false, error: 'unavailable' });
      },
    );
  });

  socket.on('disconnect', (reason) => {
    clearTimeout(expiry);
    metrics.connections.dec({ role });
    if (role === 'admin') feed.removeAdmin(socket);
    logger.debug({ socket: socket.id, sub: principal.sub, reason }, 'socket disconnected');
  });

  if (role === 'admin') {
    feed.addAdmin(socket).catch((error: unknown) => logger.warn({ err: error, socket: socket.id }, 'could not send initial_data'));
  }
}
