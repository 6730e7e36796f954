import {
  type Command,
  command as commandSchema,
  COMMAND_GROUP,
  commandResultEventId,
  type RedisKeys,
  redisKeys,
  type SourceCapabilities,
} from '@agentos/contracts';
// Types only: the caller brings its own ioredis client, so this module loads in a browser bundle
// (which never constructs it) without pulling ioredis in.
import type { Redis } from 'ioredis';
import type { EventPublisher } from './event-publisher';

/** What the platform made of one command. `error` says why it could not be carried out. */
export type CommandOutcome = { ok: true } | { ok: false; error: string };

export interface CommandConsumerOptions {
  /**
   * A connection to the SSOT's Redis (ioredis). The consumer makes one more of its own for the
   * blocking read (`duplicate()`), and closes only that one.
   */
  redis: Redis;
  /** The SSOT's `SSOT_NAMESPACE`. @default '' */
  namespace?: string;
  /** The platform's name: its jobs' events carry it as `source`, its commands come on `ssot:commands:{source}`. */
  source: string;
  /**
   * What this platform can do, by action: the job states in which it can. Declared in Redis at
   * start, so the api refuses (409) what the platform could not carry out before queueing it.
   */
  capabilities: SourceCapabilities;
  /** Where `command:result` goes: the ingest API, as for the platform's other events. */
  publisher: EventPublisher;
  /**
   * Carries one command out on the platform. Throwing counts as `{ok: false, error: message}`.
   * Delivery is at least once: after a crash between the platform's action and the result, the
   * command comes again, so make this idempotent (retrying a job that is already running again
   * should answer ok, or a clear error, not run it twice).
   */
  handle(command: Command): Promise<CommandOutcome>;
  /** This consumer's name in the group. @default `${source}-${random}` */
  consumer?: string;
  /** BLOCK of each read, ms. @default 1000 */
  blockMs?: number;
  /** Commands another consumer left unacknowledged this long are taken over. @default 30000 */
  claimIdleMs?: number;
  /** Told of every command set aside as malformed (it is acknowledged, never handled). */
  onMalformed?(entryId: string, reason: string): void;
  /** Told of errors of the loop itself (Redis away); it retries with backoff. */
  onError?(error: unknown): void;
}

type Entry = [id: string, fields: string[]];

/**
 * The executor side of CONTRACT §8 for a platform that integrates directly: reads its source's
 * command stream in the executors' consumer group, hands each command to `handle`, reports the
 * outcome as a `command:result` event (one per command: its id is derived from the command's),
 * and acknowledges it only once the api has the result. The bridges of this repository use it;
 * so can any platform with Redis access.
 */
export class CommandConsumer {
  private readonly keys: RedisKeys;
  private readonly stream: string;
  private readonly consumer: string;
  private readonly blockMs: number;
  private readonly claimIdleMs: number;
  private blocking: Redis | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private handled = 0;

  constructor(private readonly options: CommandConsumerOptions) {
    this.keys = redisKeys(options.namespace ?? '');
    this.stream = this.keys.commands(options.source);
    this.consumer = options.consumer ?? `${options.source}-${Math.random().toString(36).slice(2, 10)}`;
    this.blockMs = options.blockMs ?? 1000;
    this.claimIdleMs = options.claimIdleMs ?? 30_000;
  }

  /** Commands handled (and answered) since start. */
  get count(): number {
    return this.handled;
  }

  /** Declares the capabilities, joins the group, and starts reading. Resolves once reading. */
  async start(): Promise<void> {
    if (this.running) return;
    const { redis, source, capabilities } = this.options;
    await redis.hset(this.keys.sourceCapabilities, source, JSON.stringify(capabilities));
    try {
      // From 0: commands queued before any executor existed are carried out too.
      await redis.xgroup('CREATE', this.stream, COMMAND_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String((error as Error).message).includes('BUSYGROUP')) throw error;
    }
    this.blocking = redis.duplicate();
    this.blocking.on('error', () => {});
    this.running = true;
    this.loop = this.run();
  }

  /** Stops reading; the command in hand is finished first. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.blocking?.disconnect();
    this.blocking = null;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let lastClaim = 0;
    while (this.running) {
      try {
        let entries: Entry[] = [];
        if (Date.now() - lastClaim > this.claimIdleMs / 2) {
          lastClaim = Date.now();
          const [, claimed] = (await this.options.redis.xautoclaim(this.stream, COMMAND_GROUP, this.consumer, this.claimIdleMs, '0-0', 'COUNT', 50)) as [string, Entry[]];
          entries = (claimed ?? []).filter((entry) => entry && Array.isArray(entry[1]));
        }
        if (entries.length === 0) {
          const reply = (await this.blocking!.xreadgroup('GROUP', COMMAND_GROUP, this.consumer, 'COUNT', 10, 'BLOCK', this.blockMs, 'STREAMS', this.stream, '>')) as
            | [string, Entry[]][]
            | null;
          entries = reply ? reply.flatMap(([, list]) => list) : [];
        }
        for (const entry of entries) await this.carryOut(entry);
        failures = 0;
      } catch (error) {
        if (!this.running) break;
        failures += 1;
        this.options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** failures, 5000)));
      }
    }
  }

  private async carryOut([entryId, fields]: Entry): Promise<void> {
    let raw: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'command') raw = fields[i + 1];
    const parsed = raw === undefined ? undefined : commandSchema.safeParse(safeJson(raw));
    if (!parsed?.success) {
      this.options.onMalformed?.(entryId, parsed ? parsed.error.message : 'no command field');
      await this.options.redis.xack(this.stream, COMMAND_GROUP, entryId);
      return;
    }
    const command = parsed.data;
    let outcome: CommandOutcome;
    try {
      outcome = await this.options.handle(command);
    } catch (error) {
      outcome = { ok: false, error: (error as Error)?.message ?? String(error) };
    }
    // Acknowledged only once the api has the result: a crash before it carries the command out again.
    await this.options.publisher.publish(
      'command:result',
      { command_id: command.command_id, job_id: command.job_id, ok: outcome.ok, ...(outcome.ok ? {} : { error: outcome.error.slice(0, 2000) }) },
      { id: commandResultEventId(command.command_id), source: this.options.source },
    );
    await this.options.redis.xack(this.stream, COMMAND_GROUP, entryId);
    this.handled += 1;
  }
}

function safeJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
