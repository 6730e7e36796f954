import { PIPELINE_AGENTS, type PipelineAgentName, REFERENCE_QUEUES } from '@agentos/contracts';

// What the simulated AgentOS platform runs: its job kinds, the pipeline's steps, its worker pools
// and what goes wrong. Durations are as an operator would see them at `speed` 1; the scenario
// (scenario.ts) draws from these and nothing else.

export type QueueName = (typeof REFERENCE_QUEUES)[number];

export interface JobError {
  message: string;
  /** The platform retries it by itself (with backoff, up to MAX_ATTEMPTS); otherwise it stays failed until an admin retries it. */
  retryable: boolean;
}

export interface JobKind {
  queue: QueueName;
  type: string;
  /** Median run time, ms; run times are log-normal around it (RUN_TIME_SIGMA). */
  medianMs: number;
  /** Run on behalf of a user: `user_id` set, and progress reported while it runs. */
  perUser: boolean;
  /** Progress reports while it runs (per-user kinds only), evenly spread. */
  progressTicks: number;
  /** How often it fails, relative to the failure rate (1: at the rate). */
  failWeight: number;
  errors: readonly JobError[];
}

export interface PipelineStep extends JobKind {
  agent: PipelineAgentName;
  stage: number;
}

/** Spread of run times around their median (log-normal σ): p95 is about 2.3× the median. */
export const RUN_TIME_SIGMA = 0.5;
/** Runs of one job at most: the first and two automatic retries of a retryable failure. */
export const MAX_ATTEMPTS = 3;
/** Delay before the platform's first automatic retry, ms; it doubles with each attempt. */
export const RETRY_BACKOFF_MS = 2_000;

const MODEL_RATE_LIMIT: JobError = { message: 'HTTP 429 from model provider: rate limited, retry after 30 s', retryable: true };
const MODEL_UNAVAILABLE: JobError = { message: 'HTTP 503 from model provider: service unavailable', retryable: true };
const STATEMENT_TIMEOUT: JobError = { message: 'canceling statement due to statement timeout', retryable: true };
const CONNECTION_RESET: JobError = { message: 'ECONNRESET: upstream connection reset by peer', retryable: true };

/** The pipeline as it runs: each agent's step, its run time, how often and how it fails. */
const STEP_PROFILES: Record<PipelineAgentName, Pick<JobKind, 'medianMs' | 'progressTicks' | 'failWeight' | 'errors'>> = {
  intake: { medianMs: 400, progressTicks: 0, failWeight: 0.3, errors: [{ message: 'ValidationError: request body is missing "input"', retryable: false }] },
  classifier: { medianMs: 900, progressTicks: 0, failWeight: 0.8, errors: [MODEL_RATE_LIMIT] },
  planner: { medianMs: 2_500, progressTicks: 1, failWeight: 0.6, errors: [{ message: 'TimeoutError: planning exceeded 120000 ms', retryable: true }] },
  retriever: {
    medianMs: 3_200,
    progressTicks: 1,
    failWeight: 1.8,
    errors: [
      { message: 'ECONNRESET: vector store connection reset by peer', retryable: true },
      { message: 'DocumentNotFound: source document was deleted before retrieval', retryable: false },
    ],
  },
  extractor: { medianMs: 3_500, progressTicks: 2, failWeight: 1, errors: [{ message: 'ParseError: unexpected end of JSON input at position 4096', retryable: true }] },
  enricher: { medianMs: 1_800, progressTicks: 1, failWeight: 0.6, errors: [STATEMENT_TIMEOUT] },
  reasoner: { medianMs: 6_500, progressTicks: 3, failWeight: 1, errors: [MODEL_UNAVAILABLE, { message: 'TimeoutError: step exceeded 120000 ms', retryable: true }] },
  generator: {
    medianMs: 8_000,
    progressTicks: 3,
    failWeight: 2,
    errors: [MODEL_RATE_LIMIT, { message: 'ContextLengthExceeded: prompt is 131072 tokens, the model takes 128000', retryable: false }],
  },
  reviewer: {
    medianMs: 3_000,
    progressTicks: 2,
    failWeight: 1.5,
    errors: [
      { message: 'ValidationError: output did not match schema (missing field "summary")', retryable: false },
      { message: 'PolicyViolation: result flagged by content review', retryable: false },
    ],
  },
  formatter: { medianMs: 700, progressTicks: 0, failWeight: 0.3, errors: [{ message: 'RenderError: template "report.md" references unknown field "owner"', retryable: false }] },
  publisher: {
    medianMs: 1_200,
    progressTicks: 1,
    failWeight: 1.1,
    errors: [
      { message: 'HTTP 502 from destination webhook', retryable: true },
      { message: 'PermissionDenied: token lacks scope "reports:write"', retryable: false },
    ],
  },
};

/**
 * A pipeline run is one job per agent, in stage order, on the `pipeline` queue, for one user:
 * each step is created when the one before it completes, so every agent's counters on the
 * dashboard are its own. A step that fails for good ends the run there (an admin's retry of it
 * picks the run up again).
 */
export const PIPELINE: readonly PipelineStep[] = PIPELINE_AGENTS.map((agent) => ({
  queue: 'pipeline',
  type: 'agent.step',
  agent: agent.name,
  stage: agent.stage,
  perUser: true,
  ...STEP_PROFILES[agent.name],
}));

/** A unit of work arriving: a pipeline run, or one job on another queue. */
export type Arrival = { share: number } & ({ pipeline: true } | { pipeline: false; kind: JobKind });

const single = (share: number, kind: JobKind): Arrival => ({ share, pipeline: false, kind });

/** What arrives, by share of arrivals (they add up to 1). */
export const ARRIVALS: readonly Arrival[] = [
  { share: 0.22, pipeline: true },
  single(0.1, { queue: 'default', type: 'task.run', medianMs: 1_200, perUser: false, progressTicks: 0, failWeight: 0.7, errors: [{ message: 'OutOfMemoryError: worker heap exceeded 2048 MB', retryable: true }] }),
  single(0.08, { queue: 'default', type: 'cache.refresh', medianMs: 600, perUser: false, progressTicks: 0, failWeight: 0.5, errors: [CONNECTION_RESET] }),
  single(0.08, { queue: 'default', type: 'user.sync', medianMs: 1_500, perUser: true, progressTicks: 1, failWeight: 0.8, errors: [{ message: 'HTTP 404 from identity provider: user not found', retryable: false }] }),
  single(0.1, { queue: 'ingest', type: 'document.ingest', medianMs: 2_500, perUser: true, progressTicks: 2, failWeight: 1, errors: [{ message: 'ParseError: unexpected end of JSON input at position 4096', retryable: true }] }),
  single(0.08, { queue: 'ingest', type: 'webhook.process', medianMs: 300, perUser: false, progressTicks: 0, failWeight: 0.6, errors: [{ message: 'SignatureError: webhook signature mismatch', retryable: false }] }),
  single(0.06, { queue: 'ingest', type: 'file.parse', medianMs: 1_100, perUser: true, progressTicks: 0, failWeight: 1, errors: [{ message: 'UnsupportedFormat: cannot parse application/x-msaccess', retryable: false }] }),
  single(0.09, { queue: 'notifications', type: 'notify.email', medianMs: 250, perUser: true, progressTicks: 0, failWeight: 1, errors: [{ message: 'SMTP 550: mailbox unavailable', retryable: false }] }),
  single(0.07, { queue: 'notifications', type: 'notify.push', medianMs: 150, perUser: true, progressTicks: 0, failWeight: 0.8, errors: [{ message: 'HTTP 503 from push gateway', retryable: true }] }),
  single(0.05, { queue: 'notifications', type: 'notify.slack', medianMs: 300, perUser: false, progressTicks: 0, failWeight: 0.6, errors: [{ message: 'HTTP 429 from Slack: rate limited', retryable: true }] }),
  single(0.02, { queue: 'reports', type: 'report.daily', medianMs: 30_000, perUser: false, progressTicks: 0, failWeight: 1.2, errors: [STATEMENT_TIMEOUT] }),
  single(0.03, { queue: 'reports', type: 'report.export', medianMs: 25_000, perUser: true, progressTicks: 4, failWeight: 1.2, errors: [{ message: 'TimeoutError: export query exceeded 300000 ms', retryable: true }] }),
  single(0.02, { queue: 'reports', type: 'analytics.rollup', medianMs: 40_000, perUser: false, progressTicks: 0, failWeight: 1, errors: [STATEMENT_TIMEOUT] }),
];

/**
 * The backlog: now and then every tenant's daily digest is due at once, on `reports`, more of
 * them than its workers can start. The queue goes past its threshold (the dispatcher announces
 * `queue:threshold_warning`) and drains as the digests run.
 */
export const BACKLOG = {
  kind: { queue: 'reports', type: 'report.digest', medianMs: 5_000, perUser: false, progressTicks: 0, failWeight: 1, errors: [STATEMENT_TIMEOUT] } satisfies JobKind,
  /**
   * The pending threshold of `reports` in the reference dataset (`queues.pending_threshold`,
   * packages/db reference-data.ts; a test keeps the two equal). The simulator speaks only the
   * ingest API, so it cannot read it: it makes sure to leave more than this many waiting.
   */
  threshold: 50,
  /** Digests waiting beyond the threshold once the free workers took theirs: drawn from this range. */
  excess: [25, 45] as const,
};

export interface WorkerPool {
  name: string;
  /** The queues its workers take jobs from, oldest job first. */
  queues: readonly QueueName[];
  /** The queues whose load it is sized for (each queue is sized for by exactly one pool). */
  sizedFor: readonly QueueName[];
  /** Share of the workers (`--workers`). */
  share: number;
}

/** The worker pools; each gets at least one worker. Sized so that losing one worker still keeps up (HEADROOM). */
export const WORKER_POOLS: readonly WorkerPool[] = [
  { name: 'pipeline', queues: ['pipeline'], sizedFor: ['pipeline'], share: 0.4 },
  { name: 'general', queues: ['default', 'ingest'], sizedFor: ['default', 'ingest'], share: 0.25 },
  { name: 'comms', queues: ['notifications', 'default'], sizedFor: ['notifications'], share: 0.15 },
  { name: 'reports', queues: ['reports'], sizedFor: ['reports'], share: 0.2 },
];

/** Slots per pool over what its queues need on average: a pool short of one worker still keeps up. */
export const HEADROOM = 1.6;
/** Fewest slots a worker has, whatever the load. */
export const MIN_CONCURRENCY = 2;

/** The users jobs run for (`auth0|…`, as the SSOT's JWT subjects are). A few are much busier than the rest. */
export const USER_COUNT = 48;

/** Workers' rhythm and failures, ms at speed 1. */
export const WORKER_TIMING = {
  heartbeatMs: 10_000,
  /** A heartbeat vouches for this long (`ttl_s`): three beats. */
  heartbeatTtlMs: 30_000,
  /** A crashed worker's jobs are given up on (failed, then retried) once their lock lapses. */
  stallMs: 30_000,
  /** A crashed worker comes back after a time drawn from this range. */
  downMs: [45_000, 120_000] as const,
  /** The first crash comes within this range of the start; later ones `--crash-every` apart on average. */
  firstCrashMs: [70_000, 110_000] as const,
};

/** `queue:stats` (each queue's depth as the platform's broker sees it) this often, ms at speed 1. */
export const QUEUE_STATS_MS = 15_000;
/** The first backlog comes this long after the start at most (sooner when `--backlog-every` is short), ms at speed 1. */
export const FIRST_BACKLOG_MS = 45_000;
