import type { Snapshot } from '@agentos/contracts';

/** One platform that feeds the SSOT, as far as the snapshot shows it. */
export interface Platform {
  source: string;
  /** Jobs from it among the snapshot's recent and awaiting-action jobs. */
  jobsSeen: number;
  /** Queues whose broker depth it reports (`queue:stats`). */
  brokerQueues: string[];
  /** Its bridge service's status, when one runs (`celery-bridge`, `bullmq-bridge`). */
  bridge: { name: string; status: string; replicas: number } | null;
}

/**
 * Which platforms feed the SSOT: the sources seen in its jobs and in its queue broker stats, and
 * the bridge services that report a heartbeat. Sorted by name.
 */
export function platformsOf(snapshot: Pick<Snapshot, 'dashboard' | 'queue' | 'system_control'>): Platform[] {
  const platforms = new Map<string, Platform>();
  const get = (source: string) => {
    let platform = platforms.get(source);
    if (!platform) {
      platform = { source, jobsSeen: 0, brokerQueues: [], bridge: null };
      platforms.set(source, platform);
    }
    return platform;
  };
  const seen = new Set<string>();
  for (const job of [...snapshot.dashboard.jobs.recent_jobs, ...snapshot.queue.awaiting_action]) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    get(job.source).jobsSeen += 1;
  }
  for (const queue of snapshot.queue.queues) if (queue.broker) get(queue.broker.source).brokerQueues.push(queue.name);
  for (const [name, service] of Object.entries(snapshot.system_control.services_status)) {
    const match = /^(.+)-bridge$/.exec(name);
    if (match) get(match[1]!).bridge = { name, status: service.status, replicas: service.replicas };
  }
  return [...platforms.values()].sort((a, b) => a.source.localeCompare(b.source));
}
