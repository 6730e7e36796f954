// Production sign-in (issue 11, item 2): OpenID Connect, authorization code + PKCE, against a
// real provider (oidc-provider) started here. The api and the gateway verify its access tokens
// through AUTH_JWKS_URL, as in production; the app gets issuer and client id from /config.json.
// An admin signs in and sees the snapshot live; a user signs in and sees no admin data.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { type Stack, startStack } from '../../../../test/e2e/harness';
import { freePort } from '../../../../test/support/processes';
import { TEST_REDIS_URL } from '../../../../test/support/redis';
import { launchBrowser, openPage, screenshot, type WatchedPage } from '../support/browser';
import { type DashboardServer, startDashboardServer } from '../support/dashboard-server';

jest.setTimeout(90_000);

describe('OpenID Connect sign-in against a real provider', () => {
  let stack: Stack;
  let dash: DashboardServer;
  let provider: ChildProcess;
  let issuer: string;
  let browser: Browser;
  let watched: WatchedPage | null = null;

  beforeAll(async () => {
    stack = await startStack({ redisUrl: TEST_REDIS_URL, gateways: 0, name: 'dashboard-oidc' });
    issuer = `http://127.0.0.1:${await freePort()}`;
    const jwks = { AUTH_JWKS_URL: `${issuer}/jwks`, AUTH_JWKS_ALLOW_HTTP: 'true' };
    // The stack's api takes the test's HS256 tokens; the dashboard's api (and its gateway) take the provider's, on the same namespace.
    dash = await startDashboardServer({ redisUrl: TEST_REDIS_URL, namespace: stack.namespace, databaseUrl: stack.databaseUrl, tokenAuth: jwks, auth: { mode: 'oidc', issuer, clientId: 'dashboard', scope: 'openid profile', roleClaim: 'role' } });
    provider = spawn(process.execPath, [join(__dirname, '..', 'support', 'oidc-provider.mjs')], { env: { ...process.env, PORT: new URL(issuer).port, DASHBOARD_ORIGIN: dash.url }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    await new Promise<void>((resolve, reject) => {
      provider.stdout!.on('data', (chunk: Buffer) => {
        output += chunk;
        if (output.includes('ready')) resolve();
      });
      provider.stderr!.on('data', (chunk: Buffer) => (output += chunk));
      provider.once('exit', (code) => reject(new Error(`oidc-provider exited ${code}: ${output}`)));
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    provider?.kill();
    await dash?.close();
    await stack?.stop();
  });
  afterEach(async () => {
    const errors = watched?.errors ?? [];
    await watched?.context.close();
    watched = null;
    expect(errors).toEqual([]);
  });

  /**
   * A page whose requests for the provider's own development pages' extras (a web font from the
   * internet, which this machine cannot reach, and a favicon) are answered empty: they are the
   * provider's, not the dashboard's, and would otherwise be console errors.
   */
  async function providerPage(): Promise<WatchedPage> {
    const opened = await openPage(browser);
    await opened.context.route('https://fonts.googleapis.com/**', (route) => route.fulfill({ status: 200, contentType: 'text/css', body: '' }));
    await opened.context.route(`${issuer}/favicon.ico`, (route) => route.fulfill({ status: 204 }));
    return opened;
  }

  /** Opens the dashboard, is sent to the provider, signs in as `account` and consents. */
  async function signIn(account: string, path = '/'): Promise<Page> {
    watched = await providerPage();
    const { page } = watched;
    await page.goto(`${dash.url}${path}`);
    await page.waitForURL((url) => url.origin === issuer, { timeout: 15_000 });
    await page.locator('input[name="login"]').fill(account);
    await page.locator('input[name="password"]').fill('any password: development interactions');
    await page.locator('button[type="submit"]').click();
    // Consent (first sign-in of the account to this client).
    await page.locator('button[type="submit"]').click();
    await page.waitForURL((url) => url.origin === dash.url, { timeout: 15_000 });
    return page;
  }

  it('signs an admin in with code + PKCE and shows the live snapshot, verified by the api and the gateway through JWKS', async () => {
    const authorizeRequests: string[] = [];
    const page = await (async () => {
      watched = await providerPage();
      watched.page.on('request', (r) => r.url().startsWith(`${issuer}/auth`) && authorizeRequests.push(r.url()));
      return watched.page;
    })();
    await page.goto(`${dash.url}/queue?status=failed`);
    await page.waitForURL((url) => url.origin === issuer, { timeout: 15_000 });
    await page.locator('input[name="login"]').fill('ada-admin');
    await page.locator('input[name="password"]').fill('secret');
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]').click();
    await page.waitForURL((url) => url.origin === dash.url, { timeout: 15_000 });
    const authorize = new URL(authorizeRequests[0]!);
    expect(authorize.searchParams.get('response_type')).toBe('code');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(authorize.searchParams.get('client_id')).toBe('dashboard');

    // Back where it started, the code exchanged and gone from the address bar.
    await page.waitForURL(`${dash.url}/queue?status=failed`, { timeout: 15_000 });
    await page.locator('.connection[data-state="live"]').waitFor({ timeout: 15_000 });
    const version = (await stack.read()).version;
    await page.waitForFunction((v) => document.querySelector('[data-testid="snapshot-version"]')?.textContent === String(v), version, { timeout: 10_000 });
    // The access token is the provider's JWT with the role claim, and the api takes it.
    const token = await page.evaluate(() => {
      const key = Object.keys(sessionStorage).find((k) => k.startsWith('oidc.user:'));
      return key ? (JSON.parse(sessionStorage.getItem(key)!) as { access_token: string }).access_token : null;
    });
    const claims = JSON.parse(Buffer.from(token!.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'ada-admin', role: 'admin', iss: issuer });
    expect((await fetch(`${dash.url}/api/admin/ssot`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    await screenshot(page, 'oidc-admin-light');
  });

  it('signs a user in and shows no admin data, asking the api for none', async () => {
    const requests: string[] = [];
    const page = await signIn('uma-user');
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    await page.getByTestId('not-admin').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('not-admin').innerText()).toContain('uma-user');
    expect(await page.locator('[data-testid="snapshot-version"]').count()).toBe(0);
    await page.reload();
    await page.getByTestId('not-admin').waitFor({ timeout: 15_000 });
    expect(requests.filter((p) => p.startsWith('/api/') || p.startsWith('/socket.io'))).toEqual([]);
    await screenshot(page, 'oidc-user-light');
  });
});
