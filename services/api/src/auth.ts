import type { RequestHandler } from 'express';
import { bearerToken, type TokenVerifier } from '@agentos/runtime';

/** Admin-only routes: 401 without a valid token, 403 for a valid token without the admin role. */
export function requireAdmin(verifier: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    verifier.verifyAdmin(bearerToken(req.headers.authorization)).then((principal) => {
      res.locals.principal = principal;
      next();
    }, next);
  };
}
