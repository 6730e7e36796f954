import type { CommandAction, EventName, EventPayload, JobPayload } from '@agentos/contracts';
import { Random, seedTag } from './random';
import { Timeline } from './timeline';
import {
  ARRIVALS,
  BACKLOG,
  FIRST_BACKLOG_MS,
  HEADROOM,
  type JobError,
  type JobKind,
  MAX_ATTEMPTS,
  MIN_CONCURRENCY,
  PIPELINE,
  type PipelineStep,
  QUEUE_STATS_MS,
  type QueueName,
  RETRY_BACKOFF_MS,
  RUN_TIME_SIGMA,
  USER_COUNT,
  WORKER_POOLS,
  WORKER_TIMING,
  type WorkerPool,
} from './workload';

export interface ScenarioOptions {
  /** Names the exact sequence of events (ids, payloads, order, relative times). */
  seed: string;
  /** Events per second to aim for, every event counted (heartbeats and stats too). */
  rate: number;
  /** Workers, spread over the pools (at least one each). */
  workers: number;
  /** How much faster than real time the platform runs: 1 is realistic; 10 makes every job, beat and incident ten times as quick. */
  speed: number;
  /** Share of job runs that fail, on average over the kinds (each kind fails `failWeight` times as often). */
  failureRate: number;
  /** Mean time between two backlogs on `reports`, s at speed 1; 0: none. */
  backlogEveryS: number;
  /** Mean time between two worker crashes, s at speed 1; 0: none. */
  crashEveryS: number;
}

/** One event as the platform emits it: `at` is ms since the scenario started. */
export type SimEvent = { [N in EventName]: { id: string; at: number; name: N; payload: EventPayload<N> } }[EventName];

/** What the scenario made of an admin's command. */
export type CommandOutcome = { ok: true } | { ok: false; error: string };

type JobState = 'pending' | 'processing' | 'retrying' | 'failed' | 'ended';

interface Job {
  id: string;
  kind: JobKind | PipelineStep;
  userId?: string;
  /** The pipeline run a step belongs to. */
  run?: number;
  attempt: number;
  state: JobState;
  worker?: Worker;
  /** Bumped on every change of state: an action planned for an earlier state sees it and does nothing. */
  generation: number;
  /** Queue order: the oldest waiting job is taken first. */
  order: number;
  startedAt: number;
}

interface Worker {
  id: string;
  pool: WorkerPool;
  concurrency: number;
  running: Set<Job>;
  state: 'online' | 'crashed' | 'stopped';
  /** Bumped at each crash and return: a heartbeat chain of an earlier life stops. */
  life: number;
}

interface Waiting {
  jobs: Job[];
  head: number;
  /** Jobs waiting (cancelled ones left in `jobs` until they reach the head are not counted). */
  count: number;
}

/** Failed jobs kept for an admin's retry, at most; the oldest are forgotten first. */
const MAX_FAILED_KEPT = 20_000;
/** Commands whose outcome is kept, so one delivered twice is answered the same. */
const MAX_OUTCOMES_KEPT = 10_000;
/**
 * How gently arrivals correct the event rate: a deficit of this many seconds' events doubles
 * them. An arrival's events come over its whole run (a pipeline run's over half a minute), so a
 * quicker correction would overshoot and swing.
 */
const RATE_CORRECTION_S = 30;

const isStep = (kind: JobKind): kind is PipelineStep => 'agent' in kind;
const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/**
 * The simulated AgentOS platform as a pure, seeded, discrete-event simulation: workers with slots
 * on their queues, jobs arriving at a Poisson rate, pipeline runs moving through the 11 agents,
 * failures and retries, a worker crashing and coming back, a backlog now and then. It does no I/O
 * and reads no clock: `take(until)` runs it to a time and returns what happened, so a given seed
 * and options give the same events, in the same order, at the same relative times, every time.
 * The driver (driver.ts) maps those times onto the wall clock.
 *
 * Admin commands (`command`) are the one input from outside; a run with commands replays exactly
 * only with the same commands at the same times.
 */
export class Scenario {
  readonly tag: string;
  /** Slots per worker, by pool. */
  readonly concurrency: Readonly<Record<string, number>>;
  /** Arrivals (pipeline runs and single jobs) per second, before rate correction. */
  readonly arrivalsPerSecond: number;

  private readonly rng: Random;
  private readonly timeline = new Timeline();
  private readonly out: SimEvent[] = [];
  private readonly users: string[];
  /** Running totals of the users' weights, for picking one in proportion. */
  private readonly userWeights: number[];
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<QueueName, Waiting>();
  /** Jobs that can still change: pending, processing, awaiting a retry, or failed (for an admin's retry). */
  private readonly jobs = new Map<string, Job>();
  private readonly failedOrder: string[] = [];
  private readonly outcomes = new Map<string, CommandOutcome>();
  private now = 0;
  private events = 0;
  private jobCount = 0;
  private runCount = 0;
  private queueOrder = 0;
  private stopped = false;

  constructor(private readonly options: Readonly<ScenarioOptions>) {
    this.rng = new Random(options.seed);
    this.tag = seedTag(options.seed);
    this.users = Array.from({ length: USER_COUNT }, () => `auth0|${this.rng.hex(24)}`);
    let total = 0;
    // A few users are much busier than the rest (Zipf-like).
    this.userWeights = this.users.map((_, i) => (total += 1 / (i + 1) ** 0.8));
    for (const queue of new Set(WORKER_POOLS.flatMap((pool) => pool.queues))) this.waiting.set(queue, { jobs: [], head: 0, count: 0 });

    const perArrival = ARRIVALS.reduce((sum, a) => sum + a.share * (a.pipeline ? this.runEvents() : this.jobEvents(a.kind)), 0);
    // Backlogs are left to the rate correction: their size depends on the free slots of the moment.
    const background = (options.workers * 1000) / this.scaled(WORKER_TIMING.heartbeatMs) + (this.waiting.size * 1000) / this.scaled(QUEUE_STATS_MS);
    // Whatever the rate, some work arrives: a rate below the background still shows jobs.
    this.arrivalsPerSecond = Math.max(options.rate * 0.2, options.rate - background) / perArrival;

    this.concurrency = this.sizePools();
    this.plan();
  }

  /** When the next event is due (ms since the start); Infinity once stopped. */
  nextAt(): number {
    return this.stopped ? Infinity : this.timeline.nextAt();
  }

  /** Runs the platform up to `until` (ms since the start); returns what it emitted meanwhile, in order. */
  take(until: number): SimEvent[] {
    this.advance(until);
    return this.out.splice(0);
  }

  /**
   * Carries out an admin's command at `at`: retry a failed job (its next attempt is queued),
   * cancel a pending or processing one. Returns the outcome and the events up to then, the
   * command's own last. The same `commandId` again gets the same outcome and changes nothing.
   */
  command(commandId: string, action: CommandAction, jobId: string, at: number): { outcome: CommandOutcome; events: SimEvent[] } {
    this.advance(at);
    let outcome = this.outcomes.get(commandId);
    if (!outcome) {
      outcome = this.stopped ? { ok: false, error: 'the simulator is stopping' } : action === 'retry' ? this.retry(jobId) : this.cancel(jobId);
      this.outcomes.set(commandId, outcome);
      if (this.outcomes.size > MAX_OUTCOMES_KEPT) this.outcomes.delete(this.outcomes.keys().next().value!);
    }
    return { outcome, events: this.out.splice(0) };
  }

  /**
   * Ends the run at `at`: what is still pending or processing is cancelled (the platform goes
   * away with the simulator) and every online worker goes offline, so nothing is left looking
   * alive in the SSOT. Nothing happens after.
   */
  stop(at: number): SimEvent[] {
    this.advance(at);
    if (!this.stopped) {
      this.stopped = true;
      for (const job of this.jobs.values()) {
        if (job.state === 'pending' || job.state === 'processing') this.emit('job:cancelled', { ...this.jobPayload(job), reason: 'simulator stopped' });
      }
      for (const worker of this.workers) {
        if (worker.state === 'online') this.emit('worker:offline', { worker_id: worker.id, reason: 'simulator stopped' });
        worker.state = 'stopped';
      }
    }
    return this.out.splice(0);
  }

  /** What a dashboard of the simulator itself would show: workers, queue depths, jobs in hand. */
  status(): { workersOnline: number; workersCrashed: number; waiting: Record<string, number>; jobsInFlight: number } {
    let jobsInFlight = 0;
    for (const worker of this.workers) jobsInFlight += worker.running.size;
    return {
      workersOnline: this.workers.filter((w) => w.state === 'online').length,
      workersCrashed: this.workers.filter((w) => w.state === 'crashed').length,
      waiting: Object.fromEntries([...this.waiting].map(([queue, w]) => [queue, w.count])),
      jobsInFlight,
    };
  }

  // ---- the platform's rhythm ----

  private plan(): void {
    const { options, rng } = this;
    for (const worker of this.workers) {
      const life = worker.life;
      this.timeline.plan(rng.between(0, 300), () => this.beat(worker, life));
    }
    this.warmStart();
    this.timeline.plan(rng.exponential(1000 / this.arrivalsPerSecond), () => this.arrive());
    this.timeline.plan(this.scaled(2_000), () => this.queueStats());
    if (options.backlogEveryS > 0) this.timeline.plan(this.scaled(Math.min(FIRST_BACKLOG_MS, (options.backlogEveryS * 1000) / 2)), () => this.backlog());
    if (options.crashEveryS > 0) this.timeline.plan(this.scaled(rng.between(...WORKER_TIMING.firstCrashMs)), () => this.crash());
  }

  /**
   * The platform was running before the simulator looked: pipeline runs are already under way at
   * every stage (as many as the arrival rate keeps in flight), so all 11 agents are busy from the
   * first second and the event rate starts near its target instead of ramping up.
   */
  private warmStart(): void {
    const reach = this.reach();
    const runSlots = PIPELINE.reduce((sum, step, i) => sum + reach[i]! * this.busyMs(step), 0);
    const pipelineShare = ARRIVALS.find((a) => a.pipeline)!.share;
    const pipelineSlots = this.slotsFor('pipeline');
    const runs = Math.min(Math.round((this.arrivalsPerSecond * pipelineShare * runSlots) / 1000), Math.floor(pipelineSlots * 0.8));
    for (let i = 0; i < runs; i += 1) {
      const step = this.rng.weighted(PIPELINE, (s) => reach[s.stage - 1]! * this.busyMs(s));
      const user = this.pickUser();
      const run = ++this.runCount;
      this.timeline.plan(this.rng.between(0, 1000), () => this.enqueue(this.newJob(step, user, run)));
    }
  }

  private arrive(): void {
    if (this.stopped) return;
    const arrival = this.rng.weighted(ARRIVALS, (a) => a.share);
    if (arrival.pipeline) this.enqueue(this.newJob(PIPELINE[0]!, this.pickUser(), ++this.runCount));
    else this.enqueue(this.newJob(arrival.kind, arrival.kind.perUser ? this.pickUser() : undefined));
    // Paced on what was emitted, so whatever the estimate of events per arrival missed (crashes,
    // backlogs, commands) is made up for.
    const { rate } = this.options;
    const behind = (rate * this.now) / 1000 - this.events;
    const factor = clamp(1 + behind / (rate * RATE_CORRECTION_S), 0.5, 2);
    this.timeline.plan(this.now + this.rng.exponential(1000 / (this.arrivalsPerSecond * factor)), () => this.arrive());
  }

  private beat(worker: Worker, life: number): void {
    if (worker.life !== life || worker.state !== 'online') return;
    const load = worker.running.size / worker.concurrency;
    this.emit('worker:heartbeat', {
      worker_id: worker.id,
      queues: [...worker.pool.queues],
      active_jobs: worker.running.size,
      concurrency: worker.concurrency,
      hostname: worker.id,
      cpu: Math.round(clamp(6 + 82 * load + this.rng.between(-4, 4), 0, 100) * 10) / 10,
      memory_mb: 380 + 45 * Math.min(worker.running.size, 40) + this.rng.int(0, 60),
      ttl_s: Math.max(1, Math.ceil(this.scaled(WORKER_TIMING.heartbeatTtlMs) / 1000)),
    });
    this.timeline.plan(this.now + this.scaled(WORKER_TIMING.heartbeatMs) * this.rng.between(0.95, 1.05), () => this.beat(worker, life));
  }

  private queueStats(): void {
    for (const [queue, waiting] of this.waiting) {
      const workers = this.workers.filter((w) => w.state === 'online' && w.pool.queues.includes(queue)).length;
      this.emit('queue:stats', { queue, pending: waiting.count, workers });
    }
    this.timeline.plan(this.now + this.scaled(QUEUE_STATS_MS), () => this.queueStats());
  }

  /** Every tenant's digest at once: more than the free workers take, so `reports` waits past its threshold. */
  private backlog(): void {
    if (this.stopped) return;
    const free = this.workers
      .filter((w) => w.state === 'online' && w.pool.queues.includes(BACKLOG.kind.queue))
      .reduce((sum, w) => sum + w.concurrency - w.running.size, 0);
    const count = free + BACKLOG.threshold + this.rng.int(...BACKLOG.excess);
    for (let i = 0; i < count; i += 1) this.enqueue(this.newJob(BACKLOG.kind));
    this.timeline.plan(this.now + this.options.backlogEveryS * 1000 * this.rng.between(0.8, 1.2) / this.options.speed, () => this.backlog());
  }

  /**
   * A worker stops dead: no more heartbeats (the SSOT's sweeper announces it offline once its
   * `ttl_s` lapses), its jobs stall until their lock lapses, then fail and are retried elsewhere.
   * It comes back, same id, after a while. Only a pool with another worker online loses one.
   */
  private crash(): void {
    if (this.stopped) return;
    const online = (pool: WorkerPool) => this.workers.filter((w) => w.pool === pool && w.state === 'online').length;
    const candidates = this.workers.filter((w) => w.state === 'online' && online(w.pool) >= 2);
    if (candidates.length > 0) {
      const worker = this.rng.pick(candidates);
      worker.state = 'crashed';
      worker.life += 1;
      for (const job of worker.running) {
        job.generation += 1;
        const generation = job.generation;
        this.timeline.plan(this.now + this.scaled(WORKER_TIMING.stallMs), () => this.stall(job, worker, generation));
      }
      worker.running.clear();
      this.timeline.plan(this.now + this.scaled(this.rng.between(...WORKER_TIMING.downMs)), () => this.recover(worker));
    }
    const gapMs = Math.max(this.options.crashEveryS * 250, this.rng.exponential(this.options.crashEveryS * 1000));
    this.timeline.plan(this.now + gapMs / this.options.speed, () => this.crash());
  }

  private recover(worker: Worker): void {
    if (this.stopped || worker.state !== 'crashed') return;
    worker.state = 'online';
    worker.life += 1;
    this.beat(worker, worker.life);
    this.pull(worker);
  }

  private stall(job: Job, worker: Worker, generation: number): void {
    if (job.generation !== generation) return;
    this.fail(job, { message: `Stalled: worker ${worker.id} stopped renewing the job's lock`, retryable: true }, worker, this.scaled(WORKER_TIMING.stallMs));
  }

  // ---- jobs ----

  private newJob(kind: JobKind, userId?: string, run?: number): Job {
    const id = run === undefined ? `${this.tag}-${++this.jobCount}` : `${this.tag}-r${run}-${String((kind as PipelineStep).stage).padStart(2, '0')}`;
    const job: Job = { id, kind, userId, run, attempt: 1, state: 'pending', generation: 0, order: 0, startedAt: 0 };
    this.jobs.set(id, job);
    return job;
  }

  /** Queues the job (its `job:created`) and starts it at once if a worker has a free slot. */
  private enqueue(job: Job): void {
    if (this.stopped) return;
    job.state = 'pending';
    job.generation += 1;
    job.order = ++this.queueOrder;
    this.emit('job:created', this.jobPayload(job));
    const waiting = this.waiting.get(job.kind.queue)!;
    waiting.jobs.push(job);
    waiting.count += 1;
    let best: Worker | undefined;
    for (const worker of this.workers) {
      if (worker.state !== 'online' || !worker.pool.queues.includes(job.kind.queue)) continue;
      if (free(worker) > 0 && (!best || free(worker) > free(best))) best = worker;
    }
    if (best) this.pull(best);
  }

  /** Fills the worker's free slots with the oldest jobs waiting on its queues. */
  private pull(worker: Worker): void {
    while (worker.state === 'online' && free(worker) > 0) {
      let oldest: Waiting | undefined;
      for (const queue of worker.pool.queues) {
        const waiting = this.waiting.get(queue)!;
        const head = peek(waiting);
        if (head && (!oldest || head.order < peek(oldest)!.order)) oldest = waiting;
      }
      if (!oldest) return;
      const job = oldest.jobs[oldest.head]!;
      oldest.head += 1;
      oldest.count -= 1;
      compact(oldest);
      this.startJob(job, worker);
    }
  }

  private startJob(job: Job, worker: Worker): void {
    const { kind } = job;
    const rng = this.rng;
    job.state = 'processing';
    job.worker = worker;
    job.generation += 1;
    job.startedAt = this.now;
    worker.running.add(job);
    const generation = job.generation;
    const runMs = this.scaled(rng.logNormal(kind.medianMs, RUN_TIME_SIGMA));
    const error = rng.chance(this.failureChance(kind)) ? rng.pick(kind.errors) : null;
    const endMs = error ? runMs * rng.between(0.2, 1) : runMs;
    this.emit('job:processing', { ...this.jobPayload(job), worker_id: worker.id, ...(kind.perUser ? { progress: 0 } : {}) });
    if (kind.perUser) {
      for (let tick = 1; tick <= kind.progressTicks; tick += 1) {
        const share = tick / (kind.progressTicks + 1);
        const progress = clamp(Math.round(share * 100) + rng.int(-4, 4), 1, 99);
        if (runMs * share < endMs) this.timeline.plan(this.now + runMs * share, () => this.progress(job, generation, progress));
      }
    }
    this.timeline.plan(this.now + endMs, () => {
      if (job.generation !== generation) return;
      if (error) this.fail(job, error, worker, endMs);
      else this.complete(job, worker, endMs);
    });
  }

  private progress(job: Job, generation: number, progress: number): void {
    if (job.generation !== generation) return;
    this.emit('job:processing', { ...this.jobPayload(job), worker_id: job.worker!.id, progress });
  }

  private complete(job: Job, worker: Worker, ranMs: number): void {
    worker.running.delete(job);
    job.generation += 1;
    job.state = 'ended';
    this.jobs.delete(job.id);
    this.emit('job:completed', {
      ...this.jobPayload(job),
      worker_id: worker.id,
      duration_ms: Math.round(ranMs),
      ...(job.kind.perUser ? { progress: 100 } : {}),
    });
    const { kind } = job;
    if (isStep(kind) && kind.stage < PIPELINE.length) this.enqueue(this.newJob(PIPELINE[kind.stage]!, job.userId, job.run));
    this.pull(worker);
  }

  /** A run that failed: retried by the platform after a backoff if it can be, else failed until an admin retries it. */
  private fail(job: Job, error: JobError, worker: Worker, ranMs: number): void {
    worker.running.delete(job);
    job.generation += 1;
    this.emit('job:failed', { ...this.jobPayload(job), worker_id: worker.id, error: error.message, duration_ms: Math.round(ranMs) });
    if (error.retryable && job.attempt < MAX_ATTEMPTS) {
      job.state = 'retrying';
      const generation = job.generation;
      const backoff = this.scaled(RETRY_BACKOFF_MS * 2 ** (job.attempt - 1));
      this.timeline.plan(this.now + backoff, () => {
        if (job.generation !== generation) return;
        job.attempt += 1;
        this.enqueue(job);
      });
    } else {
      this.keepFailed(job);
    }
    if (worker.state === 'online') this.pull(worker);
  }

  private keepFailed(job: Job): void {
    job.state = 'failed';
    this.failedOrder.push(job.id);
    while (this.failedOrder.length > MAX_FAILED_KEPT) {
      const id = this.failedOrder.shift()!;
      if (this.jobs.get(id)?.state === 'failed') this.jobs.delete(id);
    }
  }

  // ---- commands ----

  private retry(jobId: string): CommandOutcome {
    const job = this.jobs.get(jobId);
    if (!job) return { ok: false, error: `the simulator has no failed job '${jobId}' (it completed or was cancelled, or an earlier simulator run made it)` };
    // Queued or running again already (a retry delivered twice, or the platform's own): nothing to do.
    if (job.state === 'pending' || job.state === 'processing') return { ok: true };
    job.attempt += 1;
    this.enqueue(job);
    return { ok: true };
  }

  private cancel(jobId: string): CommandOutcome {
    const job = this.jobs.get(jobId);
    if (!job) return { ok: false, error: `the simulator has no pending or processing job '${jobId}' (it finished, or an earlier simulator run made it)` };
    if (job.state === 'failed' || job.state === 'retrying') return { ok: false, error: `job '${jobId}' has failed; only pending or processing jobs can be cancelled` };
    const worker = job.state === 'processing' ? job.worker : undefined;
    if (job.state === 'pending') this.waiting.get(job.kind.queue)!.count -= 1;
    worker?.running.delete(job);
    job.generation += 1;
    job.state = 'ended';
    this.jobs.delete(job.id);
    this.emit('job:cancelled', { ...this.jobPayload(job), ...(worker ? { worker_id: worker.id } : {}), reason: 'cancelled by admin' });
    if (worker) this.pull(worker);
    return { ok: true };
  }

  // ---- sizing ----

  /** Workers per pool by share (largest remainder, at least one each), and the slots each needs. */
  private sizePools(): Record<string, number> {
    const { workers } = this.options;
    const counts = WORKER_POOLS.map((pool) => Math.max(1, Math.floor(workers * pool.share)));
    const remainders = WORKER_POOLS.map((pool, i) => ({ i, r: workers * pool.share - counts[i]! }));
    remainders.sort((a, b) => b.r - a.r || a.i - b.i);
    for (let k = 0; counts.reduce((a, b) => a + b, 0) < workers; k += 1) counts[remainders[k % remainders.length]!.i]! += 1;
    const concurrency: Record<string, number> = {};
    WORKER_POOLS.forEach((pool, i) => {
      const slots = HEADROOM * pool.sizedFor.reduce((sum, queue) => sum + this.slotsFor(queue), 0);
      concurrency[pool.name] = Math.max(MIN_CONCURRENCY, Math.ceil(slots / counts[i]!));
      for (let n = 1; n <= counts[i]!; n += 1) {
        this.workers.push({ id: `sim-${pool.name}-${n}`, pool, concurrency: concurrency[pool.name]!, running: new Set(), state: 'online', life: 0 });
      }
    });
    return concurrency;
  }

  /** Slots a queue keeps busy on average at the arrival rate (Little's law). */
  private slotsFor(queue: QueueName): number {
    let busy = 0;
    for (const arrival of ARRIVALS) {
      if (arrival.pipeline) {
        if (queue !== 'pipeline') continue;
        const reach = this.reach();
        busy += arrival.share * PIPELINE.reduce((sum, step, i) => sum + reach[i]! * this.busyMs(step), 0);
      } else if (arrival.kind.queue === queue) {
        busy += arrival.share * this.busyMs(arrival.kind);
      }
    }
    return (this.arrivalsPerSecond * busy) / 1000;
  }

  // ---- expectations (what the rate is paced on) ----

  private failureChance(kind: JobKind): number {
    return clamp(this.options.failureRate * kind.failWeight, 0, 0.95);
  }

  /** Runs of one job, on average: retryable failures are run again, up to MAX_ATTEMPTS. */
  private attempts(kind: JobKind): number {
    const again = this.failureChance(kind) * retryableShare(kind);
    let total = 0;
    for (let n = 0; n < MAX_ATTEMPTS; n += 1) total += again ** n;
    return total;
  }

  /** Chance a job ends failed for good. */
  private failsForGood(kind: JobKind): number {
    const q = this.failureChance(kind);
    const again = q * retryableShare(kind);
    return again ** (MAX_ATTEMPTS - 1) * q + Array.from({ length: MAX_ATTEMPTS - 1 }, (_, n) => again ** n * q * (1 - retryableShare(kind))).reduce((a, b) => a + b, 0);
  }

  /** Events of one job, all its attempts: created, processing, its progress, the end. */
  private jobEvents(kind: JobKind): number {
    return this.attempts(kind) * (3 + (kind.perUser ? kind.progressTicks : 0));
  }

  /** Slot time of one job, all attempts, ms. */
  private busyMs(kind: JobKind): number {
    return this.attempts(kind) * this.scaled(kind.medianMs) * Math.exp((RUN_TIME_SIGMA * RUN_TIME_SIGMA) / 2);
  }

  /** Chance a pipeline run reaches each stage. */
  private reach(): number[] {
    const reach = [1];
    for (let i = 1; i < PIPELINE.length; i += 1) reach.push(reach[i - 1]! * (1 - this.failsForGood(PIPELINE[i - 1]!)));
    return reach;
  }

  /** Events of one pipeline run. */
  private runEvents(): number {
    const reach = this.reach();
    return PIPELINE.reduce((sum, step, i) => sum + reach[i]! * this.jobEvents(step), 0);
  }

  // ---- helpers ----

  private advance(until: number): void {
    while (!this.stopped && this.timeline.nextAt() <= until) {
      const action = this.timeline.take()!;
      this.now = action.at;
      action.run();
    }
    if (until > this.now) this.now = until;
  }

  private emit<N extends EventName>(name: N, payload: EventPayload<N>): void {
    this.out.push({ id: `sim-${this.tag}-${++this.events}`, at: Math.round(this.now), name, payload } as SimEvent);
  }

  private jobPayload(job: Job): JobPayload {
    const { kind } = job;
    return {
      job_id: job.id,
      queue: kind.queue,
      type: kind.type,
      ...(job.userId ? { user_id: job.userId } : {}),
      ...(isStep(kind) ? { agent: kind.agent } : {}),
      attempt: job.attempt,
    };
  }

  private pickUser(): string {
    const u = this.rng.next() * this.userWeights[this.userWeights.length - 1]!;
    let i = 0;
    while (this.userWeights[i]! <= u) i += 1;
    return this.users[i]!;
  }

  private scaled(ms: number): number {
    return ms / this.options.speed;
  }
}

function free(worker: Worker): number {
  return worker.concurrency - worker.running.size;
}

/** The job at the head of the queue, cancelled ones dropped on the way. */
function peek(waiting: Waiting): Job | undefined {
  while (waiting.head < waiting.jobs.length && waiting.jobs[waiting.head]!.state !== 'pending') waiting.head += 1;
  return waiting.jobs[waiting.head];
}

/** Drops the taken head of the array now and then, so a long run's queue does not keep every job it ever held. */
function compact(waiting: Waiting): void {
  if (waiting.head > 1024 && waiting.head * 2 > waiting.jobs.length) {
    waiting.jobs.splice(0, waiting.head);
    waiting.head = 0;
  }
}

function retryableShare(kind: JobKind): number {
  return kind.errors.filter((e) => e.retryable).length / kind.errors.length;
}
