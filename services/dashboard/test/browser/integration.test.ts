// The dashboard in headless Chromium with the real system behind it (STYLE 15, integration):
// the api, collector and dispatcher of test/e2e/harness, a realtime-gateway process, and the
// build served by serve.cjs. Events go in over HTTP as a platform posts them; what the page
// shows is compared with GET /api/admin/ssot. Issue 11's acceptance, one test each.
import { randomUUID } from 'node:crypto';
import { CommandConsumer, EventPublisher } from '@agentos/client';
import type { JobDetail, Snapshot } from '@agentos/contracts';
import Redis from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { type Stack, startStack } from '../../../../test/e2e/harness';
import { TEST_REDIS_URL } from '../../../../test/support/redis';
import { signToken } from '../../../../test/support/tokens';
import { waitFor } from '../../../../test/support/wait';
import { launchBrowser, openPage, type WatchedPage } from '../support/browser';
import { type DashboardServer, startDashboardServer } from '../support/dashboard-server';
import { formatCount, formatDuration, formatPercent } from '../../src/data/format';

jest.setTimeout(90_000);

describe('dashboard in the browser, on the real api and gateway', () => {
  let stack: Stack;
  let dash: DashboardServer;
  let browser: Browser;
  let admin: string;
  let watched: WatchedPage | null = null;
  /** Console errors the test itself causes on purpose (the gateway it stops), as patterns. */
  let expectedErrors: RegExp[] = [];

  beforeAll(async () => {
    stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'dashboard-ui' });
    dash = await startDashboardServer({ redisUrl: TEST_REDIS_URL, namespace: stack.namespace, databaseUrl: stack.databaseUrl });
    browser = await launchBrowser();
    admin = await signToken({ sub: 'auth0|ui-admin', role: 'admin' });
  });
  afterAll(async () => {
    await browser?.close();
    await dash?.close();
    await stack?.stop();
  });
  beforeEach(() => {
    expectedErrors = [];
  });
  afterEach(async () => {
    const errors = watched?.errors.filter((e) => !expectedErrors.some((pattern) => pattern.test(e))) ?? [];
    await watched?.context.close();
    watched = null;
    expect(errors).toEqual([]);
  });

  /** Opens `path` signed in with `token` (in the fragment, as `npm start` prints it) and waits for "Live". */
  async function open(path = '/', token = admin): Promise<Page> {
    watched = await openPage(browser);
    await watched.page.goto(`${dash.url}${path}#token=${token}`);
    await watched.page.locator('.connection[data-state="live"]').waitFor({ timeout: 15_000 });
    return watched.page;
  }
  const text = (page: Page, selector: string) => page.locator(selector).first().innerText();
  const shownVersion = async (page: Page) => Number(await text(page, '[data-testid="snapshot-version"]'));
  const goTo = async (page: Page, label: string) => {
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: label, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: label }).waitFor();
  };
  async function snapshot(): Promise<Snapshot> {
    const read = await stack.read();
    expect(read.status).toBe(200);
    return read.body!;
  }

  it('takes the token from the fragment: kept for the tab, off the address bar, never sent in a URL', async () => {
    const requests: string[] = [];
    watched = await openPage(browser);
    watched.page.on('request', (request) => requests.push(`${request.url()} ${request.headers().referer ?? ''}`));
    await watched.page.goto(`${dash.url}/#token=${admin}`);
    await watched.page.locator('.connection[data-state="live"]').waitFor({ timeout: 15_000 });
    expect(watched.page.url()).toBe(`${dash.url}/`);
    expect(await watched.page.evaluate(() => sessionStorage.getItem('agentos-ssot:token'))).toBe(admin);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((line) => line.includes(admin))).toEqual([]);
    // A reload in the same tab stays signed in without the fragment.
    await watched.page.reload();
    await watched.page.locator('.connection[data-state="live"]').waitFor({ timeout: 15_000 });
  });

  it('shows the values of GET /api/admin/ssot on every view, at the same version', async () => {
    const page = await open('/');
    const snap = await snapshot();
    const version = snap.meta.version;
    await waitFor(async () => (await shownVersion(page)) === version, { message: `page at v${version}` });

    // Dashboard
    const d = snap.dashboard;
    expect(await text(page, '[data-testid="queue-pending"]')).toBe(formatCount(d.queue.pending));
    expect(await text(page, '[data-testid="queue-processing"]')).toBe(formatCount(d.queue.processing));
    expect(await text(page, '[data-testid="queue-completed"]')).toBe(formatCount(d.queue.completed));
    expect(await text(page, '[data-testid="jobs-today"]')).toBe(formatCount(d.jobs.total_today));
    expect(await page.getByRole('list', { name: 'Workers' }).getByRole('listitem').count()).toBe(d.workers.details.length);
    const recentIds = await page.getByRole('region', { name: 'Recent jobs' }).locator('tbody tr td:first-child').allInnerTexts();
    expect(recentIds).toEqual(d.jobs.recent_jobs.map((j) => j.id));

    // Analytics
    await goTo(page, 'Analytics');
    expect(await text(page, '[data-testid="success-rate"]')).toBe(formatPercent(snap.analytics.success_rate));
    expect(await text(page, '[data-testid="avg-time"]')).toBe(formatDuration(snap.analytics.avg_processing_time));
    expect(await text(page, '[data-testid="p95-time"]')).toBe(formatDuration(snap.analytics.p95_processing_time));
    expect(await page.locator('.chart canvas').count()).toBe(2);

    // Queue
    await goTo(page, 'Queue');
    for (const queue of snap.queue.queues) {
      expect(await text(page, `[data-testid="queue-${queue.name}-pending"]`)).toBe(formatCount(queue.pending));
      expect(await text(page, `[data-testid="queue-${queue.name}-processing"]`)).toBe(formatCount(queue.processing));
    }
    const awaiting = await page.getByRole('region', { name: 'Jobs awaiting action' }).locator('tbody tr td:first-child').allInnerTexts();
    expect(awaiting).toEqual(snap.queue.awaiting_action.map((j) => j.id));

    // Agents: the 11 in pipeline order
    await goTo(page, 'Agents');
    const agents = [...snap.agents_workers.agents.status.agents].sort((a, b) => a.stage - b.stage);
    expect(agents).toHaveLength(11);
    const rows = page.getByRole('region', { name: 'Pipeline agents in order' }).locator('tbody tr');
    expect(await rows.locator('td:nth-child(2)').allInnerTexts()).toEqual(agents.map((a) => a.name));
    expect(await rows.locator('td:nth-child(7)').allInnerTexts()).toEqual(agents.map((a) => formatCount(a.jobs_failed)));

    // Logs
    await goTo(page, 'Logs');
    const entries = snap.logs.recent_entries;
    expect(await page.getByRole('list', { name: 'Log lines, newest first' }).getByRole('listitem').count()).toBe(entries.length);
    expect(await text(page, '.view-logs .footnote')).toBe(`${entries.length} of ${entries.length} lines`);

    // System
    await goTo(page, 'System');
    const services = await page.getByRole('region', { name: 'Services and replicas' }).locator('tbody tr td:first-child').allInnerTexts();
    expect(services).toEqual(Object.keys(snap.system_control.services_status).sort());
    expect(await page.getByRole('definition').filter({ hasText: /^\d+$/ }).first().innerText()).toBe(String(snap.configuration.minimum_workers));

    // Nothing moved meanwhile: all of it was that one version.
    expect((await snapshot()).meta.version).toBe(version);
    expect(await shownVersion(page)).toBe(version);
  });

  it('moves the Dashboard and the Queue within 1 s of an event posted over HTTP, without a reload', async () => {
    const publisher = stack.publisher();
    const page = await open('/');
    const before = Number((await text(page, '[data-testid="queue-pending"]')).replace(/,/g, ''));
    let posted = performance.now();
    await publisher.publish('job:created', { job_id: `ui-${randomUUID()}`, queue: 'ingest', type: 'render' });
    posted = Math.min(posted, performance.now());
    await page.waitForFunction((n) => document.querySelector('[data-testid="queue-pending"]')?.textContent?.replace(/,/g, '') === String(n), before + 1, { timeout: 5000 });
    const dashboardMs = performance.now() - posted;

    await goTo(page, 'Queue');
    const cell = '[data-testid="queue-ingest-pending"]';
    const queueBefore = Number((await text(page, cell)).replace(/,/g, ''));
    const second = performance.now();
    await publisher.publish('job:created', { job_id: `ui-${randomUUID()}`, queue: 'ingest', type: 'render' });
    await page.waitForFunction(([selector, n]) => document.querySelector(selector as string)?.textContent?.replace(/,/g, '') === String(n), [cell, queueBefore + 1] as const, { timeout: 5000 });
    const queueMs = performance.now() - second;
    expect({ dashboardMs: dashboardMs < 1000, queueMs: queueMs < 1000 }).toEqual({ dashboardMs: true, queueMs: true });
  });

  it('lists a job’s events in order, and carries retry and cancel out through its platform', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    const source = `ui-acme-${randomUUID().slice(0, 6)}`;
    const platform = new EventPublisher({ baseUrl: stack.apiUrl, token: stack.ingestToken, flushIntervalMs: 5, source });
    const consumer = new CommandConsumer({
      redis,
      namespace: stack.namespace,
      source,
      capabilities: { retry: ['failed'], cancel: ['pending'] },
      publisher: platform,
      async handle(command) {
        // The platform does it, and says so with the job's own events.
        const payload = { job_id: command.job_id, queue: 'ingest', type: 'render' };
        if (command.action === 'retry') await platform.publish('job:processing', { ...payload, progress: 5, attempt: 2 }, { id: `${command.job_id}:retried` });
        else await platform.publish('job:cancelled', { ...payload, reason: 'cancelled by admin' });
        return { ok: true };
      },
    });
    await consumer.start();
    try {
      const failed = `job/${randomUUID().slice(0, 8)} with spaces?`.replace(/ /g, '_');
      const base = { job_id: failed, queue: 'ingest', type: 'render', user_id: 'auth0|5f3a' };
      await platform.publish('job:created', base, { id: `${failed}:1` });
      await platform.publish('job:processing', { ...base, progress: 10, attempt: 1 }, { id: `${failed}:2` });
      await platform.publish('job:failed', { ...base, error: 'agent step failed: timeout after 30 s', attempt: 1 }, { id: `${failed}:3` });
      const pending = `ui-pending-${randomUUID().slice(0, 8)}`;
      await platform.publish('job:created', { ...base, job_id: pending }, { id: `${pending}:1` });
      await waitFor(async () => (await stack.prisma.job.findUnique({ where: { id: failed } }))?.status === 'failed' && (await stack.prisma.job.findUnique({ where: { id: pending } }))?.status === 'pending', { message: 'jobs stored' });

      const page = await open(`/queue?job=${encodeURIComponent(failed)}`);
      const detail = page.getByTestId('job-detail');
      await detail.waitFor();
      expect(await detail.getAttribute('data-status')).toBe('failed');
      expect(await page.getByTestId('job-error').innerText()).toBe('agent step failed: timeout after 30 s');
      const timeline = page.getByTestId('job-timeline').locator('.timeline-name');
      expect(await timeline.allInnerTexts()).toEqual(['job:created', 'job:processing', 'job:failed']);
      expect(await page.getByTestId('job-timeline').locator('li').evaluateAll((items) => items.map((li) => li.getAttribute('data-event-id')))).toEqual([`${failed}:1`, `${failed}:2`, `${failed}:3`]);
      // The payload stays collapsed (and unrendered) until opened.
      expect(await page.locator('.json-body').count()).toBe(0);
      await page.getByTestId('job-timeline').locator('summary').first().click();
      expect(JSON.parse(await page.locator('.json-body').first().innerText())).toMatchObject({ job_id: failed, queue: 'ingest' });

      // Retry, confirmed: the command shows as requested, then succeeded, and the job is processing again.
      await page.getByRole('button', { name: 'Retry', exact: true }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Retry the job' }).click();
      await page.locator('[data-testid="job-commands"] li[data-status]').first().waitFor();
      await page.locator('[data-testid="job-commands"] li[data-status="succeeded"]').waitFor({ timeout: 10_000 });
      await page.locator('[data-testid="job-detail"][data-status="processing"]').waitFor({ timeout: 10_000 });
      expect((await stack.prisma.job.findUniqueOrThrow({ where: { id: failed } })).status).toBe('processing');
      expect(await timeline.allInnerTexts()).toEqual(['job:created', 'job:processing', 'job:failed', 'job:processing']);

      // Cancel the pending one: asked, confirmed, carried out.
      await page.goto(`${dash.url}/queue?job=${encodeURIComponent(pending)}`);
      await page.locator('[data-testid="job-detail"][data-status="pending"]').waitFor();
      await page.getByRole('button', { name: 'Cancel', exact: true }).click();
      // Declining changes nothing.
      await page.getByRole('dialog').getByRole('button', { name: 'Keep as is' }).click();
      expect(await page.locator('[data-testid="job-commands"] li').count()).toBe(0);
      await page.getByRole('button', { name: 'Cancel', exact: true }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Cancel the job' }).click();
      await page.locator('[data-testid="job-detail"][data-status="cancelled"]').waitFor({ timeout: 10_000 });
      expect((await stack.prisma.job.findUniqueOrThrow({ where: { id: pending } })).status).toBe('cancelled');
      // Its command shows as its platform answered (the result may come just after the job's event).
      await page.locator('[data-testid="job-commands"] li[data-status="succeeded"]').waitFor({ timeout: 10_000 });
      const shown = (await (await fetch(`${stack.apiUrl}/api/admin/jobs/${encodeURIComponent(pending)}`, { headers: { authorization: `Bearer ${admin}` } })).json()) as JobDetail;
      expect(shown.commands.map((c) => [c.action, c.status, c.requested_by])).toEqual([['cancel', 'succeeded', 'auth0|ui-admin']]);
    } finally {
      await consumer.stop();
      await platform.close();
      redis.disconnect();
    }
  });

  /** Every job id the results table holds, in order, scrolling it from top to bottom (it renders only what is in view). */
  async function tableIds(page: Page): Promise<string[]> {
    return page.evaluate(async () => {
      const scroller = document.querySelector('[data-testid="job-table-scroller"]') as HTMLElement;
      const ids: string[] = [];
      const seen = new Set<string>();
      const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      scroller.scrollTop = 0;
      await frame();
      for (;;) {
        const rows = [...scroller.querySelectorAll('[data-job-id]')].map((row) => ({ id: row.getAttribute('data-job-id')!, top: row.parentElement!.getBoundingClientRect().top }));
        rows.sort((a, b) => a.top - b.top);
        for (const { id } of rows) if (!seen.has(id)) (seen.add(id), ids.push(id));
        if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 1) return ids;
        scroller.scrollTop += scroller.clientHeight / 2;
        await frame();
      }
    });
  }
  const apiSearch = async (query: string): Promise<string[]> => {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await fetch(`${stack.apiUrl}/api/admin/jobs?${query}&limit=500${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${admin}` } });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: { id: string }[]; next_cursor: string | null };
      ids.push(...page.items.map((j) => j.id));
      cursor = page.next_cursor;
    } while (cursor);
    return ids;
  };

  it('narrows the job list exactly as the api does, with the filters kept in the URL', async () => {
    const page = await open('/queue');
    const all = await apiSearch('');
    await page.waitForFunction((n) => document.querySelector('[data-testid="search-count"]')?.textContent === `${n} jobs`, all.length, { timeout: 10_000 });
    expect(await tableIds(page)).toEqual(all);

    const form = page.getByRole('search', { name: 'Search jobs' });
    await form.getByRole('checkbox', { name: 'completed' }).check();
    await form.getByRole('checkbox', { name: 'failed' }).check();
    await form.getByLabel('Queue', { exact: true }).fill('default');
    await form.getByLabel('Text', { exact: true }).fill('task');
    await form.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/[?&]q=task/);
    expect(new URL(page.url()).search).toBe('?q=task&status=completed%2Cfailed&queue=default');
    const narrowed = await apiSearch('q=task&status=completed,failed&queue=default');
    expect(narrowed.length).toBeGreaterThan(0);
    expect(narrowed.length).toBeLessThan(all.length);
    await page.waitForFunction((n) => document.querySelector('[data-testid="search-count"]')?.textContent === `${n} job${n === 1 ? '' : 's'}`, narrowed.length, { timeout: 10_000 });
    expect(await tableIds(page)).toEqual(narrowed);

    // The URL is the view: opened as a shared link, it shows the same.
    const shared = page.url();
    await page.goto(`${dash.url}/`);
    await page.goto(shared);
    await page.waitForFunction((n) => document.querySelector('[data-testid="search-count"]')?.textContent === `${n} job${n === 1 ? '' : 's'}`, narrowed.length, { timeout: 10_000 });
    expect(await tableIds(page)).toEqual(narrowed);
    expect(await form.getByRole('checkbox', { name: 'failed' }).isChecked()).toBe(true);
  });

  it('cancels every job a search matches, in bulk, with progress, through the jobs’ platform', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    const source = `ui-bulk-${randomUUID().slice(0, 6)}`;
    const platform = new EventPublisher({ baseUrl: stack.apiUrl, token: stack.ingestToken, flushIntervalMs: 5, source });
    const consumer = new CommandConsumer({
      redis,
      namespace: stack.namespace,
      source,
      capabilities: { cancel: ['pending'] },
      publisher: platform,
      async handle(command) {
        await platform.publish('job:cancelled', { job_id: command.job_id, queue: 'reports', type: 'render', reason: 'cancelled by admin' });
        return { ok: true };
      },
    });
    await consumer.start();
    try {
      const ids = Array.from({ length: 5 }, (_, i) => `${source}-${i}`);
      for (const id of ids) await platform.publish('job:created', { job_id: id, queue: 'reports', type: 'render' });
      await waitFor(async () => (await stack.prisma.job.count({ where: { source, status: 'pending' } })) === 5, { message: 'jobs stored' });
      const page = await open(`/queue?source=${source}`);
      await page.waitForFunction(() => document.querySelector('[data-testid="search-count"]')?.textContent === '5 jobs', undefined, { timeout: 10_000 });
      await page.getByRole('button', { name: 'Cancel all matching' }).click();
      const dialog = page.getByRole('dialog');
      expect(await dialog.innerText()).toContain(`source = ${source}`);
      await dialog.getByRole('button', { name: 'Cancel them' }).click();
      await page.getByRole('status').filter({ hasText: 'Bulk cancel: 5 of 5 done: 5 queued, 0 skipped, 0 failed' }).waitFor({ timeout: 15_000 });
      await waitFor(async () => (await stack.prisma.job.count({ where: { source, status: 'cancelled' } })) === 5, { timeoutMs: 15_000, message: 'all 5 cancelled' });
    } finally {
      await consumer.stop();
      await platform.close();
      redis.disconnect();
    }
  });

  it('says "reconnecting" with the last data on screen while the gateway is down, and "live" once it is back', async () => {
    const page = await open('/');
    const pending = await text(page, '[data-testid="queue-pending"]');
    const version = await shownVersion(page);
    // The browser reports the refused connections to the stopped gateway itself; nothing else may fail.
    const gateway = dash.gatewayUrl.replace('http://', '').replace(/\./g, '\\.');
    expectedErrors.push(new RegExp(`(WebSocket connection to 'ws://${gateway}/|${gateway}/socket\\.io/).*`), new RegExp(`Failed to load resource: net::ERR_\\w+ \\(http://${gateway}/socket\\.io/`));
    await dash.stopGateway();
    await page.locator('.connection[data-state="reconnecting"]').waitFor({ timeout: 10_000 });
    expect(await text(page, '[data-testid="queue-pending"]')).toBe(pending);
    expect(await shownVersion(page)).toBe(version);
    await dash.startGateway();
    await page.locator('.connection[data-state="live"]').waitFor({ timeout: 20_000 });
    expect(await text(page, '[data-testid="queue-pending"]')).toBe(pending);
  });

  it('holds the view still while paused, and catches up on resume', async () => {
    const publisher = stack.publisher();
    const page = await open('/');
    const before = await text(page, '[data-testid="queue-pending"]');
    const version = await shownVersion(page);
    await page.getByRole('button', { name: 'Pause' }).click();
    for (let i = 0; i < 3; i += 1) await publisher.publish('job:created', { job_id: `ui-paused-${randomUUID()}`, queue: 'default', type: 'render' });
    await waitFor(async () => (await stack.read()).body!.dashboard.queue.pending === Number(before.replace(/,/g, '')) + 3, { message: 'the api counted the 3 jobs' });
    const latest = (await stack.read()).version;
    // The connection goes on: the button counts what is waiting, the figures stay.
    await page.getByRole('button', { name: /Resume \(\d+ new\)/ }).waitFor({ timeout: 5000 });
    expect(await text(page, '[data-testid="queue-pending"]')).toBe(before);
    expect(await shownVersion(page)).toBe(version);
    await page.getByRole('button', { name: /Resume/ }).click();
    await waitFor(async () => (await shownVersion(page)) >= latest, { message: 'caught up' });
    expect(await text(page, '[data-testid="queue-pending"]')).toBe(formatCount(Number(before.replace(/,/g, '')) + 3));
  });

  it('shows a user token no admin data, and asks the api for none', async () => {
    const user = await signToken({ sub: 'auth0|just-a-user', role: 'user' });
    const requests: string[] = [];
    watched = await openPage(browser);
    watched.page.on('request', (request) => requests.push(new URL(request.url()).pathname));
    await watched.page.goto(`${dash.url}/#token=${user}`);
    await watched.page.getByTestId('not-admin').waitFor();
    expect(await watched.page.getByTestId('not-admin').innerText()).toContain('without the admin role');
    expect(await watched.page.locator('[data-testid="queue-pending"], [data-testid="snapshot-version"]').count()).toBe(0);
    expect(requests.filter((path) => path.startsWith('/api/') || path.startsWith('/socket.io'))).toEqual([]);
    // And the api itself refuses it, whatever a page does.
    expect((await fetch(`${stack.apiUrl}/api/admin/ssot`, { headers: { authorization: `Bearer ${user}` } })).status).toBe(403);
  });
});
