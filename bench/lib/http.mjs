// The benchmarks' one HTTP call: POST a JSON body of events to the api, as a job platform would.
import { request } from 'node:http';

/**
 * POSTs `json` to `/api/events` on 127.0.0.1:`port` with the ingest token, through `agent`
 * (keep-alive). Never rejects: resolves `{status, body}`, status 0 with the error's message when
 * the request failed or took over 15 s.
 */
export function postEvents(agent, port, token, json) {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/api/events',
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve({ status: 0, body: error.message }));
    req.end(json);
  });
}
