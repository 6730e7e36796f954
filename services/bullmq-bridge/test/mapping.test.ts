import { decodeState, encodeState, factsNeeded, type JobFacts, type JobState, type MapOptions, mapEntry, type StreamEntry } from '../src/mapping';
import { compareEntryIds, parseSsotJobId, ssotJobId, streamEventId } from '../src/ids';
import { parseWorkerList, workerIdOf } from '../src/workers';

const options: MapOptions = { queue: 'emails', userIdField: ['user_id'], agentField: ['meta', 'agent'] };

let seq = 0;
function entry(event: string, jobId: string, fields: Record<string, string> = {}, at = 1_800_000_000_000 + seq): StreamEntry {
  seq += 1;
  return { id: `${at}-${seq}`, fields: { event, jobId, ...fields } };
}

/** Folds entries of one job as the reader does; returns the SSOT events and the last state. */
function replay(entries: StreamEntry[], facts: JobFacts | null, start?: JobState) {
  let state = start;
  const events = [];
  for (const e of entries) {
    const mapped = mapEntry(e, state, facts, options);
    if (mapped.state !== undefined) state = mapped.state ?? undefined;
    if (mapped.event) events.push(mapped.event);
  }
  return { events, state };
}

const facts: JobFacts = { name: 'send', data: JSON.stringify({ user_id: 'auth0|5f3a', meta: { agent: 'writer' } }), attemptsMade: 0 };

describe('mapEntry: one job through BullMQ', () => {
  it('added → active → progress → completed gives created, processing, processing 40, completed with BullMQ duration', () => {
    const { events, state } = replay(
      [
        entry('added', '42', { name: 'send' }),
        entry('waiting', '42'),
        entry('active', '42', { prev: 'waiting' }),
        entry('progress', '42', { data: '40' }),
        entry('completed', '42', { returnvalue: '"ok"', prev: 'active' }),
      ],
      { ...facts, processedBy: 'host-1', processedOn: 1000, finishedOn: 1250 },
    );
    const common = { job_id: 'emails:42', queue: 'emails', type: 'send', user_id: 'auth0|5f3a', agent: 'writer', attempt: 1 };
    expect(events).toEqual([
      { name: 'job:created', payload: common },
      { name: 'job:processing', payload: { ...common, worker_id: 'host-1' } },
      { name: 'job:processing', payload: { ...common, progress: 40 } },
      { name: 'job:completed', payload: { ...common, worker_id: 'host-1', duration_ms: 250 } },
    ]);
    expect(state).toEqual({ attempt: 1, phase: 'finished', type: 'send', user_id: 'auth0|5f3a', agent: 'writer' });
  });

  it('a BullMQ retry (waiting after active) restarts the job on attempt 2, and its final failure carries the reason', () => {
    const { events } = replay(
      [
        entry('added', '7', { name: 'send' }),
        entry('active', '7', { prev: 'waiting' }),
        entry('waiting', '7', { prev: 'active' }),
        entry('active', '7', { prev: 'waiting' }),
        entry('failed', '7', { failedReason: 'smtp down', prev: 'active' }),
      ],
      facts,
    );
    expect(events.map((e) => [e.name, e.payload.attempt])).toEqual([
      ['job:created', 1],
      ['job:processing', 1],
      ['job:created', 2],
      ['job:processing', 2],
      ['job:failed', 2],
    ]);
    expect(events[4]!.payload.error).toBe('smtp down');
  });

  it('a retry with backoff (delayed after active) restarts too; a delayed job not yet run does not', () => {
    const { events } = replay(
      [
        entry('added', '8', { name: 'send' }),
        entry('delayed', '8', { delay: '1800000000500' }),
        entry('waiting', '8', { prev: 'delayed' }),
        entry('active', '8', { prev: 'waiting' }),
        entry('delayed', '8', { delay: '1800000009000' }),
        entry('waiting', '8', { prev: 'delayed' }),
      ],
      facts,
    );
    expect(events.map((e) => [e.name, e.payload.attempt])).toEqual([
      ['job:created', 1],
      ['job:processing', 1],
      ['job:created', 2],
    ]);
  });

  it('job.retry() of a failed job (waiting, prev failed) starts the next attempt', () => {
    const start: JobState = { attempt: 3, phase: 'finished', type: 'send' };
    const { events, state } = replay([entry('waiting', '9', { prev: 'failed' }), entry('active', '9', { prev: 'waiting' })], facts, start);
    expect(events.map((e) => [e.name, e.payload.attempt])).toEqual([
      ['job:created', 4],
      ['job:processing', 4],
    ]);
    expect(state?.phase).toBe('active');
  });

  it('removing a waiting job cancels it and forgets it; removing a finished one keeps its history', () => {
    const waiting = mapEntry(entry('removed', '10', { prev: 'wait' }), { attempt: 1, phase: 'waiting', type: 'send' }, null, options);
    expect(waiting).toEqual({
      event: { name: 'job:cancelled', payload: { job_id: 'emails:10', queue: 'emails', type: 'send', attempt: 1, reason: 'removed from BullMQ while wait' } },
      state: null,
    });
    const finished = mapEntry(entry('removed', '11', { prev: 'completed' }), { attempt: 1, phase: 'finished', type: 'send' }, null, options);
    expect(finished).toEqual({ event: null, state: null });
  });

  it('progress that is not a number says processing without a percentage; progress of a job not running says nothing', () => {
    const running: JobState = { attempt: 1, phase: 'active', type: 'send' };
    expect(mapEntry(entry('progress', '12', { data: '{"step":"render"}' }), running, null, options).event?.payload).not.toHaveProperty('progress');
    expect(mapEntry(entry('progress', '12', { data: '250' }), running, null, options).event?.payload.progress).toBe(100);
    expect(mapEntry(entry('progress', '12', { data: '5' }), { ...running, phase: 'finished' }, null, options)).toEqual({ event: null, state: undefined });
  });

  it('a job first seen mid-life (its added entry trimmed) takes its run count and identity from its hash', () => {
    // Two runs counted before this entry: it finishes the third.
    const mapped = mapEntry(entry('completed', '13', { prev: 'active' }), undefined, { ...facts, attemptsMade: 2, processedOn: 10, finishedOn: 30 }, options);
    expect(mapped.event).toEqual({
      name: 'job:completed',
      payload: { job_id: 'emails:13', queue: 'emails', type: 'send', user_id: 'auth0|5f3a', agent: 'writer', attempt: 3, duration_ms: 20 },
    });
    expect(mapped.state).toMatchObject({ attempt: 3, phase: 'finished' });
  });

  it('the duration falls back to the time since the run\'s active entry when the hash describes another run', () => {
    const running: JobState = { attempt: 2, phase: 'active', type: 'send', activeAt: 1_800_000_100_000 };
    const mapped = mapEntry(entry('completed', '14', {}, 1_800_000_100_450), running, { processedOn: 1_800_000_200_000 }, options);
    expect(mapped.event?.payload.duration_ms).toBe(450);
  });

  it('a user id the SSOT cannot take is left out; a job id it cannot take drops the event, not the state', () => {
    const odd = mapEntry(entry('added', '15', { name: 'send' }), undefined, { data: JSON.stringify({ user_id: 'has space' }) }, options);
    expect(odd.event?.payload).not.toHaveProperty('user_id');
    const numeric = mapEntry(entry('added', '16', { name: 'send' }), undefined, { data: JSON.stringify({ user_id: 12345 }) }, options);
    expect(numeric.event?.payload.user_id).toBe('12345');
    const spaced = mapEntry(entry('added', 'a b', { name: 'send' }), undefined, facts, options);
    expect(spaced).toMatchObject({ event: null, dropped: 'invalid_job_id', state: { attempt: 1, phase: 'waiting' } });
  });

  it('entries about no job, or that change nothing, map to nothing', () => {
    expect(mapEntry({ id: '1-0', fields: { event: 'drained' } }, undefined, null, options)).toEqual({ event: null, state: undefined });
    expect(mapEntry(entry('retries-exhausted', '17', { attemptsMade: '3' }), undefined, null, options)).toEqual({ event: null, state: undefined });
    expect(mapEntry(entry('stalled', '17'), { attempt: 1, phase: 'waiting', type: 'x' }, null, options)).toEqual({ event: null, state: undefined });
  });
});

describe('factsNeeded', () => {
  it('reads the whole hash for added and unknown jobs, the run fields for active and finishes, nothing otherwise', () => {
    expect(factsNeeded(entry('added', '1'), false)).toBe('all');
    expect(factsNeeded(entry('progress', '1'), false)).toBe('all');
    expect(factsNeeded(entry('completed', '1'), true)).toBe('run');
    expect(factsNeeded(entry('progress', '1'), true)).toBe('none');
    expect(factsNeeded(entry('removed', '1'), false)).toBe('none');
    expect(factsNeeded({ id: '1-0', fields: { event: 'drained' } }, false)).toBe('none');
  });
});

describe('states as stored', () => {
  it('round-trips, and anything unreadable counts as never seen', () => {
    const state: JobState = { attempt: 2, phase: 'active', type: 'send', user_id: 'u', agent: 'writer', activeAt: 5 };
    expect(decodeState(encodeState(state))).toEqual(state);
    expect(decodeState(encodeState({ attempt: 1, phase: 'waiting', type: 't' }))).toEqual({ attempt: 1, phase: 'waiting', type: 't' });
    expect(decodeState('not json')).toBeUndefined();
    expect(decodeState('[1,"x","t"]')).toBeUndefined();
  });
});

describe('ids', () => {
  it('scopes BullMQ job ids by queue and splits them back at the first colon', () => {
    expect(ssotJobId('emails', '42')).toBe('emails:42');
    expect(parseSsotJobId('emails:42')).toEqual({ queue: 'emails', jobId: '42' });
    expect(parseSsotJobId('emails:repeat:abc')).toEqual({ queue: 'emails', jobId: 'repeat:abc' });
    expect(parseSsotJobId('42')).toBeNull();
    expect(parseSsotJobId(':42')).toBeNull();
  });

  it('derives event ids from queue and entry, within 200 characters', () => {
    expect(streamEventId('emails', '1800000000000-3')).toBe('bullmq:emails:1800000000000-3');
    const long = streamEventId('q'.repeat(199), '1800000000000-3');
    expect(long.length).toBeLessThanOrEqual(200);
    expect(long).toBe(streamEventId('q'.repeat(199), '1800000000000-3'));
    expect(long).not.toBe(streamEventId('q'.repeat(198), '1800000000000-3'));
  });

  it('orders stream entry ids by time, then sequence', () => {
    expect(compareEntryIds('10-2', '9-5')).toBeGreaterThan(0);
    expect(compareEntryIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareEntryIds('0', '0-0')).toBe(0);
  });
});

describe('parseWorkerList', () => {
  const b64 = (name: string) => Buffer.from(name).toString('base64');
  const list = [
    `id=1 addr=10.0.0.5:40001 name=bull:${b64('emails')}:w:host-1 age=3`,
    `id=2 addr=10.0.0.6:40002 name=bull:${b64('emails')} age=3`,
    `id=3 addr=10.0.0.7:40003 name=bull:${b64('emails')}:qe age=3`,
    `id=4 addr=10.0.0.8:40004 name=other:${b64('emails')} age=3`,
    `id=5 addr=10.0.0.5:40005 name=bull:${b64('renders')}:w:host-1 age=3`,
    `id=6 addr=10.0.0.9:40006 name= age=3`,
  ].join('\n');

  it("finds the workers queue.getWorkers() finds: named and unnamed, not QueueEvents nor other prefixes", () => {
    const found = parseWorkerList(list, 'bull');
    expect(found).toEqual([
      { queue: 'emails', name: 'host-1', addr: '10.0.0.5:40001' },
      { queue: 'emails', addr: '10.0.0.6:40002' },
      { queue: 'renders', name: 'host-1', addr: '10.0.0.5:40005' },
    ]);
    expect(found.map(workerIdOf)).toEqual(['host-1', 'emails@10.0.0.6:40002', 'host-1']);
  });
});
