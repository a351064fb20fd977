/**
 * The method schemas: what v0.1 clients send must be accepted as they send it (nulls for unset
 * values, task ids as strings, status in any case), and bad values are refused with a message that
 * names the field and what is wrong with it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeIssues,
  isMethodName,
  type MethodName,
  methodSchemas,
  V01_METHODS,
} from '../../src/protocol/schemas.ts';

/** The parsed params, with fields read as absent (undefined) left out; a null would stay and show. */
function accepted(method: MethodName, params: unknown): Record<string, unknown> {
  const parsed = methodSchemas[method].safeParse(params);
  assert.ok(
    parsed.success,
    `${method} ${JSON.stringify(params)}: ${parsed.success ? '' : describeIssues(parsed.error)}`,
  );
  return Object.fromEntries(Object.entries(parsed.data).filter(([, value]) => value !== undefined));
}

/** The params must be refused, with a message matching every pattern. */
function refused(method: MethodName, params: unknown, ...patterns: RegExp[]): string {
  const parsed = methodSchemas[method].safeParse(params);
  assert.ok(!parsed.success, `${method} ${JSON.stringify(params)} should be refused`);
  const message = describeIssues(parsed.error);
  for (const pattern of patterns) assert.match(message, pattern);
  return message;
}

describe('method schemas', () => {
  describe('v0.1 compatibility', () => {
    it('reads null as absent in every v0.1 method', () => {
      assert.deepEqual(accepted('list', { status: null, limit: null }), {});
      assert.deepEqual(accepted('lease', { worker_id: null, max_tasks: null, lease_seconds: null }), {});
      assert.deepEqual(accepted('ack', { task_id: 3, status: 'done', result: null, error: null }), {
        task_id: 3,
        status: 'done',
      });
      assert.deepEqual(accepted('retry_failed', { task_ids: null }), {});
      assert.deepEqual(accepted('enqueue', { prompt: 'p', backend: null, tags: null, priority: null }), {
        prompt: 'p',
      });
    });

    it('keeps the values a v0.1 client does set', () => {
      assert.deepEqual(accepted('lease', { worker_id: 'host-1', max_tasks: 5, lease_seconds: 120 }), {
        worker_id: 'host-1',
        max_tasks: 5,
        lease_seconds: 120,
      });
      assert.deepEqual(accepted('ack', { task_id: 9, status: 'failed', result: null, error: 'boom' }), {
        task_id: 9,
        status: 'failed',
        error: 'boom',
      });
      assert.deepEqual(accepted('list', { status: 'done', limit: 0 }), { status: 'done', limit: 0 });
      assert.deepEqual(accepted('list', { limit: -1 }), { limit: -1 }, 'limit <= 0 means all and is allowed');
      assert.deepEqual(accepted('lease', { lease_seconds: 0 }), { lease_seconds: 0 }, '0 means the default');
    });

    it('accepts a task id sent as a string of digits, as a number', () => {
      assert.equal(accepted('ack', { task_id: '7', status: 'done' }).task_id, 7);
      assert.equal(accepted('get', { task_id: '0012' }).task_id, 12);
      assert.equal(accepted('cancel', { task_id: 7 }).task_id, 7);
      assert.deepEqual(accepted('retry_failed', { task_ids: ['3', 4] }).task_ids, [3, 4]);
      assert.deepEqual(accepted('wait', { task_ids: ['1', 2] }).task_ids, [1, 2]);
    });

    it('reads the ack status in any case and with stray spaces', () => {
      for (const [sent, read] of [
        ['DONE', 'done'],
        ['Done', 'done'],
        [' failed ', 'failed'],
        ['FAILED', 'failed'],
      ]) {
        assert.equal(accepted('ack', { task_id: 1, status: sent }).status, read);
      }
      assert.equal(accepted('list', { status: 'QUEUED' }).status, 'queued');
    });

    it('knows exactly the v0.1 methods, and no name from the object prototype', () => {
      for (const method of V01_METHODS) assert.ok(isMethodName(method), method);
      assert.deepEqual([...V01_METHODS].sort(), [
        'ack',
        'enqueue',
        'lease',
        'list',
        'retry_failed',
        'shutdown',
        'stats',
      ]);
      for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'Enqueue', 'nope']) {
        assert.equal(isMethodName(name), false, name);
      }
    });
  });

  describe('bad values', () => {
    it('refuses every bad task id with one readable message naming the field', () => {
      for (const bad of [
        0,
        -1,
        1.5,
        '1.5',
        '-1',
        '',
        'seven',
        ' 7',
        true,
        null,
        [7],
        { id: 7 },
        '99999999999999999999',
      ]) {
        refused('ack', { task_id: bad, status: 'done' }, /^task_id: a task id is a positive integer$/);
      }
      refused('get', {}, /^task_id: required \(a task id is a positive integer\)$/);
      refused('retry_failed', { task_ids: [1, 'x'] }, /^task_ids\.1: a task id is a positive integer$/);
      refused('list', { before_id: 0 }, /^before_id: a task id is a positive integer$/);
    });

    it('refuses an ack status other than done or failed, naming both', () => {
      for (const bad of ['finished', 'ok', '', 'queued']) {
        refused('ack', { task_id: 1, status: bad }, /^status: status must be "done" or "failed"$/);
      }
      refused('ack', { task_id: 1 }, /^status: /);
      refused('ack', { task_id: 1, status: null }, /^status: /);
    });

    it('refuses a list status that does not exist, listing the ones that do', () => {
      refused('list', { status: 'running' }, /^status: /, /queued/, /canceled/);
    });

    it('refuses an empty or missing prompt', () => {
      refused('enqueue', { prompt: '' }, /^prompt: prompt must not be empty$/);
      refused('enqueue', { prompt: ' \n\t' }, /^prompt: prompt must not be empty$/);
      refused('enqueue', {}, /^prompt: /);
      refused('enqueue', { prompt: 42 }, /^prompt: /);
    });

    it('refuses bad v1 task fields, naming each (up to three at once)', () => {
      const message = refused(
        'enqueue',
        { prompt: 'x', backend: 'has space', tags: ['ok', 'b/ad'], priority: 1.5, max_attempts: 0 },
        /backend: use letters, digits and _ \. : - only/,
        /tags\.1: use letters, digits and _ \. : - only/,
        /priority: /,
      );
      assert.equal(message.split('; ').length, 3, message);
      refused('enqueue', { prompt: 'x', max_attempts: 0 }, /^max_attempts: /);
      refused('enqueue', { prompt: 'x', timeout_s: -5 }, /^timeout_s: /);
      refused('enqueue', { prompt: 'x', tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, /^tags: /);
      refused('enqueue', { prompt: 'x', metadata: 'not an object' }, /^metadata: /);
    });

    it('takes workspace, base_ref and permissions, and refuses bad ones naming what is allowed', () => {
      assert.deepEqual(
        accepted('enqueue', { prompt: 'x', workspace: 'worktree', base_ref: 'HEAD~2', permissions: 'edit' }),
        { prompt: 'x', workspace: 'worktree', base_ref: 'HEAD~2', permissions: 'edit' },
      );
      for (const ref of ['main', 'v1.2', 'feature/x', 'abc1234', 'origin/main^']) {
        assert.equal(accepted('enqueue', { prompt: 'x', base_ref: ref }).base_ref, ref);
      }
      assert.deepEqual(
        accepted('enqueue', { prompt: 'x', workspace: null, base_ref: null, permissions: null }),
        {
          prompt: 'x',
        },
      );
      refused(
        'enqueue',
        { prompt: 'x', workspace: 'tmp' },
        /^workspace: workspace is "shared" or "worktree"$/,
      );
      refused(
        'enqueue',
        { prompt: 'x', permissions: 'root' },
        /^permissions: permissions is "read", "edit" or "full"$/,
      );
      for (const ref of ['--upload-pack=evil', 'a b', 'a..b', 'x@{1}', 'a:b', 'tab\there', '']) {
        refused('enqueue', { prompt: 'x', base_ref: ref }, /^base_ref: /);
      }
      refused('ack', { task_id: 1, status: 'done', worktree: { branch: 'b' } }, /^worktree\./);
    });

    it('refuses bad lease, release and batch params', () => {
      refused('lease', { lease_seconds: -1 }, /^lease_seconds: /);
      refused('lease', { max_tasks: 1001 }, /^max_tasks: /);
      refused('lease', { worker_id: '' }, /^worker_id: /);
      refused('release', { task_id: 1, delay_ms: -1 }, /^delay_ms: /);
      refused('enqueue_many', { tasks: [] }, /^tasks: /);
      refused(
        'enqueue_many',
        { tasks: [{ prompt: 'ok' }, { prompt: '' }] },
        /^tasks\.1\.prompt: prompt must not be empty$/,
      );
      refused('wait', { task_ids: [1], mode: 'some' }, /^mode: /, /all/, /any/);
    });

    it('takes not_before or delay_s (null: absent), and refuses both, negative, non-numbers and over a year', () => {
      const now = Date.now() / 1000;
      assert.deepEqual(accepted('enqueue', { prompt: 'p', not_before: now + 60.5 }), {
        prompt: 'p',
        not_before: now + 60.5,
      });
      assert.deepEqual(accepted('enqueue', { prompt: 'p', delay_s: 0.25, not_before: null }), {
        prompt: 'p',
        delay_s: 0.25,
      });
      refused(
        'enqueue',
        { prompt: 'p', not_before: now + 60, delay_s: 5 },
        /^delay_s: give not_before .* not both$/,
      );
      refused(
        'enqueue',
        { prompt: 'p', delay_s: -1 },
        /^delay_s: delay_s is a number of seconds \(0 or more\)$/,
      );
      refused('enqueue', { prompt: 'p', delay_s: '30' }, /^delay_s: delay_s is a number of seconds$/);
      refused('enqueue', { prompt: 'p', delay_s: 366 * 86_400 }, /^delay_s: delay_s may be at most a year/);
      refused('enqueue', { prompt: 'p', not_before: -1 }, /^not_before: .*0 or more/);
      refused(
        'enqueue',
        { prompt: 'p', not_before: Date.now() },
        /^not_before: .*more than a year.*not milliseconds/,
      );
      refused(
        'enqueue_many',
        { tasks: [{ prompt: 'ok' }, { prompt: 'p', delay_s: 1, not_before: 1 }] },
        /^tasks\.1\.delay_s: give not_before/,
      );
    });

    it('pause takes a backend, a future until and a reason; resume a backend; null is absent', () => {
      const until = Date.now() / 1000 + 3600;
      assert.deepEqual(accepted('pause', {}), {});
      assert.deepEqual(accepted('pause', { backend: 'codex', until, reason: 'quota' }), {
        backend: 'codex',
        until,
        reason: 'quota',
      });
      assert.deepEqual(accepted('pause', { backend: null, until: null, reason: null }), {});
      assert.deepEqual(accepted('resume', { backend: null }), {});
      refused('pause', { until: Date.now() / 1000 - 1 }, /^until: until is in the past/);
      refused('pause', { until: Date.now() }, /^until: .*more than a year/);
      refused('pause', { backend: 'two words' }, /^backend: /);
      refused('pause', { reason: 'x'.repeat(501) }, /^reason: /);
      refused('resume', { backend: '' }, /^backend: /);
    });

    it('describes params that are not an object at all', () => {
      refused('stats', 'nope', /^params: /);
    });
  });
});
