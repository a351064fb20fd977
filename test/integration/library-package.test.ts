/**
 * `import { HubClient } from 'mittelo'` outside this repository: the project is packed as npm
 * would publish it (`npm pack`, which builds dist/ through `prepare`, in a copy of the checkout so
 * this repository's own dist/ is left alone), the tarball is installed into an empty project
 * (its dependencies come from npm's cache or the registry), and a TypeScript file there imports
 * the package by name, is type-checked against the types the package ships (strict, no
 * skipLibCheck), and runs against a hub started from the installed package's own bin: it
 * enqueues, leases, acks and reads the tasks back.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type HubProcess, makeTempDir, REPO_ROOT, startHubProcess } from '../helpers/hub-process.ts';
import { type Ran, runProgram } from '../helpers/run-cli.ts';

/** Packing builds dist/ and installing fetches dependencies: minutes on a slow machine, not hours. */
const NPM_TIMEOUT_MS = 180_000;
/** Not copied: what .gitignore keeps out of a checkout, and git's own folder. */
const NOT_COPIED = new Set([
  '.git',
  'node_modules',
  'dist',
  'coverage',
  '.mittelo',
  'reports',
  'test-artifacts',
]);
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** npm and tsc are not ours to measure: under `npm run coverage` they would only add megabytes for c8 to read. */
const NO_COVERAGE = { NODE_V8_COVERAGE: undefined };

/** npm, quietly and without asking about audits or funding; fails the test with its output. */
async function npm(args: string[], cwd: string): Promise<Ran> {
  const ran = await runProgram('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    env: NO_COVERAGE,
    timeoutMs: NPM_TIMEOUT_MS,
  });
  assert.equal(ran.code, 0, `npm ${args.join(' ')} in ${cwd}:\n${ran.stdout}${ran.stderr}`);
  return ran;
}

const CONSUMER = `import { HubClient, MitteloError, type Task } from 'mittelo';

const [host, port] = process.argv.slice(2);
const hub = new HubClient({ host: host!, port: Number(port) });
try {
  const ids: number[] = await hub.enqueueMany(['first, from a package', { prompt: 'second', priority: 5 }]);
  const { tasks } = await hub.lease({ worker_id: 'package-test', max_tasks: 1 });
  const leased: Task = tasks[0]!;
  await hub.ack({ task_id: leased.task_id, status: 'done', result: \`got: \${leased.prompt}\`, lease_token: leased.lease_token });
  const back = await Promise.all(ids.map((id) => hub.get(id)));
  let missing = '';
  try {
    await hub.get(99_999);
  } catch (error) {
    if (error instanceof MitteloError) missing = error.code;
  }
  const seen = back.map(({ task_id, prompt, status, result }) => ({ task_id, prompt, status, result }));
  console.log(JSON.stringify({ ids, seen, missing }));
} finally {
  hub.close();
}
`;

describe('the packed package, installed in an empty project', {
  timeout: 2 * NPM_TIMEOUT_MS + 60_000,
}, () => {
  let app: string;
  let tarball: string;
  let hub: HubProcess | undefined;

  before(async () => {
    const work = makeTempDir('mittelo-package-');
    const checkout = join(work, 'checkout');
    cpSync(REPO_ROOT, checkout, {
      recursive: true,
      filter: (source) => !NOT_COPIED.has(relative(REPO_ROOT, source).split('/')[0]!),
    });
    // `prepare` (tsc) runs in the copy with this checkout's tools.
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(checkout, 'node_modules'));
    const packed = await npm(['pack', '--json', '--pack-destination', work], checkout);
    const [{ filename }] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [
      { filename: string },
    ];
    tarball = join(work, filename);

    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await npm(['install', '--prefer-offline', tarball], app);
    writeFileSync(join(app, 'use-hub.ts'), CONSUMER);
    // A user's strict settings, with no skipLibCheck: the shipped .d.ts files are checked too.
    // Node's own types come from this checkout (a user has @types/node installed).
    const compilerOptions = {
      target: 'ES2023',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      noUncheckedIndexedAccess: true,
      erasableSyntaxOnly: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['use-hub.ts'] }));
  });

  after(async () => {
    await hub?.stop();
  });

  it('ships the files a user needs, and not the sources or tests', async () => {
    const listed = await runProgram('tar', ['-tzf', tarball]);
    const files = listed.stdout.split('\n').filter(Boolean);
    for (const file of [
      'package/bin/mittelo.js',
      'package/scripts/ensure-node.sh',
      'package/dist/index.js',
      'package/dist/index.d.ts',
      'package/dist/cli/main.js',
      'package/README.md',
    ])
      assert.ok(files.includes(file), `${file} is not in the tarball`);
    const unwanted = files.filter((file) => /^package\/(?:src|test|bench|\.ci)\//.test(file));
    assert.deepEqual(unwanted, []);
  });

  it('type-checks a TypeScript file importing HubClient against the shipped types', async () => {
    const ran = await runProgram(process.execPath, [TSC, '-p', join(app, 'tsconfig.json')], {
      cwd: app,
      env: NO_COVERAGE,
    });
    assert.equal(ran.code, 0, `tsc in ${app}:\n${ran.stdout}${ran.stderr}`);
  });

  it('runs it against a hub from the installed bin: enqueue, lease, ack, read back', async () => {
    hub = await startHubProcess({
      command: [process.execPath, join(app, 'node_modules', 'mittelo', 'bin', 'mittelo.js')],
    });
    const ran = await runProgram(process.execPath, [join(app, 'use-hub.ts'), hub.host, String(hub.port)], {
      cwd: app,
    });
    assert.equal(ran.code, 0, ran.stderr);
    const answer = JSON.parse(ran.stdout) as { ids: number[]; seen: unknown[]; missing: string };
    assert.deepEqual(answer, {
      ids: [1, 2],
      seen: [
        { task_id: 1, prompt: 'first, from a package', status: 'queued', result: null },
        { task_id: 2, prompt: 'second', status: 'done', result: 'got: second' },
      ],
      missing: 'not_found',
    });
  });

  it('is the package this checkout describes', () => {
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', 'mittelo', 'package.json'), 'utf8'));
    const ours = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    assert.equal(installed.version, ours.version);
    assert.deepEqual(installed.exports, ours.exports);
  });
});
