/**
 * Every CLI driver on recorded outputs (test/fixtures/drivers/<driver>/*.json): what each run
 * means — the answer and its usage, or the failure kind and fix. Each driver has a fixture for
 * every failure kind, or says in its coverage.json why a kind cannot happen or be recorded.
 *
 * A fixture: {"source": where it was recorded, "exitCode", "stdout", "stderr", "timedOut",
 * "expect": {"ok": true, "output", "usage"?} | {"ok": false, "kind", "fix"?, "error"?}}
 * (`fix` and `error` are substrings the outcome must contain). A usage-limit fixture also gives
 * `resets_at` and `window` (exact), or `resets_in` (seconds after the fixture's `nowS`).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { interpretRun } from '../../src/backends/drivers/driver-backend.ts';
import { DRIVERS } from '../../src/backends/drivers/index.ts';
import type { FailureKind } from '../../src/backends/types.ts';
import { REPO_ROOT } from '../helpers/hub-process.ts';

interface Fixture {
  source: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
  /** The clock the run is read at (resets given as "in N seconds"). */
  nowS?: number;
  expect:
    | { ok: true; output: string; usage?: Record<string, unknown> }
    | {
        ok: false;
        kind: FailureKind;
        fix?: string;
        error?: string;
        resets_at?: number | null;
        window?: string | null;
        resets_in?: number;
      };
}

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'drivers');
const FAILURE_KINDS: FailureKind[] = ['auth', 'network', 'not_installed', 'config', 'rate_limit', 'timeout'];

function fixturesOf(driver: string): Array<[string, Fixture]> {
  const folder = join(FIXTURES, driver);
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => name.endsWith('.json') && name !== 'coverage.json')
    .sort()
    .map((name) => [name, JSON.parse(readFileSync(join(folder, name), 'utf8')) as Fixture]);
}

/** The spec a fixture folder is for: a folder per driver name; aliases (glm) share their target's. */
const folderOf = (driver: string) => (existsSync(join(FIXTURES, driver)) ? driver : null);

for (const [name, spec] of Object.entries(DRIVERS)) {
  const folder = folderOf(name);
  describe(`driver ${name}: recorded outputs`, () => {
    if (folder === null) {
      it('shares the fixtures of the driver it aliases', () => {
        const target = Object.entries(DRIVERS).find(([other, s]) => other !== name && s.rules === spec.rules);
        assert.ok(target, `${name} has no fixtures and aliases no other driver`);
      });
      return;
    }
    const fixtures = fixturesOf(folder);
    for (const [file, fixture] of fixtures) {
      it(`${file} (${fixture.source})`, () => {
        const outcome = interpretRun(
          spec,
          {
            exitCode: fixture.exitCode,
            signal: fixture.exitCode === null ? 'SIGKILL' : null,
            stdout: fixture.stdout,
            stderr: fixture.stderr,
            stdoutCut: 0,
            timedOut: fixture.timedOut ?? false,
            spawnError: null,
          },
          { timeoutMs: 60_000, maxOutputBytes: 4 << 20, ...(fixture.nowS ? { nowS: fixture.nowS } : {}) },
        );
        const expected = fixture.expect;
        if (expected.ok) {
          assert.equal(outcome.ok, true, JSON.stringify(outcome));
          if (!outcome.ok) return;
          assert.equal(outcome.output, expected.output);
          for (const [key, value] of Object.entries(expected.usage ?? {})) {
            assert.deepEqual(outcome.usage?.[key], value, `usage.${key}`);
          }
          return;
        }
        assert.equal(outcome.ok, false, JSON.stringify(outcome));
        if (outcome.ok) return;
        assert.equal(outcome.kind, expected.kind, outcome.error);
        if (expected.fix) assert.ok(outcome.fix?.includes(expected.fix), `fix: ${outcome.fix}`);
        if (expected.error) assert.ok(outcome.error.includes(expected.error), `error: ${outcome.error}`);
        if (expected.resets_at !== undefined) assert.equal(outcome.resets_at, expected.resets_at);
        if (expected.window !== undefined) assert.equal(outcome.window, expected.window);
        if (expected.resets_in !== undefined)
          assert.equal(outcome.resets_at, (fixture.nowS ?? 0) + expected.resets_in);
      });
    }

    it('has a fixture for every failure kind, or says why it cannot', () => {
      const coveragePath = join(FIXTURES, folder, 'coverage.json');
      const exempt = existsSync(coveragePath)
        ? ((JSON.parse(readFileSync(coveragePath, 'utf8')) as { not_covered?: Record<string, string> })
            .not_covered ?? {})
        : {};
      const covered = new Set(fixtures.map(([, f]) => (f.expect.ok ? 'ok' : f.expect.kind)));
      assert.ok(covered.has('ok'), 'a successful run');
      for (const kind of FAILURE_KINDS) {
        assert.ok(covered.has(kind) || exempt[kind], `no ${kind} fixture and no reason in coverage.json`);
      }
    });
  });
}
