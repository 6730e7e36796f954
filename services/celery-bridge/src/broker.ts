import type { LoopWatch, Logger } from '@agentos/runtime';
import Redis from 'ioredis';

/** What `paceReads` uses of a net.Socket beyond its public API. */
interface PacedSocket {
  destroyed: boolean;
  _handle?: { readStop(): number; readStart(): number } | null;
  prependListener(event: 'data', listener: (chunk: Buffer) => void): void;
}

/** A read (one wake-up) smaller than this has caught up with what Celery published: rest after it. */
const CAUGHT_UP_BYTES = 64 * 1024;

/**
 * The subscription to Celery's event channels, `PSUBSCRIBE /{db}.celeryev/*`, on a connection of
 * its own. Celery's events are PUBLISHed and kept nowhere: whatever is published while this
 * connection is down is gone. So it reconnects at once (the first attempt without delay, then
 * backing off to 1 s), ioredis subscribes again by itself, and the time spent disconnected is
 * counted — the part of the stream this bridge cannot have seen.
 */
export class EventSubscription {
  readonly pattern: string;
  private readonly redis: Redis;
  private probe: NodeJS.Timeout | undefined;
  private subscribed = false;
  /** When the current outage began (epoch ms), or null while subscribed. */
  private downSince: number | null;
  private downMs = 0;
  private started = false;
  private stopped = false;
  /** The sockets `paceReads` has paced (one per connection ioredis dialled). */
  private readonly paced = new WeakSet<object>();

  constructor(
    url: string,
    db: number,
    private readonly options: {
      onMessage(message: string): void;
      /** Told of each loss of the subscription. */
      onDisconnect(): void;
      /** Progresses on every PING the connection answers. */
      watch: LoopWatch;
      logger: Logger;
      name: string;
      /** Read pacing (CELERY_READ_INTERVAL_MS), see `paceReads`. 0: read whenever data arrives. @default 0 */
      readIntervalMs?: number;
    },
  ) {
    this.pattern = `/${db}.celeryev/*`;
    this.downSince = Date.now();
    this.redis = new Redis(url, {
      connectionName: options.name,
      connectTimeout: 2000,
      // At once, then 50, 100 … ms, never more than 1 s apart: every moment away is events lost.
      retryStrategy: (times) => (times <= 1 ? 0 : Math.min(25 * 2 ** (times - 1), 1000)),
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      autoResubscribe: true,
      // A connection that answers nothing (blackholed network) is dropped and dialled again; the
      // PINGs below make sure something is always awaiting an answer.
      commandTimeout: 1000,
      socketTimeout: 3000,
    });
    this.redis.on('error', () => {});
    this.redis.on('pmessage', (_pattern: string, _channel: string, message: string) => options.onMessage(message));
    this.redis.on('ready', () => this.up());
    this.redis.on('close', () => this.down());
  }

  /**
   * Celery publishes each event on its own, so read as it arrives, every event is a wake-up of
   * this process, a socket read and a parser call: at 1,000 events/s that was almost a third of
   * the bridge's CPU (bench:bridges, steady phase). Paced, a read is followed by `intervalMs`
   * in which the socket is not read at all; what Celery publishes meanwhile waits in the
   * socket's buffer (then in Redis's output buffer for this connection) and arrives in the next
   * read, together.
   * An event that comes after a quiet spell is read at once; under load, each waits at most
   * `intervalMs`, the wait an event waits anyway for others to share its POST (with
   * INGEST_FLUSH_MS 0, a read's events leave in one request at once). Nothing is lost by not
   * reading: Redis keeps what it could not write yet, and a rest holds back some 35 KB at 1,000
   * events/s and 50 ms, far below the 8 MB a subscriber may lag by (client-output-buffer-limit
   * pubsub). A read of 64 KB or more (the socket's buffer full, more still in Redis: some
   * 2,000 events/s and up) is behind, and reads on without resting.
   *
   * Node's sockets have no public way to stop reading (pause() only stops delivering what is
   * read), so this calls the socket handle's readStop/readStart, as net.Socket itself does when
   * its buffer is full; a socket without them (none known) is read unpaced.
   */
  private paceReads(intervalMs: number): void {
    const socket = (this.redis as unknown as { stream?: PacedSocket }).stream;
    if (!socket || this.paced.has(socket) || typeof socket._handle?.readStop !== 'function') return;
    this.paced.add(socket);
    let resting = false;
    let bytes = 0;
    socket.prependListener('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (resting || this.stopped) return;
      resting = true;
      // Not at once: this wake-up goes on reading until the socket is empty (libuv reads 64 KB
      // at a time, many times over). And not after a large read: the socket's buffer holds only
      // so much, the rest waits in Redis, so a read that filled it is behind, and resting then
      // would cap the bridge at a buffer per interval; it reads on until it has caught up.
      setImmediate(() => {
        const behind = bytes >= CAUGHT_UP_BYTES;
        bytes = 0;
        if (behind || socket.destroyed || !socket._handle || socket._handle.readStop() !== 0) {
          resting = false;
          return;
        }
        setTimeout(() => {
          resting = false;
          if (!socket.destroyed && socket._handle) socket._handle.readStart();
        }, intervalMs);
      });
    });
  }

  /**
   * Subscribes; resolves once the first subscription is in place (with the broker away, that is
   * when it comes back: the connection keeps trying).
   */
  async start(): Promise<void> {
    this.probe = setInterval(() => {
      this.redis.ping().then(
        () => this.options.watch.progress(),
        () => {},
      );
    }, 1000);
    this.probe.unref();
    await this.redis.psubscribe(this.pattern);
    this.started = true;
    this.up();
  }

  get connected(): boolean {
    return this.subscribed;
  }

  /** Time not subscribed since start, the current outage included. */
  disconnectedMs(): number {
    return this.downMs + (this.downSince === null ? 0 : Date.now() - this.downSince);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.probe);
    this.options.watch.stop();
    await this.redis.punsubscribe(this.pattern).catch(() => {});
    this.redis.disconnect();
  }

  private up(): void {
    // Before start() has subscribed, 'ready' means connected, not subscribed. After it, ioredis
    // writes the PSUBSCRIBE again right behind 'ready': what is published from then on arrives.
    if (this.subscribed || !this.started || this.redis.status !== 'ready') return;
    this.subscribed = true;
    // Paced once subscribed, not before: each reply of the connection's handshake (name, ready
    // check, database, subscription) would otherwise wait out a rest. ioredis dials a new socket
    // on every reconnect, and each is paced from here.
    const readIntervalMs = this.options.readIntervalMs ?? 0;
    if (readIntervalMs > 0) this.paceReads(readIntervalMs);
    if (this.downSince !== null) {
      this.downMs += Date.now() - this.downSince;
      this.downSince = null;
    }
  }

  private down(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    this.downSince = Date.now();
    if (!this.stopped) {
      this.options.onDisconnect();
      this.options.logger.warn({ pattern: this.pattern }, 'lost the Celery event subscription: events published until it is back are missed');
    }
  }
}
