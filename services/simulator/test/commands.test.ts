// Retry and cancel on simulator jobs, end to end: an admin asks the api (POST /api/admin/jobs/:id/
// retry|cancel), the command goes through the SSOT's Redis to the simulator (a process, built
// dist/, reading it with CommandConsumer), which carries it out in its platform and posts the job's
// events and the command's result back through the public ingest API.
import type { JobStatus } from '@agentos/contracts';
import { type Stack, startStack } from '../../../test/e2e/harness';
import { type ServiceName, type ServiceProcess, spawnService } from '../../../test/support/processes';
import { TEST_REDIS_URL } from '../../../test/support/redis';
import { signToken } from '../../../test/support/tokens';
import { waitFor } from '../../../test/support/wait';
import { ARRIVALS, PIPELINE } from '../src/workload';

jest.setTimeout(90_000);

interface JobItem {
  id: string;
  source: string;
  queue: string;
  status: JobStatus;
  attempts: number;
  error: string | null;
}
interface JobDetail extends JobItem {
  events: { name: string; payload: { attempt?: number; reason?: string } }[];
  commands: { id: string; action: string; status: string; error: string | null }[];
}

/** Errors the platform does not retry by itself: a job failed with one stays failed until an admin retries it. */
const FINAL_ERRORS = new Set(
  [...PIPELINE, ...ARRIVALS.flatMap((a) => (a.pipeline ? [] : [a.kind]))].flatMap((kind) => kind.errors.filter((e) => !e.retryable).map((e) => e.message)),
);

let stack: Stack;
let simulator: ServiceProcess;
let token: string;

beforeAll(async () => {
  stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'sim-commands', seed: false });
  token = await signToken({ sub: 'sim-admin', role: 'admin' });
  // ServiceName lists the services test/support knows by name; the simulator is spawned the same way.
  simulator = await spawnService('simulator' as ServiceName, {
    REDIS_URL: TEST_REDIS_URL,
    SSOT_NAMESPACE: stack.namespace,
    INGEST_URL: stack.apiUrl,
    INGEST_TOKEN: stack.ingestToken,
    SIM_SEED: 'commands-test',
    SIM_RATE: '60',
    // Ten times as quick, failing often: failed jobs within seconds, a backlog on reports after 4.5 s.
    SIM_SPEED: '10',
    SIM_FAILURE_RATE: '0.2',
    LOG_LEVEL: 'warn',
  });
});

afterAll(async () => {
  await simulator?.stop();
  await stack?.stop();
});

async function api<T>(method: 'GET' | 'POST', path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.apiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as T };
}

const search = async (query: string) => (await api<{ items: JobItem[] }>('GET', `/api/admin/jobs?source=simulator&limit=100&${query}`)).body.items;
const detail = async (id: string) => (await api<JobDetail>('GET', `/api/admin/jobs/${encodeURIComponent(id)}`)).body;

/** Asks for `action` on the job and waits for the simulator's answer to it; the command as the api then shows it. */
async function carryOut(id: string, action: 'retry' | 'cancel'): Promise<{ job: JobDetail; command: JobDetail['commands'][number] }> {
  const asked = await api<{ command_id: string }>('POST', `/api/admin/jobs/${encodeURIComponent(id)}/${action}`);
  expect(asked.status).toBe(202);
  return waitFor(
    async () => {
      const job = await detail(id);
      const command = job.commands.find((c) => c.id === asked.body.command_id);
      return command && command.status !== 'requested' ? { job, command } : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 100, message: `the simulator's answer to ${action} ${id}` },
  );
}

it('retry: a job failed for good runs again, its next attempt', async () => {
  const failed = await waitFor(async () => (await search('status=failed')).find((job) => job.error !== null && FINAL_ERRORS.has(job.error)), {
    timeoutMs: 20_000,
    intervalMs: 200,
    message: 'a simulator job failed for good',
  });
  const { command } = await carryOut(failed.id, 'retry');
  expect(command).toMatchObject({ action: 'retry', status: 'succeeded', error: null });
  // The job's own events move it: job:created of the next attempt (then it runs, and ends as it will).
  const job = await waitFor(async () => {
    const now = await detail(failed.id);
    return now.attempts === failed.attempts + 1 ? now : undefined;
  }, { timeoutMs: 10_000, intervalMs: 100, message: `${failed.id} at attempt ${failed.attempts + 1}` });
  expect(job.events.some((e) => e.name === 'job:created' && e.payload.attempt === failed.attempts + 1)).toBe(true);
  expect(['pending', 'processing', 'completed', 'failed']).toContain(job.status);
});

it('cancel: a pending job and a processing one end cancelled', async () => {
  for (const status of ['pending', 'processing'] as const) {
    // A job may finish between the search and the command (the simulator then refuses, saying
    // why): the next one is tried.
    const cancelled = await waitFor(
      async () => {
        const [candidate] = await search(`status=${status}`);
        if (!candidate) return undefined;
        const { job, command } = await carryOut(candidate.id, 'cancel');
        if (command.status === 'failed') {
          expect(command.error).toMatch(/no pending or processing job|has failed/);
          return undefined;
        }
        return job;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: `a ${status} simulator job cancelled` },
    );
    const job = await waitFor(async () => {
      const now = await detail(cancelled.id);
      return now.status === 'cancelled' ? now : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100, message: `${cancelled.id} cancelled` });
    expect(job.events.at(-1)).toMatchObject({ name: 'job:cancelled', payload: { reason: 'cancelled by admin' } });
  }
});

it('declares what it can do, so the api refuses the rest before queueing it: no retry of a completed job', async () => {
  const [completed] = await waitFor(async () => {
    const items = await search('status=completed');
    return items.length > 0 ? items : undefined;
  }, { timeoutMs: 10_000, message: 'a completed simulator job' });
  const refused = await api<{ error: { code: string; message: string } }>('POST', `/api/admin/jobs/${encodeURIComponent(completed!.id)}/retry`);
  expect(refused.status).toBe(409);
  expect(refused.body.error.message).toBe("source 'simulator' can retry only failed jobs; this one is completed");
  // What it did is on its /metrics, and the api took every event it posted.
  const metrics = (await simulator.get('/metrics')).body;
  const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0);
  expect(value('ssot_simulator_commands_total{action="retry",outcome="ok"}')).toBeGreaterThanOrEqual(1);
  expect(value('ssot_simulator_commands_total{action="cancel",outcome="ok"}')).toBeGreaterThanOrEqual(2);
  expect(value('ssot_simulator_events_posted_total')).toBeGreaterThan(100);
  expect(metrics).not.toMatch(/^ssot_simulator_events_refused_total\{/m);
});
