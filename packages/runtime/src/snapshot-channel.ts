import { randomUUID } from 'node:crypto';
import {
  type RedisKeys,
  type RefreshRequest,
  type SectionName,
  type VersionAnnouncement,
  versionAnnouncement,
} from '@agentos/contracts';
import type { ChainableCommander, Redis } from 'ioredis';
import { withTimeout } from './timeout';

/**
 * How services ask the collectors for a rebuild and learn that a new snapshot version exists —
 * all through Redis (CONTRACT §1).
 */

/** Entries kept on the refresh stream; older ones are trimmed (approximately) on every add. */
export const REFRESH_STREAM_MAXLEN = 10_000;

/**
 * Puts one refresh request on the collectors' stream and returns its id. `sections` empty means
 * every section.
 */
export async function requestRefresh(
  redis: Redis,
  keys: RedisKeys,
  sections: readonly SectionName[],
  reason: string,
  options: { eventsUpto?: string } = {},
): Promise<string> {
  const [id, args] = refreshRequestEntry(keys, sections, reason, options);
  await redis.xadd(...args);
  return id;
}

/**
 * The same request as a command of `pipeline`, for a caller that sends it with others in one
 * round trip; the XADD's reply is the pipeline's to check. Returns the request's id.
 */
export function addRefreshRequest(
  pipeline: ChainableCommander,
  keys: RedisKeys,
  sections: readonly SectionName[],
  reason: string,
  options: { eventsUpto?: string } = {},
): string {
  const [id, args] = refreshRequestEntry(keys, sections, reason, options);
  pipeline.xadd(...args);
  return id;
}

function refreshRequestEntry(
  keys: RedisKeys,
  sections: readonly SectionName[],
  reason: string,
  options: { eventsUpto?: string },
): [string, [string, 'MAXLEN', '~', number, '*', 'request', string]] {
  const request: RefreshRequest = {
    id: randomUUID(),
    sections: [...sections],
    reason,
    requested_at: new Date().toISOString(),
    ...(options.eventsUpto ? { events_upto: options.eventsUpto } : {}),
  };
  return [request.id, [keys.refreshRequests, 'MAXLEN', '~', REFRESH_STREAM_MAXLEN, '*', 'request', JSON.stringify(request)]];
}

/** Compares two stream entry ids (`ms-seq`) numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

type Listener = (announcement: VersionAnnouncement) => void;

/**
 * Subscribes to the version channel on a subscriber connection and hands every well-formed
 * announcement to its listeners. Malformed messages are counted and dropped, never thrown.
 */
export class VersionWatcher {
  private readonly listeners = new Set<Listener>();
  private started = false;
  /** Messages on the channel that did not parse. */
  malformed = 0;
  /** Highest version announced so far (0 before the first). */
  latest = 0;

  constructor(
    private readonly subscriber: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.subscriber.on('message', this.onMessage);
    await this.subscriber.subscribe(this.keys.versionChannel);
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.subscriber.off('message', this.onMessage);
    // With Redis away the command would wait in the offline queue for ever: never hang a shutdown.
    await withTimeout(this.subscriber.unsubscribe(this.keys.versionChannel), 500, 'unsubscribe').catch(() => {});
  }

  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the announcement answering `requestId`, or null after `timeoutMs`. */
  waitForRequest(requestId: string, timeoutMs: number): Promise<VersionAnnouncement | null> {
    return this.waitFor((a) => a.requests.includes(requestId), timeoutMs);
  }

  waitFor(predicate: (a: VersionAnnouncement) => boolean, timeoutMs: number): Promise<VersionAnnouncement | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(null);
      }, timeoutMs);
      // A waiter nobody awaits any more must not keep the process alive.
      timer.unref();
      const off = this.on((announcement) => {
        if (!predicate(announcement)) return;
        clearTimeout(timer);
        off();
        resolve(announcement);
      });
    });
  }

  private readonly onMessage = (channel: string, message: string) => {
    if (channel !== this.keys.versionChannel) return;
    let announcement: VersionAnnouncement;
    try {
      announcement = versionAnnouncement.parse(JSON.parse(message));
    } catch {
      this.malformed += 1;
      return;
    }
    if (announcement.version > this.latest) this.latest = announcement.version;
    for (const listener of [...this.listeners]) listener(announcement);
  };
}
