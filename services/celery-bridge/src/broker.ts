import type { LoopWatch, Logger } from '@agentos/runtime';
import Redis from 'ioredis';

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
