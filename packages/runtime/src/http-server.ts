import { createServer, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

export interface HttpServerOptions {
  /** Longest time to receive the request headers (slowloris). @default 10000 */
  headersTimeoutMs?: number;
  /** Longest time to receive a whole request. @default 30000 */
  requestTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this; keep it above the load balancer's. @default 65000 */
  keepAliveTimeoutMs?: number;
  /** Largest request head (request line and headers); over it: 431. @default 16384 */
  maxHeaderBytes?: number;
  /** Headers for the answers this module writes itself (the security headers, say). */
  headers?: Readonly<Record<string, string>>;
}

/** The environment's HTTP limits (`commonEnv`) as options. */
export function httpServerOptions(config: {
  HTTP_HEADERS_TIMEOUT_MS?: number;
  HTTP_REQUEST_TIMEOUT_MS?: number;
  HTTP_KEEPALIVE_TIMEOUT_MS?: number;
}): HttpServerOptions {
  return {
    headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: config.HTTP_KEEPALIVE_TIMEOUT_MS,
  };
}

/** Largest request head accepted by every server here (Node's default, stated). */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * A node:http server with its limits set, for every service. What Node refuses before a request
 * reaches the listener — a head over `maxHeaderBytes`, a malformed request line, a client too slow
 * to send its headers — is answered here in the contract's error format, and the connection is
 * closed; Node's own answer would be a bare status line.
 */
export function createHttpServer(listener: RequestListener, options: HttpServerOptions = {}): Server {
  const maxHeaderBytes = options.maxHeaderBytes ?? MAX_HEADER_BYTES;
  const server = createServer({ maxHeaderSize: maxHeaderBytes }, listener);
  server.headersTimeout = options.headersTimeoutMs ?? 10_000;
  server.requestTimeout = options.requestTimeoutMs ?? 30_000;
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
  // No maxRequestsPerSocket: past it Node answers 503 to a client that goes on sending on the
  // connection (autocannon does), and spreading clients across replicas is the balancer's job.
  server.maxHeadersCount = 200;
  const extra = Object.entries(options.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] = clientErrorAnswer(error.code, maxHeaderBytes);
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
    );
  });
  return server;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

function clientErrorAnswer(code: string | undefined, maxHeaderBytes: number): [number, string, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'headers_too_large', `request line and headers over ${maxHeaderBytes} bytes`];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'request_timeout', 'request not received in time'];
  return [400, 'invalid_request', 'malformed HTTP request'];
}
