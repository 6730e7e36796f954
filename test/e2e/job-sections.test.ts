// Every section that shows jobs by status follows each job event, even one that comes alone
// (dispatch.ts): the queue section's per-queue counts, analytics' by_status and success rate,
// the dashboard's queue counts. The stack has no warmer, so a section an event forgets to
// refresh stays stale for good here, as it would until the next warm in production. Found with
// the real-Celery test: the last job:failed of a run, alone in its batch, left analytics counting
// a job as processing that the queue section already showed failed.
import { randomUUID } from 'node:crypto';
import type { EventName, EventPayload, Snapshot } from '@agentos/contracts';
import { TEST_REDIS_URL } from '../support/redis';
import { waitFor } from '../support/wait';
import { type Stack, startStack } from './harness';

jest.setTimeout(60_000);

const QUEUE = 'sections-q';

describe('job events and the sections they show in', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'e2e_job_sections', seed: false });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** Posts one event on its own and waits for its effect to be persisted. */
  async function postAlone<N extends EventName>(name: N, payload: EventPayload<N>): Promise<void> {
    const publisher = stack.publisher();
    const id = await publisher.publish(name, payload, { id: randomUUID() });
    await waitFor(async () => (await stack.processed([id])) === 1, { message: `${name} persisted` });
  }

  /** Waits for a snapshot in which every section agrees with `expected`. */
  async function expectSections(what: string, expected: { pending: number; processing: number; failed: number; completed: number; cancelled: number }) {
    await waitFor(
      async () => {
        const body = (await stack.read()).body as Snapshot;
        const { pending, processing, failed, completed, cancelled } = expected;
        expect(body.queue.queues.find((q) => q.name === QUEUE)).toMatchObject({ pending, processing, failed });
        expect(body.analytics.by_status).toMatchObject({ pending, processing, failed, completed, cancelled });
        expect(body.analytics.success_rate).toBe(completed + failed === 0 ? null : Math.round((completed / (completed + failed)) * 10_000) / 100);
        expect(body.dashboard.queue).toMatchObject({ pending, processing, completed });
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 100, message: `every section after ${what}` },
    );
  }

  it('moves the queue, analytics and dashboard sections with each job event, one at a time', async () => {
    const job = (id: string) => ({ job_id: id, queue: QUEUE, type: 'sections.test' });
    const [a, b, c] = [`a-${randomUUID()}`, `b-${randomUUID()}`, `c-${randomUUID()}`];

    await postAlone('job:created', job(a));
    await expectSections('job:created', { pending: 1, processing: 0, failed: 0, completed: 0, cancelled: 0 });
    await postAlone('job:processing', job(a));
    await expectSections('job:processing', { pending: 0, processing: 1, failed: 0, completed: 0, cancelled: 0 });
    await postAlone('job:failed', { ...job(a), error: 'boom' });
    await expectSections('job:failed', { pending: 0, processing: 0, failed: 1, completed: 0, cancelled: 0 });

    await postAlone('job:created', job(b));
    await postAlone('job:processing', job(b));
    await expectSections('a second job processing', { pending: 0, processing: 1, failed: 1, completed: 0, cancelled: 0 });
    await postAlone('job:completed', { ...job(b), duration_ms: 5 });
    await expectSections('job:completed', { pending: 0, processing: 0, failed: 1, completed: 1, cancelled: 0 });

    await postAlone('job:created', job(c));
    await expectSections('a third job created', { pending: 1, processing: 0, failed: 1, completed: 1, cancelled: 0 });
    await postAlone('job:cancelled', { ...job(c), reason: 'test' });
    await expectSections('job:cancelled', { pending: 0, processing: 0, failed: 1, completed: 1, cancelled: 1 });
  });
});
