import { bulkCommandRequest, COMMAND_ACTIONS, type CommandAccepted, opaqueId } from '@agentos/contracts';
import { bearerToken, NotFoundError, parseUntrustedJson, type Principal, type TokenVerifier, ValidationError } from '@agentos/runtime';
import express, { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import type { FailRequest } from '../app';
import type { BulkCommands } from '../bulk-commands';
import { JobStoreUnavailableError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors';
import { parseJobSearch, toProblems } from '../job-search';
import type { JobService } from '../jobs';
import { parseRequestTarget } from '../request-target';

export interface JobsRouteDeps {
  verifier: TokenVerifier;
  /** Absent when the api has no DATABASE_URL: every job route answers 503. */
  jobs?: JobService;
  bulk?: BulkCommands;
  fail: FailRequest;
}

/** Largest bulk command body: a filter is a few hundred bytes. */
const MAX_BULK_BODY_BYTES = 16 * 1024;

const bulkId = z.uuid();

/**
 * The admin job routes (CONTRACT §4, §8): `GET /api/admin/jobs` (the search),
 * `GET /api/admin/jobs/:id`, `POST /api/admin/jobs/:id/retry|cancel`, and the bulk commands,
 * `POST /api/admin/jobs/bulk` and `GET /api/admin/jobs/bulk/:bulk_id`. An admin token first, then
 * the request (ids are opaque, percent-encoded in the path), then the job service.
 */
export function jobsRouter(deps: JobsRouteDeps): Router {
  const router = Router();
  const readRaw = express.raw({ type: () => true, limit: MAX_BULK_BODY_BYTES });

  /** The admin behind the request, and the services, or the error to answer with. */
  const admin = async (req: Request): Promise<{ principal: Principal; jobs: JobService; bulk: BulkCommands }> => {
    const principal = await deps.verifier.verifyAdmin(bearerToken(req.headers.authorization));
    if (!deps.jobs || !deps.bulk) throw new JobStoreUnavailableError('job routes need the database: this api has no DATABASE_URL');
    return { principal, jobs: deps.jobs, bulk: deps.bulk };
  };
  const jobId = (req: Request): string => {
    const parsed = opaqueId.safeParse(req.params.id);
    if (!parsed.success) throw new ValidationError(`job id: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  };
  const handle = (work: (req: Request, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    try {
      await work(req, res);
    } catch (error) {
      deps.fail(req, res, error);
    }
  };

  router.get(
    '/api/admin/jobs',
    handle(async (req, res) => {
      const { jobs } = await admin(req);
      // The door checked the target already (escapes, control characters): this cannot throw.
      const search = parseJobSearch(parseRequestTarget(req.originalUrl).query);
      res.set('cache-control', 'private, no-store').json(await jobs.search(search));
    }),
  );

  router.post(
    '/api/admin/jobs/bulk',
    handle(async (req, res) => {
      const { bulk, principal } = await admin(req);
      const parsed = bulkCommandRequest.safeParse(await readJson(req, res), { error: requiredMessage });
      if (!parsed.success) {
        const problems = parsed.error.issues.flatMap((issue) => toProblems(issue, 'unknown field'));
        throw new ValidationError(`invalid bulk command: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`, problems);
      }
      res.status(202).json(await bulk.request(parsed.data, principal));
    }),
  );

  router.get(
    '/api/admin/jobs/bulk/:bulk_id',
    handle(async (req, res) => {
      const { bulk } = await admin(req);
      const id = bulkId.safeParse(req.params.bulk_id);
      if (!id.success) throw new NotFoundError('no such bulk command: bulk ids are UUIDs');
      res.set('cache-control', 'private, no-store').json(await bulk.progress(id.data));
    }),
  );

  router.get(
    '/api/admin/jobs/:id',
    handle(async (req, res) => {
      const { jobs } = await admin(req);
      res.set('cache-control', 'private, no-store').json(await jobs.detail(jobId(req)));
    }),
  );

  for (const action of COMMAND_ACTIONS) {
    router.post(
      `/api/admin/jobs/:id/${action}`,
      handle(async (req, res) => {
        const { jobs, principal } = await admin(req);
        const answer: CommandAccepted = { command_id: await jobs.request(jobId(req), action, principal) };
        res.status(202).json(answer);
      }),
    );
  }

  return router;

  /** zod's "expected object, received undefined" says less than it could. */
  function requiredMessage(issue: { code?: string; input?: unknown }): string | undefined {
    return issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined;
  }

  /** The body as JSON: Content-Type JSON (or none), at most MAX_BULK_BODY_BYTES, no prototype keys. */
  async function readJson(req: Request, res: Response): Promise<unknown> {
    const type = req.headers['content-type'];
    if (type !== undefined && !/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
      throw new UnsupportedMediaTypeError('request body must be JSON (Content-Type: application/json)');
    }
    try {
      await new Promise<void>((resolve, reject) => readRaw(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
    } catch (error) {
      const { status } = error as { status?: number };
      if (status === 413) throw new PayloadTooLargeError(`request body over ${MAX_BULK_BODY_BYTES} bytes`);
      if (status === 415) throw new UnsupportedMediaTypeError('unsupported Content-Encoding: use gzip, deflate, br or none');
      if (status !== undefined && status >= 400 && status < 500) throw new ValidationError('request body could not be read');
      throw error;
    }
    const body = (req as Request & { body?: unknown }).body;
    return parseUntrustedJson(Buffer.isBuffer(body) ? body.toString('utf8') : '');
  }
}
