/**
 * `GET /openapi.json`: an OpenAPI 3.1 document of the REST API, generated from the route table
 * (routes.ts) and the zod schemas: request bodies and parameters from the protocol's method
 * schemas (as the hub accepts them, `io: 'input'`), answers from response-schemas.ts. Nothing
 * about a request's shape is written twice.
 */
import { z } from 'zod';
import { TASK_STATUSES } from '../../protocol/model.ts';
import { methodSchemas, newTaskSchema } from '../../protocol/schemas.ts';
import { PROTOCOL_VERSION } from '../hub.ts';
import {
  agentSchema,
  errorSchema,
  hubEventSchema,
  pauseSchema,
  responseSchemas,
  statsSchema,
  taskSchema,
} from './response-schemas.ts';
import type { CallRoute } from './routes.ts';
import { SSE_HEARTBEAT_MS } from './sse.ts';

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;
type Registry = z.core.$ZodRegistry<{ id: string }>;

const schemaRef = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** Error answers every route may give, by HTTP status. */
const ERROR_RESPONSES: Record<string, { id: string; description: string }> = {
  '400': { id: 'BadRequest', description: 'bad_request: wrong params, query or body; nothing changed' },
  '401': { id: 'Unauthorized', description: 'unauthorized: missing or wrong bearer token' },
  '404': { id: 'NotFound', description: 'not_found: no such task, or no such route' },
  '409': { id: 'Conflict', description: 'conflict: the task is not in a state that allows this' },
  '413': { id: 'TooLarge', description: 'too_large: body, prompt or metadata over its limit' },
  '500': { id: 'Internal', description: 'internal: a bug or a disk failure; the hub logs it' },
  '503': { id: 'Unavailable', description: 'unavailable: the hub is shutting down' },
};

/** Extra words for query parameters whose schema alone does not say enough. */
const PARAMETER_DESCRIPTIONS: Record<string, string> = {
  status: `One of ${TASK_STATUSES.join(', ')}; absent or empty = all`,
  limit: 'Most tasks to return, newest first; default 50; <= 0 = no limit',
  before_id: 'Only tasks with a smaller id (the next page of a newest-first listing)',
  search: 'Case-insensitive substring of the prompt',
  minutes: 'How many of the last minutes (the current one included); default and most 1440 (a day)',
  days: 'How many UTC days by the store clock, today included; default 1 (today), most 366',
  'output_tail.limit': 'Most lines to return, oldest first after after_seq; default and most 500',
  after_seq:
    'Only lines with a larger seq (the seq of the last line already seen); default 0: every kept line',
};

const pascal = (name: string) =>
  name.replace(/(^|_)([a-z])/g, (_m, _sep, letter: string) => letter.toUpperCase());

/** `/tasks/:task_id` -> `/tasks/{task_id}` */
const openApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, '{$1}');

const jsonContent = (schema: JsonSchema, example?: unknown) => ({
  'application/json': example === undefined ? { schema } : { schema, example },
});

/** JSON Schemas of a zod registry, ready to sit under `components.schemas`. */
function componentSchemas(registry: Registry, io: 'input' | 'output'): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(registry, {
    io,
    uri: (id) => schemaRef(id).$ref,
    // Answers may gain fields in later versions; a client must not reject them.
    override: (ctx) => {
      if (io === 'output' && ctx.jsonSchema.additionalProperties === false) {
        delete ctx.jsonSchema.additionalProperties;
      }
    },
  });
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return schemas as Record<string, JsonSchema>;
}

/** A query or path value is never null: drop the `null` the protocol allows for v0.1 clients. */
function withoutNull(schema: JsonSchema): JsonSchema {
  if (Array.isArray(schema.anyOf)) {
    const rest = (schema.anyOf as JsonSchema[]).filter((option) => option.type !== 'null');
    if (rest.length === 1) return rest[0]!;
    return { ...schema, anyOf: rest };
  }
  if (Array.isArray(schema.type)) {
    const types = (schema.type as string[]).filter((type) => type !== 'null');
    return { ...schema, type: types.length === 1 ? types[0] : types };
  }
  return schema;
}

/** A method's params as OpenAPI query or path parameters (`path_query`: the path's names in the path). */
function parameters(route: CallRoute, where: 'query' | 'path' | 'path_query'): object[] {
  const schema = z.toJSONSchema(methodSchemas[route.hubMethod], { io: 'input' }) as JsonSchema;
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = (schema.required ?? []) as string[];
  const inPath = new Set([...route.path.matchAll(/:([A-Za-z_]+)/g)].map((match) => match[1]!));
  return Object.entries(properties).map(([name, property]) => {
    const location = where === 'path_query' ? (inPath.has(name) ? 'path' : 'query') : where;
    const parameter: Record<string, unknown> = {
      name,
      in: location,
      required: location === 'path' || required.includes(name),
      schema: withoutNull(property),
    };
    const description = PARAMETER_DESCRIPTIONS[`${route.hubMethod}.${name}`] ?? PARAMETER_DESCRIPTIONS[name];
    if (location === 'query' && description) parameter.description = description;
    return parameter;
  });
}

const errorRefs = () =>
  Object.fromEntries(
    Object.entries(ERROR_RESPONSES).map(([status, { id }]) => [
      status,
      { $ref: `#/components/responses/${id}` },
    ]),
  );

export function buildOpenApiDocument(
  routes: readonly CallRoute[],
  options: { authRequired: boolean },
): object {
  const params: Registry = z.registry<{ id: string }>();
  const results: Registry = z.registry<{ id: string }>();
  params.add(newTaskSchema, { id: 'NewTask' });
  results.add(responseSchemas.ok, { id: 'Ok' });
  results.add(taskSchema, { id: 'Task' });
  results.add(statsSchema, { id: 'Stats' });
  results.add(agentSchema, { id: 'Agent' });
  results.add(pauseSchema, { id: 'Pause' });
  results.add(hubEventSchema, { id: 'HubEvent' });
  results.add(errorSchema, { id: 'Error' });
  for (const route of routes) {
    const schema = methodSchemas[route.hubMethod];
    if (route.input === 'body' && !params.has(schema))
      params.add(schema, { id: `${pascal(route.hubMethod)}Params` });
    if (!results.has(route.response)) results.add(route.response, { id: `${pascal(route.hubMethod)}Result` });
  }

  const paths: Record<string, Record<string, Operation>> = {};
  const addOperation = (method: string, path: string, operation: Operation) => {
    paths[path] ??= {};
    paths[path][method] = operation;
  };

  for (const route of routes) {
    const operation: Operation = {
      operationId: route.hubMethod,
      summary: route.summary,
      description: `The protocol method \`${route.hubMethod}\` (docs/PROTOCOL.md).`,
    };
    if (route.input === 'query' || route.input === 'path' || route.input === 'path_query')
      operation.parameters = parameters(route, route.input);
    if (route.input === 'body') {
      operation.requestBody = {
        // An empty body counts as `{}`; it is enough where no field is required.
        required: methodSchemas[route.hubMethod].safeParse({}).success === false,
        content: jsonContent(schemaRef(params.get(methodSchemas[route.hubMethod])!.id), route.example),
      };
    }
    operation.responses = {
      '200': { description: 'OK', content: jsonContent(schemaRef(results.get(route.response)!.id)) },
      ...errorRefs(),
    };
    addOperation(route.method.toLowerCase(), openApiPath(route.path), operation);
  }

  addOperation('get', '/health', {
    operationId: 'health',
    summary: 'Liveness check; needs no token',
    security: [],
    responses: { '200': { description: 'OK', content: jsonContent(schemaRef('Ok')) } },
  });
  addOperation('get', '/events', {
    operationId: 'events',
    summary: 'Hub events as Server-Sent Events',
    description:
      'Each SSE message is `event: <name>` and `data: <HubEvent as JSON>` (components.schemas.HubEvent); ' +
      `a \`: heartbeat\` comment comes every ${SSE_HEARTBEAT_MS / 1000} s. The stream ends after ` +
      '`hub.stopping`. The token goes in the Authorization header like everywhere else; tokens in ' +
      'URLs are not accepted (browsers: read the stream with fetch, not EventSource).',
    parameters: [
      {
        name: 'events',
        in: 'query',
        required: false,
        description: 'Comma-separated categories: task, agent (default both)',
        schema: { type: 'string', examples: ['task,agent'] },
      },
      {
        name: 'output',
        in: 'query',
        required: false,
        description:
          '1: also `task.output` events (live output lines of every task, hub feature live_output); default 0',
        schema: { type: 'string', enum: ['0', '1', 'true', 'false'] },
      },
    ],
    responses: {
      '200': {
        description: 'An event stream',
        content: { 'text/event-stream': { schema: { type: 'string' } } },
      },
      ...errorRefs(),
    },
  });
  addOperation('get', '/openapi.json', {
    operationId: 'openapi',
    summary: 'This document',
    responses: {
      '200': { description: 'OpenAPI 3.1', content: jsonContent({ type: 'object' }) },
      ...errorRefs(),
    },
  });

  const document: Record<string, unknown> = {
    openapi: '3.1.0',
    info: {
      title: 'Mittelö hub REST API',
      version: PROTOCOL_VERSION,
      description:
        'HTTP access to a Mittelö hub (`mittelo hub --rest-port`). Every route is a protocol call ' +
        '(docs/PROTOCOL.md) validated by the same schemas as TCP. Errors are ' +
        '`{"error": "<message>", "code": "<stable code>"}`. See docs/REST.md.',
    },
    paths,
    components: {
      schemas: { ...componentSchemas(params, 'input'), ...componentSchemas(results, 'output') },
      responses: Object.fromEntries(
        Object.values(ERROR_RESPONSES).map(({ id, description }) => [
          id,
          { description, content: jsonContent(schemaRef('Error')) },
        ]),
      ),
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'The hub token (--token or MITTELO_TOKEN)',
        },
      },
    },
  };
  // This hub's document says whether this hub wants a token.
  if (options.authRequired) document.security = [{ bearerAuth: [] }];
  return document;
}
