import type { RedisKeys } from '@agentos/contracts';
import { type Logger, markSnapshotStale, type Redis, readSnapshotVersion, withTimeout } from '@agentos/runtime';
import { compare } from 'fast-json-patch';
import type { Socket } from 'socket.io';
import { LagMeter } from './lag-meter';
import type { GatewayMetrics } from './metrics';
import { bufferedPackets, writeEvent } from './socket-output';

/** One snapshot version as this gateway holds it. */
interface SnapshotVersion {
  version: number;
  /**
   * The JSON as stored in Redis (`meta.stale` set when it is the last good copy). Absent for a
   * version reached by the collector's patch: read from Redis only when a socket needs it whole.
   */
  body?: string;
  /** Parsed once per version, the first time a diff needs it (no patch came); never per socket. */
  parsed?: object;
  /** When Redis last confirmed that no newer version exists. */
  confirmedAt: number;
}

/** A collector's patch from the patch channel, held until its version is announced. */
interface PendingPatch {
  version: number;
  base: number;
  /** The ops as published: sent on as they are, never parsed here. */
  ops: string;
}

/** Patches held for versions not yet announced; the announcement follows at once, so a few do. */
const MAX_PENDING_PATCHES = 8;

/** What the feed knows about one local admin socket. */
interface AdminSocket {
  socket: Socket;
  /** Version of the last snapshot message written to it; 0 before the first. */
  sentVersion: number;
  /** Updates were skipped while its buffer was full: it gets `initial_data` when it drains. */
  pending: boolean;
}

export interface SnapshotFeedOptions {
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  metrics: GatewayMetrics;
  /** How long the held snapshot is served to a connecting admin without asking Redis. */
  maxAgeMs: number;
  /** Buffered packets at which a socket's updates are coalesced. */
  coalesceAt: number;
  /** Longest wait for one Redis read. @default 2000 */
  readTimeoutMs?: number;
  /**
   * An announcement older than this when it is handled (this process was starved of CPU, or
   * stopped, and reads a backlog) is not applied: the versions of a backlog are coalesced into one
   * `initial_data` of the latest once the gateway is current again. @default 1000
   */
  maxLagMs?: number;
}

/**
 * The snapshot messages of CONTRACT §6 for this gateway's admin sockets: `initial_data` on
 * connect and on `resync`, `ssot:update` with the JSON Patch from the version each socket has to
 * the new one.
 *
 * The patch is the collector's: it computes it once per version and publishes it on the patch
 * channel just before the announcement; this gateway wraps the ops as they came into one
 * `ssot:update` and writes it to its own sockets — no fetch, no parse, no diff per version.
 * Only when no patch came (another collector wrote in between, or this gateway missed a version)
 * does it read the snapshot and diff, as a fallback. Nothing goes through the adapter (which
 * would hand each socket one copy per gateway). A socket only ever gets a patch whose
 * `base_version` is the version it was last sent; any other socket — behind, never synced, or
 * coalesced under backpressure — gets the whole snapshot instead.
 *
 * Loads, patches and writes run one at a time (a queue), so a socket sees its snapshot messages
 * in version order.
 */
export class SnapshotFeed {
  private current: SnapshotVersion | null = null;
  private readonly admins = new Map<string, AdminSocket>();
  private readonly patches = new Map<number, PendingPatch>();
  private tail: Promise<unknown> = Promise.resolve();
  private loadQueued = false;
  private bodyQueued = false;
  /** Versions were skipped for lag: every admin gets the latest whole once the gateway is current. */
  private behind = false;
  private readonly readTimeoutMs: number;
  private readonly maxLagMs: number;
  private readonly lag = new LagMeter();

  constructor(private readonly options: SnapshotFeedOptions) {
    this.readTimeoutMs = options.readTimeoutMs ?? 2000;
    this.maxLagMs = options.maxLagMs ?? 1000;
  }

  /** Version held (0 before the first). */
  get version(): number {
    return this.current?.version ?? 0;
  }

  get adminCount(): number {
    return this.admins.size;
  }

  /**
   * Starts feeding an admin socket: `initial_data` now, updates after. Resolves with the version
   * sent (0 when no snapshot exists yet; it gets the first one built).
   */
  addAdmin(socket: Socket): Promise<number> {
    const state: AdminSocket = { socket, sentVersion: 0, pending: false };
    // 'drain' fires each time the engine hands its buffer to the transport.
    socket.conn.on('drain', () => {
      if (state.pending && bufferedPackets(socket) < this.options.coalesceAt) void this.run(async () => this.catchUp(state)).catch(() => {});
    });
    return this.run(async () => {
      // Registered only after the load: a version it brings in is this socket's initial_data,
      // not also an update to it.
      await this.refreshIfOld();
      if (!socket.connected) return 0;
      this.admins.set(socket.id, state);
      this.sendInitial(state);
      return state.sentVersion;
    });
  }

  removeAdmin(socket: Socket): void {
    this.admins.delete(socket.id);
  }

  /** `resync` from a client: the latest snapshot again. Resolves with its version (0: none). */
  resync(socket: Socket): Promise<number> {
    return this.run(async () => {
      const state = this.admins.get(socket.id);
      if (!state) return 0;
      await this.refreshIfOld();
      this.sendInitial(state);
      return this.version;
    });
  }

  /** A message on the patch channel: `<version> <base version>` LF `[ops…]`. Malformed ones are dropped and counted. */
  patched(message: string): void {
    const newline = message.indexOf('\n');
    const [version, base] = message.slice(0, Math.max(0, newline)).split(' ').map(Number);
    if (newline < 0 || !Number.isSafeInteger(version) || !Number.isSafeInteger(base) || message[newline + 1] !== '[') {
      this.options.metrics.malformedPatches.inc();
      return;
    }
    if (this.admins.size === 0) return;
    this.patches.set(version!, { version: version!, base: base!, ops: message.slice(newline + 1) });
    for (const held of this.patches.keys()) if (this.patches.size > MAX_PENDING_PATCHES) this.patches.delete(held);
  }

  /**
   * A version was announced on the version channel, `generatedAt` (ms) when it was built. One
   * that arrives late — this process reading a backlog after a stall — is skipped and counted;
   * the first one on time brings every admin the latest snapshot whole.
   */
  announced(version: number, generatedAt: number = Date.now()): void {
    const current = this.current;
    const patch = this.patches.get(version);
    this.patches.delete(version);
    const lagMs = this.lag.lag(generatedAt);
    this.options.metrics.intakeLag.set({ channel: 'version' }, lagMs / 1000);
    if (current && version === current.version) {
      current.confirmedAt = Date.now();
      return;
    }
    if (this.admins.size === 0) {
      // Nobody to update: do not load or diff; a connecting admin will ask Redis.
      if (current) current.confirmedAt = 0;
      return;
    }
    if (lagMs > this.maxLagMs) {
      this.behind = true;
      this.options.metrics.intakeDropped.inc({ kind: 'snapshot_update' });
      return;
    }
    if (this.behind) {
      this.behind = false;
      void this.resyncAll().catch((error: unknown) => this.options.logger.warn({ err: error }, 'could not send the latest snapshot after falling behind; the version check catches up'));
      return;
    }
    // The collector's patch, from the version held: applied in order with everything else.
    if (patch && !this.loadQueued) {
      void this.run(async () => this.advanceByPatch(patch)).catch((error: unknown) => this.options.logger.warn({ err: error, version }, 'could not apply a patch'));
      return;
    }
    // One load answers every announcement that arrives before it starts.
    if (this.loadQueued) return;
    this.loadQueued = true;
    void this.run(async () => {
      this.loadQueued = false;
      await this.loadAndApply();
    }).catch((error: unknown) => this.options.logger.warn({ err: error, version }, 'could not load an announced snapshot version (past the read deadline: Redis is slow, or this process is starved of CPU — compare nodejs_eventloop_lag_seconds); the next version catches up'));
  }

  /**
   * Compares the held version with the one in Redis (first 64 bytes only) and catches up: a lost
   * announcement costs at most one check period.
   */
  check(): Promise<void> {
    if (this.admins.size === 0 || this.loadQueued) return Promise.resolve();
    return this.run(async () => {
      const { redis, keys } = this.options;
      const head = await withTimeout(redis.getrange(keys.snapshot, 0, 63), this.readTimeoutMs, 'GETRANGE snapshot');
      const version = readSnapshotVersion(head);
      if (version === null) return;
      if (this.current && version === this.current.version) {
        this.current.confirmedAt = Date.now();
        return;
      }
      await this.loadAndApply();
    });
  }

  /**
   * After a Redis outage: announcements and broadcasts published meanwhile are lost, so every
   * admin gets the latest snapshot whole. Rejects when Redis cannot be read (the caller retries).
   */
  resyncAll(): Promise<void> {
    return this.run(async () => {
      const entry = await this.load();
      // Redis came back empty: keep serving what we hold; the first version built replaces it.
      if (!entry) return;
      const current = this.current;
      if (current && entry.version === current.version) current.confirmedAt = entry.confirmedAt;
      else this.hold(entry);
      for (const state of this.admins.values()) this.sendInitial(state);
    });
  }

  close(): void {
    this.admins.clear();
  }

  private run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => {});
    return result;
  }

  private async refreshIfOld(): Promise<void> {
    if (this.current?.body !== undefined && Date.now() - this.current.confirmedAt < this.options.maxAgeMs) return;
    try {
      await this.loadAndApply();
    } catch (error) {
      // Redis away: what we hold is better than nothing.
      this.options.logger.warn({ err: error }, 'could not read the snapshot; serving the one held');
    }
  }

  private async loadAndApply(): Promise<void> {
    const entry = await this.load();
    if (!entry) return;
    const current = this.current;
    if (!current) return this.advance(entry);
    if (entry.version === current.version) {
      current.confirmedAt = entry.confirmedAt;
      current.body ??= entry.body;
    } else if (entry.version > current.version) {
      this.advance(entry);
    } else {
      // The snapshot key always holds the newest version (the collector's script writes it with
      // the INCR), so an older one means Redis lost its data — restarted without persistence, or
      // flushed — and versions started again. Patches across that would be wrong: start over.
      this.options.logger.warn({ held: current.version, stored: entry.version }, 'snapshot version went back: Redis lost its data; sending every admin the snapshot again');
      this.hold(entry);
      for (const state of this.admins.values()) {
        state.sentVersion = 0;
        this.sendInitial(state);
      }
    }
  }

  /** The snapshot key, or on a miss the last good copy marked stale; null when neither exists. */
  private async load(): Promise<SnapshotVersion | null> {
    const { redis, keys, logger } = this.options;
    let body = await withTimeout(redis.get(keys.snapshot), this.readTimeoutMs, 'GET snapshot');
    let stale = false;
    if (body === null) {
      body = await withTimeout(redis.get(keys.lastGood), this.readTimeoutMs, 'GET last good snapshot');
      stale = true;
    }
    if (body === null) return null;
    const version = readSnapshotVersion(body);
    if (version === null) {
      logger.warn({ head: body.slice(0, 64) }, 'stored snapshot does not start with meta.version; ignored');
      return null;
    }
    return { version, body: stale ? markSnapshotStale(body) : body, confirmedAt: Date.now() };
  }

  private hold(entry: SnapshotVersion): void {
    this.current = entry;
    this.options.metrics.snapshotVersion.set(entry.version);
  }

  /** The collector's patch: from the version held to the next, wrapped once, written as it is. */
  private async advanceByPatch(patch: PendingPatch): Promise<void> {
    const base = this.current;
    if (!base || base.version !== patch.base) {
      // Not from the version held (one was missed): the fallback.
      this.options.metrics.patchesFromCollector.inc({ result: 'base_mismatch' });
      return this.loadAndApply();
    }
    this.options.metrics.patchesFromCollector.inc({ result: 'applied' });
    const next: SnapshotVersion = { version: patch.version, confirmedAt: Date.now() };
    const encoded = `{"type":"ssot:update","data":{"version":${patch.version},"base_version":${patch.base},"patch":${patch.ops}},"timestamp":"${new Date().toISOString()}"}`;
    this.advance(next, () => encoded);
  }

  /**
   * A newer version: a patch to every socket at the version held before, the whole snapshot to
   * the others. `encode` makes the update message (once, for every socket); without it, the
   * patch is diffed here from the two bodies, or, with no body held to diff against, every
   * socket gets the whole snapshot.
   */
  private advance(next: SnapshotVersion, encode?: () => string): void {
    const base = this.current;
    this.hold(next);
    let encoded: string | null | undefined;
    for (const state of this.admins.values()) {
      if (!base || state.pending || state.sentVersion !== base.version) {
        this.sendInitial(state);
        continue;
      }
      if (bufferedPackets(state.socket) >= this.options.coalesceAt) {
        this.coalesce(state);
        continue;
      }
      if (encoded === undefined) encoded = encode ? encode() : this.diffUpdate(base, next);
      if (encoded === null) {
        this.sendInitial(state);
        continue;
      }
      writeEvent(state.socket, 'ssot:update', encoded);
      state.sentVersion = next.version;
      this.options.metrics.emitted.inc({ type: 'ssot:update' });
    }
  }

  /**
   * The fallback when no patch came: the `ssot:update` from `base` to `next` diffed here, once
   * for every socket; null when the base's body is not held (it was reached by a patch).
   */
  private diffUpdate(base: SnapshotVersion, next: SnapshotVersion): string | null {
    if (base.body === undefined || next.body === undefined) return null;
    const end = this.options.metrics.patchSeconds.startTimer();
    const patch = compare(parsed(base), parsed(next));
    end();
    // The base's parsed copy is no longer needed: only the newest one is diffed against.
    base.parsed = undefined;
    return JSON.stringify({
      type: 'ssot:update',
      data: { version: next.version, base_version: base.version, patch },
      timestamp: new Date().toISOString(),
    });
  }

  /** The held version's body from Redis, then the whole snapshot to every socket waiting for it. */
  private loadBodyForWaiting(): void {
    if (this.bodyQueued) return;
    this.bodyQueued = true;
    void this.run(async () => {
      this.bodyQueued = false;
      await this.loadAndApply();
      for (const state of this.admins.values()) if (state.pending && this.current?.body !== undefined) this.catchUp(state);
    }).catch((error: unknown) => this.options.logger.warn({ err: error }, 'could not read the snapshot for a socket that needs it whole; the next version or check catches up'));
  }

  private sendInitial(state: AdminSocket): void {
    const current = this.current;
    if (!current || !state.socket.connected) return;
    if (current.body === undefined) {
      // Reached by a patch: the whole snapshot has to be read first.
      state.pending = true;
      this.loadBodyForWaiting();
      return;
    }
    if (bufferedPackets(state.socket) >= this.options.coalesceAt) {
      this.coalesce(state);
      return;
    }
    // The stored bytes go out as they are: no parse, no stringify per socket.
    writeEvent(state.socket, 'initial_data', `{"type":"initial_data","data":${current.body},"timestamp":"${new Date().toISOString()}"}`);
    state.sentVersion = current.version;
    state.pending = false;
    this.options.metrics.emitted.inc({ type: 'initial_data' });
  }

  /** At most one pending update per socket: the flag, not a queue of patches. */
  private coalesce(state: AdminSocket): void {
    state.pending = true;
    this.options.metrics.coalesced.inc();
  }

  private catchUp(state: AdminSocket): void {
    if (state.pending && this.admins.get(state.socket.id) === state) this.sendInitial(state);
  }
}

function parsed(entry: SnapshotVersion): object {
  entry.parsed ??= JSON.parse(entry.body!) as object;
  return entry.parsed;
}
