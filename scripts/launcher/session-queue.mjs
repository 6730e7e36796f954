// A replacement for pglite-socket's query queue that keeps each client's conversation with the
// one PGlite backend whole.
//
// PGlite is a single PostgreSQL backend; PGLiteSocketServer multiplexes many client connections
// onto it by running their protocol messages one at a time. Its own queue (0.2.17) only keeps a
// client in charge while an explicit transaction is open. Between a Parse and the Sync that ends
// an extended-protocol query, though, the unnamed statement and portal are backend state too: when
// a client's messages arrive in more than one TCP read (any query with more than ~64 KiB of
// parameters), another client's Parse/Bind lands in between and binds its values to the wrong
// statement. Measured: 7 of 50 concurrent large inserts failed with another query's parameters.
//
// This queue hands the backend to a client from its first message until the backend is idle again
// (ReadyForQuery with status 'I'); the other clients' messages wait in arrival order. It has the
// interface PGLiteSocketHandler calls (`enqueue`, `clearQueueForHandler`,
// `clearTransactionIfNeeded`, `getQueueLength`).

const READY_FOR_QUERY = 0x5a; // 'Z', then int32 length 5, then the status byte
const IDLE = 0x49; // 'I': not in a transaction block
const SYNC = Uint8Array.of(0x53, 0, 0, 0, 4);

export class SessionQueue {
  /** @param {import('@electric-sql/pglite').PGlite} db */
  constructor(db) {
    this.db = db;
    /** @type {{handlerId: number, cleanup: boolean, run: () => Promise<unknown>, resolve: Function, reject: Function}[]} */
    this.waiting = [];
    /** The handler the backend belongs to until it is idle again, or null. */
    this.owner = null;
    this.running = false;
  }

  /** Runs one protocol message of `handlerId` when the backend is free for it; resolves to the bytes answered. */
  enqueue(handlerId, message, onData) {
    return this.#submit(handlerId, {}, () => this.#execute(handlerId, message, onData));
  }

  getQueueLength() {
    return this.waiting.length;
  }

  clearQueueForHandler(handlerId) {
    this.waiting = this.waiting.filter((item) => {
      // A cleanup already queued must still run: it is what frees the backend.
      if (item.handlerId !== handlerId || item.cleanup) return true;
      item.reject(new Error('Handler disconnected'));
      return false;
    });
  }

  /**
   * A client that goes away while it owns the backend leaves it mid-query or in a transaction:
   * end the extended-protocol exchange (Sync), roll back what it left open, and free the backend.
   */
  clearTransactionIfNeeded(handlerId) {
    if (this.owner !== handlerId) return Promise.resolve();
    return this.#submit(handlerId, { cleanup: true }, async () => {
      try {
        await this.db.runExclusive(() => this.db.execProtocolRaw(SYNC));
        if (this.db.isInTransaction()) await this.db.exec('ROLLBACK');
      } catch {
        // The database is closing; there is nothing left to clean.
      } finally {
        this.owner = null;
      }
    });
  }

  #submit(handlerId, { cleanup = false }, run) {
    return new Promise((resolve, reject) => {
      this.waiting.push({ handlerId, cleanup, run, resolve, reject });
      void this.#pump();
    });
  }

  async #pump() {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const index =
          this.owner === null ? 0 : this.waiting.findIndex((item) => item.handlerId === this.owner);
        // The owner has not sent its next message yet: everyone else keeps waiting for it.
        if (index === -1 || this.waiting.length === 0) break;
        const [item] = this.waiting.splice(index, 1);
        try {
          item.resolve(await item.run());
        } catch (error) {
          item.reject(error);
        }
      }
    } finally {
      this.running = false;
    }
  }

  async #execute(handlerId, message, onData) {
    // Owned from the start, so a client that leaves while its message runs still gets cleaned up.
    this.owner = handlerId;
    let size = 0;
    // The last bytes answered, across chunks: enough to see a trailing ReadyForQuery.
    let tail = new Uint8Array(0);
    await this.db.runExclusive(() =>
      this.db.execProtocolRawStream(message, {
        onRawData: (data) => {
          size += data.length;
          tail = lastBytes(tail, data, 6);
          onData(data);
        },
      }),
    );
    const ready = tail.length === 6 && tail[0] === READY_FOR_QUERY && tail[4] === 5;
    // No ReadyForQuery (mid extended query, COPY, Terminate) or one inside a transaction: the
    // client keeps the backend. A client that leaves is cleaned up by clearTransactionIfNeeded.
    if (ready && tail[5] === IDLE) this.owner = null;
    return size;
  }
}

function lastBytes(previous, data, n) {
  if (data.length >= n) return data.slice(data.length - n);
  const joined = new Uint8Array(previous.length + data.length);
  joined.set(previous);
  joined.set(data, previous.length);
  return joined.slice(Math.max(0, joined.length - n));
}
