// The images' HEALTHCHECK: GET /healthz on this container's own PORT (set in each image, and
// overridable like any variable), exit 0 on 200 and 1 on anything else. Node is the only program
// the runtime image is sure to have (no curl, no wget), and fetch is built in.
//
// /healthz, not /readyz: Docker's health is what `depends_on: condition: service_healthy` waits
// for, and "its loops make progress" is the question a start order needs answered. Readiness
// (Redis and the database answer, a snapshot exists) is the orchestrator's business: Kubernetes
// probes /readyz itself.
'use strict';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write(`healthcheck: PORT is not a port number (${process.env.PORT})\n`);
  process.exit(1);
}

fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
  async (response) => {
    const body = await response.text();
    if (response.status !== 200) process.stderr.write(`healthcheck: /healthz answered ${response.status} ${body.slice(0, 500)}\n`);
    process.exit(response.status === 200 ? 0 : 1);
  },
  (error) => {
    process.stderr.write(`healthcheck: /healthz unreachable on port ${port}: ${error.cause?.code ?? error.message}\n`);
    process.exit(1);
  },
);
