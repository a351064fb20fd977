/**
 * The REST API as a Hono app. Every route that reads or changes hub state is one protocol call:
 * the route table below says which method, and where its params come from (JSON body, query
 * string or path), and `Hub.call` validates them with the same schemas as TCP. The OpenAPI
 * document (openapi.ts) is generated from the same table, so the two cannot disagree.
 */
import { type Context, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import { isMitteloError, MitteloError } from '../../errors.ts';
import type { MethodName } from '../../protocol/schemas.ts';
import { isDashboardPath, mountDashboard } from '../../web/static-routes.ts';
import type { EventCategory } from '../events.ts';
import type { CallContext, Hub } from '../hub.ts';
import { bearerAuth } from './bearer-auth.ts';
import { errorBody, httpStatusFor } from './http-errors.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { readJsonObject } from './read-body.ts';
import { type RequestGuardOptions, requestGuard } from './request-guard.ts';
import { responseSchemas } from './response-schemas.ts';
import { eventStreamResponse, type OpenStreams } from './sse.ts';

/** A route that is one protocol call. */
export interface CallRoute {
  method: 'GET' | 'POST';
  /** Hono syntax; a `:name` segment becomes the param of that name. */
  path: string;
  summary: string;
  hubMethod: MethodName;
  /**
   * Where the params come from: `body` a JSON object, `path` the path's `:name` segments, `query`
   * the query string (see `paramsFromQuery`), `path_query` both, `none` nothing (a body, if
   * sent, is ignored).
   */
  input: 'body' | 'path' | 'query' | 'path_query' | 'none';
  /** The 200 answer, for the OpenAPI document. */
  response: z.ZodType;
  /** A request body that works, for the OpenAPI document and for error messages. */
  example?: Record<string, unknown>;
}

export const CALL_ROUTES: readonly CallRoute[] = [
  // ---- v0.1 ----
  {
    method: 'GET',
    path: '/stats',
    summary: 'Task counts by status',
    hubMethod: 'stats',
    input: 'none',
    response: responseSchemas.stats,
  },
  {
    method: 'GET',
    path: '/tasks',
    summary: 'Tasks, newest first (limit default 50; limit <= 0 = all), and the stats',
    hubMethod: 'list',
    input: 'query',
    response: responseSchemas.list,
  },
  {
    method: 'POST',
    path: '/tasks',
    summary: 'Enqueue one task',
    hubMethod: 'enqueue',
    input: 'body',
    response: responseSchemas.enqueue,
    example: { prompt: 'Summarise README.md' },
  },
  {
    method: 'POST',
    path: '/tasks/retry_failed',
    summary: 'Put failed tasks (all, or those in task_ids) back in the queue',
    hubMethod: 'retry_failed',
    input: 'body',
    response: responseSchemas.retry_failed,
    example: { task_ids: [3, 4] },
  },
  {
    method: 'POST',
    path: '/shutdown',
    summary: 'Stop the hub (it answers first)',
    hubMethod: 'shutdown',
    input: 'none',
    response: responseSchemas.ok,
  },
  // ---- v1 ----
  {
    method: 'POST',
    path: '/tasks/batch',
    summary: 'Enqueue many tasks in one transaction (all or none)',
    hubMethod: 'enqueue_many',
    input: 'body',
    response: responseSchemas.enqueue_many,
    example: { tasks: [{ prompt: 'first' }, { prompt: 'second', priority: 5 }] },
  },
  {
    method: 'POST',
    path: '/tasks/wait',
    summary: 'Answer when all (or any) of the tasks finished, or at the timeout',
    hubMethod: 'wait',
    input: 'body',
    response: responseSchemas.wait,
    example: { task_ids: [7, 8], timeout_ms: 30000, mode: 'all' },
  },
  {
    method: 'GET',
    path: '/tasks/:task_id',
    summary: 'One task',
    hubMethod: 'get',
    input: 'path',
    response: responseSchemas.get,
  },
  {
    method: 'POST',
    path: '/tasks/:task_id/cancel',
    summary: 'Cancel a task that has not finished',
    hubMethod: 'cancel',
    input: 'path',
    response: responseSchemas.cancel,
  },
  // ---- after v1: live output (docs/REST.md, "Live output") ----
  {
    method: 'GET',
    path: '/tasks/:task_id/output',
    summary:
      "A task's live output as the hub keeps it (its newest lines): the lines after after_seq, at most limit (default and most 500)",
    hubMethod: 'output_tail',
    input: 'path_query',
    response: responseSchemas.output_tail,
  },
  {
    method: 'GET',
    path: '/agents',
    summary: 'The agents the hub knows: identity, health, current tasks, last contact',
    hubMethod: 'agents',
    input: 'none',
    response: responseSchemas.agents,
  },
  // ---- after v1: queue control (docs/REST.md, "Pause and resume") ----
  {
    method: 'POST',
    path: '/pause',
    summary: 'Pause leasing for a backend (or the whole queue): queued work stays, leased work finishes',
    hubMethod: 'pause',
    input: 'body',
    response: responseSchemas.pause,
    example: { backend: 'claude_code', reason: 'quota used up' },
  },
  {
    method: 'POST',
    path: '/resume',
    summary: 'Lift the pause of a backend (or of the whole queue)',
    hubMethod: 'resume',
    input: 'body',
    response: responseSchemas.resume,
    example: { backend: 'claude_code' },
  },
  {
    method: 'GET',
    path: '/pauses',
    summary: 'The pauses in force',
    hubMethod: 'pauses',
    input: 'none',
    response: responseSchemas.pauses,
  },
  // ---- after v1: caps on leasing (docs/REST.md, "Limits") ----
  {
    method: 'POST',
    path: '/limits',
    summary: 'Set the cap of a backend or tag:NAME: tasks leased at once, lease starts per minute',
    hubMethod: 'limit_set',
    input: 'body',
    response: responseSchemas.limit_set,
    example: { scope: 'claude_code', concurrency: 3 },
  },
  {
    method: 'POST',
    path: '/limits/clear',
    summary: 'Remove the cap of a backend or tag:NAME',
    hubMethod: 'limit_clear',
    input: 'body',
    response: responseSchemas.limit_clear,
    example: { scope: 'claude_code' },
  },
  {
    method: 'GET',
    path: '/limits',
    summary: 'The caps, with the tasks leased under each and how many wait for a slot',
    hubMethod: 'limits',
    input: 'none',
    response: responseSchemas.limits,
  },
  // ---- after v1: spend and budgets (docs/REST.md, "Spend and budgets") ----
  {
    method: 'POST',
    path: '/budgets',
    summary:
      "Set a backend's daily budget: no new leases for it once its known cost today (UTC) reaches usd_per_day",
    hubMethod: 'budget_set',
    input: 'body',
    response: responseSchemas.budget_set,
    example: { backend: 'claude_code', usd_per_day: 20 },
  },
  {
    method: 'POST',
    path: '/budgets/clear',
    summary: "Remove a backend's daily budget",
    hubMethod: 'budget_clear',
    input: 'body',
    response: responseSchemas.budget_clear,
    example: { backend: 'claude_code' },
  },
  {
    method: 'GET',
    path: '/budgets',
    summary: 'The budgets, with what each backend has spent today (UTC) and whether it is exhausted',
    hubMethod: 'budgets',
    input: 'none',
    response: responseSchemas.budgets,
  },
  {
    method: 'GET',
    path: '/spend',
    summary: 'Tasks, tokens and cost per UTC day and backend over the last days (default 1: today)',
    hubMethod: 'spend',
    input: 'query',
    response: responseSchemas.spend,
  },
  // ---- after v1: retention (docs/REST.md, "Prune finished tasks") ----
  {
    method: 'POST',
    path: '/tasks/prune',
    summary: 'Remove finished tasks older than older_than_s (statuses: default done, failed, canceled)',
    hubMethod: 'prune',
    input: 'body',
    response: responseSchemas.prune,
    example: { older_than_s: 604800, statuses: ['done', 'canceled'] },
  },
  // ---- after v1: what the dashboards' chart and header show ----
  {
    method: 'GET',
    path: '/stats/history',
    summary: "Tasks finished (done, failed) and enqueued per minute over the last day, from the hub's memory",
    hubMethod: 'stats_history',
    input: 'query',
    response: responseSchemas.stats_history,
  },
  {
    method: 'GET',
    path: '/hub',
    summary: "The hub's version, start time and addresses",
    hubMethod: 'hub_info',
    input: 'none',
    response: responseSchemas.hub_info,
  },
];

export interface RestAppOptions {
  token?: string | undefined;
  /** Where the server listens and which other Host names it answers to (request-guard.ts). */
  guard: RequestGuardOptions;
  maxBodyBytes: number;
  /** Streams of `GET /events` open now; the server ends them when it closes. */
  openStreams: OpenStreams;
  onInternalError: (error: unknown) => void;
}

export function createRestApp(hub: Hub, options: RestAppOptions): Hono {
  const app = new Hono();
  // The dashboard's files hold no data: the page itself asks for the token.
  const isPublic = (method: string, path: string) =>
    (method === 'GET' || method === 'HEAD') && (path === '/health' || isDashboardPath(path));

  // First, on every route: no web page but the hub's own may drive the API (Host, Origin and
  // Content-Type checks), whether the hub has a token or not.
  app.use(requestGuard(options.guard));
  // A request without the token is turned away before its body is read.
  app.use(bearerAuth(options.token, isPublic));

  app.get('/health', (c) => c.json({ ok: true }));
  mountDashboard(app);

  for (const route of CALL_ROUTES) {
    app.on(route.method, route.path, async (c) => {
      const params = await paramsFor(route, c, options.maxBodyBytes);
      return c.json((await hub.call(route.hubMethod, params, callContext(c))) as object);
    });
  }

  app.get('/events', async (c) => {
    let categories: EventCategory[] = [];
    const events = c.req.query('events');
    const params: Record<string, unknown> = events
      ? { events: events.split(',').map((name) => name.trim()) }
      : {};
    if (outputWanted(c.req.query('output'))) params.output = true;
    // Through Hub.call, so the categories are validated (and a stopping hub refuses) as on TCP.
    await hub.call('subscribe', params, {
      ...callContext(c),
      subscribe: (wanted) => {
        categories = wanted;
      },
    });
    return eventStreamResponse(hub, categories, options.openStreams);
  });

  let openApi: object | null = null;
  app.get('/openapi.json', (c) => {
    openApi ??= buildOpenApiDocument(CALL_ROUTES, { authRequired: Boolean(options.token) });
    return c.json(openApi);
  });

  app.notFound((c) => c.json({ error: 'not found', code: 'not_found' }, 404));

  app.onError((error, c) => {
    if (isMitteloError(error)) {
      if (error.code === 'unauthorized') c.header('WWW-Authenticate', 'Bearer');
      return c.json(errorBody(error), httpStatusFor(error.code));
    }
    if (error instanceof HTTPException && error.status < 500) {
      return c.json({ error: error.message || 'bad request', code: 'bad_request' }, error.status);
    }
    // A client that hung up mid-request is not a hub problem worth a log line.
    if (!c.req.raw.signal.aborted) options.onInternalError(error);
    const message = error instanceof Error ? error.message : String(error);
    return c.json({ error: `internal error: ${message}`, code: 'internal' }, 500);
  });

  return app;
}

/** One REST request is one caller: authenticated (the middleware checked), alive while connected. */
function callContext(c: Context): CallContext {
  const signal = c.req.raw.signal;
  return { authenticated: true, isAlive: () => !signal.aborted };
}

async function paramsFor(route: CallRoute, c: Context, maxBodyBytes: number): Promise<unknown> {
  switch (route.input) {
    case 'none':
      return {};
    case 'path':
      return c.req.param();
    case 'query':
      return paramsFromQuery(route, c);
    case 'path_query':
      return { ...paramsFromQuery(route, c), ...c.req.param() };
    case 'body':
      return readJsonObject(c, { maxBytes: maxBodyBytes, example: route.example });
  }
}

/** Query parameters that are numbers (every other query value is a string), and what they mean. */
const INTEGER_QUERY: Readonly<Record<string, string>> = {
  limit: 'limit <= 0 means no limit',
  minutes: 'how many of the last minutes, 1 to 1440',
  days: 'how many UTC days, today included, 1 to 366',
  after_seq: 'the seq of the last line already seen, 0 or more',
};

/** `GET /events?output=1`: also the `task.output` events (1/true, or 0/false/absent). */
function outputWanted(value: string | undefined): boolean {
  const text = value?.trim().toLowerCase() ?? '';
  if (text === '' || text === '0' || text === 'false') return false;
  if (text === '1' || text === 'true') return true;
  throw new MitteloError(
    'bad_request',
    `bad query for GET /events: output is 1 or 0 (true or false), got "${value}"`,
  );
}

/**
 * `GET /tasks?status=&limit=&backend=&before_id=&search=`, `GET /stats/history?minutes=`,
 * `GET /spend?days=`. Query
 * values are strings but for the integers of INTEGER_QUERY. Empty values count as absent
 * (`?status=` lists every status).
 */
function paramsFromQuery(route: CallRoute, c: Context): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(c.req.query())) {
    if (value.trim() === '') continue;
    params[name] = value;
  }
  for (const [name, meaning] of Object.entries(INTEGER_QUERY)) {
    const value = params[name];
    if (typeof value !== 'string') continue;
    if (!/^[-+]?\d+$/.test(value.trim())) {
      throw new MitteloError(
        'bad_request',
        `bad query for ${route.method} ${route.path}: ${name} must be an integer, got "${value}" (${meaning})`,
      );
    }
    params[name] = Number(value.trim());
  }
  return params;
}
