import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMessage } from '../src/envelope';

/** Messages as a real Celery 5.2 worker and client published them (test/fixtures/README). */
const recorded: { channel: string; message: string }[] = readFileSync(join(__dirname, 'fixtures', 'recorded-events.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line));

function envelope(body: unknown, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    body: Buffer.from(JSON.stringify(body)).toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: { hostname: 'w1@vm' },
    properties: { delivery_mode: 1, delivery_info: { exchange: 'celeryev', routing_key: 'task.multi' }, priority: 0, body_encoding: 'base64', delivery_tag: 'x' },
    ...overrides,
  });
}

const started = { hostname: 'w1@vm', utcoffset: 0, pid: 7, clock: 9, uuid: 'a-task', timestamp: 1796289591.251696, type: 'task-started' };

describe('kombu envelopes of Celery events', () => {
  it('reads every message of a recorded session, task.multi batches included, with nothing set aside', () => {
    const parsed = recorded.map((r) => parseMessage(r.message));
    expect(parsed.flatMap((p) => p.problems)).toEqual([]);
    expect(parsed.flatMap((p) => p.ignored)).toEqual([]);
    const types = parsed.flatMap((p) => p.events.map((e) => e.type));
    expect(types.filter((t) => t === 'task-sent')).toHaveLength(7);
    expect(types.filter((t) => t === 'task-received')).toHaveLength(7);
    expect(types.filter((t) => t === 'task-started')).toHaveLength(7);
    expect(types.filter((t) => t === 'task-succeeded')).toHaveLength(2);
    expect(types.filter((t) => t === 'task-failed')).toHaveLength(2);
    expect(types.filter((t) => t === 'task-retried')).toHaveLength(2);
    expect(types.filter((t) => t === 'task-revoked')).toHaveLength(1);
    expect(types.filter((t) => t.startsWith('worker-'))).toHaveLength(recorded.filter((r) => r.channel.includes('worker.')).length);
  });

  it('reads a batch of several events in order', () => {
    const second = { ...started, clock: 10, uuid: 'b-task' };
    expect(parseMessage(envelope([started, second])).events.map((e) => (e as { uuid: string }).uuid)).toEqual(['a-task', 'b-task']);
  });

  it('sets aside what is not a JSON kombu envelope, each with its reason, and never throws', () => {
    const cases: [string, string][] = [
      ['not json {', 'not_json'],
      ['[1,2]', 'not_an_envelope'],
      [JSON.stringify({ body: 42 }), 'not_an_envelope'],
      [envelope(started, { 'content-type': 'application/x-python-serialize' }), 'unsupported_content_type'],
      [envelope(started, { properties: { body_encoding: 'rot13' } }), 'bad_body_encoding'],
      [JSON.stringify({ body: Buffer.from('not json').toString('base64'), properties: { body_encoding: 'base64' } }), 'bad_body'],
      [envelope({ ...started, hostname: 'has a space' }), 'bad_event'],
      [envelope({ ...started, timestamp: 'yesterday' }), 'bad_event'],
      [envelope({ ...started, uuid: undefined }), 'bad_event'],
      [envelope({ ...started, type: 'task-succeeded', runtime: -1 }), 'bad_event'],
    ];
    for (const [message, reason] of cases) {
      const parsed = parseMessage(message);
      expect({ message, events: parsed.events, reasons: parsed.problems.map((p) => p.reason) }).toEqual({ message, events: [], reasons: [reason] });
    }
  });

  it('sets aside one bad event of a batch and keeps the others', () => {
    const parsed = parseMessage(envelope([started, { type: 'task-started' }, { ...started, uuid: 'c-task' }]));
    expect(parsed.events.map((e) => (e as { uuid: string }).uuid)).toEqual(['a-task', 'c-task']);
    expect(parsed.problems.map((p) => p.reason)).toEqual(['bad_event']);
  });

  it('counts events of types it does not map as ignored, not as bad', () => {
    const parsed = parseMessage(envelope([{ ...started, type: 'task-rejected', requeue: false }, { ...started, type: 'custom-thing' }]));
    expect(parsed).toEqual({ events: [], ignored: ['task-rejected', 'custom-thing'], problems: [] });
  });

  it('takes a body without base64 (body_encoding absent) as the JSON itself', () => {
    const parsed = parseMessage(JSON.stringify({ body: JSON.stringify(started), 'content-type': 'application/json', properties: {} }));
    expect(parsed.events).toHaveLength(1);
  });
});
