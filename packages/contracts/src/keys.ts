/**
 * Every Redis key, stream and channel name of the system, built once here. Nothing else in the
 * repository spells a key: services call these builders with their configured namespace.
 *
 * With an empty namespace the snapshot key is exactly `admin:dashboard:v4` (CONTRACT §2); with
 * namespace `t1` it is `t1:admin:dashboard:v4`.
 */
export interface RedisKeys {
  readonly namespace: string;
  /** The snapshot served to readers; TTL `SNAPSHOT_TTL_S`. */
  readonly snapshot: string;
  /** The last snapshot ever written, without TTL: served with `meta.stale` when the snapshot lapsed. */
  readonly lastGood: string;
  /** INCR counter behind `meta.version`; shared by every collector replica. */
  readonly version: string;
  /** Hash section name → JSON of the section's latest value. The snapshot is assembled from it. */
  readonly sections: string;
  /** Hash section name → build sequence of the value in `sections`; an older build never overwrites a newer one. */
  readonly sectionSeq: string;
  /** Hash section name → JSON string of the error of its last failed build (absent once it builds again). */
  readonly sectionErrors: string;
  /** INCR counter handing each section build its sequence number. */
  readonly buildSeq: string;
  /** Stream of refresh requests, read by the collectors' consumer group. */
  readonly refreshRequests: string;
  /** Pub/sub channel announcing every new snapshot version. */
  readonly versionChannel: string;
  /** Lock that makes a cache miss trigger one rebuild across all api replicas. */
  readonly rebuildLock: string;
  /** Lease held by the one active cache-warmer. */
  readonly warmerLease: string;
  /** Hash `service/instance` → JSON heartbeat of every running service process. */
  readonly serviceHeartbeats: string;
  /** Sorted set worker id → last heartbeat (ms since epoch). */
  readonly workersLive: string;
  /** Hash of one worker's live state; TTL from the dispatch table's heartbeat TTL. */
  workerLive(workerId: string): string;
}

export const SNAPSHOT_KEY = 'admin:dashboard:v4';

/** Consumer group of the collectors on the refresh-request stream. */
export const COLLECTOR_GROUP = 'collectors';

export function redisKeys(namespace = ''): RedisKeys {
  const ns = namespace === '' ? '' : `${namespace}:`;
  const k = (name: string) => `${ns}${name}`;
  return Object.freeze({
    namespace,
    snapshot: k(SNAPSHOT_KEY),
    lastGood: k(`${SNAPSHOT_KEY}:last_good`),
    version: k(`${SNAPSHOT_KEY}:version`),
    sections: k(`${SNAPSHOT_KEY}:sections`),
    sectionSeq: k(`${SNAPSHOT_KEY}:section_seq`),
    sectionErrors: k(`${SNAPSHOT_KEY}:section_errors`),
    buildSeq: k(`${SNAPSHOT_KEY}:build_seq`),
    refreshRequests: k('ssot:refresh'),
    versionChannel: k('ssot:version'),
    rebuildLock: k('ssot:rebuild_lock'),
    warmerLease: k('cache-warmer:lease'),
    serviceHeartbeats: k('services:heartbeat'),
    workersLive: k('workers:live'),
    workerLive: (workerId: string) => k(`workers:live:${workerId}`),
  });
}
