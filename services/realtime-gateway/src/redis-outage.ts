import type { Logger, Redis } from '@agentos/runtime';

export interface RedisOutageOptions {
  logger: Logger;
  /**
   * Called once the connection is ready again after it was lost. Rejecting means "not yet": it is
   * called again with a growing delay (at most `maxRetryMs`) until it succeeds.
   */
  onRecovered: () => Promise<void>;
  /** @default 2000 */
  maxRetryMs?: number;
}

/**
 * Watches one connection (the gateway's pub/sub subscriber) for the end of a Redis outage: its
 * `ready` after a `close`. ioredis reconnects and re-subscribes by itself, but whatever was
 * published while it was away is gone (socket.io-redis-adapter#425) — the caller makes up for it.
 */
export function watchRedisOutages(connection: Redis, options: RedisOutageOptions) {
  const maxRetryMs = options.maxRetryMs ?? 2000;
  let down = false;
  let stopped = false;
  let recovering = false;
  let again = false;

  const onClose = () => {
    if (down || stopped) return;
    down = true;
    options.logger.warn('Redis connection lost: messages published meanwhile are lost; admins get the snapshot again when it is back');
  };
  const onReady = () => {
    if (!down || stopped) return;
    down = false;
    if (recovering) {
      // Lost and back again while recovering: recover once more after the current attempt.
      again = true;
      return;
    }
    void recover();
  };

  async function recover(): Promise<void> {
    recovering = true;
    try {
      for (let attempt = 1; !stopped; attempt += 1) {
        try {
          again = false;
          await options.onRecovered();
          if (!again) return;
        } catch (error) {
          options.logger.warn({ err: error, attempt }, 'recovery after the Redis outage failed; retrying');
          await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, maxRetryMs)).unref());
        }
        // Lost again: the next 'ready' starts over.
        if (down) return;
      }
    } finally {
      recovering = false;
    }
  }

  connection.on('close', onClose);
  connection.on('ready', onReady);
  return {
    /** True between a lost connection and its next `ready`. */
    get down(): boolean {
      return down;
    },
    stop(): void {
      stopped = true;
      connection.off('close', onClose);
      connection.off('ready', onReady);
    },
  };
}
