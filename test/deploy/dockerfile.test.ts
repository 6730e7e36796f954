// The Dockerfile, parsed (no Docker engine here: the images are not built on this machine). Each
// deployable's target: built in stages from a pinned base, run as a non-root user, a HEALTHCHECK
// on its own port, an exec-form command that is the one `npm start` runs for it. And the
// healthcheck script itself, run against a server that answers as a service does.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { ENV_SCHEMAS } from './support/env-schemas';
import { ROOT } from './support/manifests';

const TEXT = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const dockerfile = DockerfileParser.parse(TEXT);

interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** The stages, in order, each with its own instructions (FROM included). */
const stages: Stage[] = [];
for (const instruction of dockerfile.getInstructions()) {
  if (instruction.getKeyword() === 'FROM') {
    const args = instruction.getArguments().map((a) => a.getValue());
    stages.push({ name: args[2] ?? `#${stages.length}`, from: args[0]!, instructions: [] });
  }
  stages.at(-1)?.instructions.push(instruction);
}
const stage = (name: string) => stages.find((s) => s.name === name)!;
/** A stage and the stages it is built from, nearest first. */
function lineage(name: string): Stage[] {
  const chain: Stage[] = [];
  for (let s: Stage | undefined = stage(name); s; s = stages.find((p) => p.name === s!.from)) chain.push(s);
  return chain;
}
/** The last `keyword` instruction in effect for a stage (its own, else its parents'). */
function effective(name: string, keyword: string): Instruction | undefined {
  for (const s of lineage(name)) {
    const found = s.instructions.filter((i) => i.getKeyword() === keyword).at(-1);
    if (found) return found;
  }
  return undefined;
}
/** An instruction's flags and arguments, as written (`--from=build /app/x x`). */
function words(instruction: Instruction): string {
  const flags = ((instruction as Instruction & { getFlags?: () => { toString(): string }[] }).getFlags?.() ?? []).map((f) => f.toString());
  return [...flags, ...instruction.getArguments().map((a) => a.getValue())].join(' ');
}
/** HEALTHCHECK's command in exec form (`HEALTHCHECK [options] CMD ["…"]`), or null. */
function healthcheckArgv(instruction: Instruction): string[] | null {
  const match = /\bCMD\s+(\[.*\])\s*$/s.exec(instruction.getTextContent());
  return match ? (JSON.parse(match[1]!) as string[]) : null;
}
function json(instruction: Instruction): string[] | null {
  const strings = (instruction as Instruction & { getJSONStrings?: () => { getJSONValue(): string }[] }).getJSONStrings?.();
  return strings && strings.length > 0 ? strings.map((s) => s.getJSONValue()) : null;
}

/** What `npm start` runs, per service: scripts/start.mjs's SERVICES, `services/<name>/dist/index.js`. */
const START = readFileSync(join(ROOT, 'scripts/start.mjs'), 'utf8');
const LAUNCHED = [...START.matchAll(/\{ name: '([a-z-]+)', offset: (\d+)/g)].map((m) => m[1]!);
const SERVICE_TARGETS = Object.keys(ENV_SCHEMAS).filter((name) => name !== 'migrate');

test('the file is valid: no unknown instruction, one CMD per stage, nothing dockerfile-utils reports', () => {
  expect(validate(TEXT)).toEqual([]);
});

test('stages: a pinned base, installs and the build apart from the runtime, one target per deployable', () => {
  const [arg] = dockerfile.getInitialARGs();
  const base = arg!.getProperty()!.getValue()!;
  // An exact release (x.y.z), a slim Debian, never a floating tag.
  expect(base).toMatch(/^node:20\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
  expect(stage('base').from).toBe('${NODE_IMAGE}');
  expect(stages.map((s) => s.name)).toEqual(['base', 'manifests', 'deps', 'build', 'runtime', ...SERVICE_TARGETS, 'migrate']);
  // The runtime carries the production dependencies and built files only: no `npm ci` of its own.
  const runtimeRuns = lineage('runtime').flatMap((s) => s.instructions).filter((i) => i.getKeyword() === 'RUN');
  expect(runtimeRuns).toEqual([]);
  expect(stage('deps').instructions.find((i) => i.getKeyword() === 'RUN')!.getTextContent()).toMatch(/npm ci --omit=dev --omit=optional --ignore-scripts --workspaces --include-workspace-root=false/);
  expect(stage('build').instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getTextContent()).join('\n')).toMatch(/turbo run build/);
});

test('the install stages copy every workspace’s package.json (a new workspace must be listed)', () => {
  const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).workspaces as string[]).flatMap((glob) => {
    const dir = glob.replace('/*', '');
    return (require('node:fs').readdirSync(join(ROOT, dir), { withFileTypes: true }) as import('node:fs').Dirent[])
      .filter((e) => e.isDirectory() && require('node:fs').existsSync(join(ROOT, dir, e.name, 'package.json')))
      .map((e) => `${dir}/${e.name}/package.json`);
  });
  const copied = stage('manifests')
    .instructions.filter((i) => i.getKeyword() === 'COPY')
    .map((i) => i.getArguments()[0]!.getValue());
  expect(copied.filter((f) => f !== 'package.json' && f !== 'package-lock.json').sort()).toEqual(workspaces.sort());
});

describe.each([...SERVICE_TARGETS, 'migrate'])('target %s', (name) => {
  test('runs as a numeric non-root user, with an exec-form command that is what `npm start` runs', () => {
    const user = effective(name, 'USER')!.getArguments()[0]!.getValue();
    expect(user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    const cmd = effective(name, 'CMD')!;
    const argv = json(cmd);
    expect(argv).not.toBeNull(); // exec form: node is PID 1 and gets SIGTERM itself
    expect(effective(name, 'ENTRYPOINT')).toBeUndefined();
    if (name === 'migrate') {
      // `npm run migrate` = `npm run build && node packages/db/dist/cli/migrate.js`.
      const script = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.migrate as string;
      expect(script.split(' && ').at(-1)).toBe(argv!.join(' '));
    } else {
      // scripts/start.mjs runs `node services/<name>/dist/index.js` (the launcher's describeService);
      // the simulator and the bridges run the same way when it starts them.
      expect(argv).toEqual(['node', `services/${name}/dist/index.js`]);
      expect(START).toMatch(/join\(dir, 'dist', 'index\.js'\)/);
      if (name !== 'simulator') expect(LAUNCHED).toContain(name);
      const main = JSON.parse(readFileSync(join(ROOT, 'services', name, 'package.json'), 'utf8')).main;
      expect(`services/${name}/${main}`).toBe(argv![1]);
      // Its own dist/ is copied in, from the build stage.
      expect(stage(name).instructions.some((i) => i.getKeyword() === 'COPY' && words(i) === `--from=build /app/services/${name}/dist services/${name}/dist`)).toBe(true);
    }
  });

  test('has a HEALTHCHECK on its own port’s /healthz (none for the one-shot migration)', () => {
    const check = effective(name, 'HEALTHCHECK')!;
    if (name === 'migrate') {
      expect(check.getArguments().map((a) => a.getValue())).toEqual(['NONE']);
      return;
    }
    expect(healthcheckArgv(check)).toEqual(['node', 'deploy/docker/healthcheck.cjs']);
    const port = ENV_SCHEMAS[name]!.defaultPort;
    const env = stage(name).instructions.filter((i) => i.getKeyword() === 'ENV').map((i) => i.getArguments().map((a) => a.getValue()).join(' '));
    expect(env).toContain(`PORT=${port}`);
    expect(stage(name).instructions.filter((i) => i.getKeyword() === 'EXPOSE').map((i) => i.getArguments()[0]!.getValue())).toEqual([String(port)]);
  });
});

test('the api image carries the dashboard’s static build', () => {
  const copies = stage('api').instructions.filter((i) => i.getKeyword() === 'COPY').map(words);
  expect(copies).toContain('--from=build /app/services/dashboard/dist services/dashboard/dist');
  expect(copies).toContain('--from=build /app/services/dashboard/serve.cjs services/dashboard/serve.cjs');
});

test('.dockerignore lets in the sources and nothing local (node_modules, dist, .data, .env)', () => {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  expect(lines[0]).toBe('*');
  for (const pattern of ['**/node_modules', '**/dist', '**/.env', '**/test']) expect(lines).toContain(pattern);
  // Everything the Dockerfile copies from the context is let back in.
  const included = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
  const sources = stages
    .flatMap((s) => s.instructions)
    .filter((i) => i.getKeyword() === 'COPY' && !words(i).startsWith('--from'))
    .map((i) => i.getArguments()[0]!.getValue())
    .filter((src) => src !== '.');
  for (const src of sources) expect([src, included.some((inc) => src === inc || src.startsWith(`${inc}/`))]).toEqual([src, true]);
});

describe('deploy/docker/healthcheck.cjs', () => {
  let server: Server;
  let status = 200;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? status : 404, { 'content-type': 'application/json' });
      res.end(status === 200 ? '{"status":"ok"}' : '{"status":"stuck"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const run = async (port: string) => {
    try {
      await promisify(execFile)(process.execPath, [join(ROOT, 'deploy/docker/healthcheck.cjs')], { env: { PORT: port }, timeout: 10_000 });
      return 0;
    } catch (error) {
      return (error as { code?: number }).code;
    }
  };

  test('exits 0 on /healthz 200, 1 on 503, 1 when nothing listens or PORT is not a port', async () => {
    const port = String((server.address() as AddressInfo).port);
    status = 200;
    expect(await run(port)).toBe(0);
    status = 503;
    expect(await run(port)).toBe(1);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const unused = String((closed.address() as AddressInfo).port);
    await new Promise((resolve) => closed.close(resolve));
    expect(await run(unused)).toBe(1);
    expect(await run('')).toBe(1);
  });
});
