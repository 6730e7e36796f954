import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SECTION_NAMES, type RedisKeys, type SectionName } from '@agentos/contracts';
import type { PreparedQuery, PrismaClient } from '@agentos/db';
import { errorSummary, type Logger, type Redis, withTimeout } from '@agentos/runtime';
import { addDispatchedUpto } from './dispatched-upto';
import { diffJson, isPlainJson } from './json-diff';
import type { CollectorMetrics } from './metrics';
import { emptySection, SECTION_BUILDERS, type CollectorSettings, type SectionContext } from './sections';
import type { WorkersReuse } from './sections/context';
import { WORKERS_REUSE_MS } from './sections/workers';
import { toJson } from './serialize';

const WRITE_SNAPSHOT = readFileSync(join(__dirname, 'lua', 'writeSnapshot-6.lua'), 'utf8');

export interface CollectorDeps {
  prisma: PrismaClient;
  /** Prepared statements over Prisma's pool (`createDatabase`): what the sections read with. */
  query: PreparedQuery;
  /** Command connection: reads live state, writes the snapshot. */
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  metrics: CollectorMetrics;
  settings: CollectorSettings;
  /** Each section's build is abandoned (and reported in `meta.errors`) past this. @default 2000 */
  sectionTimeoutMs?: number;
  /** The longest a partial build reuses the workers an earlier one read (sections/workers.ts). @default WORKERS_REUSE_MS */
  workersReuseMs?: number;
}

export interface BuildResult {
  /** Section → JSON of sections that built. */
  built: Map<SectionName, string>;
  /**
   * Section → the value its JSON in `built` was made from, for each section whose value is plain
   * JSON (json-diff.ts `isPlainJson`), so equal to that JSON parsed: the patch is diffed from it
   * without parsing the JSON back.
   */
  plain: Map<SectionName, unknown>;
  /** Section → error message of sections that failed or timed out. */
  failed: Map<SectionName, string>;
  buildMs: number;
  now: Date;
}

export interface WriteResult {
  version: number;
  bytes: number;
  build: BuildResult;
  /** The event stream id the version claims to cover (`events_upto`), if any. */
  eventsUpto?: string;
}

/**
 * What the stored snapshot was when a build started, read in its first round trip: the version
 * and the build sequence of each section it builds. The patch is computed against it; the write
 * script publishes the patch only if that version is still the one it replaces.
 */
interface StoredHead {
  version: string | null;
  /** Build sequence of each stored section; a section never stored is absent. */
  seqs: Map<SectionName, number>;
}

/** A build's own inputs from its first round trip, beyond the sections it builds. */
interface BuildOptions {
  /** Run the sections one after another (benchmarks only). */
  sequential?: boolean;
  /** The workers' generation read at the start; given, a partial build may reuse the workers held. */
  workersGeneration?: number | null;
}

export type Collector = ReturnType<typeof createCollector>;

/** One section's build: its JSON, and the value it was made from (plain: equal to the JSON parsed). */
interface Built {
  json: string;
  plain: boolean;
  value: unknown;
}

/**
 * A section's stored value as this collector last knew it: what its next build of the section is
 * diffed against, valid while the stored build sequence is still `seq`.
 */
interface KnownSection {
  seq: number;
  json: string;
  value: unknown;
}

/**
 * Builds snapshot sections from the database and Redis live state and writes the snapshot, with
 * the JSON Patch from the version it replaces (computed here, once, instead of in every
 * gateway). What replicas share is in Redis; what is held between builds is each section as this
 * collector last stored or read it, to diff against.
 */
export function createCollector(deps: CollectorDeps) {
  const sectionTimeoutMs = deps.sectionTimeoutMs ?? 2000;
  const redis = deps.redis as Redis & {
    writeSnapshot(...args: (string | number)[]): Promise<[string, ...(string | number)[]]>;
  };
  if (typeof redis.writeSnapshot !== 'function') deps.redis.defineCommand('writeSnapshot', { numberOfKeys: 6, lua: WRITE_SNAPSHOT });
  const k = deps.keys;
  const known = new Map<SectionName, KnownSection>();
  // The worker inputs this collector last read, for its next partial builds (sections/workers.ts).
  const heldWorkers: WorkersReuse['held'] = {};
  const onWorkersRead = (outcome: 'read' | 'reused') => deps.metrics.workerReads.inc({ outcome });

  /**
   * The JSON Patch ops, comma-joined without brackets, from the stored values of the sections in
   * `built` (as `head` found them) to `built`, and the version they are stored at. Only a
   * section another replica (or an older build) stored since this one last saw it is read whole.
   * Null when a section was never stored: no patch. `parsed` receives each changed section's
   * new value, parsed once here for the diff and kept by `remember`.
   */
  async function patchOps(result: BuildResult, head: StoredHead, parsed: Map<SectionName, unknown>): Promise<{ base: number; ops: string } | null> {
    const { built, plain } = result;
    const names = [...built.keys()];
    if (names.length === 0 || !head.version) return null;
    const seqs = names.map((name) => head.seqs.get(name));
    if (seqs.some((seq) => seq === undefined)) return null;
    const stale = names.filter((name, i) => known.get(name)?.seq !== seqs[i]);
    if (stale.length > 0) {
      const values = await deps.redis.hmget(k.sections, ...stale);
      for (const [i, name] of stale.entries()) {
        const json = values[i];
        if (json === null || json === undefined) return null;
        known.set(name, { seq: seqs[names.indexOf(name)]!, json, value: JSON.parse(json) });
      }
    }
    const end = deps.metrics.patchSeconds.startTimer();
    const ops: string[] = [];
    for (const [name, json] of built) {
      const before = known.get(name)!;
      if (before.json === json) continue;
      const value = plain.has(name) ? plain.get(name) : JSON.parse(json);
      parsed.set(name, value);
      diffJson(before.value, value, `/${name}`, ops);
    }
    end();
    return { base: Number(head.version), ops: ops.join(',') };
  }

  /**
   * After a write: the sections this build stored are what the next one diffs against. A section
   * whose JSON did not change keeps its value; `parsed` has the ones the diff took.
   */
  function remember(seq: number, result: BuildResult, parsed: ReadonlyMap<SectionName, unknown>): void {
    for (const [name, json] of result.built) {
      const before = known.get(name);
      const value = parsed.has(name) ? parsed.get(name) : before?.json === json ? before.value : result.plain.has(name) ? result.plain.get(name) : JSON.parse(json);
      known.set(name, { seq, json, value });
    }
  }

  /**
   * The build's first round trip: its build sequence, the stored head to diff against, and —
   * when asked — how far the dispatchers had committed, which is read before any section so that
   * every event it names was committed before the build reads.
   */
  async function start(names: readonly SectionName[], claimDispatched: boolean): Promise<{ seq: number; head: StoredHead; dispatched?: string; workersGeneration: number | null }> {
    const sections = names.length === 0 ? SECTION_NAMES : [...new Set(names)];
    const pipeline = deps.redis.pipeline().incr(k.buildSeq).get(k.version).hmget(k.sectionSeq, ...sections);
    const readDispatched = claimDispatched ? addDispatchedUpto(pipeline, k) : undefined;
    // Last, after the claim: a writer of worker state bumps it before its events can be claimed.
    pipeline.get(k.workersGeneration);
    const replies = (await pipeline.exec()) ?? [];
    const [generationError, generation] = replies[replies.length - 1] ?? [new Error('no reply')];
    const [seqError, seq] = replies[0] ?? [new Error('no reply to INCR')];
    if (seqError) throw seqError;
    // A failed read of the head only costs the patch: subscribers then fetch the snapshot.
    const [versionError, version] = replies[1] ?? [new Error('no reply')];
    const [seqsError, seqs] = replies[2] ?? [new Error('no reply')];
    const head: StoredHead = { version: null, seqs: new Map() };
    if (!versionError && !seqsError) {
      head.version = version as string | null;
      for (const [i, stored] of (seqs as (string | null)[]).entries()) if (stored !== null) head.seqs.set(sections[i]!, Number(stored));
    }
    const workersGeneration = generationError ? null : Number(generation ?? 0);
    return { seq: Number(seq), head, dispatched: readDispatched?.(replies.slice(3, -1)), workersGeneration: Number.isSafeInteger(workersGeneration) ? workersGeneration : null };
  }

  /** Builds `names` (all sections when empty); in parallel unless `sequential` (benchmarks only). */
  async function build(names: readonly SectionName[], options: BuildOptions = {}): Promise<BuildResult> {
    const wanted = names.length === 0 ? SECTION_NAMES : [...new Set(names)];
    const ctx: SectionContext = {
      prisma: deps.prisma,
      query: deps.query,
      redis: deps.redis,
      keys: k,
      now: new Date(),
      settings: deps.settings,
      memo: new Map(),
      workers: {
        allowed: names.length > 0 && options.workersGeneration !== undefined,
        generation: options.workersGeneration ?? null,
        maxAgeMs: deps.workersReuseMs ?? WORKERS_REUSE_MS,
        held: heldWorkers,
        onRead: onWorkersRead,
      },
    };
    const started = performance.now();
    const one = async (name: SectionName): Promise<[SectionName, PromiseSettledResult<Built>]> => {
      const t0 = performance.now();
      try {
        const builder = SECTION_BUILDERS[name] as (ctx: SectionContext) => Promise<unknown>;
        const value = await withTimeout(builder(ctx), sectionTimeoutMs, `section ${name}`);
        // A plain value needs none of toJson's conversions, and is what its JSON parses to.
        const plain = isPlainJson(value);
        return [name, { status: 'fulfilled', value: { json: plain ? JSON.stringify(value) : toJson(value), plain, value } }];
      } catch (reason) {
        return [name, { status: 'rejected', reason }];
      } finally {
        deps.metrics.sectionDuration.observe({ section: name }, (performance.now() - t0) / 1000);
      }
    };
    const settled: [SectionName, PromiseSettledResult<Built>][] = [];
    if (options.sequential) {
      for (const name of wanted) settled.push(await one(name));
    } else {
      settled.push(...(await Promise.all(wanted.map(one))));
    }
    const result: BuildResult = { built: new Map(), plain: new Map(), failed: new Map(), buildMs: performance.now() - started, now: ctx.now };
    for (const [name, outcome] of settled) {
      if (outcome.status === 'fulfilled') {
        result.built.set(name, outcome.value.json);
        if (outcome.value.plain) result.plain.set(name, outcome.value.value);
      } else {
        const message = errorSummary(outcome.reason);
        result.failed.set(name, message);
        deps.metrics.sectionFailures.inc({ section: name });
        deps.logger.warn({ section: name, err: message }, 'section build failed; keeping its previous value');
      }
    }
    deps.metrics.buildDuration.observe(result.buildMs / 1000);
    return result;
  }

  async function write(seq: number, result: BuildResult, head: StoredHead, parsed: Map<SectionName, unknown>, requestIds: readonly string[], eventsUpto?: string) {
    // A failed read only costs the patch: subscribers then fetch the snapshot.
    const patch = await patchOps(result, head, parsed).catch(() => null);
    const args: (string | number)[] = [
      k.sections,
      k.sectionSeq,
      k.sectionErrors,
      k.version,
      k.snapshot,
      k.lastGood,
      seq,
      deps.settings.snapshotTtlS,
      result.now.toISOString(),
      Math.round(result.buildMs * 100) / 100,
      SECTION_NAMES.join(','),
      k.versionChannel,
      `"requests":${JSON.stringify(requestIds)}${eventsUpto ? `,"events_upto":${JSON.stringify(eventsUpto)}` : ''}`,
      k.patchChannel,
      patch ? patch.base : 0,
      patch ? patch.ops : '',
      result.built.size,
    ];
    for (const [name, json] of result.built) args.push(name, json);
    args.push(result.failed.size);
    for (const [name, message] of result.failed) {
      args.push(name, JSON.stringify(message), toJson(emptySection(name, { now: result.now, settings: deps.settings })));
    }
    return redis.writeSnapshot(...args);
  }

  /**
   * Builds `names` (all when empty), writes the snapshot and announces the new version with the
   * ids of the requests it answers and the event stream id it reflects: with `claimDispatched`,
   * how far the dispatchers had committed when the build started (`eventsUpto` if that cannot be
   * read), else `eventsUpto`. If some section has never been built anywhere (a partial refresh on
   * a cold Redis), those are built too, so a snapshot is always complete.
   */
  async function refresh(
    names: readonly SectionName[],
    requestIds: readonly string[] = [],
    eventsUpto?: string,
    options: { claimDispatched?: boolean } = {},
  ): Promise<WriteResult> {
    const started = await start(names, options.claimDispatched ?? false);
    let seq = started.seq;
    const upto = started.dispatched ?? eventsUpto;
    let result = await build(names, { workersGeneration: started.workersGeneration });
    let parsed = new Map<SectionName, unknown>();
    let reply = await write(seq, result, started.head, parsed, requestIds, upto);
    if (reply[0] === 'missing') {
      const missing = reply.slice(1) as SectionName[];
      deps.logger.info({ missing }, 'building sections never built before');
      seq = await deps.redis.incr(k.buildSeq);
      parsed = new Map();
      const extra = await build(missing);
      result = {
        built: new Map([...result.built, ...extra.built]),
        plain: new Map([...result.plain, ...extra.plain]),
        failed: new Map([...result.failed, ...extra.failed]),
        buildMs: result.buildMs + extra.buildMs,
        now: extra.now,
      };
      // No head read for this one: a snapshot that was incomplete has no patch to offer.
      reply = await write(seq, result, { version: null, seqs: new Map() }, parsed, requestIds, upto);
      if (reply[0] !== 'ok') throw new Error(`snapshot still incomplete after building ${missing.join(', ')}`);
    }
    const version = Number(reply[1]);
    const bytes = Number(reply[2]);
    // Stored or not (a newer build of a section wins), the next build re-reads what changed.
    remember(seq, result, parsed);
    deps.metrics.patches.inc({ result: reply[3] === 'patched' ? 'published' : 'none' });
    deps.metrics.builds.inc({ kind: names.length === 0 ? 'full' : 'partial' });
    deps.metrics.snapshotBytes.set(bytes);
    deps.metrics.snapshotVersion.set(version);
    deps.logger.debug({ version, bytes, buildMs: result.buildMs, sections: names.length === 0 ? 'all' : names }, 'snapshot written');
    return { version, bytes, build: result, eventsUpto: upto };
  }

  return { build, refresh };
}
