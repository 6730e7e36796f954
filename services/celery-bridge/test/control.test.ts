import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCommandHandler, RETRY_REFUSAL } from '../src/commands';
import { type CeleryControl, COMMAND_EXPIRES_S, controlEnvelope, parseReply, revokeBody, workerInfoFrom } from '../src/control';
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

describe('commands on a Celery cluster', () => {
  const command = { command_id: '7d0c3a52-3c1e-4a8e-9f57-3b1c1c1f2a10', job_id: 'task-1', requested_by: 'admin-1', requested_at: '2026-12-03T10:00:00.000Z' };
  function control(reached: number) {
    const revoked: { taskId: string; terminate: boolean }[] = [];
    const stub = {
      revoke: async (taskId: string, options: { terminate: boolean }) => {
        revoked.push({ taskId, terminate: options.terminate });
        return reached;
      },
    } as unknown as CeleryControl;
    return { stub, revoked };
  }

  it('cancels by revoking with terminate, and succeeds when a worker heard it', async () => {
    const { stub, revoked } = control(2);
    expect(await createCommandHandler(stub)({ ...command, action: 'cancel' })).toEqual({ ok: true });
    expect(revoked).toEqual([{ taskId: 'task-1', terminate: true }]);
  });

  it('fails a cancel that reached no worker', async () => {
    const { stub } = control(0);
    expect(await createCommandHandler(stub)({ ...command, action: 'cancel' })).toEqual({ ok: false, error: 'no Celery worker is listening on the control channel: the revoke reached nobody' });
  });

  it('refuses a retry without touching Celery', async () => {
    const { stub, revoked } = control(1);
    expect(await createCommandHandler(stub)({ ...command, action: 'retry' })).toEqual({ ok: false, error: RETRY_REFUSAL });
    expect(revoked).toEqual([]);
  });
});
