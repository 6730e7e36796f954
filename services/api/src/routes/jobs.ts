import { type CommandAccepted, commandAction, opaqueId } from '@agentos/contracts';
import { bearerToken, NotFoundError, type TokenVerifier, ValidationError } from '@agentos/runtime';
import { type Request, Router } from 'express';
import type { FailRequest } from '../app';
import { JobStoreUnavailableError } from '../errors';
import { parseJobSearch } from '../job-search';
import type { JobService } from '../jobs';
import { parseRequestTarget } from '../request-target';

export interface JobsRouteDeps {
  verifier: TokenVerifier;
  /** Absent when the api has no DATABASE_URL: every job route answers 503. */
  jobs?: JobService;
  fail: FailRequest;
}

/**
 * The admin job routes (CONTRACT §4, §8): `GET /api/admin/jobs` (the search),
 * `GET /api/admin/jobs/:id` and `POST /api/admin/jobs/:id/retry|cancel`. An admin token first,
 * then the request (the id is opaque, percent-encoded in the path), then the job service.
 */
export function jobsRouter(deps: JobsRouteDeps): Router {
  const router = Router();

  router.get('/api/admin/jobs', async (req, res) => {
    try {
      await deps.verifier.verifyAdmin(bearerToken(req.headers.authorization));
      if (!deps.jobs) throw new JobStoreUnavailableError('job routes need the database: this api has no DATABASE_URL');
      // The door checked the target already (escapes, control characters): this cannot throw.
      const search = parseJobSearch(parseRequestTarget(req.originalUrl).query);
      res.set('cache-control', 'private, no-store').json(await deps.jobs.search(search));
    } catch (error) {
      deps.fail(req, res, error);
    }
  });

  const withJobs = async (req: Request): Promise<{ jobs: JobService; id: string; principal: Awaited<ReturnType<TokenVerifier['verifyAdmin']>> }> => {
    const principal = await deps.verifier.verifyAdmin(bearerToken(req.headers.authorization));
    if (!deps.jobs) throw new JobStoreUnavailableError('job routes need the database: this api has no DATABASE_URL');
    const parsed = opaqueId.safeParse(req.params.id);
    if (!parsed.success) throw new ValidationError(`job id: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return { jobs: deps.jobs, id: parsed.data, principal };
  };

  router.get('/api/admin/jobs/:id', async (req, res) => {
    try {
      const { jobs, id } = await withJobs(req);
      res.set('cache-control', 'private, no-store').json(await jobs.detail(id));
    } catch (error) {
      deps.fail(req, res, error);
    }
  });

  router.post('/api/admin/jobs/:id/:action', async (req, res) => {
    try {
      const action = commandAction.safeParse(req.params.action);
      if (!action.success) throw new NotFoundError('no such route');
      const { jobs, id, principal } = await withJobs(req);
      const answer: CommandAccepted = { command_id: await jobs.request(id, action.data, principal) };
      res.status(202).json(answer);
    } catch (error) {
      deps.fail(req, res, error);
    }
  });

  return router;
}
