import { Agent as HttpAgent, type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * A `fetch` for `EventPublisher` on `node:http` with keep-alive. The bridge posts a batch every
 * few ms for as long as Celery runs, and Node's global fetch (undici, WHATWG streams) cost it
 * about as much CPU as everything else it does together (bench/bridge-celery.mjs, with a CPU
 * profile): this one costs a fraction. It does what the publisher asks of fetch — a string body,
 * headers, an AbortSignal — and answers with what the publisher reads of a `Response`.
 */
export function createHttpFetch(options: { maxSockets?: number } = {}): typeof fetch {
  const agents = {
    'http:': new HttpAgent({ keepAlive: true, maxSockets: options.maxSockets ?? 4 }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets: options.maxSockets ?? 4 }),
  };
  const httpFetch = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const agent = agents[url.protocol as keyof typeof agents];
    if (!agent) return Promise.reject(new TypeError(`unsupported protocol ${url.protocol}`));
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    const headers: Record<string, string> = Object.fromEntries(new Headers(init.headers).entries());
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const req = send(url, { method: init.method ?? 'GET', headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          signal?.removeEventListener('abort', abort);
          resolve(answer(res.statusCode ?? 0, res.statusMessage ?? '', res.headers, Buffer.concat(chunks)));
        });
      });
      const abort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', abort, { once: true });
      req.on('error', (error) => {
        signal?.removeEventListener('abort', abort);
        reject(error);
      });
      req.end(body);
    });
  };
  return httpFetch as typeof fetch;
}

/**
 * What `EventPublisher` reads of an answer — `status`, `statusText`, `headers.get`, `json()`,
 * `text()` — without undici's `Response`, whose web streams were most of what this module still
 * cost (a CPU profile at 1,000 events/s).
 */
function answer(status: number, statusText: string, headers: IncomingHttpHeaders, body: Buffer): Response {
  const text = () => Promise.resolve(body.toString('utf8'));
  return {
    status,
    statusText,
    ok: status >= 200 && status < 300,
    headers: {
      get(name: string): string | null {
        const value = headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
    text,
    json: () => text().then((t) => JSON.parse(t) as unknown),
    arrayBuffer: () => Promise.resolve(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)),
  } as unknown as Response;
}
