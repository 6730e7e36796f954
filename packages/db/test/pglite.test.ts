import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createPrismaClient, loadMigrations, migrate, seedIfEmpty } from '@agentos/db';

// The development launcher runs the system of record on PGlite (PostgreSQL compiled to WASM,
// served over the wire by pglite-socket). The migrations, the seeder and the client must work
// there exactly as on a real server.

jest.setTimeout(120_000);

let server: ChildProcess;
let url: string;

beforeAll(async () => {
  server = spawn(process.execPath, [join(__dirname, 'support', 'pglite-server.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Settles once: with the address when the server is up, or with an error if it dies first.
  const address = await new Promise<string>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`the PGlite server exited early (code ${String(code)})`)));
    createInterface({ input: server.stdout! }).on('line', (line) => {
      const match = /^listening (\S+)$/.exec(line);
      if (match?.[1]) resolve(match[1]);
    });
  });
  url = `postgresql://postgres@${address}/postgres?sslmode=disable`;
});

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = once(server, 'exit');
    server.kill('SIGTERM');
    await exited;
  }
});

describe('on PGlite', () => {
  it('migrates, seeds the demo dataset once, and serves it to the Prisma client', async () => {
    expect((await migrate(url)).applied).toEqual(loadMigrations().map((m) => m.name));
    expect((await migrate(url)).applied).toEqual([]);

    const first = await seedIfEmpty(url, { jobs: 1_000, workers: 4, logs: 200 });
    const second = await seedIfEmpty(url, { jobs: 1_000, workers: 4, logs: 200 });

    expect(first).toMatchObject({ seeded: true, summary: { jobs: 1_000, workers: 4, logs: 200, agents: 11, queues: 5 } });
    expect(first.summary.jobsLastHour).toBeGreaterThan(0);
    expect(second.seeded).toBe(false);

    const prisma = createPrismaClient(url, { poolMax: 1 });
    try {
      expect(await prisma.job.count()).toBe(1_000);
      const agents = await prisma.agent.findMany({ orderBy: { stage: 'asc' }, select: { name: true } });
      expect(agents.map((a) => a.name)).toHaveLength(11);
      const setting = await prisma.setting.findUnique({ where: { key: 'warm.interval_ms' } });
      expect(setting?.value).toBe(5000);
    } finally {
      await prisma.$disconnect();
    }
  });
});
