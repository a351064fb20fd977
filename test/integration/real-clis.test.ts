/**
 * The real vendor CLIs that install from npm — claude, codex, gemini, opencode, at the versions of
 * docs/cli-lock.json — run offline with no credentials (and with a fake key), through the real
 * drivers: each run must come back classified `auth` or `network` with the driver's fix — never
 * `unknown`, never a hang — and each preflight must find the CLI, its version and its flags.
 *
 * .ci/run installs the CLIs (scripts/install-real-clis.sh) and sets MITTELO_REAL_CLIS_BIN. On a
 * machine where they are not installed the tests are skipped, saying how to install them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createBackend } from '../../src/backends/registry.ts';
import type { BackendOutcome } from '../../src/backends/types.ts';
import { readCliLock, versionNumber } from '../../src/doctor/cli-lock.ts';
import { makeTempDir } from '../helpers/hub-process.ts';

const bin =
  process.env.MITTELO_REAL_CLIS_BIN ||
  join(homedir(), '.cache', 'mittelo', 'real-clis', 'node_modules', '.bin');
const lock = readCliLock();
const dir = makeTempDir('mittelo-real-clis-');
after(() => rmSync(dir, { recursive: true, force: true }));

/** Offline: the network is what the machine has (CI reaches only the npm registry), HOME is empty. */
function envFor(name: string, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    PATH: `${bin}${delimiter}/usr/local/bin${delimiter}/usr/bin${delimiter}/bin`,
    HOME: mkdtempSync(join(dir, `${name}-home-`)),
    LANG: 'C.UTF-8',
    ...extra,
  };
}

async function runOnce(name: string, extra: NodeJS.ProcessEnv): Promise<BackendOutcome> {
  const backend = createBackend(name, { env: envFor(name, extra), earlyFailureMs: 2000 });
  return backend.run(
    { task_id: 1, prompt: 'say hi', worker_id: 'real-cli-test' },
    // Far longer than any early give-up: a run that reaches this timeout is a hang.
    { signal: new AbortController().signal, timeoutMs: 90_000, maxOutputBytes: 1 << 20 },
  );
}

interface Case {
  backend: string;
  binary: string;
  /** Environment of the run (no credentials, or a fake key). */
  env: NodeJS.ProcessEnv;
  kind: 'auth' | 'network';
  fix: RegExp;
}

const CASES: Case[] = [
  { backend: 'claude_code', binary: 'claude', env: {}, kind: 'auth', fix: /run `claude` once and `\/login`/ },
  {
    backend: 'claude_code',
    binary: 'claude',
    env: { ANTHROPIC_API_KEY: 'sk-ant-invalid' },
    kind: 'network',
    fix: /network/,
  },
  { backend: 'codex', binary: 'codex', env: {}, kind: 'network', fix: /network/ },
  { backend: 'gemini', binary: 'gemini', env: {}, kind: 'auth', fix: /GEMINI_API_KEY/ },
  {
    backend: 'gemini',
    binary: 'gemini',
    env: { GEMINI_API_KEY: 'invalid' },
    kind: 'network',
    fix: /network/,
  },
  { backend: 'opencode', binary: 'opencode', env: {}, kind: 'network', fix: /network|connect/i },
];

const missing = (binary: string) =>
  existsSync(join(bin, binary))
    ? false
    : `${binary} is not installed in ${bin}: bash scripts/install-real-clis.sh installs it (.ci/run does)`;

describe('real CLIs, offline', () => {
  for (const c of CASES) {
    const keyed =
      Object.keys(c.env).length > 0 ? ` with ${Object.keys(c.env).join(', ')}` : ' without credentials';
    it(`${c.backend}${keyed}: a run comes back ${c.kind}, with the fix`, {
      skip: missing(c.binary),
    }, async () => {
      const started = Date.now();
      const outcome = await runOnce(c.backend, c.env);
      assert.equal(outcome.ok, false, JSON.stringify(outcome));
      if (outcome.ok) return;
      assert.equal(outcome.kind, c.kind, outcome.error);
      assert.match(outcome.fix ?? '', c.fix);
      assert.ok(Date.now() - started < 80_000, 'given up early, not at the timeout');
    });
  }

  for (const backend of ['claude_code', 'codex', 'gemini', 'opencode']) {
    const binary = lock.clis[backend]!.binary;
    it(`${backend}: preflight finds ${binary}, the locked version and its flags`, {
      skip: missing(binary),
    }, async () => {
      const report = await createBackend(backend, { env: envFor(backend, {}) }).preflight();
      assert.equal(report.details?.path, join(bin, binary));
      assert.equal(versionNumber(report.details?.version), lock.clis[backend]!.version);
      const flagProblems = report.problems.filter((p) => p.kind === 'config');
      assert.deepEqual(flagProblems, [], 'every flag the driver uses is in --help');
      if (backend !== 'opencode') {
        // Without credentials the CLIs that need them are not ready, and say how to log in.
        const auth = report.problems.find((p) => p.kind === 'auth');
        assert.ok(auth?.fix, `${backend} preflight: ${JSON.stringify(report)}`);
      }
    });
  }
});
