import { EVENT_DISPATCH_CONFIG, PIPELINE_AGENTS, REFERENCE_QUEUES } from '@agentos/contracts';
import pg from 'pg';
import { type Log, sessionConfig, silent } from './connection';
import { DatabaseNotMigratedError, InvalidSeedOptionsError } from './errors';
import type { JobStatus } from './generated/prisma/enums';
import {
  AGENT_SHARES,
  JOB_ERRORS,
  JOB_LOG_SHARE,
  LOG_LEVEL_SHARES,
  LOG_TEMPLATES,
  OUTCOME_SHARES,
  PAST_NOTIFICATIONS,
  QUEUE_PROFILES,
  REFERENCE_SERVICE_VERSION,
  REFERENCE_SERVICES,
  REFERENCE_SETTINGS,
} from './reference-data';

// The reference dataset: every row is generated inside PostgreSQL (generate_series + random()
// seeded by setseed) in a handful of set-based statements, so 200,000 jobs take seconds, not the
// minutes row-by-row inserts would. Plain SQL only: it must also run on PGlite.

export interface SeedOptions {
  /**
   * Jobs to create.
   * @default 200000
   */
  jobs?: number;
  /**
   * Days of history the jobs and log lines are spread over, ending now.
   * @default 30
   */
  days?: number;
  /**
   * Workers to create; a few of them (about 8 %, at least one from 4 workers up) offline.
   * @default 50
   */
  workers?: number;
  /**
   * Log lines to create (about 30 % of them about one job).
   * @default 50000
   */
  logs?: number;
  /**
   * Empty every table first. When false the dataset is added to what is there, and the reference
   * rows (agents, queues, services, settings) are updated in place.
   * @default true
   */
  reset?: boolean;
  /**
   * Seed of PostgreSQL's `random()`, from which every value (ids included) is drawn: the same seed
   * gives the same proportions and shapes. Times are relative to now and the daily shape depends
   * on the hour, so two runs are alike rather than identical.
   * @default 42
   */
  seed?: number;
  /** Progress lines, one per step. */
  log?: Log;
}

/** A small dataset for development and the launcher: quick to create, every view has data. */
export const DEMO_SEED_OPTIONS = { jobs: 5_000, days: 3, workers: 8, logs: 2_000 } as const satisfies SeedOptions;

const DEFAULTS = { jobs: 200_000, days: 30, workers: 50, logs: 50_000, reset: true, seed: 42 } as const;

/** What the database holds after seeding (whole tables, so with `reset: false` also older rows). */
export interface SeedSummary {
  jobs: number;
  jobsByStatus: Record<JobStatus, number>;
  jobsLastHour: number;
  jobsLast24h: number;
  workers: number;
  workersOnline: number;
  agents: number;
  queues: number;
  services: number;
  settings: number;
  logs: number;
  notifications: number;
  elapsedMs: number;
}

export interface SeedIfEmptyResult {
  /** False when the jobs table already had rows and nothing was written. */
  seeded: boolean;
  summary: SeedSummary;
}

/** Different from the migration lock: seeding must not wait behind, or block, a migration. */
const SEED_LOCK_KEY = 72707370;

/**
 * Fills the database with the reference dataset (the database must be migrated). Runs in one
 * transaction: on failure nothing is left behind, and readers never see half a dataset.
 */
export async function seedReferenceDataset(databaseUrl: string, options: SeedOptions = {}): Promise<SeedSummary> {
  const result = await seed(databaseUrl, options, false);
  return result.summary;
}

/**
 * Seeds the demo dataset (`DEMO_SEED_OPTIONS`, overridable through `options`) only when the jobs
 * table is empty. Safe for several processes starting at once: the check and the seeding happen
 * under one lock, so exactly one of them seeds.
 */
export async function seedIfEmpty(databaseUrl: string, options: SeedOptions = {}): Promise<SeedIfEmptyResult> {
  return seed(databaseUrl, { ...DEMO_SEED_OPTIONS, ...options }, true);
}

type ResolvedSeedOptions = Required<Omit<SeedOptions, 'log'>> & { log: Log };

function resolveOptions(options: SeedOptions): ResolvedSeedOptions {
  const resolved = { ...DEFAULTS, log: silent, ...stripUndefined(options) };
  const problems: string[] = [];
  const checkCount = (name: 'jobs' | 'workers' | 'logs', max: number) => {
    const value = resolved[name];
    if (!Number.isInteger(value) || value < 0 || value > max) {
      problems.push(`${name} must be an integer from 0 to ${max} (got ${value})`);
    }
  };
  checkCount('jobs', 50_000_000);
  checkCount('workers', 10_000);
  checkCount('logs', 50_000_000);
  if (!Number.isInteger(resolved.days) || resolved.days < 1 || resolved.days > 3_650) {
    problems.push(`days must be an integer from 1 to 3650 (got ${resolved.days})`);
  }
  if (!Number.isFinite(resolved.seed)) problems.push(`seed must be a number (got ${resolved.seed})`);
  if (problems.length > 0) throw new InvalidSeedOptionsError(problems);
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function seed(databaseUrl: string, options: SeedOptions, onlyIfEmpty: boolean): Promise<SeedIfEmptyResult> {
  const opts = resolveOptions(options);
  const started = Date.now();
  const client = new pg.Client(sessionConfig(databaseUrl, 'agentos-seed'));
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ jobs: string | null }>("SELECT to_regclass('jobs')::text AS jobs");
    if (!tables[0]?.jobs) throw new DatabaseNotMigratedError();
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SEED_LOCK_KEY]);
      if (onlyIfEmpty) {
        const { rows } = await client.query<{ has_jobs: boolean }>('SELECT EXISTS (SELECT 1 FROM jobs) AS has_jobs');
        if (rows[0]?.has_jobs) {
          await client.query('COMMIT');
          opts.log('jobs table is not empty; not seeding');
          return { seeded: false, summary: await summarize(client, started) };
        }
      }
      // So that the jobs' final sort (by time) fits in memory instead of spilling to disk.
      await client.query("SET LOCAL work_mem = '64MB'");
      await client.query('SET LOCAL statement_timeout = 0');
      await client.query('SELECT setseed($1)', [toSetseedArgument(opts.seed + (await appendSalt(client, opts)))]);
      await writeDataset(client, opts, { jobsEmpty: onlyIfEmpty });
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    // Fresh statistics, and a visibility map so the collector's aggregations are index-only
    // scans at once rather than after autovacuum gets round to the new rows.
    const vacuumStarted = Date.now();
    await client.query('SET statement_timeout = 0');
    await client.query('VACUUM (ANALYZE) jobs, log_entries, workers, agents');
    opts.log(`vacuum analyze: done in ${Date.now() - vacuumStarted} ms`);
    const summary = await summarize(client, started);
    opts.log(`seeded in ${summary.elapsedMs} ms`);
    return { seeded: true, summary };
  } finally {
    await client.end();
  }
}

/**
 * Ids are drawn from random() too, so appending with the same seed would draw the same ids again;
 * offsetting the seed by the rows already there makes every append draw new ones.
 */
async function appendSalt(client: pg.Client, opts: ResolvedSeedOptions): Promise<number> {
  if (opts.reset) return 0;
  const { rows } = await client.query<{ n: number }>(
    'SELECT ((SELECT count(*) FROM jobs) + (SELECT count(*) FROM log_entries))::int AS n',
  );
  return rows[0]?.n ?? 0;
}

/** setseed takes a double in [-1, 1]; any integer or fraction maps onto it. */
function toSetseedArgument(seed: number): number {
  const fraction = (Math.abs(seed) % 1_000_003) / 1_000_003;
  return seed < 0 ? -fraction : fraction;
}

/** The tables the dataset is written to, emptied first when `reset`. */
const SEEDED_TABLES = ['jobs', 'workers', 'agents', 'queues', 'log_entries', 'services', 'settings', 'notifications'];

async function writeDataset(client: pg.Client, opts: ResolvedSeedOptions, { jobsEmpty = false } = {}): Promise<void> {
  const step = async (label: string, work: () => Promise<number | undefined>) => {
    const t0 = Date.now();
    const count = await work();
    opts.log(`${label}: ${count === undefined ? 'done' : count.toLocaleString('en-US')} in ${Date.now() - t0} ms`);
  };

  if (opts.reset) {
    await step('emptied tables', async () => {
      // TRUNCATE gives every table and index new files: half a second of the demo seed's 2.4 s on
      // PGlite. With no jobs (seedIfEmpty checked), what the other tables hold is a few rows:
      // deleted, in this transaction all the same.
      if (jobsEmpty) for (const table of SEEDED_TABLES) await client.query(`DELETE FROM ${table}`);
      else await client.query(`TRUNCATE ${SEEDED_TABLES.join(', ')}`);
      return undefined;
    });
  }
  await step('queues', () => insertQueues(client, opts));
  await step('services', () => insertServices(client));
  await step('settings', () => insertSettings(client));
  await step('agents', () => insertAgents(client));
  await step('workers', () => insertWorkers(client, opts));
  await step('jobs', () => withIndexesDeferred(client, 'jobs', opts.reset, () => insertJobs(client, opts)));
  await step('agent and worker counters', async () => {
    await updateCounters(client);
    return undefined;
  });
  await step('logs', () => withIndexesDeferred(client, 'log_entries', opts.reset, () => insertLogs(client, opts)));
  await step('notifications', () => insertNotifications(client));
}

/**
 * Runs a bulk insert into `table` with its indexes dropped, then rebuilds them from their own
 * definitions: building an index once over sorted rows costs a fraction of updating it row by row
 * (random UUID keys especially), which halves the time of 200,000 jobs. Only on a table this
 * transaction emptied, which no other session can see before COMMIT. Definitions come from the
 * catalog, so what is rebuilt is exactly what the migrations made, names included.
 */
async function withIndexesDeferred<T>(
  client: pg.Client,
  table: string,
  emptied: boolean,
  insert: () => Promise<T>,
): Promise<T> {
  if (!emptied) return insert();
  const { rows } = await client.query<{ drop: string; create: string }>(
    `SELECT CASE WHEN c.conname IS NULL THEN format('DROP INDEX %I', i.relname)
                 ELSE format('ALTER TABLE %I DROP CONSTRAINT %I', $1::text, c.conname) END AS drop,
            CASE WHEN c.conname IS NULL THEN pg_get_indexdef(i.oid)
                 ELSE format('ALTER TABLE %I ADD CONSTRAINT %I %s', $1::text, c.conname, pg_get_constraintdef(c.oid))
            END AS create
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
      WHERE x.indrelid = $1::regclass`,
    [table],
  );
  for (const index of rows) await client.query(index.drop);
  const result = await insert();
  await client.query("SET LOCAL maintenance_work_mem = '256MB'");
  for (const index of rows) await client.query(index.create);
  return result;
}

const queueNames = [...REFERENCE_QUEUES];
const profiles = queueNames.map((name) => QUEUE_PROFILES[name]);

/** Upper bounds of all buckets but the last, for `width_bucket(u, bounds)` (0-based bucket). */
function cumulativeBounds(shares: readonly number[]): number[] {
  const total = shares.reduce((sum, share) => sum + share, 0);
  const bounds: number[] = [];
  let running = 0;
  for (const share of shares.slice(0, -1)) {
    running += share / total;
    bounds.push(running);
  }
  return bounds;
}

/**
 * A version-4 UUID from four `random()` draws (120 random bits). Cheaper than gen_random_uuid(),
 * which reads the OS's entropy source once per row, and reproducible under setseed. Each draw
 * appears once, so the expression must stay inline: a subquery would be evaluated once per query.
 */
const RANDOM_UUID_SQL = `(lpad(to_hex(floor(random() * 281474976710656)::int8), 12, '0') || '4'
  || lpad(to_hex(floor(random() * 4096)::int), 3, '0') || '8'
  || lpad(to_hex(floor(random() * 4294967296)::int8), 8, '0')
  || lpad(to_hex(floor(random() * 268435456)::int), 7, '0'))::uuid`;

/**
 * SQL for exactly `rows` creation times (column `created_at`) within the last `days` days, drawn
 * from the shape of a live platform's load:
 * - growth: the rate rises smoothly (exponentially), ending 3 times what it was `days` ago;
 * - a day: the rate follows the hours, peaking at 13:30 UTC, at night a fifth of the peak;
 * - now: a burst of current load in the last hour, rising towards now (1 % of rows, more in a
 *   small dataset), so the "last hour" views and the live queue have something to show at any
 *   time of day.
 * The daily shape is applied by rejection (a candidate is kept with probability equal to the
 * rate at its time), so three candidates per row are drawn and the first `rows` kept are used.
 *
 * @param rows SQL for the row count (a parameter reference)
 * @param days SQL for the window in days (a parameter reference)
 * @param expectedRows the row count, to size the burst
 */
function creationTimesSql(rows: string, days: string, expectedRows: number): string {
  // At least ~300 rows in the burst (a small demo dataset still has a live queue), at most 6 %.
  const burstShare = Math.max(0.01, Math.min(0.06, 300 / Math.max(1, expectedRows)));
  // Burst candidates are always kept, the others with the mean daily acceptance; this is the
  // candidate share that makes `burstShare` of the kept rows.
  const burstCandidateShare = (burstShare * MEAN_ACCEPTANCE) / (1 - burstShare + burstShare * MEAN_ACCEPTANCE);
  // Inverse of the growth curve's distribution function: u_age in [0, 1) → an age in [0, days).
  const age = `${days} * ln(1 / (1 - u_age * ${1 - 1 / GROWTH})) / ${Math.log(GROWTH)} * interval '1 day'`;
  // The burst's rate falls linearly from now to nothing an hour ago: it joins the baseline without
  // a step.
  const burstAge = `(1 - sqrt(1 - u_age)) * interval '1 hour'`;
  // From the epoch, so the hours are UTC whatever the session's time zone.
  const hourOfDay = `(date_part('epoch', created_at) / 3600 - 24 * floor(date_part('epoch', created_at) / 86400))`;
  return `SELECT created_at FROM (
      SELECT date_trunc('milliseconds', CASE WHEN burst THEN now() - ${burstAge} ELSE now() - ${age} END) AS created_at,
             burst, u_accept
        FROM (SELECT random() < ${burstCandidateShare} AS burst, random() AS u_age, random() AS u_accept
                FROM generate_series(1, 3 * ${rows} + 100)) AS candidate
      OFFSET 0
    ) AS placed
    WHERE burst OR u_accept < ${NIGHT_RATE} + ${1 - NIGHT_RATE} * exp(-0.5 * power((${hourOfDay} - 13.5) / 3.5, 2))
    LIMIT ${rows}`;
}

/** Rate at night, relative to the 13:30 UTC peak. */
const NIGHT_RATE = 0.2;
/** Share of candidates the daily shape keeps: its mean over 24 h (a Gaussian of σ 3.5 h, plus the floor). */
const MEAN_ACCEPTANCE = NIGHT_RATE + ((1 - NIGHT_RATE) * 3.5 * Math.sqrt(2 * Math.PI)) / 24;

/** Ratio of the job rate now to the rate at the start of the window. */
const GROWTH = 3;

async function insertQueues(client: pg.Client, opts: ResolvedSeedOptions): Promise<number> {
  const result = await client.query(
    `INSERT INTO queues (name, pending_threshold, min_workers, paused, created_at)
     SELECT name, threshold, min_workers, false, now() - $4::int * interval '1 day'
     FROM unnest($1::text[], $2::int[], $3::int[]) AS q (name, threshold, min_workers)
     ON CONFLICT (name) DO UPDATE SET pending_threshold = excluded.pending_threshold, min_workers = excluded.min_workers`,
    [queueNames, profiles.map((p) => p.pendingThreshold), profiles.map((p) => p.minWorkers), opts.days],
  );
  return result.rowCount ?? 0;
}

async function insertServices(client: pg.Client): Promise<number> {
  const result = await client.query(
    `INSERT INTO services (name, description, replicas, version, updated_at)
     SELECT name, description, replicas, $4, now()
     FROM unnest($1::text[], $2::text[], $3::int[]) AS s (name, description, replicas)
     ON CONFLICT (name) DO UPDATE
       SET description = excluded.description, replicas = excluded.replicas, version = excluded.version, updated_at = now()`,
    [
      REFERENCE_SERVICES.map((s) => s.name),
      REFERENCE_SERVICES.map((s) => s.description),
      REFERENCE_SERVICES.map((s) => s.replicas),
      REFERENCE_SERVICE_VERSION,
    ],
  );
  return result.rowCount ?? 0;
}

async function insertSettings(client: pg.Client): Promise<number> {
  const result = await client.query(
    `INSERT INTO settings (key, value, description, updated_at)
     SELECT key, value::jsonb, description, now()
     FROM unnest($1::text[], $2::text[], $3::text[]) AS s (key, value, description)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, description = excluded.description, updated_at = now()`,
    [
      REFERENCE_SETTINGS.map((s) => s.key),
      REFERENCE_SETTINGS.map((s) => JSON.stringify(s.value)),
      REFERENCE_SETTINGS.map((s) => s.description),
    ],
  );
  return result.rowCount ?? 0;
}

async function insertAgents(client: pg.Client): Promise<number> {
  const result = await client.query(
    `INSERT INTO agents (id, name, stage, description, updated_at)
     SELECT gen_random_uuid(), name, stage, description, now()
     FROM unnest($1::text[], $2::int[], $3::text[]) AS a (name, stage, description)
     ON CONFLICT (name) DO UPDATE SET stage = excluded.stage, description = excluded.description`,
    [PIPELINE_AGENTS.map((a) => a.name), PIPELINE_AGENTS.map((a) => a.stage), PIPELINE_AGENTS.map((a) => a.description)],
  );
  return result.rowCount ?? 0;
}

async function insertWorkers(client: pg.Client, opts: ResolvedSeedOptions): Promise<number> {
  if (opts.workers === 0) return 0;
  const offline = opts.workers >= 4 ? Math.max(1, Math.round(opts.workers * 0.08)) : 0;
  // Numbering continues after existing workers, so `reset: false` never repeats a hostname.
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM workers');
  const first = (rows[0]?.n ?? 0) + 1;
  // Each worker serves a primary queue (round robin, so every queue has workers) and maybe one or
  // two more; the last `offline` ones stopped heartbeating hours ago.
  const result = await client.query(
    `INSERT INTO workers (id, hostname, queues, concurrency, active_jobs, status, cpu, memory_mb, started_at, last_heartbeat_at)
     SELECT gen_random_uuid(),
            'worker-' || lpad(i::text, greatest(2, length(i::text)), '0'),
            CASE WHEN u_queues < 0.5 THEN ARRAY[q[1 + i % n]]
                 WHEN u_queues < 0.85 THEN ARRAY[q[1 + i % n], q[1 + (i + 1) % n]]
                 ELSE ARRAY[q[1 + i % n], q[1 + (i + 1) % n], q[1 + (i + 3) % n]] END,
            (ARRAY[2, 4, 4, 8, 8, 16])[1 + floor(u_concurrency * 6)::int],
            0,
            CASE WHEN offline THEN 'offline' ELSE 'online' END::worker_status,
            CASE WHEN offline THEN NULL ELSE round((4 + 80 * u_cpu)::numeric, 1)::float8 END,
            256 * (1 + floor(u_memory * 8)::int),
            heartbeat - (1 + 240 * u_uptime) * interval '1 hour',
            heartbeat
     FROM (
       SELECT i, offline, $3::text[] AS q, cardinality($3::text[]) AS n,
              random() AS u_queues, random() AS u_concurrency, random() AS u_cpu, random() AS u_memory,
              random() AS u_uptime,
              date_trunc('milliseconds', CASE WHEN offline THEN now() - (2 + 70 * random()) * interval '1 hour'
                                              ELSE now() - random() * interval '20 seconds' END) AS heartbeat
       FROM (SELECT i, i >= $1::int + $2::int - $4::int AS offline FROM generate_series($1::int, $1::int + $2::int - 1) AS i) AS g
       OFFSET 0
     ) AS w`,
    [first, opts.workers, queueNames, offline],
  );
  return result.rowCount ?? 0;
}

async function insertJobs(client: pg.Client, opts: ResolvedSeedOptions): Promise<number> {
  if (opts.jobs === 0) return 0;
  // Stages: times places each job in time; r draws every other random number a job needs (a
  // subquery with volatile output is evaluated once per row, never inlined); t puts it on a queue
  // and picks how it would end; p plans its wait and run time and whether it is still live; s and
  // f settle what is true now (a job whose run would end in the future is still processing).
  // OFFSET 0 keeps each stage from being flattened into the next, which would recompute its
  // expressions for every reference.
  const sql = `
    WITH q AS MATERIALIZED (
      SELECT qi::int, name, median_ms, agent_share, string_to_array(types, '|') AS types,
             coalesce((SELECT array_agg(w.id ORDER BY w.hostname) FROM workers w WHERE q0.name = ANY (w.queues)),
                      (SELECT array_agg(w.id ORDER BY w.hostname) FROM workers w)) AS workers,
             coalesce((SELECT array_agg(w.id ORDER BY w.hostname) FROM workers w WHERE q0.name = ANY (w.queues) AND w.status = 'online'),
                      (SELECT array_agg(w.id ORDER BY w.hostname) FROM workers w WHERE w.status = 'online')) AS online
      FROM unnest($3::text[], $5::float8[], $6::float8[], $7::text[]) WITH ORDINALITY AS q0 (name, median_ms, agent_share, types, qi)
    ),
    times AS NOT MATERIALIZED (${creationTimesSql('$1::int', '$2::int', opts.jobs)}),
    r AS NOT MATERIALIZED (
      SELECT created_at,
             random() AS u_queue, random() AS u_type, random() AS u_has_agent, random() AS u_agent,
             random() AS u_state, random() AS u_outcome, random() AS u_wait1, random() AS u_wait2,
             random() AS u_run1, random() AS u_run2, random() AS u_part, random() AS u_cancel,
             random() AS u_attempts, random() AS u_error, random() AS u_worker, random() AS u_has_user, random() AS u_user
      FROM times OFFSET 0
    ),
    t AS NOT MATERIALIZED (
      SELECT r.*,
             width_bucket(u_queue, $4::float8[]) + 1 AS qi,
             CASE width_bucket(u_outcome, $11::float8[]) WHEN 0 THEN 'completed' WHEN 1 THEN 'failed' ELSE 'cancelled' END AS outcome
      FROM r OFFSET 0
    ),
    p AS NOT MATERIALIZED (
      SELECT t.*, q.name AS queue, q.types, q.agent_share, q.workers, q.online,
             round(greatest(5, least(600000, exp(ln(250) + 1.1 * sqrt(-2 * ln(1 - u_wait1)) * cos(2 * pi() * u_wait2)))))::int AS wait_ms,
             round(greatest(20, least(900000, exp(ln(q.median_ms) + 0.9 * sqrt(-2 * ln(1 - u_run1)) * cos(2 * pi() * u_run2)))))::int AS run_ms,
             CASE
               -- a backlog: the queues are behind on the last minutes' jobs, a little on the last hour's
               WHEN created_at > now() - interval '10 minutes' AND u_state < 0.45 THEN 'pending'
               WHEN created_at > now() - interval '10 minutes' AND u_state < 0.49 THEN 'processing'
               WHEN created_at > now() - interval '1 hour' AND u_state < 0.050 THEN 'pending'
               WHEN created_at > now() - interval '1 hour' AND u_state < 0.055 THEN 'processing'
               ELSE outcome
             END AS planned
      FROM t JOIN q USING (qi) OFFSET 0
    ),
    s AS NOT MATERIALIZED (
      SELECT p.*,
             created_at + wait_ms * interval '1 millisecond' AS start_at,
             -- failed and cancelled jobs stop part-way through their run
             CASE WHEN outcome = 'completed' THEN run_ms ELSE round(run_ms * (0.05 + 0.95 * u_part))::int END AS ran_ms
      FROM p OFFSET 0
    ),
    f AS NOT MATERIALIZED (
      SELECT s.*, status, status IN ('processing', 'completed', 'failed') OR (status = 'cancelled' AND u_cancel >= 0.5) AS started
      FROM s, LATERAL (SELECT (CASE
               WHEN planned = 'pending' OR start_at > now() THEN 'pending'
               WHEN planned = 'cancelled' AND u_cancel < 0.5 THEN 'cancelled'
               WHEN planned = 'processing' OR start_at + ran_ms * interval '1 millisecond' > now() THEN 'processing'
               ELSE planned
             END)::job_status AS status) AS settled
      OFFSET 0
    )
    INSERT INTO jobs (id, queue, type, status, user_id, agent, worker_id, attempts, progress, error, duration_ms,
                      created_at, started_at, finished_at, updated_at)
    SELECT ${RANDOM_UUID_SQL},
           queue,
           types[1 + floor(u_type * cardinality(types))::int],
           status,
           CASE WHEN u_has_user < 0.9 THEN
             overlay(overlay(md5('agentos-user-' || floor($12::int * u_user * u_user)::int) placing '4' from 13) placing '8' from 17)::uuid
           END,
           CASE WHEN u_has_agent < agent_share THEN ($8::text[])[width_bucket(u_agent, $9::float8[]) + 1] END,
           CASE WHEN NOT started THEN NULL
                WHEN status = 'processing' THEN online[1 + floor(u_worker * cardinality(online))::int]
                ELSE workers[1 + floor(u_worker * cardinality(workers))::int] END,
           CASE
             WHEN NOT started THEN 0
             WHEN status = 'completed' THEN CASE WHEN u_attempts < 0.92 THEN 1 WHEN u_attempts < 0.98 THEN 2 ELSE 3 END
             WHEN status = 'failed' THEN CASE WHEN u_attempts < 0.15 THEN 1 WHEN u_attempts < 0.40 THEN 2 ELSE 3 END
             WHEN status = 'processing' AND u_attempts < 0.05 THEN 2
             ELSE 1
           END,
           CASE
             WHEN status = 'completed' THEN 100
             WHEN status = 'processing' THEN
               least(99, greatest(1, floor(100 * extract(epoch FROM now() - start_at) * 1000 / run_ms)))::int
             WHEN started THEN least(99, floor(100 * ran_ms::float8 / run_ms))::int
             ELSE 0
           END,
           CASE WHEN status = 'failed' THEN
             ($10::text[])[1 + floor(cardinality($10::text[]) * power(u_error, 1.7))::int]
           END,
           CASE WHEN started AND status <> 'processing' THEN ran_ms END,
           created_at,
           CASE WHEN started THEN start_at END,
           CASE
             WHEN status IN ('pending', 'processing') THEN NULL
             WHEN started THEN start_at + ran_ms * interval '1 millisecond'
             ELSE start_at -- cancelled while waiting, at the moment it would have started
           END,
           CASE
             WHEN status IN ('pending', 'processing') THEN coalesce(CASE WHEN started THEN start_at END, created_at)
             WHEN started THEN start_at + ran_ms * interval '1 millisecond'
             ELSE start_at
           END
    FROM f
    -- rows land in time order, as a live table's would, so time-range scans read few pages
    ORDER BY created_at`;
  const result = await client.query(sql, [
    opts.jobs,
    opts.days,
    queueNames,
    cumulativeBounds(profiles.map((p) => p.share)),
    profiles.map((p) => p.medianRunMs),
    profiles.map((p) => p.agentShare),
    profiles.map((p) => p.types.join('|')),
    PIPELINE_AGENTS.map((a) => a.name),
    cumulativeBounds(AGENT_SHARES),
    JOB_ERRORS,
    cumulativeBounds([OUTCOME_SHARES.completed, OUTCOME_SHARES.failed, OUTCOME_SHARES.cancelled]),
    USER_POOL,
  ]);
  return result.rowCount ?? 0;
}

/** Distinct users the jobs belong to; a few of them own most jobs. */
const USER_POOL = 500;

/** Agents' and workers' counters follow from the jobs just written, so the views agree. */
async function updateCounters(client: pg.Client): Promise<void> {
  await client.query(
    `UPDATE agents a
        SET jobs_processed = s.processed, jobs_failed = s.failed, avg_duration_ms = s.avg_ms,
            last_active_at = s.last_active, status = CASE WHEN s.running > 0 THEN 'active' ELSE 'idle' END::agent_status,
            updated_at = now()
       FROM (SELECT agent,
                    count(*) FILTER (WHERE status IN ('completed', 'failed'))::int AS processed,
                    count(*) FILTER (WHERE status = 'failed')::int AS failed,
                    round(avg(duration_ms) FILTER (WHERE status = 'completed'))::int AS avg_ms,
                    max(coalesce(finished_at, started_at)) AS last_active,
                    count(*) FILTER (WHERE status = 'processing') AS running
               FROM jobs WHERE agent IS NOT NULL GROUP BY agent) AS s
      WHERE s.agent = a.name`,
  );
  await client.query(
    `UPDATE workers w
        SET active_jobs = s.running, concurrency = greatest(w.concurrency, s.running)
       FROM (SELECT worker_id, count(*)::int AS running FROM jobs WHERE status = 'processing' GROUP BY worker_id) AS s
      WHERE w.id = s.worker_id`,
  );
}

async function insertLogs(client: pg.Client, opts: ResolvedSeedOptions): Promise<number> {
  if (opts.logs === 0) return 0;
  // Lines about jobs come from a sample of the jobs themselves (failed ones twice as likely), so a
  // line's time, text and job agree; the rest are service lines drawn from the templates.
  const jobLines = await client.query(
    `INSERT INTO log_entries (id, level, source, message, job_id, context, created_at)
     SELECT ${RANDOM_UUID_SQL},
            CASE WHEN status = 'failed' THEN 'error' WHEN status = 'completed' AND attempts > 1 THEN 'warn' ELSE 'info' END::log_level,
            CASE WHEN status IN ('pending', 'cancelled') THEN 'api' ELSE 'dispatcher' END,
            CASE status
              WHEN 'pending' THEN 'job:created ' || type || ' on ' || queue
              WHEN 'processing' THEN 'job:processing ' || type || ' on ' || queue || coalesce(' by agent ' || agent, '')
              WHEN 'completed' THEN 'job:completed ' || type || ' on ' || queue || ' in ' || duration_ms || ' ms'
                                    || CASE WHEN attempts > 1 THEN ' after ' || attempts || ' attempts' ELSE '' END
              WHEN 'failed' THEN 'job:failed ' || type || ' on ' || queue || ' after ' || attempts || ' attempts: ' || error
              ELSE 'job cancelled by an admin: ' || type || ' on ' || queue
            END,
            id,
            jsonb_strip_nulls(jsonb_build_object('queue', queue, 'type', type, 'attempts', attempts, 'agent', agent,
                                                 'worker_id', worker_id, 'user_id', user_id)),
            coalesce(finished_at, started_at, created_at)
       FROM (SELECT * FROM jobs ORDER BY random() * CASE WHEN status = 'failed' THEN 0.5 ELSE 1 END LIMIT $1) AS j`,
    [Math.round(opts.logs * JOB_LOG_SHARE)],
  );
  const jobLineCount = jobLines.rowCount ?? 0;

  const templateShares = LOG_TEMPLATES.map(
    (t) => LOG_LEVEL_SHARES[t.level] / LOG_TEMPLATES.filter((other) => other.level === t.level).length,
  );
  const serviceLines = await client.query(
    `WITH names AS MATERIALIZED (
       SELECT coalesce((SELECT array_agg(hostname ORDER BY hostname) FROM workers), ARRAY['worker-01']) AS workers
     )
     INSERT INTO log_entries (id, level, source, message, context, created_at)
     SELECT ${RANDOM_UUID_SQL},
            ($3::text[])[k]::log_level,
            ($4::text[])[k],
            replace(replace(replace(replace(($5::text[])[k],
              '{n}', (1 + floor(400 * u_n))::int::text),
              '{ms}', round(exp(ln(40) + 1.2 * sqrt(-2 * ln(1 - u_ms1)) * cos(2 * pi() * u_ms2)))::text),
              '{worker}', workers[1 + floor(u_name * cardinality(workers))::int]),
              '{queue}', ($7::text[])[1 + floor(u_name * cardinality($7::text[]))::int]),
            CASE WHEN u_ctx < 0.4 THEN jsonb_build_object('replica', ($4::text[])[k] || '-' || (1 + floor(u_ctx * 5))::int) END,
            created_at
       FROM (
         SELECT width_bucket(u_template, $6::float8[]) + 1 AS k, u_n, u_ms1, u_ms2, u_name, u_ctx, created_at
           FROM (SELECT created_at, random() AS u_template, random() AS u_n, random() AS u_ms1, random() AS u_ms2,
                        random() AS u_name, random() AS u_ctx
                   FROM (${creationTimesSql('$1::int', '$2::int', opts.logs)}) AS times
                 OFFSET 0) AS r
       ) AS line, names`,
    [
      Math.max(0, opts.logs - jobLineCount),
      opts.days,
      LOG_TEMPLATES.map((t) => t.level),
      LOG_TEMPLATES.map((t) => t.source),
      LOG_TEMPLATES.map((t) => t.message),
      cumulativeBounds(templateShares),
      queueNames,
    ],
  );
  return jobLineCount + (serviceLines.rowCount ?? 0);
}

async function insertNotifications(client: pg.Client): Promise<number> {
  const past = await client.query(
    `INSERT INTO notifications (id, kind, severity, title, message, event_id, created_at, read_at)
     SELECT gen_random_uuid(), kind, severity::severity, title, message, CASE WHEN from_event THEN gen_random_uuid() END,
            now() - hours_ago * interval '1 hour', now() - (hours_ago - 0.5) * interval '1 hour'
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::float8[])
            AS n (kind, severity, title, message, from_event, hours_ago)`,
    [
      PAST_NOTIFICATIONS.map((n) => n.kind),
      PAST_NOTIFICATIONS.map((n) => n.severity),
      PAST_NOTIFICATIONS.map((n) => n.title),
      PAST_NOTIFICATIONS.map((n) => n.message),
      PAST_NOTIFICATIONS.map((n) => n.fromEvent),
      PAST_NOTIFICATIONS.map((n) => n.hoursAgo),
    ],
  );
  // The unread ones are about rows of this dataset: the latest failed jobs and the offline workers.
  const current = await client.query(
    `INSERT INTO notifications (id, kind, severity, title, message, event_id, created_at)
     SELECT gen_random_uuid(), 'notify_admin', 'warning'::severity, 'Job failed after ' || attempts || ' attempts',
            type || ' on ' || queue || ': ' || error, gen_random_uuid(), finished_at
       FROM (SELECT * FROM jobs WHERE status = 'failed' ORDER BY finished_at DESC LIMIT 2) AS j
     UNION ALL
     SELECT gen_random_uuid(), 'alert_ops', 'critical'::severity, 'Worker ' || hostname || ' offline',
            hostname || ' stopped sending heartbeats', gen_random_uuid(), last_heartbeat_at + $1::int * interval '1 second'
       FROM workers WHERE status = 'offline'`,
    [EVENT_DISPATCH_CONFIG['worker:heartbeat'].ttl],
  );
  return (past.rowCount ?? 0) + (current.rowCount ?? 0);
}

async function summarize(client: pg.Client, started: number): Promise<SeedSummary> {
  const { rows } = await client.query<
    Omit<SeedSummary, 'elapsedMs' | 'jobsByStatus'> & { jobsByStatus: Partial<Record<JobStatus, number>> }
  >(
    `SELECT (SELECT count(*)::int FROM jobs) AS jobs,
            (SELECT coalesce(jsonb_object_agg(status, n), '{}')
               FROM (SELECT status, count(*)::int AS n FROM jobs GROUP BY status) AS s) AS "jobsByStatus",
            (SELECT count(*)::int FROM jobs WHERE created_at > now() - interval '1 hour') AS "jobsLastHour",
            (SELECT count(*)::int FROM jobs WHERE created_at > now() - interval '24 hours') AS "jobsLast24h",
            (SELECT count(*)::int FROM workers) AS workers,
            (SELECT count(*)::int FROM workers WHERE status = 'online') AS "workersOnline",
            (SELECT count(*)::int FROM agents) AS agents,
            (SELECT count(*)::int FROM queues) AS queues,
            (SELECT count(*)::int FROM services) AS services,
            (SELECT count(*)::int FROM settings) AS settings,
            (SELECT count(*)::int FROM log_entries) AS logs,
            (SELECT count(*)::int FROM notifications) AS notifications`,
  );
  const row = rows[0];
  if (!row) throw new Error('summary query returned no row');
  const jobsByStatus = { pending: 0, processing: 0, completed: 0, failed: 0, cancelled: 0, ...row.jobsByStatus };
  return { ...row, jobsByStatus, elapsedMs: Date.now() - started };
}
