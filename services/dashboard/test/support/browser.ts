// Headless Chromium from Debian (apt-get install chromium), driven by playwright-core: no browser
// download. Each page records its console errors and uncaught exceptions, so every test can end
// with "none" (issue 11: no console errors in any test).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(__dirname, '..', 'screenshots');

/** Flags for this machine: no sandbox as root, and no background traffic to a closed network. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors and page errors so far, in order. */
  errors: string[];
  /** Failed requests so far (`METHOD url: reason`). */
  failedRequests: string[];
}

/**
 * A fresh context (its own storage) and page that records console errors, page errors and failed
 * requests. `colorScheme` sets prefers-color-scheme.
 */
export async function openPage(browser: Browser, options: { colorScheme?: 'light' | 'dark'; width?: number; height?: number } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ colorScheme: options.colorScheme ?? 'light', viewport: { width: options.width ?? 1440, height: options.height ?? 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  const failedRequests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.stack ?? error.message}`));
  page.on('requestfailed', (request) => failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`));
  return { page, context, errors, failedRequests };
}

/**
 * The whole page as `test/screenshots/<name>.png`. From the top: a full-page capture of a page
 * scrolled down (a click that scrolled a job into view, say) draws the sticky header where the
 * viewport was, across the middle of the image and over whatever is there.
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage: true });
  return path;
}
