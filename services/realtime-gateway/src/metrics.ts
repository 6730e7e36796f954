import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;

/** Why a handshake was refused (label of `ssot_gateway_auth_failures_total`). */
export type AuthFailure = 'missing' | 'invalid';

export function createGatewayMetrics(registry: Registry) {
  return {
    connections: new Gauge({
      name: 'ssot_gateway_connections',
      help: 'Sockets connected to this gateway now, by role',
      labelNames: ['role'] as const,
      registers: [registry],
    }),
    connectionsTotal: new Counter({
      name: 'ssot_gateway_connections_total',
      help: 'Sockets accepted by this gateway since start, by role',
      labelNames: ['role'] as const,
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'ssot_gateway_auth_failures_total',
      help: 'Handshakes refused with connect_error "unauthorized": token missing, or invalid (bad signature, expired, wrong issuer or audience, alg none, no role)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    roomJoins: new Counter({
      name: 'ssot_gateway_room_joins_total',
      help: 'Rooms joined, at connect or by subscribe, by kind (admin, alerts, monitoring, user)',
      labelNames: ['room'] as const,
      registers: [registry],
    }),
    clientMessages: new Counter({
      name: 'ssot_gateway_client_messages_total',
      help: 'Messages received from clients, by message (subscribe, resync, unknown) and result (ok, or the error of the ack: forbidden, unknown room, invalid payload, unknown message, rate limited, no snapshot yet, unavailable)',
      labelNames: ['message', 'result'] as const,
      registers: [registry],
    }),
    originsRefused: new Counter({
      name: 'ssot_gateway_origins_refused_total',
      help: 'Handshakes refused because the browser Origin is neither the gateway host nor in CORS_ORIGINS',
      registers: [registry],
    }),
    disconnects: new Counter({
      name: 'ssot_gateway_disconnects_total',
      help: 'Sockets disconnected, by socket.io reason (an oversized or malformed client packet shows as transport error or parse error)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    emitted: new Counter({
      name: 'ssot_gateway_messages_emitted_total',
      help: 'Messages emitted, by type. A room broadcast counts once whatever its recipients; initial_data and ssot:update are written per socket and count once per socket',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    coalesced: new Counter({
      name: 'ssot_gateway_updates_coalesced_total',
      help: 'Snapshot updates not sent to a socket whose buffer was full; it gets one initial_data of the latest version when it drains',
      registers: [registry],
    }),
    slowConsumers: new Counter({
      name: 'ssot_gateway_slow_consumer_disconnects_total',
      help: 'Sockets disconnected because their buffered output reached SOCKET_MAX_PACKETS',
      registers: [registry],
    }),
    malformedBroadcasts: new Counter({
      name: 'ssot_gateway_broadcasts_malformed_total',
      help: 'Messages on the broadcast channel that were not a valid BroadcastMessage (dropped)',
      registers: [registry],
    }),
    snapshotVersion: new Gauge({
      name: 'ssot_gateway_snapshot_version',
      help: 'Snapshot version this gateway holds and serves to its admins (0 before the first)',
      registers: [registry],
    }),
    patchesFromCollector: new Counter({
      name: 'ssot_gateway_collector_patches_total',
      help: "Collectors' patches for an announced version: applied (sent on as they came), or base_mismatch (not from the version held: the snapshot was read and diffed instead)",
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    intakeLag: new Gauge({
      name: 'ssot_gateway_intake_lag_seconds',
      help: 'Age of the last message read from Redis when it was handled, by channel (version: an announcement; broadcast: a socket message). Grows when this process is starved of CPU',
      labelNames: ['channel'] as const,
      registers: [registry],
    }),
    intakeDropped: new Counter({
      name: 'ssot_gateway_intake_dropped_total',
      help: 'Messages from Redis handled too late to be worth sending, by kind: snapshot_update (a version skipped; admins get the latest whole when the gateway is current), broadcast (a socket message older than BROADCAST_MAX_AGE_MS)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    malformedPatches: new Counter({
      name: 'ssot_gateway_patches_malformed_total',
      help: 'Messages on the patch channel that were not `<version> <base>` LF `[ops]` (dropped)',
      registers: [registry],
    }),
    patchSeconds: new Histogram({
      name: 'ssot_gateway_patch_duration_seconds',
      help: 'Time to parse a new snapshot version and diff it, when no patch came from the collector (the fallback)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
    redisRecoveries: new Counter({
      name: 'ssot_gateway_redis_recoveries_total',
      help: 'Times Redis came back after an outage and every local admin was sent initial_data again',
      registers: [registry],
    }),
  };
}
