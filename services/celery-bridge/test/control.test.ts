import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMAND_EXPIRES_S, controlEnvelope, parseReply, revokeBody, workerInfoFrom } from '../src/control';
import { priorityLists } from '../src/queue-depth';

/** What Celery published for `app.control.revoke(id, terminate=True)`, captured with MONITOR. */
const recorded: { channel: string; message: string } = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'recorded-revoke.json'), 'utf8'));

function decode(message: string) {
  const envelope = JSON.parse(message);
  return { ...envelope, body: JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8')) };
}

describe("Celery's remote control, spoken from Node", () => {
  it('builds the revoke message Celery itself sends, field for field', () => {
    const celery = decode(recorded.message);
    const taskId = celery.body.arguments.task_id as string;
    const expires = celery.headers.expires - COMMAND_EXPIRES_S;
    const ours = decode(controlEnvelope(revokeBody(taskId, true), { clock: celery.headers.clock, nowS: expires, deliveryTag: celery.properties.delivery_tag }));
    expect(ours).toEqual(celery);
    expect(recorded.channel).toBe('/3.celery.pidbox');
  });

  it("reads a worker's reply to its ticket, and nothing else", () => {
    const reply = (body: unknown, ticket: string) =>
      JSON.stringify({ body: Buffer.from(JSON.stringify(body)).toString('base64'), headers: { ticket }, properties: { body_encoding: 'base64' } });
    expect(parseReply(reply({ 'w1@vm': { ok: 'pong' } }, 't-1'), 't-1')).toEqual({ 'w1@vm': { ok: 'pong' } });
    expect(parseReply(reply({ 'w1@vm': { ok: 'pong' } }, 't-2'), 't-1')).toBeNull();
    expect(parseReply('garbage', 't-1')).toBeNull();
    const hostile = parseReply(reply(JSON.parse('{"__proto__": {"polluted": true}}'), 't-1'), 't-1')!;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(hostile)).toBeNull();
  });

  it('takes queues from active_queues and the pool size from stats', () => {
    const queues = [{ name: 'celery', exchange: { name: 'celery' } }, { name: 'reports' }, { exchange: 'no name' }];
    expect(workerInfoFrom(queues, { pool: { 'max-concurrency': 2 } })).toEqual({ queues: ['celery', 'reports'], concurrency: 2 });
    expect(workerInfoFrom(undefined, { pool: { 'max-concurrency': 'N/A' } })).toEqual({});
  });

  it("names a queue's four priority lists as kombu does", () => {
    expect(priorityLists('celery')).toEqual(['celery', 'celery\x06\x163', 'celery\x06\x166', 'celery\x06\x169']);
  });
});
