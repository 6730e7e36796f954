import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import { type RedisKeys, type SectionName, SECTION_NAMES } from '@agentos/contracts';
import { markSnapshotStale, type Redis, readSnapshotVersion, requestRefresh, SnapshotUnavailableError, type VersionWatcher } from '@agentos/runtime';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

export type SnapshotSource = 'cache' | 'rebuilt' | 'stale';

/** One snapshot version as held in memory: the stored bytes, and what is derived from them once. */
export class SnapshotEntry {
  readonly etag: string;
  private gz?: Promise<Buffer>;
  private brotli?: Promise<Buffer>;
  private sectionBodies?: Map<string, Buffer>;

  constructor(
    readonly body: Buffer,
    readonly version: number,
    /** Served from the last good copy because no current snapshot could be had. */
    readonly fallback: boolean,
    /** When this version was last confirmed current in Redis. */
    public loadedAt: number,
  ) {
    this.etag = `W/"v${version}${fallback ? '-stale' : ''}"`;
  }

  /** Compressed once per version, on first demand, and shared by every request after. */
  gzip(): Promise<Buffer> {
    this.gz ??= gzipAsync(this.body, { level: 6 });
    return this.gz;
  }

  br(): Promise<Buffer> {
    this.brotli ??= brotliAsync(this.body, {
      params: { [zlib.BROTLI_PARAM_QUALITY]: 5, [zlib.BROTLI_PARAM_SIZE_HINT]: this.body.length },
    });
    return this.brotli;
  }

  /** One section's JSON. The snapshot is parsed once per version, the first time a section is asked for. */
  section(name: SectionName): Buffer {
    if (!this.sectionBodies) {
      const parsed = JSON.parse(this.body.toString('utf8')) as Record<string, unknown>;
      this.sectionBodies = new Map(SECTION_NAMES.map((n) => [n, Buffer.from(JSON.stringify(parsed[n] ?? null))]));
      this.sectionBodies.set('meta', Buffer.from(JSON.stringify(parsed.meta)));
    }
    return this.sectionBodies.get(name)!;
  }
}

export interface SnapshotStoreOptions {
  redis: Redis;
  watcher: VersionWatcher;
  keys: RedisKeys;
  /** @default 1000 */
  maxAgeMs?: number;
  /** @default 2000 */
  rebuildWaitMs?: number;
  /** Called once per read with where the answer came from (metrics). */
  onRead?: (source: SnapshotSource) => void;
  /** Called when this replica asks the collectors for a rebuild (metrics, tests). */
  onRebuildRequested?: () => void;
}

/**
 * The api's view of the snapshot. Most reads are answered from memory; a version announcement
 * outdates the copy, and `maxAgeMs` bounds how long a copy lives if an announcement is lost. A miss
 * in Redis asks the collectors for one rebuild across all replicas (a lock), waits for it up to
 * `rebuildWaitMs`, then falls back to the last good copy, and only with none to a 503.
 */
export class SnapshotStore {
  private current: SnapshotEntry | null = null;
  private inflight: Promise<{ entry: SnapshotEntry; source: SnapshotSource }> | null = null;
  private readonly maxAgeMs: number;
  private readonly rebuildWaitMs: number;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: SnapshotStoreOptions) {
    this.maxAgeMs = options.maxAgeMs ?? 1000;
    this.rebuildWaitMs = options.rebuildWaitMs ?? 2000;
    this.unsubscribe = options.watcher.on((announcement) => {
      // Outdated, not forgotten: the next read loads the new version, and should Redis be gone by
      // then, this copy is what it answers with (stale) rather than a 503.
      if (this.current && announcement.version > this.current.version) this.current.loadedAt = -Infinity;
    });
  }

  close(): void {
    this.unsubscribe();
  }

  async get(): Promise<{ entry: SnapshotEntry; source: SnapshotSource }> {
    const current = this.current;
    if (current && !current.fallback && Date.now() - current.loadedAt < this.maxAgeMs) {
      this.options.onRead?.('cache');
      return { entry: current, source: 'cache' };
    }
    // A fallback copy is served at once while one load retries in the background: a reader
    // never waits the full rebuild period twice in a row.
    const load = (this.inflight ??= this.load().finally(() => {
      this.inflight = null;
    }));
    if (current?.fallback && Date.now() - current.loadedAt < this.maxAgeMs) {
      load.catch(() => {});
      this.options.onRead?.('stale');
      return { entry: current, source: 'stale' };
    }
    const result = await load;
    this.options.onRead?.(result.source);
    return result;
  }

  private async load(): Promise<{ entry: SnapshotEntry; source: SnapshotSource }> {
    const { redis, keys } = this.options;
    let body: Buffer | null;
    try {
      body = await redis.getBuffer(keys.snapshot);
    } catch (error) {
      // Redis unreachable: whatever we last had is better than a 5xx.
      if (this.current) return this.fallbackFrom(this.current.body);
      throw new SnapshotUnavailableError(`snapshot store unreachable: ${(error as Error).message}`, 2);
    }
    if (body) return { entry: this.remember(body, false), source: 'cache' };

    const rebuilt = await this.rebuild();
    if (rebuilt) return { entry: this.remember(rebuilt, false), source: 'rebuilt' };

    const lastGood = await redis.getBuffer(keys.lastGood).catch(() => null);
    if (lastGood) return this.fallbackFrom(lastGood);
    if (this.current) return this.fallbackFrom(this.current.body);
    throw new SnapshotUnavailableError('no snapshot has been built yet; retry shortly', Math.ceil(this.rebuildWaitMs / 1000));
  }

  /** One rebuild across all replicas: the lock holder asks, everyone waits for the next version. */
  private async rebuild(): Promise<Buffer | null> {
    const { redis, keys, watcher } = this.options;
    try {
      const lockMs = this.rebuildWaitMs * 2;
      const owner = await redis.set(keys.rebuildLock, '1', 'PX', lockMs, 'NX');
      // Listen before asking, so an answer cannot slip in between.
      const next = watcher.waitFor(() => true, this.rebuildWaitMs);
      if (owner === 'OK') {
        this.options.onRebuildRequested?.();
        await requestRefresh(redis, keys, [], 'cache-miss');
      } else {
        // Someone else asked; it may already be written.
        const body = await redis.getBuffer(keys.snapshot);
        if (body) return body;
      }
      if (!(await next)) return null;
      return await redis.getBuffer(keys.snapshot);
    } catch {
      return null;
    }
  }

  private fallbackFrom(body: Buffer): { entry: SnapshotEntry; source: SnapshotSource } {
    return { entry: this.remember(markSnapshotStale(body), true), source: 'stale' };
  }

  private remember(body: Buffer, fallback: boolean): SnapshotEntry {
    const version = readSnapshotVersion(body);
    if (version === null) throw new Error('snapshot does not start with meta.version');
    const current = this.current;
    // The same version again: keep the entry, and what was already compressed or parsed for it —
    // unless the bytes differ: Redis lost its data (a restart without persistence) and versions
    // started over, so the number now names another snapshot.
    if (current && current.version === version && current.fallback === fallback && current.body.equals(body)) {
      current.loadedAt = Date.now();
      return current;
    }
    const entry = new SnapshotEntry(body, version, fallback, Date.now());
    // Never replace a newer copy with an older one fetched concurrently.
    if (!this.current || entry.version >= this.current.version || this.current.fallback) this.current = entry;
    return entry;
  }
}
