// The embedded PostgreSQL: PGlite persisted in `workerData.dir`, served over the wire protocol on
// 127.0.0.1. Runs in a worker thread of the launcher (database.mjs says why).
//
// Posts {type: 'port', port} at once, so the services can be given DATABASE_URL while PGlite
// starts; {type: 'listening', created} once it serves; {type: 'stopped'} after a 'stop' request
// closed the server and the database. A failure to start throws (the worker's 'error' event).
import { createServer } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { isDataDir, openPglite } from './pglite-template.mjs';
import { SessionQueue } from './session-queue.mjs';

/**
 * Connections the server accepts at once. Every service pool (the collector's holds up to
 * DB_POOL_MAX = 10), the launcher's migrate and seed sessions and a psql or two fit under it;
 * they all share the one backend, one exchange at a time (session-queue.mjs).
 */
const MAX_CONNECTIONS = 100;

const { dir, template } = workerData;

// Hold the port from now on; a client that comes too early is turned away rather than left hanging.
const reservation = createServer((socket) => socket.destroy());
await new Promise((resolve, reject) => {
  reservation.once('error', reject);
  reservation.listen(0, '127.0.0.1', resolve);
});
const { port } = reservation.address();
parentPort.postMessage({ type: 'port', port });

const created = !isDataDir(dir);
const db = await openPglite(dir, template);
const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: MAX_CONNECTIONS });
// pglite-socket 0.2.17 builds its queue in the constructor and hands it to each connection's
// handler; replacing it before start() is the one place to put ours (session-queue.mjs says why).
if (typeof server.queryQueue?.enqueue !== 'function') {
  throw new Error('@electric-sql/pglite-socket no longer has the queryQueue this launcher replaces; see scripts/launcher/session-queue.mjs');
}
server.queryQueue = new SessionQueue(db);
await new Promise((resolve) => reservation.close(resolve));
await server.start();
parentPort.postMessage({ type: 'listening', created });

parentPort.on('message', async (message) => {
  if (message !== 'stop') return;
  // Server first, so no client reaches a closing database; close() ends with a shutdown
  // checkpoint, which is what leaves the files consistent for the next start.
  await server.stop();
  await db.close();
  parentPort.postMessage({ type: 'stopped' });
  parentPort.close();
});
