import type { EventPublisher } from '@agentos/client';
import type { Command } from '@agentos/contracts';
import type { Logger, LoopWatch } from '@agentos/runtime';
import type { SimulatorMetrics } from './metrics';
import type { CommandOutcome, Scenario, SimEvent } from './scenario';

export interface DriverOptions {
  scenario: Scenario;
  publisher: EventPublisher;
  metrics: SimulatorMetrics;
  logger: Logger;
  /** Events per second asked for: what the summary compares with. */
  rate: number;
  /** Wall-clock time to run, then `finished` resolves. @default none */
  durationMs?: number;
  /** Most events handed to the publisher and not answered yet: past it the simulation waits for the api. */
  maxInFlight: number;
  /** The pacing loop's progress, for the watchdog. */
  watch?: LoopWatch;
}

/** What a run did, as printed at its end. */
export interface RunSummary {
  /** Events of the run the api accepted, and over how long (the clean-up on stopping not counted). */
  posted: number;
  seconds: number;
  /** `posted / seconds`. */
  rate: number;
  target: number;
  generated: number;
  /** Events the api refused or that could not be delivered, by reason. */
  refused: Record<string, number>;
  /** Events posted on stopping: jobs left cancelled, workers offline. */
  cleanup: number;
}

/** Scenario time taken per step while catching up: small steps keep the in-flight bound honest. */
const STEP_MS = 50;
/**
 * Furthest the simulation may fall behind the wall clock while the api is slow or away. Past it,
 * the missed time is skipped rather than posted in a rush later: events keep `occurred_at` near
 * now, and the achieved rate shows what the api took.
 */
const MAX_LAG_MS = 1000;
/** Longest wait on stopping for the last events to be answered. */
const STOP_FLUSH_MS = 5000;

/**
 * Plays the scenario in real time: its events are posted when their time comes (scenario time +
 * start = `occurred_at`), at most `maxInFlight` unanswered at once. Commands are applied at the
 * scenario's current time and their events posted before the command's result (one publisher,
 * in order).
 */
export class Driver {
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private origin = 0;
  private epoch = 0;
  /** Wall-clock time skipped while behind (MAX_LAG_MS): added to every later event's time. */
  private skippedMs = 0;
  /** Scenario time taken up to. */
  private clock = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private stoppedAt = 0;
  private inFlight = 0;
  private generated = 0;
  private posted = 0;
  private cleanupPosted = 0;
  private readonly refused: Record<string, number> = {};
  private lastOkAt = 0;
  private lastFailure: { at: number; message: string } | null = null;

  constructor(private readonly options: DriverOptions) {
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  start(): void {
    this.origin = performance.now();
    this.epoch = Date.now();
    this.tick();
  }

  /** Events per second the api accepted since the start (the clean-up not counted). */
  achievedRate(): number {
    const seconds = this.elapsedMs() / 1000;
    return seconds > 0 ? this.posted / seconds : 0;
  }

  /** How far behind the wall clock the simulation is, s. */
  lagSeconds(): number {
    return this.stopping || this.origin === 0 ? 0 : Math.max(0, this.due() - this.clock) / 1000;
  }

  /** Throws while the api's last answer was a failure: for `/readyz`. */
  ingestCheck(): Promise<void> {
    const failure = this.lastFailure;
    if (failure && failure.at >= this.lastOkAt) return Promise.reject(new Error(`the api did not take the last events: ${failure.message}`));
    return Promise.resolve();
  }

  /** Carries out an admin's command in the simulated platform (for CommandConsumer). */
  async command(command: Command): Promise<CommandOutcome> {
    const { outcome, events } = this.options.scenario.command(command.command_id, command.action, command.job_id, this.clock);
    this.post(events, false);
    this.options.metrics.commands.inc({ action: command.action, outcome: outcome.ok ? 'ok' : 'refused' });
    this.options.logger.info(
      { command: command.command_id, action: command.action, job: command.job_id, ok: outcome.ok, ...(outcome.ok ? {} : { reason: outcome.error }) },
      'command carried out',
    );
    return outcome;
  }

  /** Ends the run: the scenario's clean-up is posted, and answered or given up on within STOP_FLUSH_MS. */
  async stop(): Promise<RunSummary> {
    if (!this.stopping) {
      this.stopping = true;
      this.stoppedAt = performance.now();
      clearTimeout(this.timer);
      this.options.watch?.stop();
      this.post(this.options.scenario.stop(this.clock), true);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.options.publisher.flush(), new Promise((resolve) => (timer = setTimeout(resolve, STOP_FLUSH_MS)))]);
      clearTimeout(timer);
    }
    return this.summary();
  }

  summary(): RunSummary {
    return {
      posted: this.posted,
      seconds: Math.round(this.elapsedMs()) / 1000,
      rate: Math.round(this.achievedRate() * 10) / 10,
      target: this.options.rate,
      generated: this.generated,
      refused: { ...this.refused },
      cleanup: this.cleanupPosted,
    };
  }

  private tick = (): void => {
    this.timer = undefined;
    if (this.stopping) return;
    this.options.watch?.progress();
    const { durationMs, maxInFlight, scenario } = this.options;
    if (durationMs !== undefined && performance.now() - this.origin >= durationMs) {
      this.resolveFinished();
      return;
    }
    let due = this.due();
    if (due - this.clock > MAX_LAG_MS) {
      this.skippedMs += due - this.clock - MAX_LAG_MS;
      due = this.clock + MAX_LAG_MS;
    }
    while (this.inFlight < maxInFlight && this.clock < due) {
      const until = Math.min(due, this.clock + STEP_MS);
      this.post(scenario.take(until), false);
      this.clock = until;
    }
    const waitMs = this.inFlight >= maxInFlight ? 5 : Math.min(50, Math.max(1, scenario.nextAt() - this.due()));
    this.timer = setTimeout(this.tick, waitMs);
  };

  /** Scenario time that is due now. */
  private due(): number {
    return performance.now() - this.origin - this.skippedMs;
  }

  private elapsedMs(): number {
    return this.origin === 0 ? 0 : (this.stopping ? this.stoppedAt : performance.now()) - this.origin;
  }

  private post(events: readonly SimEvent[], cleanup: boolean): void {
    const { publisher, metrics, logger } = this.options;
    for (const event of events) {
      this.generated += 1;
      this.inFlight += 1;
      metrics.generated.inc({ name: event.name });
      publisher
        .publish(event.name, event.payload, { id: event.id, occurredAt: new Date(this.epoch + this.skippedMs + event.at) })
        .then(
          () => {
            if (cleanup) this.cleanupPosted += 1;
            else this.posted += 1;
            this.lastOkAt = performance.now();
            metrics.posted.inc();
          },
          (error: Error & { code?: string }) => {
            const reason = error.code ?? error.name;
            // Logged once per reason; the counter says how many followed.
            if (!this.refused[reason]) logger.warn({ reason, event: event.id, name: event.name, err: error.message }, 'the api did not take an event');
            this.refused[reason] = (this.refused[reason] ?? 0) + 1;
            this.lastFailure = { at: performance.now(), message: error.message };
            metrics.refused.inc({ reason });
          },
        )
        .finally(() => {
          this.inFlight -= 1;
          metrics.inFlight.set(this.inFlight);
        });
    }
    metrics.inFlight.set(this.inFlight);
  }
}
