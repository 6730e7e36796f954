// The bridge's own keys on the SSOT's Redis are built with the others, in packages/contracts
// (`bullmqBridgeKeys`); these are BullMQ's, as BullMQ spells them.

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
