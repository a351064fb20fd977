/**
 * The example packs shipped in examples/: each one parses as `mittelo run` reads it, and none
 * routes its tasks, so the commands in examples/README.md run them with any agents.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseJsonlTasks } from '../../src/cli/read-tasks.ts';
import { REPO_ROOT } from '../helpers/hub-process.ts';

const folder = join(REPO_ROOT, 'examples');
const packs = readdirSync(folder).filter((name) => name.endsWith('.jsonl'));

describe('example packs', () => {
  it('are the six the README lists', () => {
    assert.deepEqual(packs.sort(), [
      'code-review.jsonl',
      'docs.jsonl',
      'hello.jsonl',
      'no-tools.jsonl',
      'repo-audit.jsonl',
      'stress.jsonl',
    ]);
  });

  for (const pack of packs) {
    it(`${pack} parses and routes nothing`, () => {
      const { tasks, ignored } = parseJsonlTasks(readFileSync(join(folder, pack), 'utf8'), pack);
      assert.ok(tasks.length > 0);
      assert.deepEqual(ignored, []);
      for (const task of tasks) {
        assert.equal(task.backend, undefined, 'any agent can take it');
        assert.equal(task.tags, undefined, 'no tag routing');
      }
      if (pack === 'stress.jsonl') assert.equal(tasks.length, 10_000);
    });
  }
});
