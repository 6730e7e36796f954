import type { WorkerDetail } from '@agentos/contracts';
import { memo, type SectionContext } from './context';
import { isoSql } from '@agentos/db';

/** At most this many workers are listed in the snapshot (it must stay small). */
export const MAX_LISTED_WORKERS = 100;

/**
 * What the workers are built from: the records, and each live worker's state with its deadline
 * (the `workersLive` score) and when its hash expires, in the reading build's clock (null: no
 * expiry).
 */
export interface WorkerInputs {
  records: WorkerDetail[];
  live: { id: string; deadline: number; expiresAt: number | null; state: Record<string, string> }[];
}

/** Worker inputs a collector read, kept between builds: valid while `generation` is current. */
export interface HeldWorkers {
  generation: number;
  /** The build clock (ms) of the build that read them. */
  readAt: number;
  inputs: WorkerInputs;
}

/** The longest a collector reuses the workers it read, generation unchanged or not. */
export const WORKERS_REUSE_MS = 1000;

/**
 * Workers as the dashboard shows them: the database record, overlaid with the live heartbeat
 * state in Redis where there is one. Shared by `dashboard` and `agents_workers`.
 *
 * A partial build reuses the inputs this collector read before when the workers' generation
 * (`workersGeneration`, read in the build's first round trip) has not moved since, for at most
 * `WORKERS_REUSE_MS`: every job event rebuilds the dashboard, and reading the workers is half of
 * that build's cost (1.5 ms of CPU in all per build with 20 live workers, one Redis read per
 * worker; BENCHMARKS.md 2026-12-07 eighth session). Every writer of worker state bumps the
 * generation after its write and before the write can be claimed covered (the dispatcher before
 * acknowledging a batch with worker events, the heartbeat sweeper with its removals), and the
 * generation is read after the build's claim: a build that claims an event has read the workers
 * after it. What only time changes — a heartbeat that lapses, a hash that expires — is applied
 * with each build's own clock (`deriveWorkers`). Full builds (every warm) always read.
 */
export function loadWorkers(ctx: SectionContext): Promise<WorkerDetail[]> {
  return memo(ctx, 'workers', async () => deriveWorkers(await workerInputs(ctx), ctx.now, ctx.settings.heartbeatTtlS));
}

async function workerInputs(ctx: SectionContext): Promise<WorkerInputs> {
  const reuse = ctx.workers;
  const held = reuse?.held.current;
  if (reuse?.allowed && reuse.generation !== null && held && held.generation === reuse.generation && ctx.now.getTime() - held.readAt < reuse.maxAgeMs) {
    reuse.onRead?.('reused');
    return held.inputs;
  }
  const inputs = await readWorkerInputs(ctx);
  if (reuse) {
    reuse.onRead?.('read');
    // Builds of one collector may overlap: an older read never replaces a newer one.
    const current = reuse.held.current;
    if (reuse.generation !== null && (!current || (reuse.generation >= current.generation && ctx.now.getTime() >= current.readAt))) {
      reuse.held.current = { generation: reuse.generation, readAt: ctx.now.getTime(), inputs };
    }
  }
  return inputs;
}

async function readWorkerInputs(ctx: SectionContext): Promise<WorkerInputs> {
  const since = ctx.now.getTime() - ctx.settings.heartbeatTtlS * 1000;
  const [[row], scored] = await Promise.all([
    // Already in the snapshot's shape (one JSON value: parsed natively, no per-row mapping).
    ctx.query<{ records: WorkerDetail[] }>(
      `SELECT coalesce(json_agg(json_build_object(
                'id', w.id, 'hostname', w.hostname, 'status', w.status, 'queues', w.queues,
                'active_jobs', w.active_jobs, 'concurrency', w.concurrency, 'cpu', w.cpu,
                'memory_mb', w.memory_mb, 'last_heartbeat', ${isoSql('w.last_heartbeat_at')}, 'source', 'record')
              ORDER BY w.status, w.last_heartbeat_at DESC), '[]') AS records
       FROM (SELECT * FROM workers ORDER BY status, last_heartbeat_at DESC LIMIT ${MAX_LISTED_WORKERS}) AS w`,
    ),
    ctx.redis.zrangebyscore(ctx.keys.workersLive, since, '+inf', 'WITHSCORES'),
  ]);
  const live: WorkerInputs['live'] = [];
  if (scored.length > 0) {
    const pipeline = ctx.redis.pipeline();
    for (let i = 0; i < scored.length; i += 2) {
      const key = ctx.keys.workerLive(scored[i]!);
      pipeline.hgetall(key).pttl(key);
    }
    const results = (await pipeline.exec()) ?? [];
    for (let i = 0; i < scored.length; i += 2) {
      const [error, state] = results[i] ?? [];
      const [expiryError, expiry] = results[i + 1] ?? [];
      if (error || !state || Object.keys(state as object).length === 0) continue;
      // In this build's clock (a TTL, not Redis's own clock); -1: no expiry.
      const expiresAt = expiryError || typeof expiry !== 'number' || expiry < 0 ? null : ctx.now.getTime() + expiry;
      live.push({ id: scored[i]!, deadline: Number(scored[i + 1]), expiresAt, state: state as Record<string, string> });
    }
  }
  return { records: row!.records, live };
}

/**
 * The workers at `now` from what was read: a live state counts while its heartbeat is within
 * the TTL window and its hash has not expired (as a read at `now` would find them).
 */
export function deriveWorkers(inputs: WorkerInputs, now: Date, heartbeatTtlS: number): WorkerDetail[] {
  const since = now.getTime() - heartbeatTtlS * 1000;
  const details = new Map<string, WorkerDetail>();
  for (const record of inputs.records) details.set(record.id, record);
  for (const { id, deadline, expiresAt, state } of inputs.live) {
    if (deadline < since || (expiresAt !== null && expiresAt <= now.getTime())) continue;
    const known = details.get(id);
    details.set(id, {
      id,
      hostname: state.hostname || known?.hostname || 'unknown',
      status: 'online',
      queues: parseList(state.queues) ?? known?.queues ?? [],
      active_jobs: toInt(state.active_jobs) ?? known?.active_jobs ?? 0,
      concurrency: toInt(state.concurrency) ?? known?.concurrency ?? 1,
      cpu: toNumber(state.cpu) ?? known?.cpu ?? null,
      memory_mb: toInt(state.memory_mb) ?? known?.memory_mb ?? null,
      last_heartbeat: state.at || known?.last_heartbeat || now.toISOString(),
      source: 'live',
    });
  }
  return [...details.values()]
    .sort((a, b) => (a.status === b.status ? b.last_heartbeat.localeCompare(a.last_heartbeat) : a.status === 'online' ? -1 : 1))
    .slice(0, MAX_LISTED_WORKERS);
}

function parseList(value: string | undefined): string[] | undefined {
  if (!value) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.map(String) : undefined;
  } catch {
    return undefined;
  }
}

function toNumber(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function toInt(value: string | undefined): number | undefined {
  const n = toNumber(value);
  return n === undefined ? undefined : Math.max(0, Math.round(n));
}
