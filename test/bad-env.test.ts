import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** Starts a built service with `env` and resolves with its exit code and stderr. */
function run(service: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, '..', 'services', service, 'dist', 'index.js')], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${service} did not exit; stderr: ${stderr}`));
    }, 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('a service with a bad environment', () => {
  it('api exits non-zero with one message naming every bad variable', async () => {
    const { code, stderr } = await run('api', { REDIS_URL: 'http://nope', PORT: 'eighty', LOG_LEVEL: 'loud' });
    expect(code).toBe(1);
    expect(stderr).toContain('api: invalid environment (4 problems)');
    for (const name of ['REDIS_URL', 'PORT', 'LOG_LEVEL', 'AUTH_JWT_SECRET']) expect(stderr).toContain(`  ${name}: `);
    expect(stderr).toContain('one of AUTH_JWT_SECRET or AUTH_JWKS_URL is required');
    expect(stderr.trim().split('\n')).toHaveLength(5);
  });

  it('collector exits non-zero naming DATABASE_URL and the bad numbers', async () => {
    const { code, stderr } = await run('collector', { WARM_INTERVAL_MS: '-5', SECTION_TIMEOUT_MS: 'soon' });
    expect(code).toBe(1);
    expect(stderr).toContain('collector: invalid environment (3 problems)');
    expect(stderr).toContain('  DATABASE_URL: is required');
    expect(stderr).toContain('  WARM_INTERVAL_MS: ');
    expect(stderr).toContain('  SECTION_TIMEOUT_MS: ');
  });

  it('cache-warmer exits non-zero naming a bad namespace', async () => {
    const { code, stderr } = await run('cache-warmer', { SSOT_NAMESPACE: 'has spaces' });
    expect(code).toBe(1);
    expect(stderr).toContain('  SSOT_NAMESPACE: letters, digits, _ . - only');
  });

  it('dispatcher on Redis Cluster exits non-zero until SSOT_NAMESPACE is a hash tag', async () => {
    const { code, stderr } = await run('dispatcher', { REDIS_URL: 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001', SSOT_NAMESPACE: 'ssot' });
    expect(code).toBe(1);
    expect(stderr).toContain('dispatcher: invalid environment (2 problems)');
    expect(stderr).toContain('  DATABASE_URL: is required');
    expect(stderr).toContain(
      '  SSOT_NAMESPACE: must contain a hash tag on Redis Cluster (REDIS_URL is redis+cluster://): a name in braces, such as {ssot}, so that every key is in one slot',
    );
  });
});
