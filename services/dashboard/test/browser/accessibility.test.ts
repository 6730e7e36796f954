// Accessibility (STYLE 15): axe-core on every view, in the light and the dark theme, on a narrow
// window too; no serious or critical violation. Each state is saved as a screenshot
// (test/screenshots/, git-ignored) — the artifacts of the run, to look at.
import { readFileSync } from 'node:fs';
import { EventPublisher } from '@agentos/client';
import type { Browser, Page } from 'playwright-core';
import { type Stack, startStack } from '../../../../test/e2e/harness';
import { TEST_REDIS_URL } from '../../../../test/support/redis';
import { signToken } from '../../../../test/support/tokens';
import { waitFor } from '../../../../test/support/wait';
import { ROUTES } from '../../src/app/routes';
import { launchBrowser, openPage, screenshot, type WatchedPage } from '../support/browser';
import { type DashboardServer, startDashboardServer } from '../support/dashboard-server';

jest.setTimeout(120_000);

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe's serious and critical violations on the page as it is now, one line each. */
async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP (no inline script) is not in the way.
  await page.evaluate(AXE);
  const violations = (await page.evaluate(() => (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: unknown[] }> } }).axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations))) as Violation[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

describe('accessibility of every view, light and dark', () => {
  let stack: Stack;
  let dash: DashboardServer;
  let browser: Browser;
  let admin: string;
  let watched: WatchedPage | null = null;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'dashboard-a11y' });
    dash = await startDashboardServer({ redisUrl: TEST_REDIS_URL, namespace: stack.namespace, databaseUrl: stack.databaseUrl });
    browser = await launchBrowser();
    admin = await signToken({ sub: 'a11y-admin-with-a-rather-long-subject-name@example.com', role: 'admin' });
  });
  afterAll(async () => {
    await browser?.close();
    await dash?.close();
    await stack?.stop();
  });
  afterEach(async () => {
    const errors = watched?.errors ?? [];
    await watched?.context.close();
    watched = null;
    expect(errors).toEqual([]);
  });

  async function open(path: string, colorScheme: 'light' | 'dark', width = 1440): Promise<Page> {
    watched = await openPage(browser, { colorScheme, width });
    await watched.page.goto(`${dash.url}${path}#token=${admin}`);
    await watched.page.locator('.connection[data-state="live"]').waitFor({ timeout: 15_000 });
    await watched.page.getByRole('heading', { level: 1 }).waitFor();
    return watched.page;
  }
  const slug = (path: string) => (path === '/' ? 'dashboard' : path.slice(1));

  for (const colorScheme of ['light', 'dark'] as const) {
    it(`finds no serious or critical violation on any view (${colorScheme})`, async () => {
      const found: Record<string, string[]> = {};
      const page = await open('/', colorScheme);
      for (const route of ROUTES) {
        // Moved by key, as a keyboard user does (1–6), not by URL.
        await page.locator('body').press(route.key);
        await page.getByRole('heading', { level: 1, name: route.label }).waitFor();
        await page.waitForTimeout(150);
        expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(colorScheme);
        found[route.label] = await seriousViolations(page);
        await screenshot(page, `${slug(route.path)}-${colorScheme}`);
      }
      expect(found).toEqual(Object.fromEntries(ROUTES.map((r) => [r.label, []])));
    });
  }

  it('finds none with a job open, a confirmation asked, and on a narrow window', async () => {
    // A job with a history (the reference dataset's have none): posted as a platform would.
    const id = 'a11y-job-with-an-unusually-long-identifier-0123456789abcdef';
    const publisher = new EventPublisher({ baseUrl: stack.apiUrl, token: stack.ingestToken, flushIntervalMs: 5, source: 'bullmq' });
    const payload = { job_id: id, queue: 'ingest', type: 'summarise-a-very-long-document-type-name', user_id: 'auth0|5f3a' };
    await publisher.publish('job:created', payload);
    await publisher.publish('job:processing', { ...payload, progress: 40, worker_id: 'celery@worker-host-1.example.internal' });
    await publisher.publish('job:failed', { ...payload, error: 'agent step failed: the retriever timed out after 30 s waiting for the index', worker_id: 'celery@worker-host-1.example.internal' });
    await waitFor(async () => (await stack.prisma.job.findUnique({ where: { id } }))?.status === 'failed', { message: 'job stored' });
    await publisher.close();
    const page = await open(`/queue?job=${encodeURIComponent(id)}`, 'dark');
    await page.getByTestId('job-detail').waitFor();
    await page.getByTestId('job-timeline').locator('summary').first().click();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'queue-job-dark');
    await page.getByRole('button', { name: 'Retry', exact: true }).click();
    await page.getByRole('dialog').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'queue-confirm-dark');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    await watched!.context.close();

    for (const path of ['/', '/queue', '/system']) {
      const narrow = await open(path, 'light', 400);
      expect(await seriousViolations(narrow)).toEqual([]);
      await screenshot(narrow, `${slug(path)}-narrow-light`);
      await watched!.context.close();
    }
    watched = null;
  });

  it('remembers the theme and the time zone chosen, across a reload', async () => {
    const page = await open('/', 'light');
    await page.getByRole('button', { name: /^Theme: system/ }).click();
    await page.getByRole('button', { name: /^Theme: light/ }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.getByRole('button', { name: /Times in local time/ }).click();
    await page.reload();
    await page.locator('.connection[data-state="live"]').waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.getByRole('button', { name: /Times in UTC/ }).waitFor();
    expect(await page.locator('main table time').first().innerText()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  });
});
