import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CeleryEvent } from '../src/celery-event';
import { parseMessage } from '../src/envelope';
import { type SsotEvent, Translator, type TranslatorOptions } from '../src/translate';

/** A real session (test/fixtures/README): 5 tasks on w1@vm, two of them retried once, one revoked. */
const recorded: CeleryEvent[] = readFileSync(join(__dirname, 'fixtures', 'recorded-events.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .flatMap((line) => parseMessage((JSON.parse(line) as { message: string }).message).events);

const TASKS = {
  work: '83014908-df25-44ea-bbb0-a3d55b4dd6e9',
  failing: '00abf758-869b-4ab0-b1bf-5f19fc046d08',
  flaky: '6c414301-fbdc-4cb8-8d7e-a3a7c502a863',
  gaveUp: '47625f63-1692-4f94-a299-9003616a21ea',
  long: '7b19e85c-675e-41dd-a1d7-68959bd5e609',
};
const LAST_TIMESTAMP_MS = Math.max(...recorded.map((e) => e.timestamp * 1000));

function translator(options: Partial<TranslatorOptions> = {}, clock = { now: LAST_TIMESTAMP_MS + 1000 }) {
  return new Translator({
    agentMap: { 'pipeline.work': 'planner', 'pipeline.*': 'reviewer' },
    defaultQueue: 'celery',
    sentWaitMs: 500,
    tracebackChars: 2000,
    maxTrackedTasks: 1000,
    now: () => clock.now,
    ...options,
  });
}

function run(t: Translator, events: readonly CeleryEvent[]): SsotEvent[] {
  return [...events.flatMap((e) => t.translate(e)), ...t.drain()];
}

/** One job's events as `name@attempt`, in the order posted. */
function story(events: readonly SsotEvent[], job: string): string[] {
  return events
    .filter((e) => 'job_id' in e.payload && e.payload.job_id === job)
    .map((e) => `${e.name}@${'attempt' in e.payload ? (e.payload.attempt ?? '-') : '-'}`);
}

function payloadOf(events: readonly SsotEvent[], job: string, name: string): Record<string, unknown> {
  const found = events.find((e) => e.name === name && 'job_id' in e.payload && e.payload.job_id === job);
  if (!found) throw new Error(`no ${name} for ${job}`);
  return found.payload as Record<string, unknown>;
}

describe('Celery events → SSOT events', () => {
  const out = run(translator(), recorded);

  it('tells each task its story, one creation per run, the retried runs counted as attempts', () => {
    expect(story(out, TASKS.work)).toEqual(['job:created@1', 'job:processing@1', 'job:completed@1']);
    expect(story(out, TASKS.failing)).toEqual(['job:created@1', 'job:processing@1', 'job:failed@1']);
    // As recorded: run 2's task-sent (from the pool process that ran run 1) overtakes the
    // worker's own task-started of run 1; its task-received and run 1's task-retried announce
    // run 2 again and make nothing.
    expect(story(out, TASKS.flaky)).toEqual(['job:created@1', 'job:created@2', 'job:processing@1', 'job:processing@2', 'job:completed@2']);
    expect(story(out, TASKS.gaveUp)).toEqual(['job:created@1', 'job:processing@1', 'job:created@2', 'job:processing@2', 'job:failed@2']);
    expect(story(out, TASKS.long)).toEqual(['job:created@1', 'job:processing@1', 'job:cancelled@1']);
  });

  it("puts a retried job back to pending with task-retried when the next run's own events have not come first", () => {
    const t = translator();
    const events = recorded.filter((e) => 'uuid' in e && e.uuid === TASKS.gaveUp);
    // Without the pool process's task-sent (a client without task_send_sent_event), and the next
    // run's task-received after task-retried: task-retried is what announces run 2.
    const worker = events.filter((e) => !(e.type === 'task-sent' && e.retries === 1));
    const received2 = worker.findIndex((e) => e.type === 'task-received' && e.retries === 1);
    const retried = worker.findIndex((e) => e.type === 'task-retried');
    const reordered = [...worker];
    // Taken out first, so `retried` is now the index right after task-retried.
    reordered.splice(retried, 0, ...reordered.splice(received2, 1));
    expect(reordered.map((e) => e.type).slice(retried - 1, retried + 2)).toEqual(['task-retried', 'task-received', 'task-started']);
    const posted = run(t, reordered);
    expect(story(posted, TASKS.gaveUp)).toEqual(['job:created@1', 'job:processing@1', 'job:created@2', 'job:processing@2', 'job:failed@2']);
    expect(posted.find((e) => e.name === 'job:created' && (e.payload as { attempt?: number }).attempt === 2)!.id).toMatch(/:task-retried:/);
  });

  it('names queue, type, agent and worker from what the task-sent and the worker said', () => {
    expect(payloadOf(out, TASKS.failing, 'job:processing')).toEqual({ job_id: TASKS.failing, queue: 'reports', type: 'pipeline.work', agent: 'planner', worker_id: 'w1@vm', attempt: 1 });
    expect(payloadOf(out, TASKS.flaky, 'job:created')).toEqual({ job_id: TASKS.flaky, queue: 'celery', type: 'pipeline.flaky', agent: 'reviewer', attempt: 1 });
  });

  it("takes a success's duration from its runtime, a failure's from its start, and keeps the exception with the traceback's end", () => {
    expect(payloadOf(out, TASKS.work, 'job:completed').duration_ms).toBe(9); // runtime 0.009288…
    const failed = payloadOf(out, TASKS.failing, 'job:failed');
    expect(failed.duration_ms).toBe(11); // 1796289591.2627723 - 1796289591.2518058
    expect(String(failed.error).split('\n')[0]).toBe("Failure('failed on purpose after 3 ms')");
    expect(String(failed.error)).toMatch(/bridge_app\.Failure: failed on purpose after 3 ms\n?$/);
    const short = run(translator({ tracebackChars: 40 }), recorded);
    const cut = String(payloadOf(short, TASKS.failing, 'job:failed').error);
    expect(cut.split('\n')[0]).toBe("Failure('failed on purpose after 3 ms')");
    expect(cut.slice(cut.indexOf('\n') + 1)).toHaveLength(41); // '…' and the last 40
  });

  it('says why a job was cancelled', () => {
    expect(payloadOf(out, TASKS.long, 'job:cancelled')).toMatchObject({ reason: 'revoked and terminated (signal 15)', worker_id: 'w1@vm', attempt: 1 });
  });

  it('turns worker events into heartbeats vouching for three periods, and offline', () => {
    const workers = out.filter((e) => e.name.startsWith('worker:'));
    expect(workers[0]).toMatchObject({ name: 'worker:heartbeat', payload: { worker_id: 'w1@vm', hostname: 'w1@vm', queues: [], active_jobs: 0, concurrency: 1, ttl_s: 6 } });
    expect(workers.at(-1)).toMatchObject({ name: 'worker:offline', payload: { worker_id: 'w1@vm' } });
    expect(workers.filter((e) => e.name === 'worker:offline')).toHaveLength(1);
  });

  it("reports a worker's queues and concurrency once inspect told them", () => {
    const t = translator();
    t.translate(recorded[0]!);
    t.setWorkerInfo('w1@vm', { queues: ['celery', 'reports'], concurrency: 2 });
    expect(t.translate(recorded[1]!)[0]!.payload).toMatchObject({ queues: ['celery', 'reports'], concurrency: 2 });
  });

  it('gives every event its own id, the same on every run (a second bridge posts the same ids)', () => {
    const ids = out.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(run(translator(), recorded).map((e) => e.id)).toEqual(ids);
    expect(ids).toContain(`celery:${TASKS.work}:task-succeeded:1796289591.2601924`);
  });

  it("dates events by Celery's timestamp, in UTC whatever the sender's utcoffset", () => {
    const started = recorded.find((e) => e.type === 'task-started' && e.uuid === TASKS.work)!;
    const t = translator();
    const [plain] = run(t, [{ ...started, uuid: 'zone-0' }]);
    const [shifted] = run(t, [{ ...started, uuid: 'zone-minus-5', utcoffset: -5 }]);
    expect(plain!.occurredAt).toBe(new Date(Math.round(started.timestamp * 1000)).toISOString());
    expect(shifted!.occurredAt).toBe(plain!.occurredAt);
  });

  it('dates an event from a clock far ahead by when it was read, and says so', () => {
    let ahead = 0;
    const clock = { now: LAST_TIMESTAMP_MS };
    const t = translator({ observer: { onClockAhead: () => (ahead += 1) } }, clock);
    const started = recorded.find((e) => e.type === 'task-started')!;
    const [event] = run(t, [{ ...started, timestamp: clock.now / 1000 + 3600 }]);
    expect(event!.occurredAt).toBe(new Date(clock.now).toISOString());
    expect(ahead).toBe(1);
  });
});

describe('tasks whose queue is not known yet', () => {
  const sent = recorded.find((e) => e.type === 'task-sent' && e.uuid === TASKS.failing)!;
  const received = recorded.find((e) => e.type === 'task-received' && e.uuid === TASKS.failing)!;
  const started = recorded.find((e) => e.type === 'task-started' && e.uuid === TASKS.failing)!;
  const otherSent = recorded.find((e) => e.type === 'task-sent' && e.uuid === TASKS.work)!;

  it("holds a task's events until its task-sent names the queue, then posts the creation first", () => {
    const t = translator();
    t.translate(otherSent); // the cluster's clients send task-sent
    expect(t.translate(received)).toEqual([]);
    expect(t.translate(started)).toEqual([]);
    expect(t.held).toBe(1);
    const released = t.translate(sent);
    // The worker's task-received made the creation; the late task-sent named its queue.
    expect(released.map((e) => `${e.name}:${(e.payload as { queue: string }).queue}`)).toEqual(['job:created:reports', 'job:processing:reports']);
    expect(released[0]!.id).toBe(`celery:${TASKS.failing}:task-received:${received.timestamp}`);
    expect(t.held).toBe(0);
  });

  it('posts them with the first configured queue once the wait is over', () => {
    const clock = { now: LAST_TIMESTAMP_MS };
    const t = translator({ defaultQueue: 'fallback' }, clock);
    t.translate(otherSent);
    t.translate(received);
    clock.now += 499;
    expect(t.expire()).toEqual([]);
    clock.now += 1;
    expect(t.expire().map((e) => (e.payload as { queue: string }).queue)).toEqual(['fallback']);
    // Known from now on: later events go at once.
    expect(t.translate(started).map((e) => e.name)).toEqual(['job:processing']);
  });

  it('waits for nothing when no task-sent was ever seen, or the worker consumes one queue', () => {
    const alone = translator({ defaultQueue: 'fallback' });
    expect(alone.translate(received).map((e) => (e.payload as { queue: string }).queue)).toEqual(['fallback']);
    const known = translator();
    known.translate(recorded[0]!); // worker-online of w1@vm
    known.setWorkerInfo('w1@vm', { queues: ['only-one'] });
    known.translate(otherSent);
    expect(known.translate(received).map((e) => (e.payload as { queue: string }).queue)).toEqual(['only-one']);
  });

  it("counts a task first seen mid-way, and posts it as 'unknown' in the first queue", () => {
    let late = 0;
    const t = translator({ observer: { onJoinedLate: () => (late += 1) } });
    expect(t.translate(started).map((e) => e.payload)).toEqual([{ job_id: TASKS.failing, queue: 'celery', type: 'unknown', worker_id: 'w1@vm' }]);
    expect(late).toBe(1);
  });

  it('forgets the oldest tasks past its bound', () => {
    const t = translator({ maxTrackedTasks: 2 });
    for (const uuid of ['t1', 't2', 't3']) t.translate({ ...otherSent, uuid });
    expect(t.tracked).toBe(2);
  });
});

describe('what the translator can tell it missed', () => {
  it("counts skipped ticks of a sender's clock and heartbeats not seen", () => {
    const counts = { skipped: 0, missed: 0 };
    const t = translator({ observer: { onClockSkipped: (n) => (counts.skipped += n), onHeartbeatsMissed: (n) => (counts.missed += n) } });
    const beat = recorded.find((e) => e.type === 'worker-heartbeat')!;
    t.translate({ ...beat, clock: 100, timestamp: 1000 });
    t.translate({ ...beat, clock: 101, timestamp: 1002 });
    t.translate({ ...beat, clock: 110, timestamp: 1010 }); // 8 ticks, and 3 heartbeats (freq 2) not seen
    expect(counts).toEqual({ skipped: 8, missed: 3 });
  });

  it('hashes an id that would be longer than 200 characters', () => {
    const sent = recorded.find((e) => e.type === 'task-sent')!;
    const [event] = translator().translate({ ...sent, uuid: 'x'.repeat(200) });
    expect(event!.id).toMatch(/^celery:sha256:[0-9a-f]{64}$/);
    expect(event!.payload).toMatchObject({ job_id: 'x'.repeat(200) });
  });
});
