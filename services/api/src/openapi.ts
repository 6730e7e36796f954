import { OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import {
  bulkCommandAccepted,
  bulkCommandProgress,
  bulkCommandRequest,
  COMMAND_ACTIONS,
  commandAccepted,
  errorAnswer,
  ingestAccepted,
  ingestProblem,
  ingestRequest,
  jobDetail,
  jobSearchPage,
  jobSearchQuery,
  MAX_BULK_JOBS,
  MAX_EVENTS_PER_BATCH,
  opaqueId,
  SECTION_NAMES,
  SECTION_SCHEMAS,
  snapshot,
  snapshotMeta,
} from '@agentos/contracts';
import { z } from 'zod';

/**
 * The OpenAPI 3.1 description of every route the api serves (CONTRACT §4), generated from the
 * contract's zod schemas (`@asteasolutions/zod-to-openapi`) and served at `GET /api/openapi.json`.
 * `OPENAPI_ROUTES` is the list the api's route table is checked against (test/openapi.test.ts).
 */

/** Every answer's error body. */
const ErrorBody = errorAnswer.meta({ id: 'Error' });

const json = (schema: z.ZodType, description: string, headers?: ResponseConfig['headers']): ResponseConfig => ({
  description,
  content: { 'application/json': { schema } },
  ...(headers ? { headers } : {}),
});
const error = (description: string): ResponseConfig => json(ErrorBody, description);

const ADMIN = [{ adminToken: [] }];
const INGEST = [{ ingestToken: [] }];
const unauthorized = { 401: error('No valid token (the reason is logged, never sent).') };
const forbidden = { 403: error('A valid token without the admin role.') };
/** Any route: the request door refuses a malformed target before a route sees it. */
const badTarget = { 400: error('A malformed request target: a bad percent-escape, a control character.') };
const noDatabase = { 503: error('The api runs without DATABASE_URL, or the database or Redis did not answer.') };

const snapshotHeaders = z.object({
  ETag: z.string().meta({ description: 'Weak, per version (`W/"v42"`): one tag for every encoding.' }),
  'X-SSOT-Version': z.string().meta({ description: 'The snapshot version, strictly increasing.' }),
  'X-SSOT-Source': z.enum(['cache', 'rebuilt', 'stale']).meta({ description: 'Where the answer came from.' }),
});

const CommandAcceptedBody = commandAccepted.meta({ id: 'CommandAccepted' });

const jobIdParam = z.object({ id: opaqueId.meta({ description: 'The job id as its platform gave it (opaque), percent-encoded.' }) });

const routes: RouteConfig[] = [
  {
    method: 'get',
    path: '/api/admin/ssot',
    operationId: 'getSnapshot',
    tags: ['snapshot'],
    summary: 'The whole snapshot',
    description:
      'The stored bytes of the current version. `If-None-Match` answers 304; gzip or br when asked. A miss rebuilds once across replicas and answers within 2 s; past that the last good copy is served with `meta.stale: true`.',
    security: ADMIN,
    request: { headers: z.object({ 'If-None-Match': z.string().optional() }) },
    responses: {
      200: json(snapshot.meta({ id: 'Snapshot' }), 'The snapshot.', snapshotHeaders),
      304: { description: 'Not modified: the version named in If-None-Match is current.' },
      ...unauthorized,
      ...forbidden,
      503: error('No snapshot has ever been built (with `Retry-After`).'),
    },
  },
  {
    method: 'get',
    path: '/api/admin/ssot/{section}',
    operationId: 'getSnapshotSection',
    tags: ['snapshot'],
    summary: 'One section of the snapshot',
    security: ADMIN,
    request: { params: z.object({ section: z.enum(['meta', ...SECTION_NAMES]) }) },
    responses: {
      200: json(z.union([snapshotMeta, ...Object.values(SECTION_SCHEMAS)]).meta({ id: 'SnapshotSection' }), 'The section, at the version in X-SSOT-Version.', snapshotHeaders),
      304: { description: 'Not modified.' },
      ...unauthorized,
      ...forbidden,
      404: error('No section of that name.'),
      503: error('No snapshot has ever been built (with `Retry-After`).'),
    },
  },
  {
    method: 'post',
    path: '/api/events',
    operationId: 'postEvents',
    tags: ['ingest'],
    summary: 'Post one event, or a batch',
    description: `One event, or \`{"events": [...]}\` of up to ${MAX_EVENTS_PER_BATCH} events and 1 MiB. An event's id is its idempotency key. A bad batch is refused whole, every problem listed in \`error.details\` (\`[{index, field, message}]\`).`,
    security: INGEST,
    request: { body: { required: true, content: { 'application/json': { schema: ingestRequest.meta({ id: 'IngestRequest' }) } } } },
    responses: {
      202: json(ingestAccepted.meta({ id: 'IngestAccepted' }), 'Accepted: `ids` in the order posted; `duplicates` were seen before.'),
      400: json(errorAnswer.extend({ error: errorAnswer.shape.error.extend({ details: z.array(ingestProblem).optional() }) }).meta({ id: 'IngestRefused' }), 'Not JSON, or invalid events (none was accepted).'),
      ...unauthorized,
      413: error('Over 1 MiB, or over 500 events.'),
      415: error('Not JSON by its Content-Type, or an unknown Content-Encoding.'),
      429: error('Past the rate limit (with `Retry-After: 1`).'),
      503: error('Redis did not answer; nothing was kept, and posting again is safe.'),
    },
  },
  {
    method: 'get',
    path: '/api/admin/jobs',
    operationId: 'searchJobs',
    tags: ['jobs'],
    summary: 'Job search',
    description:
      'Every filter optional and combined; newest first (created_at, then id, descending); keyset pages: pass `next_cursor` back as `cursor`. `status` is comma separated; `q` is text in type or error, case-insensitive, with at least 3 letters or digits in a row; `from` ≤ created_at < `to`. Unknown parameters are refused.',
    security: ADMIN,
    request: { query: jobSearchQuery },
    responses: {
      200: json(jobSearchPage.meta({ id: 'JobSearchPage' }), 'One page of jobs.'),
      400: error('A bad filter, limit or cursor, an unknown or repeated parameter: `details` lists each as `{field, message}`.'),
      ...unauthorized,
      ...forbidden,
      ...noDatabase,
    },
  },
  {
    method: 'post',
    path: '/api/admin/jobs/bulk',
    operationId: 'requestBulkCommand',
    tags: ['jobs'],
    summary: 'Retry or cancel every job a filter matches',
    description: `Carried out in the background, in batches, each job checked as a single command is (its source, its state): those that cannot be are skipped, with the reason. At most ${MAX_BULK_JOBS} jobs.`,
    security: ADMIN,
    request: { body: { required: true, content: { 'application/json': { schema: bulkCommandRequest.meta({ id: 'BulkCommandRequest' }) } } } },
    responses: {
      202: json(bulkCommandAccepted.meta({ id: 'BulkCommandAccepted' }), 'Accepted: progress at `GET /api/admin/jobs/bulk/{bulk_id}`.'),
      400: error(`Not JSON, a bad action or filter, or a filter matching more than ${MAX_BULK_JOBS} jobs.`),
      ...unauthorized,
      ...forbidden,
      413: error('A body over 16 KiB.'),
      415: error('Not JSON by its Content-Type.'),
      ...noDatabase,
    },
  },
  {
    method: 'get',
    path: '/api/admin/jobs/bulk/{bulk_id}',
    operationId: 'getBulkCommand',
    tags: ['jobs'],
    summary: 'How far a bulk command has come',
    security: ADMIN,
    request: { params: z.object({ bulk_id: z.uuid() }) },
    responses: {
      200: json(bulkCommandProgress.meta({ id: 'BulkCommandProgress' }), 'The counts so far; `done` once every batch ran.'),
      ...unauthorized,
      ...forbidden,
      404: error('No bulk command with that id.'),
      ...noDatabase,
    },
  },
  {
    method: 'get',
    path: '/api/admin/jobs/{id}',
    operationId: 'getJob',
    tags: ['jobs'],
    summary: 'One job with its history and commands',
    security: ADMIN,
    request: { params: jobIdParam },
    responses: {
      200: json(jobDetail.meta({ id: 'JobDetail' }), 'The job; its events oldest first, its commands newest first.'),
      400: error('Not an id (CONTRACT §5).'),
      ...unauthorized,
      ...forbidden,
      404: error('No job with that id.'),
      ...noDatabase,
    },
  },
  ...COMMAND_ACTIONS.map(
    (action): RouteConfig => ({
      method: 'post',
      path: `/api/admin/jobs/{id}/${action}`,
      operationId: `${action}Job`,
      tags: ['jobs'],
      summary: `Ask the job's platform to ${action} it`,
      description: `A command on \`ssot:commands:{source}\` for the job's platform (CONTRACT §8), refused with 409 when the source or the job's state does not allow it.`,
      security: ADMIN,
      request: { params: jobIdParam },
      responses: {
        202: json(CommandAcceptedBody, 'Kept and queued for the platform.'),
        400: error('Not an id.'),
        ...unauthorized,
        ...forbidden,
        404: error('No job with that id.'),
        409: error('Its source or its state does not allow it: the message says why.'),
        ...noDatabase,
      },
    }),
  ),
  {
    method: 'get',
    path: '/api/openapi.json',
    operationId: 'getOpenApi',
    tags: ['meta'],
    summary: 'This document',
    security: [],
    responses: { ...badTarget, 200: json(z.record(z.string(), z.unknown()), 'The OpenAPI 3.1 document.') },
  },
  {
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    tags: ['meta'],
    summary: 'Liveness',
    security: [],
    responses: {
      200: json(z.object({ status: z.literal('ok') }), 'Alive, its loops making progress.'),
      503: json(z.object({ status: z.literal('stuck'), stuck: z.array(z.string()) }), 'A loop is stuck past its deadline.'),
      ...badTarget,
    },
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    tags: ['meta'],
    summary: 'Readiness',
    description: 'Redis answers and a snapshot (or its last good copy) exists. The database is left out: only the job routes need it.',
    security: [],
    responses: {
      200: json(z.object({ status: z.literal('ready'), checks: z.record(z.string(), z.string()) }), 'Ready.'),
      503: json(z.object({ status: z.literal('not_ready'), checks: z.record(z.string(), z.string()) }), 'Not ready: `checks` says what failed.'),
      ...badTarget,
    },
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tags: ['meta'],
    summary: 'Prometheus metrics',
    security: [],
    responses: { ...badTarget, 200: { description: 'Prometheus text exposition.', content: { 'text/plain': { schema: z.string() } } } },
  },
];

/** Every operation the document describes, as `METHOD /path` with `{param}` templates. */
export const OPENAPI_ROUTES: readonly string[] = routes.map((route) => `${route.method.toUpperCase()} ${route.path}`);

let document: Record<string, unknown> | undefined;

/** The document, built once per process (zod's registry takes each schema id once). */
export function openApiDocument(version: string): Record<string, unknown> {
  if (!document) {
    const generator = new OpenApiGeneratorV31(
      routes.map((route) => ({ type: 'route' as const, route })),
    );
    document = withPatternFlagsDropped(
      generator.generateDocument({
        openapi: '3.1.0',
        info: {
          title: 'AgentOS SSOT api',
          version,
          description: 'The HTTP surface of the AgentOS SSOT (CONTRACT §4): snapshot reads, event ingest, admin job search, detail and commands, health.',
          license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
        },
        servers: [{ url: '/', description: 'The api itself (any replica).' }],
        tags: [
          { name: 'snapshot', description: 'The SSOT snapshot (CONTRACT §3).' },
          { name: 'ingest', description: 'Events from the job platforms (CONTRACT §5).' },
          { name: 'jobs', description: 'Admin job search, detail and commands (CONTRACT §4, §8).' },
          { name: 'meta', description: 'Health, readiness, metrics and this document.' },
        ],
      }),
    ) as unknown as Record<string, unknown>;
    const components = document.components as { securitySchemes?: unknown };
    components.securitySchemes = {
      adminToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A user token (HS256 secret or JWKS) whose `role` claim is `admin`.' },
      ingestToken: { type: 'http', scheme: 'bearer', description: 'One of the api’s INGEST_TOKENS.' },
    };
  }
  return document;
}

/**
 * zod-to-openapi 9 writes a regular expression with flags as `source/flags` (`…]+$/u`); JSON
 * Schema patterns are ECMA-262 with Unicode semantics already, so the flags are dropped.
 */
function withPatternFlagsDropped<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) => (key === 'pattern' && typeof v === 'string' ? v.replace(/\/[dgimsuvy]+$/, '') : v)) as T;
}
