/**
 * The browser `npm test` gives the web dashboard test (scripts/test-browser.mjs): the one there,
 * Debian's chromium installed through apt-get when it is missing and apt-get may (the apt side
 * replaced by a stand-in: this machine's browser stays as it is), else one line naming what to
 * install, which the dashboard suite then fails with (run through scripts/test.mjs for real).
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { chromiumMissing, ensureChromium } from '../../scripts/test-browser.mjs';
import { makeTempDir, REPO_ROOT } from '../helpers/hub-process.ts';
import { runProgram } from '../helpers/run-cli.ts';

/** A stand-in for apt-get: records what it was asked, and "installs" by creating `debian`. */
function fakeApt(
  debian: string,
  { unavailable = null as string | null, fails = null as string | null } = {},
) {
  const installed: string[][] = [];
  return {
    installed,
    apt: {
      unavailable: () => unavailable,
      install(packages: string[]) {
        installed.push(packages);
        if (fails) return fails;
        writeFileSync(debian, '#!/bin/sh\n');
        chmodSync(debian, 0o755);
        return null;
      },
    },
  };
}

describe('the browser for the web dashboard test', () => {
  it('uses the one there, installing nothing', () => {
    const { apt, installed } = fakeApt(join(makeTempDir(), 'chromium'));
    const env = { MITTELO_TEST_CHROMIUM: process.execPath };
    assert.deepEqual(ensureChromium({ install: true, env, apt }), { path: process.execPath });
    assert.deepEqual(installed, []);
  });

  it("installs Debian's chromium when it is missing and apt-get may, saying so in one line", () => {
    const debian = join(makeTempDir(), 'chromium');
    const { apt, installed } = fakeApt(debian);
    const logged: string[] = [];
    const found = ensureChromium({ install: true, env: {}, apt, debian, log: (line) => logged.push(line) });
    assert.deepEqual(found, { path: debian });
    assert.deepEqual(installed, [['chromium']]);
    assert.deepEqual(logged, ["== installing Debian's chromium (the web dashboard test drives it headless)"]);
  });

  it('names what to install when apt-get may not, fails, or is not asked to', () => {
    const debian = join(makeTempDir(), 'chromium');
    const notRoot = fakeApt(debian, { unavailable: 'not running as root' });
    const refused = ensureChromium({ install: true, env: {}, apt: notRoot.apt, debian, log: () => {} });
    assert.equal(
      refused.problem,
      `${chromiumMissing(debian)} (not installed by \`npm test\`: not running as root)`,
    );
    assert.match(refused.problem, /install Debian's chromium \(apt-get install -y chromium/);
    assert.deepEqual(notRoot.installed, []);

    const broken = fakeApt(debian, { fails: 'apt-get install -y -qq chromium failed (exit 100)' });
    const failed = ensureChromium({ install: true, env: {}, apt: broken.apt, debian, log: () => {} });
    assert.equal(
      failed.problem,
      `apt-get install -y -qq chromium failed (exit 100); ${chromiumMissing(debian)}`,
    );

    const untouched = fakeApt(debian);
    assert.deepEqual(ensureChromium({ env: {}, apt: untouched.apt, debian }), {
      problem: chromiumMissing(debian),
    });
    assert.deepEqual(untouched.installed, []);
  });

  it('installs nothing when MITTELO_TEST_CHROMIUM names a browser that is not there', () => {
    const named = join(makeTempDir(), 'my-chrome');
    const { apt, installed } = fakeApt(join(makeTempDir(), 'chromium'));
    const found = ensureChromium({ install: true, env: { MITTELO_TEST_CHROMIUM: named }, apt });
    assert.deepEqual(found, { problem: chromiumMissing(named) });
    assert.deepEqual(installed, []);
  });

  it('with no browser, `npm test` fails the dashboard suite with that one line', async () => {
    const missing = join(makeTempDir(), 'no-chromium');
    const ran = await runProgram(
      process.execPath,
      [join(REPO_ROOT, 'scripts', 'test.mjs'), 'test/integration/web-dashboard.test.ts'],
      // NODE_TEST_CONTEXT would make the inner node --test decline to run inside this test.
      {
        cwd: REPO_ROOT,
        env: { MITTELO_TEST_CHROMIUM: missing, NODE_TEST_CONTEXT: undefined },
        timeoutMs: 120_000,
      },
    );
    assert.equal(ran.code, 1, ran.stdout + ran.stderr);
    const line = chromiumMissing(missing);
    assert.ok(ran.stdout.includes(`${line}\n(the web dashboard test will fail with this line)`), ran.stdout);
    assert.ok(ran.stdout.includes(line, ran.stdout.indexOf('== tests')), 'the suite fails with the line');
    assert.match(ran.stdout, /\n0 passed, \d+ failed\n$/);
  });
});
