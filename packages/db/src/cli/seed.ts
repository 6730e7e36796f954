// `node packages/db/dist/cli/seed.js [--jobs N] [--days D] [--workers W] [--logs L] [--seed S]
// [--demo] [--append]`: migrates DATABASE_URL, then writes the reference dataset into it.
import { parseArgs } from 'node:util';
import { DbError } from '../errors';
import { migrate } from '../migrate';
import { DEMO_SEED_OPTIONS, type SeedOptions, type SeedSummary, seedReferenceDataset } from '../seed';

const demo = DEMO_SEED_OPTIONS;
const USAGE = `usage: seed [--jobs N] [--days D] [--workers W] [--logs L] [--seed S] [--demo] [--append]
  --demo     the small development dataset (${demo.jobs} jobs, ${demo.workers} workers, ${demo.logs} log lines,
             ${demo.days} days); other flags override it
  --append   keep existing rows instead of emptying the tables first
defaults: 200000 jobs, 30 days, 50 workers, 50000 log lines, seed 42`;

function parseOptions(argv: string[]): SeedOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      jobs: { type: 'string' },
      days: { type: 'string' },
      workers: { type: 'string' },
      logs: { type: 'string' },
      seed: { type: 'string' },
      demo: { type: 'boolean', default: false },
      append: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  // Strings become numbers here; ranges are checked once, by the seeder, which names every problem.
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  return {
    ...(values.demo ? DEMO_SEED_OPTIONS : {}),
    ...Object.fromEntries(
      Object.entries({
        jobs: number(values.jobs),
        days: number(values.days),
        workers: number(values.workers),
        logs: number(values.logs),
        seed: number(values.seed),
      }).filter(([, value]) => value !== undefined),
    ),
    reset: !values.append,
  };
}

function format(summary: SeedSummary): string {
  const n = (value: number) => value.toLocaleString('en-US');
  const statuses = Object.entries(summary.jobsByStatus)
    .map(([status, count]) => `${status} ${n(count)} (${((100 * count) / Math.max(1, summary.jobs)).toFixed(1)} %)`)
    .join(', ');
  return [
    `jobs            ${n(summary.jobs)}: ${statuses}`,
    `  last hour     ${n(summary.jobsLastHour)}`,
    `  last 24 h     ${n(summary.jobsLast24h)}`,
    `workers         ${n(summary.workers)} (${n(summary.workersOnline)} online)`,
    `agents          ${n(summary.agents)}`,
    `queues          ${n(summary.queues)}`,
    `services        ${n(summary.services)}`,
    `settings        ${n(summary.settings)}`,
    `log entries     ${n(summary.logs)}`,
    `notifications   ${n(summary.notifications)}`,
    `took            ${(summary.elapsedMs / 1000).toFixed(2)} s`,
  ].join('\n');
}

async function main(): Promise<void> {
  let options: SeedOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error('DATABASE_URL is not set: it must name the PostgreSQL database to seed');
    process.exit(2);
  }
  const log = (line: string) => console.log(line);
  await migrate(databaseUrl, { log });
  const summary = await seedReferenceDataset(databaseUrl, { ...options, log });
  console.log(format(summary));
}

main().catch((error: unknown) => {
  console.error(error instanceof DbError ? `${error.code}: ${error.message}` : error);
  process.exit(1);
});
