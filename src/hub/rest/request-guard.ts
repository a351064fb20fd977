/**
 * Keeps web pages the user happens to visit from driving the REST API. A browser lets any page
 * send requests to 127.0.0.1, so three header checks run before anything else (the token
 * included), on every route (GET /events and the dashboard's files too):
 *
 * - Host: must be a name the hub is bound to. A DNS-rebinding page reaches the hub under the
 *   attacker's own name (`attacker.example` resolved to 127.0.0.1), which is refused, so the page
 *   can read nothing, not even with GET.
 * - Origin: when present (browsers send it on every cross-origin request and on every POST), it
 *   must be the hub's own origin, the scheme and the Host the request came to. Clients that are
 *   not browsers (curl, scripts) send none and are not affected.
 * - Content-Type: every POST/PUT/PATCH/DELETE, even with an empty body, must say
 *   `application/json`. Browsers send cross-origin writes without asking first ("simple
 *   requests") only with text/plain or form types, so such a write never reaches a route.
 *
 * Which Host names pass depends on the bind address:
 * - loopback (127.x, ::1, localhost): `localhost`, any `127.x` address and `[::1]`;
 * - another address or name: that address or name;
 * - every interface (0.0.0.0, ::): the loopback names and any IP address. An IP literal cannot be
 *   a rebinding attack (that needs a name the attacker controls), and the machine's addresses
 *   change (DHCP, containers), so listing them would only break set-ups. Names must be listed.
 * plus, in every case, the names given with --allowed-hosts. Any port is accepted: the port
 * already picked the server, and the name is what a rebinding attack cannot fake.
 */
import { isIP } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { MitteloError } from '../../errors.ts';
import { isLoopbackHost } from '../auth.ts';
import { errorBody } from './http-errors.ts';

export interface RequestGuardOptions {
  /** The address the REST server listens on (--rest-host, or --host). */
  boundHost: string;
  /** More Host names to accept (--allowed-hosts): names the hub is reached by, without ports. */
  allowedHosts?: readonly string[] | undefined;
}

/** Why a request was refused, in `details.refused` of the error answer. */
type Refusal = 'host' | 'origin' | 'content_type';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Refuses requests with a foreign Host (421), a foreign Origin (403) or a write that is not JSON (415). */
export function requestGuard(options: RequestGuardOptions): MiddlewareHandler {
  const hostAllowed = hostPolicy(options.boundHost, normalizeAllowedHosts(options.allowedHosts ?? []));
  const handler: MiddlewareHandler = async (c, next) => {
    const host = c.req.header('host');
    const hostname = host === undefined ? null : hostnameOf(host);
    if (host === undefined || hostname === null || !hostAllowed(hostname)) {
      return refuse(c, 421, 'host', hostMessage(host, options.boundHost));
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && !isOwnOrigin(origin, host)) {
      return refuse(c, 403, 'origin', originMessage(origin, host));
    }
    if (WRITE_METHODS.has(c.req.method) && !isJson(c.req.header('content-type'))) {
      return refuse(
        c,
        415,
        'content_type',
        contentTypeMessage(c.req.method, c.req.path, c.req.header('content-type')),
      );
    }
    return next();
  };
  return handler;
}

/**
 * The --allowed-hosts names, lower-cased, IPv6 without brackets. A port, a scheme or a path is
 * refused at start rather than silently never matching (ports are not compared).
 */
export function normalizeAllowedHosts(names: readonly string[]): string[] {
  return names.map((name) => {
    const host = withBrackets(name.trim());
    const hostname = hostnameOf(host);
    if (hostname === null || /:\d*$/.test(host.replace(/^\[[^\]]*\]/, ''))) {
      throw new MitteloError(
        'bad_request',
        `--allowed-hosts: "${name}" is not a host name; give names or addresses without scheme or port, for example --allowed-hosts hub.example.com,192.168.1.5`,
      );
    }
    return hostname;
  });
}

function hostPolicy(boundHost: string, allowed: readonly string[]): (hostname: string) => boolean {
  const bound = hostnameOf(withBrackets(boundHost));
  const wildcard = bound === '0.0.0.0' || bound === '::';
  return (hostname) => {
    if (allowed.includes(hostname)) return true;
    if (wildcard) return isLoopbackHost(hostname) || isIP(hostname) !== 0;
    if (bound !== null && isLoopbackHost(bound)) return isLoopbackHost(hostname);
    return hostname === bound;
  };
}

/** A bare IPv6 address (`::1`, as in --rest-host) in the bracketed form a Host header uses. */
function withBrackets(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * The host name of a Host header (`name`, `name:port`, `[v6]:port`) as the URL parser sees it:
 * lower-cased, IPv4 in dotted form (so `0x7f.1` is `127.0.0.1`), IPv6 without brackets. Null when
 * it is not a bare host (user info, a path, an empty name).
 */
function hostnameOf(host: string): string | null {
  if (host === '') return null;
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    return null;
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash || !url.hostname) {
    return null;
  }
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * The hub's own origin is the Host the request came to, under http (the hub itself) or https (a
 * TLS proxy in front that passes the Host on). Parsing the Host with the Origin's scheme makes a
 * default port compare equal whether it is written or not. `null` (sandboxed frames, some
 * redirects) is never the hub's page, so it is refused.
 */
function isOwnOrigin(origin: string, host: string): boolean {
  let from: URL;
  try {
    from = new URL(origin);
  } catch {
    return false;
  }
  if (from.protocol !== 'http:' && from.protocol !== 'https:') return false;
  try {
    return from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** `application/json`, with or without parameters (`; charset=utf-8`), in any case. */
function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

function refuse(c: Context, status: 403 | 415 | 421, refused: Refusal, message: string): Response {
  return c.json(errorBody(new MitteloError('bad_request', message, { refused })), status);
}

function hostMessage(host: string | undefined, boundHost: string): string {
  const what = host === undefined ? 'no Host header' : `Host "${host}"`;
  return (
    `refused: the request came with ${what}, which is not a name this hub (bound to ${boundHost}) answers to. ` +
    'This protects against web pages reaching the hub through DNS rebinding. If you reach the hub by this name ' +
    '(a reverse proxy, a DNS name), start it with --allowed-hosts <name> (or MITTELO_ALLOWED_HOSTS)'
  );
}

function originMessage(origin: string, host: string): string {
  return (
    `refused: the request comes from the web page at ${origin}, not from the hub's own dashboard (http://${host}/). ` +
    'The REST API does not take requests from other web pages, since any page you visit could send them. ' +
    'Call it from a program or curl (they send no Origin header), or open the dashboard at the hub itself; ' +
    'behind a proxy, pass the original Host header on'
  );
}

function contentTypeMessage(method: string, path: string, contentType: string | undefined): string {
  const got = contentType === undefined ? 'none' : `"${contentType}"`;
  return (
    `refused: ${method} ${path} needs the header "Content-Type: application/json" (got ${got}): every write must say it, ` +
    "even one without a body, so that no web page can send the hub a write. With curl: -H 'Content-Type: application/json'"
  );
}
