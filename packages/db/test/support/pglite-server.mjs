// Serves an in-memory PGlite over the PostgreSQL wire protocol on a free port, prints
// `listening <host:port>` once ready, and runs until killed. A child process of its own because
// PGlite loads its WASM through dynamic import(), which jest's module sandbox does not allow.
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

// The extensions the migrations create, as the launcher loads them (scripts/launcher/pglite-template.mjs).
const db = await PGlite.create({ extensions: { pg_trgm } });
const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 8 });
await server.start();
process.stdout.write(`listening ${server.getServerConn()}\n`);

const stop = async () => {
  await server.stop();
  await db.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
