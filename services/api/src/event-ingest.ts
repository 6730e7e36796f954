import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AgentEvent, EVENT_ID_TTL_S, idKeyPart, type IngestResult, type RedisKeys } from '@agentos/contracts';
import { EVENT_STREAM_MAXLEN, type Redis, withTimeout } from '@agentos/runtime';
import { EventStoreUnavailableError, RateLimitedError } from './errors';

const INGEST_EVENTS = readFileSync(join(__dirname, 'lua', 'ingestEvents-2.lua'), 'utf8');

type IngestRedis = Redis & {
  /** ingestEvents-2.lua: `[1, flag…]` admitted, `[0, used, pttl]` refused by the rate limit. */
  ingestEvents(stream: string, window: string, ...args: (string | number)[]): Promise<number[]>;
};

export interface EventIngestOptions {
  /** Command connection. */
  redis: Redis;
  keys: RedisKeys;
  /** Entries kept on the event stream (`EVENT_STREAM_MAXLEN`). @default 1000000 */
  streamMaxLen?: number;
  /** How long an accepted id is remembered (`EVENT_ID_TTL_S`). @default 7 days */
  idTtlS?: number;
  /** Events per second per ingest token, across replicas (`INGEST_RATE_LIMIT`). @default 20000 */
  ratePerSecond?: number;
  /**
   * Longest wait for Redis before answering 503. Giving up is safe: a retry of the same ids is
   * deduplicated whether or not the abandoned call went through. @default 5000
   */
  timeoutMs?: number;
}

/** What one stored batch did: the answer, and the events that were new (for metrics). */
export interface IngestOutcome {
  result: IngestResult;
  enqueued: AgentEvent[];
}

const WINDOW_MS = 1000;

/**
 * The Redis side of event ingest: the per-token rate limit and the idempotent enqueue, one Lua
 * script (lua/ingestEvents-2.lua) and so one round trip per batch, holding across every api
 * replica.
 */
export class EventIngest {
  private readonly redis: IngestRedis;
  private readonly seenPrefix: string;
  private readonly streamMaxLen: number;
  private readonly idTtlS: number;
  private readonly ratePerSecond: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: EventIngestOptions) {
    this.redis = options.redis as IngestRedis;
    if (typeof this.redis.ingestEvents !== 'function') options.redis.defineCommand('ingestEvents', { numberOfKeys: 2, lua: INGEST_EVENTS });
    // The script builds marker keys as prefix .. escaped id; make sure that is what `eventSeen` spells.
    this.seenPrefix = options.keys.eventSeen('');
    if (options.keys.eventSeen('a:b') !== `${this.seenPrefix}${idKeyPart('a:b')}`) throw new Error('eventSeen(id) is not prefix + idKeyPart(id); ingestEvents-2.lua needs it to be');
    this.streamMaxLen = options.streamMaxLen ?? EVENT_STREAM_MAXLEN;
    this.idTtlS = options.idTtlS ?? EVENT_ID_TTL_S;
    this.ratePerSecond = options.ratePerSecond ?? 20_000;
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /**
   * Counts `events` against the token's window of one second (RateLimitedError when it has no
   * room: then nothing is stored) and puts every event not seen before on the event stream, in
   * order; duplicates have no effect.
   */
  async ingest(tokenId: string, events: readonly AgentEvent[]): Promise<IngestOutcome> {
    const args: string[] = [];
    for (const event of events) {
      // Exactly these five fields, in this order: the dispatcher reads this JSON.
      args.push(
        idKeyPart(event.id),
        JSON.stringify({ id: event.id, name: event.name, payload: event.payload, occurred_at: event.occurred_at, source: event.source }),
      );
    }
    const { keys } = this.options;
    const [admitted, ...flags] = await this.call(
      this.redis.ingestEvents(keys.events, keys.rateLimit(tokenId), this.ratePerSecond, WINDOW_MS, this.seenPrefix, this.idTtlS, this.streamMaxLen, ...args),
      'enqueue',
    );
    if (admitted !== 1) {
      throw new RateLimitedError(`rate limit of ${this.ratePerSecond} events per second reached for this ingest token; retry after 1 s`, 1);
    }
    const enqueued = events.filter((_, i) => flags[i] === 1);
    return {
      result: { accepted: enqueued.length, duplicates: events.length - enqueued.length, ids: events.map((e) => e.id) },
      enqueued,
    };
  }

  private async call<T>(command: Promise<T>, what: string): Promise<T> {
    try {
      return await withTimeout(command, this.timeoutMs, `event ${what}`);
    } catch (error) {
      throw new EventStoreUnavailableError(`event store unavailable (${what}); retry shortly`, 1, error);
    }
  }
}
