/**
 * Compiling a task's output_schema (a JSON Schema) into a validator, with ajv. One module so the
 * hub (refusing a schema that does not compile), the CLI (reporting it as file:line) and the agent
 * (validating answers) agree on what a valid schema and a valid answer are.
 */

import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';

export type CompiledAnswerSchema =
  | { ok: true; validate: (value: unknown) => string | null }
  | { ok: false; error: string };

/** The most characters of ajv messages kept: a model's wrong answer can break every rule at once. */
export const MAX_SCHEMA_MESSAGE_CHARS = 1000;

/** Compiled schemas kept: a swarm uses a few schemas over and over; a bound keeps a hub's memory flat. */
export const ANSWER_SCHEMA_CACHE_LIMIT = 200;

const options: Options = {
  // Every broken rule, not just the first: the message is what a person reads to fix a prompt.
  allErrors: true,
  // Unknown keywords are refused (a typo like "requird" would otherwise be silently ignored),
  // but ajv's style checks on types and tuples are not errors in the schema, only advice.
  strictSchema: true,
  strictTypes: false,
  strictTuples: false,
  strictRequired: false,
  // `format` is an annotation, as draft 2020-12's default vocabulary says: any format name is
  // accepted and not checked, so no format library is needed (docs/DEPENDENCIES.md).
  validateFormats: false,
};

/**
 * Draft 2020-12 and draft-07 cannot share one ajv instance (their `items` and `$ref` differ), so
 * each has its own; a schema picks draft-07 by its `$schema`, every other schema is 2020-12.
 */
let ajv2020: Ajv2020 | undefined;
let ajv07: Ajv | undefined;

function ajvFor(schema: Record<string, unknown>): Ajv | Ajv2020 {
  const declared = typeof schema.$schema === 'string' ? schema.$schema : '';
  if (/draft-0[67]\/schema/.test(declared)) {
    ajv07 ??= new Ajv(options);
    return ajv07;
  }
  ajv2020 ??= new Ajv2020(options);
  return ajv2020;
}

const cache = new Map<string, CompiledAnswerSchema>();

/**
 * A validator for `schema`, or why the schema is not one (ajv's message: a bad `type`, an unknown
 * keyword, a $ref that resolves to nothing). The validator returns null for a valid value, else
 * the messages with their instance paths, bounded to MAX_SCHEMA_MESSAGE_CHARS.
 */
export function compileAnswerSchema(schema: Record<string, unknown>): CompiledAnswerSchema {
  const key = JSON.stringify(schema);
  const hit = cache.get(key);
  if (hit) {
    // Most recently used goes last, so eviction drops the least recently used.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const compiled = compileUncached(schema);
  cache.set(key, compiled);
  if (cache.size > ANSWER_SCHEMA_CACHE_LIMIT) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  return compiled;
}

function compileUncached(schema: Record<string, unknown>): CompiledAnswerSchema {
  const ajv = ajvFor(schema);
  // A copy, so ajv's registry (by object and by $id) holds nothing the caller can change, and
  // removing it afterwards leaves our bounded cache the only one: ajv's own grows without bound,
  // and two different schemas with the same $id would otherwise clash.
  const own = structuredClone(schema);
  let fn: ValidateFunction;
  try {
    fn = ajv.compile(own);
  } catch (err) {
    return { ok: false, error: boundMessage(`output_schema is not a valid JSON Schema: ${messageOf(err)}`) };
  } finally {
    ajv.removeSchema(own);
  }
  return {
    ok: true,
    validate: (value) => (fn(value) ? null : boundMessage(describeErrors(fn.errors ?? []))),
  };
}

function describeErrors(errors: ErrorObject[]): string {
  if (errors.length === 0) return 'the value is not valid';
  return errors
    .map((e) => {
      const where = e.instancePath === '' ? '(root)' : e.instancePath;
      const extra =
        e.keyword === 'additionalProperties' && 'additionalProperty' in e.params
          ? ` (${String(e.params.additionalProperty)})`
          : e.keyword === 'enum' && 'allowedValues' in e.params
            ? ` (${JSON.stringify(e.params.allowedValues)})`
            : '';
      return `${where} ${e.message ?? 'is not valid'}${extra}`;
    })
    .join('; ');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `text` cut to MAX_SCHEMA_MESSAGE_CHARS, so an error stays a line, not a page. */
export function boundMessage(text: string): string {
  return text.length <= MAX_SCHEMA_MESSAGE_CHARS ? text : `${text.slice(0, MAX_SCHEMA_MESSAGE_CHARS - 1)}…`;
}
