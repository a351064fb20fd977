/**
 * Bearer-token auth for the REST API: when the hub has a token, every request but the public ones
 * must carry `Authorization: Bearer <token>`. Tokens are compared in constant time and never
 * echoed or logged. Tokens in URLs are not accepted anywhere: URLs end up in logs and histories.
 */
import type { MiddlewareHandler } from 'hono';
import { MitteloError } from '../../errors.ts';
import { tokensMatch } from '../auth.ts';

const HOW_TO_PASS =
  'send the header "Authorization: Bearer <token>" with the token the hub was started with (--token or MITTELO_TOKEN)';

/** The token in an `Authorization: Bearer <token>` header, '' when there is none, null when malformed. */
function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header.trim() === '') return '';
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match ? match[1]! : null;
}

/**
 * Rejects requests without the right token with 401 `unauthorized`. `isPublic` names the requests
 * that need no token (the health check, so load balancers and `curl` probes work without it).
 */
export function bearerAuth(token: string | undefined, isPublic: (method: string, path: string) => boolean) {
  const handler: MiddlewareHandler = async (c, next) => {
    if (!token || isPublic(c.req.method, c.req.path)) return next();
    const given = bearerToken(c.req.header('authorization'));
    if (given === '') throw unauthorized(`this hub requires a token: ${HOW_TO_PASS}`);
    if (given === null) throw unauthorized(`malformed Authorization header: ${HOW_TO_PASS}`);
    if (!tokensMatch(given, token)) throw unauthorized(`wrong token: ${HOW_TO_PASS}`);
    return next();
  };
  return handler;
}

function unauthorized(message: string): MitteloError {
  return new MitteloError('unauthorized', message);
}
