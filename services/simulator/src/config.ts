import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { commonEnv, ConfigError, type EnvRule, loadEnv, portEnv } from '@agentos/runtime';
import { z } from 'zod';

const positiveInt = z.coerce.number().int().positive();
/** Seconds between two incidents; 0 turns them off. */
const incidentEvery = z.coerce.number().min(0).max(86_400);

export const simulatorEnv = z.object({
  ...commonEnv,
  ...portEnv(3007),
  /** Events per second to post, every event counted (`--rate`). @default 20 */
  SIM_RATE: z.coerce.number().positive().max(100_000).default(20),
  /**
   * Names the run (`--seed`): the same seed and options give exactly the same events — ids,
   * payloads, order and the time between them; only `occurred_at` moves with the start. Job ids
   * carry a tag of it, so runs with different seeds never share one. @default a random one, logged
   */
  SIM_SEED: z
    .string()
    .max(100)
    .regex(/^\S+$/, 'no whitespace')
    .default(() => randomBytes(4).toString('hex')),
  /** Seconds to run, then stop and print the achieved rate (`--duration`). @default none: until stopped */
  SIM_DURATION_S: z.coerce.number().positive().max(31_536_000).optional(),
  /** Workers, spread over the pipeline, general, comms and reports pools (`--workers`). @default 8 */
  SIM_WORKERS: positiveInt.min(4, 'at least 4 (one per pool)').max(1000).default(8),
  /**
   * How much faster than real time the platform runs (`--speed`): 1 is realistic (a pipeline run
   * takes about 35 s, a worker crashes every few minutes); 6 makes every job, heartbeat and
   * incident six times as quick, for tests and short demos. The event rate is not changed by it.
   * @default 1
   */
  SIM_SPEED: z.coerce.number().min(0.1).max(100).default(1),
  /** Share of job runs that fail, on average over the job kinds (`--failure-rate`). @default 0.02 */
  SIM_FAILURE_RATE: z.coerce.number().min(0).max(0.5).default(0.02),
  /** Mean seconds between two backlogs on `reports` (at speed 1; 0: none) (`--backlog-every`). @default 480 */
  SIM_BACKLOG_EVERY_S: incidentEvery.default(480),
  /** Mean seconds between two worker crashes (at speed 1; 0: none) (`--crash-every`). @default 240 */
  SIM_CRASH_EVERY_S: incidentEvery.default(240),
  /** Where the events go: the SSOT api's base URL (`POST /api/events`) (`--ingest-url`). @default http://127.0.0.1:3000 */
  INGEST_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3000'),
  /**
   * One of the api's `INGEST_TOKENS`. @default the launcher's development ingest token
   * (`dev-ingest-token` in `SSOT_DATA_DIR`), so `npm run sim` posts to what `npm start` runs
   */
  INGEST_TOKEN: z.string().min(1).optional(),
  /** The launcher's data directory, where its development ingest token is. @default .data in the repository */
  SSOT_DATA_DIR: z.string().min(1).optional(),
  /** Events per `POST /api/events` request, 1 … 500. @default 500 */
  INGEST_BATCH: positiveInt.max(500).default(500),
});
export type SimulatorConfig = z.infer<typeof simulatorEnv> & { INGEST_TOKEN: string };

/** Command-line flags and the variables they set; a flag wins over the variable. */
export const FLAGS = {
  rate: 'SIM_RATE',
  seed: 'SIM_SEED',
  duration: 'SIM_DURATION_S',
  workers: 'SIM_WORKERS',
  speed: 'SIM_SPEED',
  'failure-rate': 'SIM_FAILURE_RATE',
  'backlog-every': 'SIM_BACKLOG_EVERY_S',
  'crash-every': 'SIM_CRASH_EVERY_S',
  'ingest-url': 'INGEST_URL',
  port: 'PORT',
} as const;

export const USAGE = `Usage: npm run sim -- [--rate N] [--seed S] [--duration S] [--workers N] [--speed X]
                       [--failure-rate P] [--backlog-every S] [--crash-every S] [--ingest-url URL] [--port N]

A simulated AgentOS platform posting its events to the SSOT api (POST /api/events, source
"simulator") and carrying out its retry and cancel commands. Each flag has a variable:
${Object.entries(FLAGS)
  .map(([flag, variable]) => `  --${flag.padEnd(14)} ${variable}`)
  .join('\n')}
and INGEST_TOKEN (default: the dev token of npm start), REDIS_URL and SSOT_NAMESPACE (commands).
With --duration it stops after that many seconds and prints the achieved rate.`;

/** The repository root, as seen from `services/simulator/{src,dist}`. */
const REPOSITORY = resolve(__dirname, '..', '..', '..');

/**
 * The configuration from the environment and the command line (`--rate 2000`, `--rate=2000`):
 * one schema, flags first, and ONE error naming every problem, unknown flags included.
 */
export function loadSimulatorConfig(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = []): Readonly<SimulatorConfig> {
  const { values, problems } = parseFlags(argv);
  const merged: NodeJS.ProcessEnv = { ...env, ...values };
  const tokenFile = join(merged.SSOT_DATA_DIR || join(REPOSITORY, '.data'), 'dev-ingest-token');
  if (!merged.INGEST_TOKEN) merged.INGEST_TOKEN = readToken(tokenFile);
  const rules: EnvRule[] = [
    () => problems,
    (cleaned) => (cleaned.INGEST_TOKEN ? [] : [`  INGEST_TOKEN: is required (nor is there a launcher dev token in ${tokenFile})`]),
  ];
  try {
    return loadEnv('simulator', simulatorEnv, merged, rules) as Readonly<SimulatorConfig>;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Problems are named by variable: say which flag sets it too.
    let message = error.message;
    for (const [flag, variable] of Object.entries(FLAGS)) message = message.replaceAll(`\n  ${variable}:`, `\n  ${variable} (--${flag}):`);
    throw new ConfigError(message);
  }
}

/** Flags to variables; what is not a known `--flag value` is a problem. */
export function parseFlags(argv: readonly string[]): { values: Record<string, string>; problems: string[] } {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const variable = match ? FLAGS[match[1] as keyof typeof FLAGS] : undefined;
    if (!match || !variable) {
      problems.push(`  ${arg}: not an option (${Object.keys(FLAGS).map((f) => `--${f}`).join(', ')})`);
      // Its value, if it has one, is not another problem.
      if (match && match[2] === undefined && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) i += 1;
      continue;
    }
    const value = match[2] ?? argv[i + 1];
    if (value === undefined || (match[2] === undefined && value.startsWith('--'))) {
      problems.push(`  --${match[1]}: needs a value`);
      continue;
    }
    if (match[2] === undefined) i += 1;
    values[variable] = value;
  }
  return { values, problems };
}

function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
