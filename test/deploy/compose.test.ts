// docker-compose.yml, offline: valid against the Compose Specification's own schema (shipped in
// dclint, draft-07, via ajv), started in order by healthchecks and depends_on conditions, every
// variable it gives a service one that service reads and every required one given, and no secret
// written in it: they come from the files deploy/compose/init-secrets.sh makes, which are checked
// here too (the script runs into a temporary directory).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { jwtVerify } from 'jose';
import { ENV_SCHEMAS } from './support/env-schemas';
import { ROOT, readCompose, readEnvFile } from './support/manifests';

const compose = readCompose();
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const services = compose.services as Record<string, any>;
const ours = Object.entries(services).filter(([, service]) => service.build);

function composeValidator() {
  const schema = JSON.parse(readFileSync(join(ROOT, 'node_modules/dclint/schemas/compose.schema.json'), 'utf8'));
  delete schema.$schema; // draft-07 meta-schema is ajv's default; the URL form is not registered
  return new Ajv({ strict: false, allErrors: true }).compile(schema);
}

/** Secrets made once for the suite, as `docker compose up` would read them. */
let secretsDir: string;
beforeAll(() => {
  secretsDir = mkdtempSync(join(tmpdir(), 'ssot-compose-secrets-'));
  execFileSync('sh', [join(ROOT, 'deploy/compose/init-secrets.sh'), secretsDir], { timeout: 10_000 });
});
afterAll(() => rmSync(secretsDir, { recursive: true, force: true }));

/** A service's environment as compose assembles it: its env_files (made by init-secrets.sh), then `environment`. */
function environmentOf(service: { env_file?: string[]; environment?: Record<string, string> }): { env: Record<string, string>; fromFiles: Set<string> } {
  const env: Record<string, string> = {};
  const fromFiles = new Set<string>();
  for (const file of service.env_file ?? []) {
    expect(file).toMatch(/^deploy\/compose\/secrets\/[a-z-]+\.env$/);
    for (const [name, value] of readEnvFile(join(secretsDir, file.split('/').pop()!))) {
      env[name] = value;
      fromFiles.add(name);
    }
  }
  for (const [name, value] of Object.entries(service.environment ?? {})) {
    // `${VAR:-default}`: what compose substitutes when VAR is not set in the shell.
    env[name] = String(value).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');
  }
  return { env, fromFiles };
}

test('valid against the Compose Specification schema, and a misspelt key is refused', () => {
  const validate = composeValidator();
  expect(validate(compose) ? [] : validate.errors).toEqual([]);
  // The control: the schema refuses unknown service keys, so it would catch ours.
  const misspelt = structuredClone(compose);
  misspelt.services.api.depends_onn = misspelt.services.api.depends_on;
  expect(validate(misspelt)).toBe(false);
});

test('start order: Redis and PostgreSQL healthy → migrate completed → the services → the platform side', () => {
  expect(services.redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
  expect(services.postgres.healthcheck.test[0]).toBe('CMD');
  expect(services.postgres.healthcheck.test).toContain('pg_isready');
  expect(services.migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
  expect(services.migrate.restart).toBe('no');
  for (const [name, service] of ours.filter(([name]) => name !== 'migrate')) {
    const dependsOn = service.depends_on as Record<string, { condition: string }>;
    // Every condition is one compose can wait on: healthy (the image's HEALTHCHECK, or the
    // service's own), or completed for the one-shot.
    for (const [dependency, { condition }] of Object.entries(dependsOn)) {
      expect([name, dependency, condition]).toEqual([name, dependency, dependency === 'migrate' ? 'service_completed_successfully' : 'service_healthy']);
    }
    expect([name, dependsOn.redis ?? dependsOn.api]).toEqual([name, { condition: 'service_healthy' }]);
  }
  // What uses the database waits for the migrations.
  for (const name of ['collector', 'dispatcher', 'api']) expect(services[name].depends_on.migrate).toEqual({ condition: 'service_completed_successfully' });
  // The platform side waits for the api it posts to.
  for (const name of ['simulator', 'celery-bridge', 'bullmq-bridge']) expect(services[name].depends_on.api).toEqual({ condition: 'service_healthy' });
});

test('every service of the contract runs; two gateway replicas; the simulator and bridges behind profiles', () => {
  expect(Object.keys(services).sort()).toEqual(['api', 'bullmq-bridge', 'cache-warmer', 'celery-bridge', 'collector', 'dispatcher', 'migrate', 'postgres', 'realtime-gateway', 'redis', 'simulator'].sort());
  expect(services['realtime-gateway'].deploy.replicas).toBe(2);
  expect(services['realtime-gateway'].ports).toEqual(['3001-3002:3001']);
  expect(services.api.ports).toEqual(['3000:3000']);
  const profiles = Object.fromEntries(Object.entries(services).filter(([, s]) => s.profiles).map(([name, s]) => [name, s.profiles]));
  expect(profiles).toEqual({ simulator: ['simulator'], 'celery-bridge': ['celery'], 'bullmq-bridge': ['bullmq'] });
  for (const [name, service] of ours.filter(([name]) => name !== 'migrate')) {
    expect([name, service.read_only, service.cap_drop, service.stop_grace_period]).toEqual([name, true, ['ALL'], '15s']);
  }
});

test('every variable compose gives a service is in that service’s env schema, and the service accepts its environment', () => {
  for (const [name, service] of ours) {
    const schema = ENV_SCHEMAS[name]!;
    const { env } = environmentOf(service);
    expect([name, Object.keys(env).filter((variable) => !schema.names.has(variable))]).toEqual([name, []]);
    expect(() => schema.load(env)).not.toThrow();
  }
});

test('no secret is written in docker-compose.yml: they come from the files init-secrets.sh makes', () => {
  const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  expect(text).not.toMatch(/[a-z+]+:\/\/[^\s/:@"]+:[^\s/@"]+@/); // a URL with a password
  for (const [name, service] of Object.entries(services)) {
    for (const variable of Object.keys(service.environment ?? {})) {
      expect([name, variable, /SECRET|TOKEN|PASSWORD$|DATABASE_URL/.test(variable)]).toEqual([name, variable, false]);
    }
  }
  expect(services.postgres.environment.POSTGRES_PASSWORD_FILE).toBe('/run/secrets/postgres_password');
  expect(compose.secrets).toEqual({ postgres_password: { file: 'deploy/compose/secrets/postgres_password' } });
  // The secrets directory is never committed.
  expect(readFileSync(join(ROOT, 'deploy/compose/secrets/.gitignore'), 'utf8')).toMatch(/^\*$/m);
});

test('init-secrets.sh: private files, one password for PostgreSQL and DATABASE_URL, one ingest token on both sides, kept on a second run', async () => {
  for (const file of ['postgres_password', 'database.env', 'auth.env', 'ingest-tokens.env', 'ingest-token.env']) {
    expect([file, statSync(join(secretsDir, file)).mode & 0o077]).toEqual([file, 0]);
  }
  const password = readFileSync(join(secretsDir, 'postgres_password'), 'utf8');
  expect(password).toMatch(/^[0-9a-f]{48}$/);
  expect(readEnvFile(join(secretsDir, 'database.env')).get('DATABASE_URL')).toBe(`postgresql://ssot:${password}@postgres:5432/ssot`);
  expect(readEnvFile(join(secretsDir, 'ingest-tokens.env')).get('INGEST_TOKENS')).toBe(readEnvFile(join(secretsDir, 'ingest-token.env')).get('INGEST_TOKEN'));
  const before = readFileSync(join(secretsDir, 'auth.env'), 'utf8');
  execFileSync('sh', [join(ROOT, 'deploy/compose/init-secrets.sh'), secretsDir], { timeout: 10_000 });
  expect(readFileSync(join(secretsDir, 'auth.env'), 'utf8')).toBe(before);
  expect(readFileSync(join(secretsDir, 'postgres_password'), 'utf8')).toBe(password);

  // dev-token.sh signs an admin token the services accept with that secret.
  const token = execFileSync('sh', [join(ROOT, 'deploy/compose/dev-token.sh'), secretsDir], { encoding: 'utf8', timeout: 10_000 }).trim();
  const secret = readEnvFile(join(secretsDir, 'auth.env')).get('AUTH_JWT_SECRET')!;
  const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'] });
  expect(payload).toMatchObject({ sub: 'dev-admin', role: 'admin' });
  expect(payload.exp! - payload.iat!).toBe(30 * 24 * 3600);
});

test('every service of ours is built from its own target of the Dockerfile', () => {
  const targets = [...readFileSync(join(ROOT, 'Dockerfile'), 'utf8').matchAll(/^FROM \S+ AS ([a-z-]+)$/gm)].map((m) => m[1]);
  for (const [name, service] of ours) {
    expect([name, service.build, service.image]).toEqual([name, { context: '.', target: name }, `agentos-ssot/${name}:\${SSOT_VERSION:-dev}`]);
    expect(targets).toContain(name);
  }
});
