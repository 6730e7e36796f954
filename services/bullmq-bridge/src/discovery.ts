import type { Logger, LoopWatch, Redis } from '@agentos/runtime';

/** Longest queue name the SSOT takes (its `queue` field). */
const MAX_QUEUE_NAME = 200;

/**
 * The queues the bridge carries: those configured, or those found under the prefix. It only
 * grows: a queue that BullMQ obliterates keeps being watched (reading a stream that does not
 * exist costs nothing) and is read again if it comes back.
 */
export class QueueSet {
  private readonly names = new Set<string>();
  private readonly refused = new Set<string>();

  constructor(
    initial: readonly string[],
    private readonly logger?: Logger,
  ) {
    this.add(initial);
  }

  /** Adds the names not known yet; returns them. A name the SSOT cannot take is refused once, logged. */
  add(names: Iterable<string>): string[] {
    const added: string[] = [];
    for (const name of names) {
      if (this.names.has(name) || this.refused.has(name)) continue;
      if (name === '' || name.includes(':') || name.length > MAX_QUEUE_NAME) {
        this.refused.add(name);
        this.logger?.warn({ queue: name.slice(0, 300) }, `queue not bridged: its name is empty, has ":" or is over ${MAX_QUEUE_NAME} characters`);
        continue;
      }
      this.names.add(name);
      added.push(name);
    }
    return added;
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  list(): string[] {
    return [...this.names];
  }

  get size(): number {
    return this.names.size;
  }
}

/** `prefix` as a literal in a SCAN MATCH pattern. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * The queues under `prefix`: each has a `{prefix}:{queue}:meta` hash once a job was added to it.
 * SCAN, never KEYS, so a BullMQ Redis with millions of job keys is walked in small steps.
 */
export async function scanQueues(bull: Redis, prefix: string): Promise<string[]> {
  const found = new Set<string>();
  const head = `${prefix}:`;
  let cursor = '0';
  do {
    const [next, keys] = (await bull.call('SCAN', cursor, 'MATCH', `${globLiteral(head)}*:meta`, 'COUNT', '1000', 'TYPE', 'hash')) as [string, string[]];
    cursor = next;
    for (const key of keys) {
      const name = key.slice(head.length, -':meta'.length);
      // A job whose custom id is `meta` has the key `{prefix}:{queue}:meta` too; BullMQ's own meta wins.
      if (name !== '' && !name.includes(':')) found.add(name);
    }
  } while (cursor !== '0');
  return [...found];
}

/** Looks for new queues every `intervalMs` (and once at once); each round that reached Redis is progress. */
export function startDiscovery(options: { bull: Redis; prefix: string; queues: QueueSet; intervalMs: number; logger: Logger; watch: LoopWatch; onFound?(queues: string[]): void }) {
  let stopped = false;
  let running: Promise<void> | null = null;
  const round = async () => {
    try {
      const added = options.queues.add(await scanQueues(options.bull, options.prefix));
      if (added.length > 0) {
        options.logger.info({ queues: added }, 'queues found');
        options.onFound?.(added);
      }
      options.watch.progress();
    } catch (error) {
      options.logger.warn({ err: (error as Error).message }, 'queue discovery failed');
    }
  };
  const tick = () => {
    if (stopped || running) return;
    running = round().finally(() => {
      running = null;
    });
  };
  const timer = setInterval(tick, options.intervalMs);
  tick();
  return {
    /** Runs one round now (tests, start-up). */
    async discover(): Promise<void> {
      await (running ?? round());
    },
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      options.watch.stop();
      await running;
    },
  };
}
