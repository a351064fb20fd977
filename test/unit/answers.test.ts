/**
 * src/answers/: compiling output_schema (what a bad schema is told), reading an answer's JSON
 * (whole text, ```json fence, the last object or array in prose), the validation messages with
 * their instance paths and bound, and the cache of compiled schemas.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ANSWER_SCHEMA_CACHE_LIMIT,
  compileAnswerSchema,
  MAX_SCHEMA_MESSAGE_CHARS,
} from '../../src/answers/answer-schema.ts';
import { parseAnswer } from '../../src/answers/parse-answer.ts';

const PERSON = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 } },
  required: ['name', 'age'],
  additionalProperties: false,
};

function compileError(schema: Record<string, unknown>): string {
  const compiled = compileAnswerSchema(schema);
  assert.equal(compiled.ok, false, `${JSON.stringify(schema)} should not compile`);
  return (compiled as { error: string }).error;
}

describe('compileAnswerSchema', () => {
  it('refuses a schema that is not one, naming the problem', () => {
    assert.match(
      compileError({ type: 'nope' }),
      /^output_schema is not a valid JSON Schema: .*data\/type must be/,
    );
    assert.match(compileError({ type: 'object', requird: ['a'] }), /unknown keyword: "requird"/);
    assert.match(compileError({ $ref: '#/$defs/missing' }), /can't resolve reference #\/\$defs\/missing/);
    assert.match(compileError({ minLength: -1 }), /data\/minLength must be >= 0/);
  });

  it('takes draft 2020-12, and draft-07 by its $schema; format and annotations are accepted', () => {
    const modern = compileAnswerSchema({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $defs: { n: { type: 'number' } },
      prefixItems: [{ $ref: '#/$defs/n' }],
      items: false,
    });
    assert.ok(modern.ok);
    assert.equal(modern.validate([1]), null);
    assert.equal(modern.validate([1, 2]), '(root) must NOT have more than 1 items');
    const draft7 = compileAnswerSchema({
      $schema: 'http://json-schema.org/draft-07/schema#',
      definitions: { s: { type: 'string' } },
      items: [{ $ref: '#/definitions/s' }],
    });
    assert.ok(draft7.ok);
    assert.equal(draft7.validate(['a']), null);
    assert.equal(draft7.validate([1]), '/0 must be string');
    const annotated = compileAnswerSchema({
      type: 'string',
      format: 'email',
      title: 't',
      examples: ['a@b.c'],
    });
    assert.ok(annotated.ok);
    assert.equal(annotated.validate('not an email'), null, 'format is an annotation, not checked');
  });

  it('keeps two schemas with the same $id apart', () => {
    const a = compileAnswerSchema({ $id: 'https://example.com/answer', type: 'string' });
    const b = compileAnswerSchema({ $id: 'https://example.com/answer', type: 'number' });
    assert.ok(a.ok && b.ok);
    assert.equal(a.validate('x'), null);
    assert.equal(b.validate(1), null);
    assert.equal(b.validate('x'), '(root) must be number');
  });

  it('caches by JSON text, bounded: the least recently used is compiled again', () => {
    const first = { type: 'string', description: 'cache test 0' };
    const compiled = compileAnswerSchema(first);
    assert.equal(compileAnswerSchema({ ...first }), compiled, 'the same text: the same validator');
    for (let i = 1; i < ANSWER_SCHEMA_CACHE_LIMIT; i++) {
      compileAnswerSchema({ type: 'string', description: `cache test ${i}` });
    }
    assert.equal(compileAnswerSchema(first), compiled, 'still cached: it was used last');
    for (let i = 0; i < ANSWER_SCHEMA_CACHE_LIMIT; i++) {
      compileAnswerSchema({ type: 'number', description: `cache filler ${i}` });
    }
    assert.notEqual(compileAnswerSchema(first), compiled, 'evicted and compiled anew');
  });
});

describe('parseAnswer', () => {
  it('takes the whole text as JSON', () => {
    assert.deepEqual(parseAnswer(' {"name": "Ada", "age": 36}\n', PERSON), {
      ok: true,
      parsed: { name: 'Ada', age: 36 },
    });
    assert.deepEqual(parseAnswer('42', { type: 'integer' }), { ok: true, parsed: 42 });
  });

  it('takes the last ```json fence, and says when that fence is not JSON', () => {
    const text =
      'First try:\n```json\n{"name": "Bob"}\n```\nCorrected:\n```json\n{"name": "Ada", "age": 36}\n```\nDone.';
    assert.deepEqual(parseAnswer(text, PERSON), { ok: true, parsed: { name: 'Ada', age: 36 } });
    const broken = parseAnswer('Here:\n```json\n{"name": "Ada",}\n```', PERSON);
    assert.equal(broken.ok, false);
    assert.match((broken as { error: string }).error, /^the answer is not JSON: its ```json fence: /);
  });

  it('takes the last JSON object or array in prose, whole, past brackets that are not JSON', () => {
    const text =
      'I looked at {the file} and [some notes]. Draft: {"name": "x"}.\nThe answer is {"name": "Ada {the first}", "age": 36, "tags": [1, [2]]} — as asked [done].';
    assert.deepEqual(parseAnswer(text, { type: 'object' }), {
      ok: true,
      parsed: { name: 'Ada {the first}', age: 36, tags: [1, [2]] },
    });
    assert.deepEqual(parseAnswer('He said "hi [there\nResult: [1, 2, 3]', { type: 'array' }), {
      ok: true,
      parsed: [1, 2, 3],
    });
    assert.deepEqual(parseAnswer('unbalanced { before {"a": 1}', { type: 'object' }), {
      ok: true,
      parsed: { a: 1 },
    });
  });

  it('says what is not JSON', () => {
    const prose = parseAnswer('I could not find any person in the text.', PERSON);
    assert.equal(prose.ok, false);
    assert.match(
      (prose as { error: string }).error,
      /^the answer is not JSON: .*, and it holds no ```json fence or JSON object or array$/,
    );
    assert.deepEqual(parseAnswer('  \n', PERSON), {
      ok: false,
      error: 'the answer is not JSON: it is empty',
    });
  });

  it('gives the validation messages with their instance paths, bounded', () => {
    const result = parseAnswer('{"name": 7, "age": -1, "extra": true}', PERSON);
    assert.deepEqual(result, {
      ok: false,
      error:
        'the answer does not match output_schema: (root) must NOT have additional properties (extra); /name must be string; /age must be >= 0',
    });
    const many = {
      type: 'array',
      items: { type: 'string', enum: ['a-rather-long-allowed-value', 'another-long-one'] },
    };
    const long = parseAnswer(JSON.stringify(Array.from({ length: 200 }, (_, i) => i)), many);
    assert.equal(long.ok, false);
    const error = (long as { error: string }).error;
    assert.equal(error.length, MAX_SCHEMA_MESSAGE_CHARS);
    assert.ok(error.endsWith('…'));
    assert.match(
      error,
      /^the answer does not match output_schema: \/0 must be string; \/0 must be equal to one of the allowed values/,
    );
  });

  it('reports a schema that does not compile instead of validating', () => {
    assert.match(
      (parseAnswer('{}', { type: 'nope' }) as { error: string }).error,
      /^output_schema is not a valid JSON Schema/,
    );
  });
});
