import { AUTH_REQUIRED, authEnv, commonEnv, corsOriginsEnv, loadEnv, portEnv } from '@agentos/runtime';
import { z } from 'zod';

const positiveInt = z.coerce.number().int().positive();

export const gatewayEnv = z.object({
  ...commonEnv,
  ...authEnv,
  ...portEnv(3001),
  /**
   * Longest time the in-memory snapshot is handed to a connecting (or resyncing) admin without
   * asking Redis for a newer one. Announcements keep it current; this bounds how stale it can be
   * when one is lost. @default 1000
   */
  SNAPSHOT_MAX_AGE_MS: positiveInt.default(1000),
  /**
   * How often the gateway compares its snapshot version with the one in Redis (a 64-byte
   * GETRANGE) while admins are connected, so a lost version announcement — pub/sub drops what is
   * published while a subscriber reconnects — delays an update by at most this. @default 5000
   */
  VERSION_CHECK_MS: positiveInt.default(5000),
  /**
   * Packets waiting in one socket's engine buffer (its transport still busy with earlier ones) at
   * which snapshot updates to it are coalesced: it gets no more `ssot:update` until it drains,
   * then one `initial_data` of the latest version. @default 16
   */
  SOCKET_COALESCE_PACKETS: positiveInt.default(16),
  /**
   * Packets waiting in one socket's engine buffer at which the socket is disconnected as a slow
   * consumer (its client reconnects and starts again from `initial_data`). Bounds the memory a
   * client that stops reading can hold: this many messages, plus what the kernel buffers.
   * @default 1000
   */
  SOCKET_MAX_PACKETS: positiveInt.default(1000),
  /**
   * Browser origins that may connect, comma separated (`scheme://host[:port]`), or `*`. A
   * browser always sends `Origin`; one neither listed nor the gateway's own host is refused at the
   * handshake (both transports), and gets no CORS grant for long-polling. Clients that send no
   * Origin (servers, the Node client) are not concerned. Tokens travel in the handshake payload,
   * never in cookies. @default none: same origin only
   */
  CORS_ORIGINS: corsOriginsEnv,
  /**
   * Messages one socket may send per second (`subscribe`, `resync`, anything); past it they are
   * refused with an error ack and counted. A `resync` costs a whole snapshot, so it is what this
   * bounds. Bursts of twice this are allowed. @default 20
   */
  SOCKET_MESSAGE_RATE: positiveInt.max(10_000).default(20),
  /**
   * A snapshot version announced longer ago than this when the gateway gets to it (it was starved
   * of CPU, or stopped, and reads a backlog) is skipped: admins get one `initial_data` of the
   * latest once it is current, not every patch of the backlog. Counted in
   * `ssot_gateway_intake_dropped_total{kind="snapshot_update"}`. @default 1000
   */
  INTAKE_MAX_LAG_MS: positiveInt.default(1000),
  /**
   * A socket message older than this when the gateway gets to it is dropped and counted
   * (`{kind="broadcast"}`): a progress update that late misleads more than it tells. @default 30000
   */
  BROADCAST_MAX_AGE_MS: positiveInt.default(30_000),
});
export type GatewayConfig = z.infer<typeof gatewayEnv>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): Readonly<GatewayConfig> {
  return loadEnv('realtime-gateway', gatewayEnv, env, [AUTH_REQUIRED]);
}
