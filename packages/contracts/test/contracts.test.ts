import {
  EVENT_DISPATCH_CONFIG,
  EVENT_NAMES,
  eventEnvelope,
  redisKeys,
  roomsFor,
  SECTION_NAMES,
  snapshot,
} from '@agentos/contracts';

describe('redisKeys', () => {
  it('spells the snapshot key exactly as the contract says without a namespace', () => {
    expect(redisKeys('').snapshot).toBe('admin:dashboard:v4');
    expect(redisKeys().versionChannel).toBe('ssot:version');
  });

  it('prefixes every key and channel with the namespace', () => {
    const keys = redisKeys('t1');
    for (const [name, value] of Object.entries(keys)) {
      if (name === 'namespace') continue;
      const key = typeof value === 'function' ? value('w1') : value;
      expect(key).toMatch(/^t1:/);
    }
    expect(keys.snapshot).toBe('t1:admin:dashboard:v4');
    expect(keys.workerLive('abc')).toBe('t1:workers:live:abc');
  });
});

describe('dispatch table', () => {
  it('has a rule for every event name and only those', () => {
    expect(Object.keys(EVENT_DISPATCH_CONFIG).sort()).toEqual([...EVENT_NAMES].sort());
  });

  it('names only real snapshot sections', () => {
    for (const rule of Object.values(EVENT_DISPATCH_CONFIG)) {
      for (const section of rule.sections) expect(SECTION_NAMES).toContain(section);
    }
  });

  it('keeps the seed priorities, actions and heartbeat TTL', () => {
    expect(EVENT_DISPATCH_CONFIG['job:failed'].priority).toBe('critical');
    expect(EVENT_DISPATCH_CONFIG['worker:offline'].actions).toEqual(['check_minimum_workers', 'alert_ops']);
    expect(EVENT_DISPATCH_CONFIG['worker:heartbeat'].ttl).toBe(120);
    expect(EVENT_DISPATCH_CONFIG['system:health_check'].websocket.rooms).toEqual(['monitoring']);
  });

  it('fills user:{user_id} from the payload and drops it when absent', () => {
    const rule = EVENT_DISPATCH_CONFIG['job:processing'];
    expect(roomsFor(rule, { user_id: 'u-1' })).toEqual(['admin', 'user:u-1']);
    expect(roomsFor(rule, {})).toEqual(['admin']);
  });
});

describe('event envelope', () => {
  const job = { job_id: '0b6f8f5e-3f4c-4b8e-9d7a-1c2e3f4a5b6c', queue: 'default', type: 'render' };

  it('accepts each event with its payload', () => {
    expect(eventEnvelope.safeParse({ name: 'job:created', payload: job }).success).toBe(true);
    expect(
      eventEnvelope.safeParse({
        name: 'worker:heartbeat',
        payload: { worker_id: job.job_id, queues: ['default'], active_jobs: 1, concurrency: 4 },
      }).success,
    ).toBe(true);
  });

  it('refuses unknown names, missing fields and wrong types', () => {
    expect(eventEnvelope.safeParse({ name: 'job:exploded', payload: job }).success).toBe(false);
    expect(eventEnvelope.safeParse({ name: 'job:created', payload: { queue: 'q', type: 't' } }).success).toBe(false);
    expect(eventEnvelope.safeParse({ name: 'job:created', payload: { ...job, progress: 101 } }).success).toBe(false);
    expect(eventEnvelope.safeParse({ name: 'job:created', payload: { ...job, job_id: 'no pe' } }).success).toBe(false);
  });
});

describe('snapshot schema', () => {
  it('requires every section', () => {
    const result = snapshot.safeParse({ meta: { version: 1, generated_at: new Date().toISOString(), build_ms: 1, stale: false, errors: {} } });
    expect(result.success).toBe(false);
    const missing = result.error!.issues.map((issue) => issue.path[0]);
    expect(missing.sort()).toEqual([...SECTION_NAMES].sort());
  });
});
