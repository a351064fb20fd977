/**
 * checkParamsJson: params nested deeper than the limit, and strings with a lone UTF-16 surrogate,
 * are refused with `bad_request` naming the field; the walk is iterative, so even a value nested
 * 100,000 levels deep is refused rather than overflowing the stack. Valid Unicode (surrogate
 * pairs included) and values at the limit pass.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMitteloError } from '../../src/errors.ts';
import { checkParamsJson, MAX_PARAMS_DEPTH } from '../../src/protocol/json-limits.ts';

/** `levels` objects nested inside each other, built from text (JSON.parse does not recurse). */
function nested(levels: number, open = '{"a":', close = '}'): unknown {
  return JSON.parse(`${open.repeat(levels)}1${close.repeat(levels)}`);
}

/** The bad_request message checkParamsJson throws for `params` (fails if it does not throw). */
function refusal(params: object, maxDepth?: number): string {
  try {
    checkParamsJson(params, maxDepth);
  } catch (error) {
    assert.ok(isMitteloError(error), String(error));
    assert.equal(error.code, 'bad_request');
    return error.message;
  }
  assert.fail(`accepted ${JSON.stringify(params).slice(0, 200)}`);
}

describe('checkParamsJson: depth', () => {
  it('the limit leaves ordinary metadata and usage far inside it', () => {
    assert.equal(MAX_PARAMS_DEPTH, 64);
    checkParamsJson({
      prompt: 'p',
      tags: ['a', 'b'],
      metadata: { run: { id: 7, files: [{ path: 'a.ts', hunks: [[1, 2]] }] }, note: null },
    });
    checkParamsJson({
      task_id: 1,
      status: 'done',
      usage: { input_tokens: 3, model: 'm', cost: { usd: 0.1 } },
    });
  });

  it('accepts metadata nested exactly to the limit (params itself is level 0)', () => {
    checkParamsJson({ prompt: 'p', metadata: nested(MAX_PARAMS_DEPTH) });
    checkParamsJson({ tasks: [{ prompt: 'p', metadata: nested(MAX_PARAMS_DEPTH - 2) }] });
  });

  it('refuses one level more, saying the limit and where', () => {
    const message = refusal({ prompt: 'p', metadata: nested(MAX_PARAMS_DEPTH + 1) });
    assert.match(message, /deeper than 64 levels/);
    assert.match(message, /at metadata\.a\.a\.a…/);
    const inBatch = refusal({
      tasks: [{ prompt: 'p' }, { prompt: 'q', metadata: nested(MAX_PARAMS_DEPTH) }],
    });
    assert.match(inBatch, /at tasks\[1\]\.metadata\.a…/);
  });

  it('counts arrays as levels too', () => {
    checkParamsJson({ usage: nested(MAX_PARAMS_DEPTH, '[', ']') as object });
    assert.match(
      refusal({ usage: nested(MAX_PARAMS_DEPTH + 1, '[', ']') as object }),
      /at usage\[0\]\[0\]\[0\]…/,
    );
  });

  it('refuses 4,400 and 100,000 levels without overflowing the stack', () => {
    for (const levels of [4_400, 100_000]) {
      assert.match(refusal({ prompt: 'p', metadata: nested(levels) }), /deeper than 64 levels/);
      assert.match(refusal({ tags: nested(levels, '[', ']') as object }), /at tags\[0\]\[0\]\[0\]…/);
    }
  });

  it('takes another limit', () => {
    checkParamsJson({ a: { b: {} } }, 2);
    assert.match(refusal({ a: { b: { c: {} } } }, 2), /deeper than 2 levels.*at a\.b\.c;/);
  });
});

describe('checkParamsJson: lone surrogates', () => {
  it('refuses a lone high or low surrogate in a prompt, naming the field and the index', () => {
    assert.equal(
      refusal({ prompt: '\ud800' }),
      'prompt contains a lone UTF-16 surrogate at index 0; send valid Unicode',
    );
    assert.match(refusal({ prompt: 'ab\udc00' }), /^prompt .* at index 2;/);
    // A low half before its high half is not a pair.
    assert.match(refusal({ prompt: 'x\ude00\ud83d' }), /^prompt .* at index 1;/);
    // After a valid pair, the index is still in UTF-16 code units.
    assert.match(refusal({ prompt: '😀\ud83d' }), /^prompt .* at index 2;/);
  });

  it('checks every string: results, errors, tags, metadata values and keys, batches', () => {
    assert.match(refusal({ task_id: 1, status: 'done', result: 'ok\ud800' }), /^result contains/);
    assert.match(refusal({ task_id: 1, status: 'failed', error: '\udfff' }), /^error contains/);
    assert.match(refusal({ prompt: 'p', tags: ['fine', 'bad\ud800'] }), /^tags\[1\] contains/);
    assert.match(refusal({ prompt: 'p', backend: '\ud800' }), /^backend contains/);
    assert.match(
      refusal({ prompt: 'p', metadata: { notes: [{ text: '\ud800' }] } }),
      /^metadata\.notes\[0\]\.text /,
    );
    assert.match(
      refusal({ prompt: 'p', metadata: { 'k\ud800': 1 } }),
      /^metadata has a key that contains .* index 1;/,
    );
    assert.match(refusal({ 'x\udc00': 1 }), /^params has a key that contains/);
    assert.match(
      refusal({ tasks: [{ prompt: 'ok' }, { prompt: 'p', error: null }, { prompt: '\ud800' }] }),
      /^tasks\[2\]\.prompt /,
    );
  });

  it('accepts valid Unicode: surrogate pairs, astral characters, U+FFFD itself', () => {
    checkParamsJson({
      prompt: 'emoji 😀 🧪, astral 𝄞 𐍈, replacement \ufffd, CJK 漢字',
      tags: ['ok'],
      metadata: { '😀': ['👍🏽', { nested: '\ud83d\ude00' }] },
    });
  });

  it('ignores what is not a string: numbers, booleans, null', () => {
    checkParamsJson({ a: 1, b: true, c: null, d: [1.5, false, null], e: {} });
  });
});
