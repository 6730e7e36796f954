import { type Logger, type Principal, type TokenVerifier, UnauthorizedError } from '@agentos/runtime';
import type { Socket } from 'socket.io';
import type { GatewayMetrics } from './metrics';

/** What the gateway keeps on every connected socket (`socket.data`). */
export interface SocketData {
  principal: Principal;
  /** When the token expires (ms since epoch): the socket is disconnected then. */
  expiresAt: number;
}

/** The one message every refused handshake gets (CONTRACT §6): nothing about why. */
export const UNAUTHORIZED = 'unauthorized';

/**
 * socket.io middleware: `auth: {token}` verified before the connection is accepted. Missing,
 * expired, badly signed, wrong issuer or audience, `alg: none`, no valid role: the client gets
 * `connect_error` with message `unauthorized`; the reason is counted and logged at debug, never
 * sent.
 */
export function authenticateHandshake(verifier: TokenVerifier, metrics: GatewayMetrics, logger: Logger) {
  return async (socket: Socket, next: (error?: Error) => void): Promise<void> => {
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
    if (typeof token !== 'string' || token === '') {
      metrics.authFailures.inc({ reason: 'missing' });
      return next(new Error(UNAUTHORIZED));
    }
    try {
      const principal = await verifier.verify(token);
      // Disconnected when the verifier would refuse the token: its `exp` plus the clock tolerance.
      (socket.data as SocketData) = { principal, expiresAt: principal.expiresAt };
      next();
    } catch (error) {
      metrics.authFailures.inc({ reason: 'invalid' });
      // Anything but a refused token (a JWKS endpoint that does not answer) is ours to look at.
      if (error instanceof UnauthorizedError) logger.debug({ reason: error.reason }, 'handshake refused');
      else logger.warn({ err: error }, 'handshake refused: token could not be checked');
      next(new Error(UNAUTHORIZED));
    }
  };
}
