/**
 * The per-task decisions around worktrees that need no repository: where a task runs and what
 * its backend may do (task first, then the agent, then the defaults), and the pack line fields
 * workspace, base_ref and permissions checked with file:line errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planTask } from '../../src/agent/task-workspace.ts';
import { parseJsonlTasks } from '../../src/cli/read-tasks.ts';
import type { Task } from '../../src/protocol/model.ts';
import { makeTask } from '../helpers/fixtures.ts';

const task = (fields: Partial<Task>): Task => makeTask(1, fields);

describe('planTask', () => {
  it('defaults to shared and read; a worktree task may edit; full only by name', () => {
    assert.deepEqual(planTask(task({}), {}), { mode: 'shared', baseRef: 'HEAD', permissions: 'read' });
    assert.deepEqual(planTask(task({ workspace: 'worktree' }), {}), {
      mode: 'worktree',
      baseRef: 'HEAD',
      permissions: 'edit',
    });
    assert.equal(planTask(task({}), { workspace: 'worktree' }).permissions, 'edit');
    assert.equal(planTask(task({ permissions: 'full' }), { permissions: 'read' }).permissions, 'full');
    assert.equal(planTask(task({}), { permissions: 'full' }).permissions, 'full');
  });

  it("lets the task's workspace and base win over the agent's", () => {
    const plan = planTask(task({ workspace: 'shared', base_ref: 'v1' }), {
      workspace: 'worktree',
      base: 'main',
    });
    assert.equal(plan.mode, 'shared');
    assert.equal(plan.baseRef, 'v1');
    assert.equal(planTask(task({}), { base: 'main' }).baseRef, 'main');
  });
});

describe('pack lines: workspace, base_ref, permissions', () => {
  it('keeps good values', () => {
    const { tasks } = parseJsonlTasks(
      `${JSON.stringify({ prompt: 'a', workspace: 'worktree', base_ref: 'main', permissions: 'edit' })}\n`,
      'pack.jsonl',
    );
    assert.deepEqual(tasks[0], { prompt: 'a', workspace: 'worktree', base_ref: 'main', permissions: 'edit' });
  });

  for (const [line, says] of [
    [
      { prompt: 'a', workspace: 'tree' },
      /^pack\.jsonl:1: workspace must be "shared" or "worktree", got "tree"/,
    ],
    [{ prompt: 'a', base_ref: '--force' }, /^pack\.jsonl:1: base_ref is not a git ref: .*got "--force"/],
    [{ prompt: 'a', base_ref: 7 }, /^pack\.jsonl:1: base_ref must be a string/],
    [
      { prompt: 'a', permissions: 'root' },
      /^pack\.jsonl:1: permissions must be "read", "edit" or "full", got "root"/,
    ],
  ] as const) {
    it(`refuses ${JSON.stringify(line)}`, () => {
      assert.throws(
        () => parseJsonlTasks(`${JSON.stringify(line)}\n`, 'pack.jsonl'),
        (error: Error) => says.test(error.message),
      );
    });
  }
});
