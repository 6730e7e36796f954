// Retry and cancel from the dashboard, carried out by a real platform: BullMQ (from npm, on the
// test Redis under a prefix of its own), fed to the SSOT by the bullmq-bridge process, which also
// executes the commands (issue 11's acceptance: "retry and cancel change the job's state through
// a real platform's bridge"). The page asks; BullMQ does it; the page shows what BullMQ did.
import { Job, Queue, Worker } from 'bullmq';
import type Redis from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { type Stack, startStack } from '../../../../test/e2e/harness';
import type { ServiceProcess } from '../../../../test/support/processes';
import { TEST_REDIS_URL } from '../../../../test/support/redis';
import { signToken } from '../../../../test/support/tokens';
import { waitFor } from '../../../../test/support/wait';
import { bullConnection, cleanupPrefix, spawnBridge, uniquePrefix } from '../../../bullmq-bridge/test/support';
import { launchBrowser, openPage, screenshot, type WatchedPage } from '../support/browser';
import { type DashboardServer, startDashboardServer } from '../support/dashboard-server';

jest.setTimeout(90_000);

describe('retry and cancel from the dashboard, through the bullmq-bridge to real BullMQ', () => {
  let stack: Stack;
  let dash: DashboardServer;
  let bridge: ServiceProcess;
  let connection: Redis;
  let browser: Browser;
  let admin: string;
  let watched: WatchedPage | null = null;
  const prefix = uniquePrefix();
  const closers: { close(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'dashboard-bullmq', seed: false });
    dash = await startDashboardServer({ redisUrl: TEST_REDIS_URL, namespace: stack.namespace, databaseUrl: stack.databaseUrl });
    connection = bullConnection();
    bridge = await spawnBridge(stack, prefix);
    browser = await launchBrowser();
    admin = await signToken({ sub: 'auth0|ui-admin', role: 'admin' });
  });
  afterAll(async () => {
    for (const closer of closers.reverse()) await closer.close().catch(() => {});
    await browser?.close();
    await bridge?.stop();
    connection?.disconnect();
    await dash?.close();
    await stack?.stop();
    await cleanupPrefix(prefix);
  });
  afterEach(async () => {
    const errors = watched?.errors ?? [];
    await watched?.context.close();
    watched = null;
    expect(errors).toEqual([]);
  });

  const queue = (name: string) => {
    const q = new Queue(name, { connection, prefix });
    closers.push(q);
    return q;
  };
  const status = async (id: string) => (await stack.prisma.job.findUnique({ where: { id } }))?.status;

  /** The job's detail in the Queue view, signed in as an admin, once the page is live. */
  async function openJob(id: string, shown: string): Promise<Page> {
    watched = await openPage(browser);
    await watched.page.goto(`${dash.url}/queue?job=${encodeURIComponent(id)}#token=${admin}`);
    await watched.page.locator('.connection[data-state="live"]').waitFor({ timeout: 15_000 });
    await watched.page.locator(`[data-testid="job-detail"][data-status="${shown}"]`).waitFor({ timeout: 15_000 });
    return watched.page;
  }

  it('retries a failed BullMQ job: BullMQ runs it again and the page shows it completed', async () => {
    const q = queue('ui-retry');
    let runs = 0;
    const worker = new Worker(
      'ui-retry',
      async () => {
        runs += 1;
        if (runs === 1) throw new Error('flaky dependency');
        return 'done';
      },
      { connection, prefix },
    );
    closers.push(worker);
    const job = await q.add('import', { user_id: 'auth0|5f3a' });
    const id = `ui-retry:${job.id}`;
    await waitFor(async () => (await status(id)) === 'failed', { timeoutMs: 30_000, message: 'the SSOT has the BullMQ failure' });

    const page = await openJob(id, 'failed');
    expect(await page.getByTestId('job-error').innerText()).toContain('flaky dependency');
    await page.getByRole('button', { name: 'Retry', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Retry the job' }).click();
    // BullMQ ran it again, and the page follows: completed, on its second attempt, the command succeeded.
    await waitFor(
      async () => {
        const row = await stack.prisma.job.findUnique({ where: { id } });
        const commands = await stack.prisma.command.findMany({ where: { jobId: id } });
        const bull = await Job.fromId(q, job.id!);
        const state = { ssot: row?.status, attempts: row?.attempts, commands: commands.map((c) => [c.action, c.status, c.error]), bull: [await bull?.getState(), bull?.attemptsMade], runs };
        expect(state).toMatchObject({ ssot: 'completed' });
        return true;
      },
      { timeoutMs: 30_000, message: 'the SSOT shows the job completed' },
    );
    await page.locator('[data-testid="job-detail"][data-status="completed"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="job-commands"] li[data-status="succeeded"]').waitFor({ timeout: 15_000 });
    // Its row in the search beside the detail says the same.
    await page.locator(`[data-job-id="${id}"]`).getByText('completed', { exact: true }).waitFor({ timeout: 5_000 });
    expect(await Job.fromId(q, job.id!)).toMatchObject({ attemptsMade: 2, returnvalue: 'done' });
    expect(runs).toBe(2);
    expect(await stack.prisma.job.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: 'completed', attempts: 2, source: 'bullmq' });
    await screenshot(page, 'queue-bullmq-retried-light');
  });

  it('cancels a waiting BullMQ job: BullMQ removes it and the page shows it cancelled', async () => {
    // No worker on this queue: the job waits.
    const q = queue('ui-cancel');
    const job = await q.add('report', {});
    const id = `ui-cancel:${job.id}`;
    await waitFor(async () => (await status(id)) === 'pending', { timeoutMs: 30_000, message: 'the SSOT has the job pending' });

    const page = await openJob(id, 'pending');
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel the job' }).click();
    await page.locator('[data-testid="job-detail"][data-status="cancelled"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="job-commands"] li[data-status="succeeded"]').waitFor({ timeout: 15_000 });
    expect(await Job.fromId(q, job.id!)).toBeUndefined();
    expect(await q.getJobCounts('waiting')).toMatchObject({ waiting: 0 });
  });
});
