import { idKeyPart } from './ids';

/**
 * Every Redis key, stream and channel name of the system, built once here. Nothing else in the
 * repository spells a key: services call these builders with their configured namespace.
 *
 * With an empty namespace the snapshot key is exactly `admin:dashboard:v4` (CONTRACT §2); with
 * namespace `t1` it is `t1:admin:dashboard:v4`.
 *
 * Every name starts with the namespace. On Redis Cluster the namespace is a hash tag (`{ssot}`):
 * Redis then hashes every key on the tag alone, so all of them share one slot and any script or
 * MULTI may touch any of them together (the ids inside a name are escaped, `idKeyPart`, so none
 * adds a brace of its own — and only the first tag of a name counts anyway).
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
  /**
   * Pub/sub channel of the collectors' JSON Patches, published just before their version's
   * announcement: `<version> <base version>` LF `[ops…]` (writeSnapshot-6.lua).
   */
  readonly patchChannel: string;
  /** Lock that makes a cache miss trigger one rebuild across all api replicas. */
  readonly rebuildLock: string;
  /** Lease held by the one active cache-warmer. */
  readonly warmerLease: string;
  /** Hash `service/instance` → JSON heartbeat of every running service process. */
  readonly serviceHeartbeats: string;
  /** Sorted set worker id → when its last heartbeat lapses (ms since epoch; live-state.ts in the dispatcher). */
  readonly workersLive: string;
  /**
   * Counter bumped by every writer of worker state — a dispatcher's batch with worker events, the
   * heartbeat sweeper — after the write and before it can be claimed covered (acknowledged). A
   * collector reuses the workers it last read while this is unchanged (collector sections/workers.ts).
   */
  readonly workersGeneration: string;
  /** Hash of one worker's live state; TTL from the dispatch table's heartbeat TTL. */
  workerLive(workerId: string): string;
  /** Stream of accepted events, read by the dispatchers' consumer group. */
  readonly events: string;
  /** Stream of events set aside after too many failed deliveries, with the reason. */
  readonly eventsDeadLetter: string;
  /** Hash stream entry id → JSON `{n, at, reason}` of an event's failed deliveries so far. */
  readonly eventAttempts: string;
  /** The latest `system:health_check` payload (JSON), shown in `system_control`. */
  readonly systemHealth: string;
  /** Marker that an event id was accepted (ingest idempotency); TTL `EVENT_ID_TTL_S`. The id is escaped (`idKeyPart`). */
  eventSeen(eventId: string): string;
  /** Pub/sub channel of socket messages for the realtime gateways: `BroadcastMessage` JSON. */
  readonly broadcastChannel: string;
  /** Rate-limit window of one ingest token (by the token's hash, never the token). */
  rateLimit(tokenId: string): string;
  /** Set of queues currently over their pending threshold (announced once until back under). */
  readonly queuesOverThreshold: string;
  /** Hash queue → recommended workers (consider_scaling), read into the snapshot. */
  readonly scalingRecommendations: string;
  /** Lease of the one dispatcher replica that sweeps lapsed worker heartbeats. */
  readonly sweeperLease: string;
  /** Lease of the one cache-warmer replica that emits `system:health_check`. */
  readonly healthCheckLease: string;
  /** Stream of the commands for one source's platform (CONTRACT §8), read by its executors' group. */
  commands(source: string): string;
  /** Hash source → JSON `SourceCapabilities` declared by a `CommandConsumer` (builtin sources need none). */
  readonly sourceCapabilities: string;
  /** Hash queue → JSON `{pending, workers?, source, at}`: the depth each platform's broker last reported (`queue:stats`). */
  readonly queueStats: string;
  /** Channel prefix of the socket.io Redis adapter (its channels are `<prefix>#/#…`). */
  readonly socketIo: string;
}

/**
 * The hash tag of `namespace` as Redis Cluster reads it from every key that starts with it: what
 * lies between its first `{` and the next `}`, when that is not empty; else null (the keys would
 * hash on their whole names, each to a slot of its own).
 */
export function namespaceHashTag(namespace: string): string | null {
  const open = namespace.indexOf('{');
  if (open < 0) return null;
  const close = namespace.indexOf('}', open + 1);
  return close > open + 1 ? namespace.slice(open + 1, close) : null;
}

/** Consumer group of the executors (bridges, `CommandConsumer`s) on each command stream. */
export const COMMAND_GROUP = 'executors';

/**
 * Default of `EVENT_ID_TTL_S`: how long the api remembers an accepted event id, so the same id
 * posted again never reaches the stream. Past it a repost does reach the dispatcher, whose
 * `processed_events` still gives it no effect; only its socket message goes out again. Each id
 * costs ~150 bytes of Redis (docs/operations.md), so an hour at 1,000 events/s is ~540 MB.
 */
export const EVENT_ID_TTL_S = 3600;

export const SNAPSHOT_KEY = 'admin:dashboard:v4';

/** Consumer group of the collectors on the refresh-request stream. */
export const COLLECTOR_GROUP = 'collectors';

/** Consumer group of the dispatchers on the event stream. */
export const DISPATCHER_GROUP = 'dispatchers';

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
    patchChannel: k('ssot:patch'),
    rebuildLock: k('ssot:rebuild_lock'),
    warmerLease: k('cache-warmer:lease'),
    serviceHeartbeats: k('services:heartbeat'),
    workersLive: k('workers:live'),
    workersGeneration: k('workers:generation'),
    // Ids are the platforms' own (opaque): escaped, so none reaches another key or a hash slot.
    workerLive: (workerId: string) => k(`workers:live:${idKeyPart(workerId)}`),
    events: k('ssot:events'),
    eventsDeadLetter: k('ssot:events:dead'),
    eventAttempts: k('ssot:events:attempts'),
    systemHealth: k('system:health'),
    eventSeen: (eventId: string) => k(`ssot:events:seen:${idKeyPart(eventId)}`),
    broadcastChannel: k('ssot:broadcast'),
    rateLimit: (tokenId: string) => k(`ssot:ratelimit:${tokenId}`),
    queuesOverThreshold: k('queues:over_threshold'),
    scalingRecommendations: k('scaling:recommended'),
    sweeperLease: k('dispatcher:sweeper:lease'),
    healthCheckLease: k('cache-warmer:health-check:lease'),
    commands: (source: string) => k(`ssot:commands:${idKeyPart(source)}`),
    sourceCapabilities: k('ssot:sources'),
    queueStats: k('queues:broker_stats'),
    socketIo: k('socket.io'),
  });
}

/**
 * The bullmq-bridge's own keys, on the SSOT's Redis, under `SSOT_NAMESPACE` and per BullMQ prefix (two
 * bridges over two BullMQ installations into one SSOT keep apart). Prefix and queue names are
 * escaped as every id in a key is (`idKeyPart`), so no name reaches another key.
 */
export interface BullmqBridgeKeys {
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

export function bullmqBridgeKeys(namespace: string, prefix: string): BullmqBridgeKeys {
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
