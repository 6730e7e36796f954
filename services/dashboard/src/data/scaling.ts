import type { Snapshot } from '@agentos/contracts';

export interface ScalingAdvice {
  queue: string;
  pending: number;
  /** Workers serving the queue now (from their heartbeats). */
  workers: number;
  /** consider_scaling's advice; null before it has run for this queue. */
  recommended: number | null;
  /** recommended − workers: more (>0), fewer (<0), as it is (0), unknown (null). */
  change: number | null;
  overThreshold: boolean;
}

/** Per queue: the workers it has and those `consider_scaling` recommends, in queue order. */
export function scalingAdvice(snapshot: Pick<Snapshot, 'dashboard' | 'queue'>): ScalingAdvice[] {
  const workers = new Map(snapshot.dashboard.workers.queues.map((q) => [q.name, q.workers]));
  return snapshot.queue.queues.map((queue) => {
    const have = workers.get(queue.name) ?? 0;
    return {
      queue: queue.name,
      pending: queue.pending,
      workers: have,
      recommended: queue.recommended_workers,
      change: queue.recommended_workers === null ? null : queue.recommended_workers - have,
      overThreshold: queue.over_threshold,
    };
  });
}

/** `add 2 workers`, `1 fewer worker`, `as it is`, `no advice yet`. */
export function describeChange(change: number | null): string {
  if (change === null) return 'no advice yet';
  if (change === 0) return 'as it is';
  const n = Math.abs(change);
  return change > 0 ? `add ${n} worker${n === 1 ? '' : 's'}` : `${n} fewer worker${n === 1 ? '' : 's'}`;
}
