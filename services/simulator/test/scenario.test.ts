// The simulated platform as a pure function of its seed and options (src/scenario.ts): no I/O,
// no clock, so every property here is checked on the events themselves, in milliseconds of CPU.
import { eventEnvelope, PIPELINE_AGENTS } from '@agentos/contracts';
import { QUEUE_PROFILES } from '../../../packages/db/src/reference-data';
import { loadSimulatorConfig } from '../src/config';
import { Scenario, type ScenarioOptions, type SimEvent } from '../src/scenario';
import { BACKLOG, MAX_ATTEMPTS, WORKER_TIMING } from '../src/workload';

/** The defaults of `npm start` (config.ts), seed aside. */
const DEFAULTS: Omit<ScenarioOptions, 'seed'> = (() => {
  const config = loadSimulatorConfig({ INGEST_TOKEN: 'unused-here' });
  return {
    rate: config.SIM_RATE,
    workers: config.SIM_WORKERS,
    speed: config.SIM_SPEED,
    failureRate: config.SIM_FAILURE_RATE,
    backlogEveryS: config.SIM_BACKLOG_EVERY_S,
    crashEveryS: config.SIM_CRASH_EVERY_S,
  };
})();
const TEN_MINUTES = 600_000;

/** The events up to `untilMs`, taken in steps of `stepMs` (as the driver does) or at once. */
function run(options: Partial<ScenarioOptions> & { seed: string }, untilMs: number, stepMs = untilMs): SimEvent[] {
  const scenario = new Scenario({ ...DEFAULTS, ...options });
  let events: SimEvent[] = [];
  for (let t = Math.min(stepMs, untilMs); ; t = Math.min(t + stepMs, untilMs)) {
    events = events.concat(scenario.take(t));
    if (t === untilMs) return events;
  }
}

/** The same events, in the same order, byte for byte as they would be posted. */
function expectSameEvents(actual: SimEvent[], expected: SimEvent[]): void {
  expect(actual.length).toBe(expected.length);
  const differs = expected.findIndex((event, i) => JSON.stringify(event) !== JSON.stringify(actual[i]));
  // The first difference, shown as a diff of the two events.
  if (differs !== -1) expect({ index: differs, event: actual[differs] }).toEqual({ index: differs, event: expected[differs] });
}

const jobEvents = (events: SimEvent[]) => events.filter((e): e is Extract<SimEvent, { name: `job:${string}` }> => e.name.startsWith('job:'));

/** Pending jobs of `queue` after each event: created (or queued again) until a worker starts it. */
function pendingOver(events: SimEvent[], queue: string): { at: number; pending: number }[] {
  const waiting = new Set<string>();
  const levels: { at: number; pending: number }[] = [];
  for (const event of jobEvents(events)) {
    if (event.payload.queue !== queue) continue;
    if (event.name === 'job:created') waiting.add(event.payload.job_id);
    else waiting.delete(event.payload.job_id);
    levels.push({ at: event.at, pending: waiting.size });
  }
  return levels;
}

describe('the scenario', () => {
  it('gives exactly the same events for the same seed — ids, payloads, order, times — however it is stepped', () => {
    const once = run({ seed: 'replay-me' }, TEN_MINUTES);
    // As the driver takes it: 50 ms at a time.
    const stepped = run({ seed: 'replay-me' }, TEN_MINUTES, 50);
    expect(once.length).toBeGreaterThan(10_000);
    expectSameEvents(stepped, once);
    // And at a load generator's rate, a minute of it.
    expectSameEvents(run({ seed: 'replay-me', rate: 2000 }, 60_000, 50), run({ seed: 'replay-me', rate: 2000 }, 60_000));
  });

  it('gives other events, and never the same job or event id, for another seed', () => {
    const a = run({ seed: 'a' }, 120_000);
    const b = run({ seed: 'b' }, 120_000);
    expect(b).not.toEqual(a);
    const ids = (events: SimEvent[]) => new Set(events.flatMap((e) => [e.id, ...('job_id' in e.payload ? [e.payload.job_id] : [])]));
    const inB = ids(b);
    const shared = [...ids(a)].filter((id) => inB.has(id));
    expect(shared).toEqual([]);
  });

  it('emits only events the api takes: every one valid against the contract, ids unique', () => {
    const events = run({ seed: 'valid', speed: 6 }, TEN_MINUTES);
    const invalid = events
      .map((e) => ({ id: e.id, result: eventEnvelope.safeParse({ id: e.id, name: e.name, payload: e.payload, source: 'simulator' }) }))
      .filter(({ result }) => !result.success)
      .map(({ id, result }) => `${id}: ${result.error!.message}`);
    expect(invalid).toEqual([]);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.map((e) => e.at)).toEqual([...events.map((e) => e.at)].sort((x, y) => x - y));
  });

  it('keeps to the asked rate: 20 events/s over ten minutes, 2,000 over one', () => {
    expect(Math.abs(run({ seed: 'rate' }, TEN_MINUTES).length / 600 - 20)).toBeLessThan(1.5);
    const perSecond = run({ seed: 'rate', rate: 2000 }, 60_000).length / 60;
    expect(Math.abs(perSecond - 2000) / 2000).toBeLessThan(0.03);
  });

  it('runs the pipeline: each run through the 11 agents in stage order, the next step only once the one before completed', () => {
    const events = jobEvents(run({ seed: 'pipeline' }, TEN_MINUTES));
    const runs = new Map<string, { stage: number; name: string }[]>();
    for (const event of events) {
      const match = /^(.+-r\d+)-(\d\d)$/.exec(event.payload.job_id);
      if (!match) continue;
      expect(event.payload).toMatchObject({ queue: 'pipeline', type: 'agent.step', agent: PIPELINE_AGENTS[Number(match[2]) - 1]!.name, user_id: expect.stringMatching(/^auth0\|[0-9a-f]{24}$/) });
      runs.set(match[1]!, [...(runs.get(match[1]!) ?? []), { stage: Number(match[2]), name: event.name }]);
    }
    let complete = 0;
    for (const steps of runs.values()) {
      for (let i = 1; i < steps.length; i += 1) {
        if (steps[i]!.stage !== steps[i - 1]!.stage) {
          expect(steps[i]!.stage).toBe(steps[i - 1]!.stage + 1);
          expect(steps[i - 1]!.name).toBe('job:completed');
          expect(steps[i]!.name).toBe('job:created');
        }
      }
      if (steps[0]!.stage === 1 && steps.some((s) => s.stage === 11 && s.name === 'job:completed')) complete += 1;
    }
    expect(complete).toBeGreaterThan(20);
    const completedBy = new Set(events.filter((e) => e.name === 'job:completed').map((e) => e.payload.agent));
    expect(PIPELINE_AGENTS.every((agent) => completedBy.has(agent.name))).toBe(true);
  });

  it('reports progress for per-user jobs only, and fails and retries as a platform does: the same job id, the next attempt', () => {
    const events = jobEvents(run({ seed: 'failures' }, TEN_MINUTES));
    const progress = events.filter((e) => e.name === 'job:processing' && e.payload.progress !== undefined && e.payload.progress > 0);
    expect(progress.length).toBeGreaterThan(100);
    expect(progress.every((e) => e.payload.user_id?.startsWith('auth0|') && e.payload.progress! < 100)).toBe(true);
    expect(events.filter((e) => e.payload.progress !== undefined).every((e) => e.payload.user_id !== undefined)).toBe(true);

    const failed = events.filter((e) => e.name === 'job:failed');
    expect(failed.length).toBeGreaterThan(10);
    expect(failed.every((e) => e.payload.error && e.payload.worker_id && e.payload.duration_ms !== undefined)).toBe(true);
    // Retried: a job:created of the next attempt after the failure, for the same job.
    const retried = failed.filter((f) => events.some((e) => e.at >= f.at && e.name === 'job:created' && e.payload.job_id === f.payload.job_id && e.payload.attempt === f.payload.attempt! + 1));
    expect(retried.length).toBeGreaterThan(0);
    expect(Math.max(...events.map((e) => e.payload.attempt!))).toBeLessThanOrEqual(MAX_ATTEMPTS);
  });

  it('crashes a worker now and then: its heartbeats stop past their ttl_s, its jobs stall and are retried, and it comes back', () => {
    const events = run({ seed: 'crash' }, TEN_MINUTES);
    const beats = new Map<string, { at: number; ttl: number }[]>();
    for (const e of events) if (e.name === 'worker:heartbeat') beats.set(e.payload.worker_id, [...(beats.get(e.payload.worker_id) ?? []), { at: e.at, ttl: e.payload.ttl_s! }]);
    expect([...beats.keys()].sort()).toEqual(['sim-comms-1', 'sim-general-1', 'sim-general-2', 'sim-pipeline-1', 'sim-pipeline-2', 'sim-pipeline-3', 'sim-reports-1', 'sim-reports-2']);
    const outages = [...beats].flatMap(([worker, list]) =>
      list.slice(1).flatMap((beat, i) => (beat.at - list[i]!.at > list[i]!.ttl * 1000 ? [{ worker, from: list[i]!.at, to: beat.at }] : [])),
    );
    expect(outages.length).toBeGreaterThan(0);
    for (const { worker, from, to } of outages) {
      // Once it is down (it crashed within a heartbeat period of its last beat), all that is heard
      // of it is its jobs given up on.
      const down = from + WORKER_TIMING.heartbeatMs * 1.05;
      const meanwhile = events.filter((e) => e.at > down && e.at < to && 'worker_id' in e.payload && e.payload.worker_id === worker);
      expect(meanwhile.map((e) => `${e.name} ${e.name === 'job:failed' ? e.payload.error : ''}`)).toEqual(meanwhile.map(() => `job:failed Stalled: worker ${worker} stopped renewing the job's lock`));
    }
    expect(events.some((e) => e.name === 'job:failed' && e.payload.error!.startsWith('Stalled: worker '))).toBe(true);
  });

  it(`backs reports up past its threshold (${BACKLOG.threshold}, as the reference dataset's queues table has it) and drains it`, () => {
    expect(BACKLOG.threshold).toBe(QUEUE_PROFILES[BACKLOG.kind.queue as keyof typeof QUEUE_PROFILES].pendingThreshold);
    for (const rate of [20, 2000]) {
      const levels = pendingOver(run({ seed: 'backlog', rate }, rate === 20 ? TEN_MINUTES : 120_000), 'reports');
      const peak = levels.findIndex((l) => l.pending > BACKLOG.threshold);
      expect(peak).toBeGreaterThan(-1);
      expect(levels.slice(peak).some((l) => l.pending === 0)).toBe(true);
    }
    // The broker's view says so too.
    const stats = run({ seed: 'backlog' }, 120_000).filter((e) => e.name === 'queue:stats' && e.payload.queue === 'reports');
    expect(Math.max(...stats.map((e) => (e.name === 'queue:stats' ? e.payload.pending : 0)))).toBeGreaterThan(BACKLOG.threshold);
  });

  it('shows it all within the first two minutes of the default demo: every agent within 30 s, a failure, a threshold crossed, a crash', () => {
    for (const seed of ['demo-1', 'demo-2', 'demo-3']) {
      const events = run({ seed }, 120_000);
      const first = (check: (e: SimEvent) => boolean) => events.find(check)?.at ?? Infinity;
      for (const agent of PIPELINE_AGENTS) expect(first((e) => e.name === 'job:processing' && e.payload.agent === agent.name)).toBeLessThan(30_000);
      expect(first((e) => e.name === 'job:failed')).toBeLessThan(60_000);
      expect(pendingOver(events, 'reports').find((l) => l.pending > BACKLOG.threshold)?.at).toBeLessThan(60_000);
      // The first crash, 70–110 s in (the SSOT announces the worker offline once its ttl_s lapses).
      const scenario = new Scenario({ ...DEFAULTS, seed });
      let crashedAt = Infinity;
      for (let t = 0; t <= 120_000 && crashedAt === Infinity; t += 1000) {
        scenario.take(t);
        if (scenario.status().workersCrashed > 0) crashedAt = t;
      }
      expect(crashedAt).toBeLessThanOrEqual(110_000);
    }
  });
});

describe('commands', () => {
  /** A scenario run to `at`, and its events so far. */
  function at(ms: number, options: Partial<ScenarioOptions> = {}) {
    const scenario = new Scenario({ ...DEFAULTS, seed: 'commands', ...options });
    return { scenario, events: scenario.take(ms) };
  }

  it('retry: a job failed for good is queued again with its next attempt, and a pipeline run goes on from there', () => {
    const { scenario, events } = at(TEN_MINUTES);
    const last = new Map(jobEvents(events).map((e) => [e.payload.job_id, e]));
    const steps = [...last.values()].filter((e) => e.name === 'job:failed' && e.payload.agent && e.payload.agent !== 'publisher');
    expect(steps.length).toBeGreaterThan(3);
    steps.forEach((step, i) => {
      const { outcome, events: now } = scenario.command(`c-retry-${i}`, 'retry', step.payload.job_id, TEN_MINUTES);
      expect(outcome).toEqual({ ok: true });
      expect(now.find((e) => e.name === 'job:created' && e.payload.job_id === step.payload.job_id)?.payload).toMatchObject({ attempt: step.payload.attempt! + 1, agent: step.payload.agent });
    });
    // The same command delivered again: the same answer, nothing more.
    expect(scenario.command('c-retry-0', 'retry', steps[0]!.payload.job_id, TEN_MINUTES)).toEqual({ outcome: { ok: true }, events: [] });
    const later = jobEvents(scenario.take(2 * TEN_MINUTES));
    const completed = steps.filter((step) => later.some((e) => e.name === 'job:completed' && e.payload.job_id === step.payload.job_id));
    expect(completed.length).toBeGreaterThan(0);
    for (const step of completed) {
      const stage = Number(step.payload.job_id.slice(-2));
      const next = `${step.payload.job_id.slice(0, -2)}${String(stage + 1).padStart(2, '0')}`;
      expect(later.some((e) => e.name === 'job:created' && e.payload.job_id === next && e.payload.user_id === step.payload.user_id)).toBe(true);
    }
  });

  it('cancel: a pending job leaves its queue, a processing one its worker; both end as job:cancelled', () => {
    // Half a minute after the first backlog: digests still wait, others run.
    const { scenario, events } = at(50_000);
    const jobs = jobEvents(events);
    const last = new Map(jobs.map((e) => [e.payload.job_id, e]));
    const pending = [...last.values()].find((e) => e.name === 'job:created' && e.payload.queue === 'reports')!;
    const processing = [...last.values()].find((e) => e.name === 'job:processing' && e.payload.queue === 'pipeline')!;
    for (const [job, id] of [
      [pending, 'c-pending'],
      [processing, 'c-processing'],
    ] as const) {
      const { outcome, events: now } = scenario.command(id, 'cancel', job.payload.job_id, 50_000);
      expect(outcome).toEqual({ ok: true });
      expect(now.at(-1)).toMatchObject({ name: 'job:cancelled', payload: { job_id: job.payload.job_id, reason: 'cancelled by admin', attempt: job.payload.attempt } });
    }
    const after = jobEvents(scenario.take(TEN_MINUTES));
    expect(after.filter((e) => e.payload.job_id === pending.payload.job_id || e.payload.job_id === processing.payload.job_id)).toEqual([]);
  });

  it('refuses, with the reason, what it cannot do (an unknown job, a cancel of a failed one); a retry of a job already running again is done', () => {
    const { scenario, events } = at(TEN_MINUTES);
    const last = new Map(jobEvents(events).map((e) => [e.payload.job_id, e]));
    const failed = [...last.values()].find((e) => e.name === 'job:failed')!;
    const running = [...last.values()].find((e) => e.name === 'job:processing')!;
    expect(scenario.command('c1', 'retry', 'not-ours', TEN_MINUTES).outcome).toEqual({ ok: false, error: expect.stringContaining("no failed job 'not-ours'") });
    expect(scenario.command('c2', 'cancel', 'not-ours', TEN_MINUTES).outcome).toEqual({ ok: false, error: expect.stringContaining("no pending or processing job 'not-ours'") });
    expect(scenario.command('c3', 'cancel', failed.payload.job_id, TEN_MINUTES).outcome).toEqual({ ok: false, error: expect.stringContaining('has failed; only pending or processing jobs can be cancelled') });
    expect(scenario.command('c4', 'retry', running.payload.job_id, TEN_MINUTES)).toEqual({ outcome: { ok: true }, events: [] });
  });

  it('on stopping, cancels what is unfinished and takes its workers offline, then emits nothing more', () => {
    const { scenario, events } = at(50_000);
    const last = new Map(jobEvents(events).map((e) => [e.payload.job_id, e]));
    const unfinished = [...last.values()].filter((e) => e.name === 'job:created' || e.name === 'job:processing').map((e) => e.payload.job_id);
    const final = scenario.stop(50_000);
    expect(final.filter((e) => e.name === 'job:cancelled').map((e) => (e.name === 'job:cancelled' ? e.payload.job_id : '')).sort()).toEqual(unfinished.sort());
    expect(final.filter((e) => e.name === 'worker:offline')).toHaveLength(DEFAULTS.workers - scenario.status().workersCrashed);
    expect(scenario.take(TEN_MINUTES)).toEqual([]);
    expect(scenario.command('late', 'retry', unfinished[0]!, TEN_MINUTES).outcome).toEqual({ ok: false, error: 'the simulator is stopping' });
  });
});
