import { idKeyPart } from '@agentos/contracts';

/**
 * The bridge's own keys, on the SSOT's Redis, under `SSOT_NAMESPACE` and per BullMQ prefix (two
 * bridges over two BullMQ installations into one SSOT keep apart). Prefix and queue names are
 * escaped as every id in a key is (`idKeyPart`), so no name reaches another key.
 *
 * These belong with the other key builders in `packages/contracts` (keys.ts); they live here
 * until that package takes them.
 */
export interface BridgeKeys {
  /** Hash queue → the id of the last stream entry whose events the api accepted. */
  readonly positions: string;
  /** Hash BullMQ job id → JSON of what the bridge knows of the job (mapping.ts `JobState`). */
  jobs(queue: string): string;
  /** Lease of the one replica that reads `queue`'s event stream. */
  readerLease(queue: string): string;
  /** Lease of the one replica that polls the worker list and the job counts. */
  readonly pollerLease: string;
  /** Hash worker id → JSON `{queues, since}` of the workers announced online and not yet offline. */
  readonly workers: string;
  /** The outcome of a command already carried out (JSON), kept a day: a command delivered again is answered the same. */
  commandOutcome(commandId: string): string;
}

export function bridgeKeys(namespace: string, prefix: string): BridgeKeys {
  const base = `${namespace === '' ? '' : `${namespace}:`}bullmq-bridge:${idKeyPart(prefix)}`;
  return Object.freeze({
    positions: `${base}:positions`,
    jobs: (queue: string) => `${base}:jobs:${idKeyPart(queue)}`,
    readerLease: (queue: string) => `${base}:lease:reader:${idKeyPart(queue)}`,
    pollerLease: `${base}:lease:poller`,
    workers: `${base}:workers`,
    commandOutcome: (commandId: string) => `${base}:command:${idKeyPart(commandId)}`,
  });
}

/** BullMQ's keys for one queue, as BullMQ itself spells them (`{prefix}:{queue}:…`). */
export interface BullKeys {
  readonly events: string;
  readonly active: string;
  readonly meta: string;
  job(jobId: string): string;
  lock(jobId: string): string;
}

export function bullKeys(prefix: string, queue: string): BullKeys {
  const base = `${prefix}:${queue}`;
  return {
    events: `${base}:events`,
    active: `${base}:active`,
    meta: `${base}:meta`,
    job: (jobId) => `${base}:${jobId}`,
    lock: (jobId) => `${base}:${jobId}:lock`,
  };
}
