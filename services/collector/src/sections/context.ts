import type { RedisKeys, WorkerDetail } from '@agentos/contracts';
import type { PreparedQuery, PrismaClient } from '@agentos/db';
import type { Redis } from '@agentos/runtime';
import type { HeldWorkers } from './workers';

/** What a section builder may read. One context per build; `memo` shares work between sections. */
export interface SectionContext {
  prisma: PrismaClient;
  /** The sections' SQL, each statement prepared once per connection (read on every build). */
  query: PreparedQuery;
  redis: Redis;
  keys: RedisKeys;
  /** The build's clock: every section of one build agrees on "now". */
  now: Date;
  settings: CollectorSettings;
  memo: Map<string, Promise<unknown>>;
  /** Reuse of the workers read by an earlier build (sections/workers.ts); absent: always read. */
  workers?: WorkersReuse;
}

export interface WorkersReuse {
  /** Whether this build may reuse them (partial builds only). */
  allowed: boolean;
  /** The workers' generation read at the build's start; null when it could not be read. */
  generation: number | null;
  maxAgeMs: number;
  /** What the collector holds between builds. */
  held: { current?: HeldWorkers };
  onRead?(outcome: 'read' | 'reused'): void;
}

export interface CollectorSettings {
  warmIntervalMs: number;
  snapshotTtlS: number;
  /** Seconds after which a worker without a heartbeat counts as gone (the dispatch table's TTL). */
  heartbeatTtlS: number;
  /** Seconds after which a service instance without a heartbeat is not counted. @default 15 */
  serviceHeartbeatStaleS: number;
}

/** Runs `load` once per build for `key`, however many sections ask. */
export function memo<T>(ctx: SectionContext, key: string, load: () => Promise<T>): Promise<T> {
  let value = ctx.memo.get(key) as Promise<T> | undefined;
  if (!value) {
    value = load();
    ctx.memo.set(key, value);
  }
  return value;
}

export type { WorkerDetail };
