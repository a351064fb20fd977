#!/usr/bin/env node
// `npm test`: lint + format check, type check, then every test file under test/ with node's
// test runner. Ends with one line "N passed, N failed" (what CI reads).
// `npm test -- test/unit/x.test.ts` runs just those files (no lint, no type check).
// `--tests-only` runs every test without lint and type check (`npm run coverage` uses it).
// When a test file to run uses PostgreSQL, one throwaway server is started for the whole run (see
// startTestPostgres below and docs/TESTING.md); when one drives a browser, Debian's chromium is
// installed if missing (prepareBrowser).
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connectServer, ensureServerBinaries, startCluster } from './postgres-server.mjs';
import { ensureChromium } from './test-browser.mjs';

const root = join(import.meta.dirname, '..');

// The tests run TypeScript directly (Node >= 22 strips types). On an older node, re-run this
// script under Node 24 from scripts/ensure-node.sh, so `npm test` works on any machine.
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  const found = spawnSync('bash', [join(root, 'scripts', 'ensure-node.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (found.status !== 0) process.exit(2);
  const node = join(found.stdout.trim(), 'node');
  console.log(`(node ${process.version} is too old for the tests; using ${node})`);
  const rerun = spawnSync(node, [process.argv[1], ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(rerun.status ?? 1);
}

const bin = (name) => join(root, 'node_modules', '.bin', name);
const testsOnly = process.argv.includes('--tests-only');
const only = process.argv.slice(2).filter((arg) => arg !== '--tests-only');

function step(title, command, args) {
  console.log(`\n== ${title}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.log(`\n${title} failed`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

function testFiles(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...testFiles(path));
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found.sort();
}

if (only.length === 0 && !testsOnly) {
  step('lint and format (biome)', process.execPath, [bin('biome'), 'check', '.']);
  step('type check (tsc)', process.execPath, [bin('tsc'), '-p', 'tsconfig.json', '--noEmit']);
}

/** Whether any of these files contains `pattern` (a missing file: node --test reports it itself). */
function anyMentions(files, pattern) {
  return files.some((file) => {
    try {
      return pattern.test(readFileSync(file, 'utf8'));
    } catch {
      return false;
    }
  });
}

/**
 * PostgreSQL for the test files that use it (test/helpers/postgres.ts): one throwaway cluster for
 * the run, its superuser URL in MITTELO_TEST_PG_URL, each file making fresh databases on it
 * (starting one costs seconds; a database, a tenth of that). Missing server binaries are installed
 * from Debian's package when this is root on Debian or Ubuntu. When no server can be had, the tests
 * still run, with the reason in MITTELO_TEST_PG_ERROR: the PostgreSQL suites fail with that line.
 * A MITTELO_TEST_PG_URL given from outside is used as it is (databases are created on it).
 */
async function startTestPostgres(files, env) {
  if (env.MITTELO_TEST_PG_URL) return connectServer(env.MITTELO_TEST_PG_URL);
  // Files that mention PostgreSQL at all: a false positive costs a second, a miss a failed suite.
  if (!anyMentions(files, /postgres/i)) return null;
  console.log('\n== PostgreSQL for the tests');
  const binaries = ensureServerBinaries({ install: true });
  let problem = binaries.problem;
  if (binaries.bindir) {
    try {
      const cluster = await startCluster({ bindir: binaries.bindir });
      console.log(
        `PostgreSQL ${cluster.version} at ${cluster.adminUrl} (${binaries.bindir}; throwaway, in ${cluster.dir})`,
      );
      env.MITTELO_TEST_PG_URL = cluster.adminUrl;
      return cluster;
    } catch (error) {
      problem = `could not start a throwaway PostgreSQL server: ${error.message}`;
    }
  }
  console.log(`${problem}\n(the PostgreSQL tests will fail with this line)`);
  env.MITTELO_TEST_PG_ERROR = problem;
  return null;
}

/**
 * The headless browser for the test files that drive one (playwright-core), from
 * scripts/test-browser.mjs: Debian's chromium, installed when missing and this is root on Debian
 * or Ubuntu. When there is none, the tests still run, with the reason in
 * MITTELO_TEST_CHROMIUM_ERROR: the browser suite fails with that line.
 */
function prepareBrowser(files, env) {
  if (!anyMentions(files, /playwright-core/)) return;
  const browser = ensureChromium({ install: true, env });
  if (browser.problem) {
    console.log(`\n${browser.problem}\n(the web dashboard test will fail with this line)`);
    env.MITTELO_TEST_CHROMIUM_ERROR = browser.problem;
  }
}

const files = only.length ? only : testFiles(join(root, 'test'));
const testEnv = { ...process.env };
prepareBrowser(files, testEnv);
const postgres = await startTestPostgres(files, testEnv);
console.log(`\n== tests (${files.length} files)`);
const child = spawn(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=300000', '--test-reporter=spec', ...files],
  { cwd: root, env: testEnv, stdio: ['ignore', 'pipe', 'inherit'] },
);
// Ctrl-C or a kill: stop the tests, then the server (also stopped by its own exit hook).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, async () => {
    child.kill(signal);
    await postgres?.stop().catch(() => {});
    process.exit(130);
  });
}
let tail = '';
child.stdout.setEncoding('utf8').on('data', (text) => {
  process.stdout.write(text);
  tail = (tail + text).slice(-4000);
});
child.on('close', async (code) => {
  await postgres?.stop().catch((error) => console.log(`stopping PostgreSQL: ${error.message}`));
  const passed = Number(/ℹ pass (\d+)/.exec(tail)?.[1] ?? 0);
  let failed = Number(/ℹ fail (\d+)/.exec(tail)?.[1] ?? 0);
  if (code !== 0 && failed === 0) failed = 1;
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
