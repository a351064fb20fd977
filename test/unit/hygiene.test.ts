/**
 * Nothing a run leaves behind is ever committed (QA "Hygiene"): reports/ (with the sandbox homes
 * of system runs), .mittelo/ (databases, run folders, Kiro's work folder), test artifacts and
 * coverage output are git-ignored, and nothing under them is tracked.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/hub-process.ts';

const RUN_OUTPUT = ['reports', '.mittelo', 'test-artifacts', 'coverage'];
const git = (args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
const checkout = existsSync(join(REPO_ROOT, '.git'))
  ? false
  : 'not a git checkout (an installed package): nothing is tracked';

describe('repository hygiene', { skip: checkout }, () => {
  it('tracks nothing under reports/, .mittelo/, test-artifacts/ or coverage/', () => {
    assert.equal(git(['ls-files', '--', ...RUN_OUTPUT]).trim(), '');
  });

  it('ignores what runs write there, sandbox homes and Kiro work folders included', () => {
    const samples = [
      'reports/swarm/20261125-104800_echo_echo/run.json',
      'reports/e2e/20261125-104800_codex/home/.codex/auth.json',
      'reports/verify_cli_drivers/20261125-104800_all/summary.md',
      '.mittelo/runs/20261125-104800-1/hub.db',
      '.mittelo/work/kiro/notes.md',
      'test-artifacts/dashboard.png',
      'coverage/lcov.info',
    ];
    const ignored = git(['check-ignore', '--no-index', ...samples])
      .trim()
      .split('\n');
    assert.deepEqual(ignored, samples);
  });
});
