/**
 * What the commands show, as a user sees it: the hub's startup line with every address it serves,
 * progress lines that keep coming while a run (or a wait) is stuck, `wait`'s bar on a terminal,
 * and `--json` figures without float noise.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startCli } from '../helpers/cli-process.ts';
import { CLI_ENTRY, type HubProcess, makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { runCli, runProgram } from '../helpers/run-cli.ts';
import { makeTestCerts } from '../helpers/tls-certs.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function workspace(lines: string[]): { cwd: string; pack: string } {
  const cwd = makeTempDir('mittelo-screens-');
  cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
  const pack = join(cwd, 'pack.jsonl');
  writeFileSync(pack, `${lines.join('\n')}\n`);
  return { cwd, pack };
}

/** The hub's startup line, once it has printed it. */
async function startupLine(hub: HubProcess): Promise<string> {
  const line = await waitFor(
    () => /^mittelo hub listening on .*$/m.exec(hub.stderr())?.[0],
    'the startup line',
  );
  return line ?? '';
}

/** No number with more than 6 decimals (Unix times carry at most microseconds). */
const FLOAT_NOISE = /\d\.\d{7,}/;

describe('mittelo hub: the startup line', () => {
  it('names the TCP address, the REST API and the dashboard', async () => {
    const hub = await startHubProcess({ rest: true });
    cleanups.push(() => hub.stop());
    const line = await startupLine(hub);
    assert.equal(
      line,
      `mittelo hub listening on tcp://127.0.0.1:${hub.port} · REST http://127.0.0.1:${hub.restPort} · dashboard http://127.0.0.1:${hub.restPort}/ (db ${hub.db})`,
    );
  });

  it('says tls:// and https:// when it serves TLS, and only TCP without --rest-port', async () => {
    const certs = makeTestCerts();
    cleanups.push(() => rmSync(certs.dir, { recursive: true, force: true }));
    const secure = await startHubProcess({
      rest: true,
      args: ['--tls-cert', certs.cert, '--tls-key', certs.key],
    });
    cleanups.push(() => secure.stop());
    const plain = await startHubProcess();
    cleanups.push(() => plain.stop());
    const secureLine = await startupLine(secure);
    assert.match(
      secureLine,
      new RegExp(
        `^mittelo hub listening on tls://127\\.0\\.0\\.1:${secure.port} · REST https://127\\.0\\.0\\.1:${secure.restPort} · dashboard https://127\\.0\\.0\\.1:${secure.restPort}/ \\(db `,
      ),
    );
    const plainLine = await startupLine(plain);
    assert.match(
      plainLine,
      new RegExp(`^mittelo hub listening on tcp://127\\.0\\.0\\.1:${plain.port} \\(db `),
    );
  });
});

describe('progress while nothing moves', () => {
  it('a stuck run, not on a terminal, keeps printing progress lines', async () => {
    const { cwd, pack } = workspace(['{"prompt": "never answered"}']);
    const run = startCli(
      ['run', pack, '--agent', 'shell=1', '--shell-cmd', 'exec sleep 600', '--grace-s', '0'],
      {
        cwd,
      },
    );
    cleanups.push(() => run.kill());
    // Three lines while the task runs, nothing finishing: the interval, not a change, prints them.
    await run.waitForStderr(
      /(?:progress: 0\/1 finished \(0 done, 0 failed\), 0\.0\/s, [\d.]+ s, eta \?\n[\s\S]*?){3}/,
    );
    run.kill('SIGINT');
    assert.equal(await run.exit(), 1);
    assert.match(run.stderr(), /interrupted: 1 task\(s\) not finished/);
  });

  it('wait prints progress lines while it waits, and the final count', async () => {
    const hub = await startHubProcess();
    cleanups.push(() => hub.stop());
    const port = String(hub.port);
    const enqueued = await runCli(['enqueue', '--prompt', 'nobody takes this', '--port', port]);
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const id = enqueued.stdout.trim();
    const wait = startCli(['wait', id, '--port', port]);
    cleanups.push(() => wait.kill());
    await wait.waitForStderr(/(?:progress: 0\/1 finished[^\n]*\n[\s\S]*?){2}/);
    const canceled = await runCli(['cancel', id, '--port', port]);
    assert.equal(canceled.code, 0, canceled.stderr);
    assert.equal(await wait.exit(), 1, 'a canceled task is not a success');
    assert.match(wait.stderr(), /progress: 1\/1 finished \(0 done, 1 failed\)/);
    assert.match(wait.stdout(), new RegExp(`^${id} +canceled`, 'm'));
  });

  it('wait draws a bar on a terminal', async () => {
    const hub = await startHubProcess();
    cleanups.push(() => hub.stop());
    const port = String(hub.port);
    const enqueued = await runCli(['enqueue', '--prompt', 'quick', '--port', port]);
    const id = enqueued.stdout.trim();
    const agent = await runCli(['agent', '--backend', 'echo', '--once', '--port', port]);
    assert.equal(agent.code, 0, agent.stderr);
    const command = [process.execPath, CLI_ENTRY, 'wait', id, '--port', port]
      .map((word) => `'${word}'`)
      .join(' ');
    const ran = await runProgram('script', ['-q', '-e', '-c', command, '/dev/null']);
    assert.equal(ran.code, 0, ran.stdout);
    assert.match(ran.stdout, /wait \|\u2588+\| 1\/1 \| 1 done, 0 failed \| [\d.,]+\/s \| \d+s \| eta 0s/);
  });
});

describe('--json figures', () => {
  it('run, get, wait and stats carry no float noise', async () => {
    const { cwd, pack } = workspace(['{"prompt": "a"}', '{"prompt": "b"}', '{"prompt": "c"}']);
    const ran = await runCli(['run', pack, '--agent', 'shell=1', '--shell-cmd', 'cat', '--json'], { cwd });
    assert.equal(ran.code, 0, ran.stderr);
    const summary = JSON.parse(ran.stdout) as { summary: { wall_ms: number } };
    assert.ok(Number.isInteger(summary.summary.wall_ms), `wall_ms ${summary.summary.wall_ms}`);
    assert.doesNotMatch(ran.stdout, FLOAT_NOISE);

    const hub = await startHubProcess();
    cleanups.push(() => hub.stop());
    const port = String(hub.port);
    const id = (await runCli(['enqueue', '--prompt', 'p', '--port', port])).stdout.trim();
    assert.equal(
      (await runCli(['agent', '--backend', 'shell', '--shell-cmd', 'cat', '--once', '--port', port])).code,
      0,
    );
    for (const args of [['get', id], ['wait', id], ['stats']]) {
      const out = await runCli([...args, '--json', '--port', port]);
      assert.equal(out.code, 0, out.stderr);
      assert.doesNotMatch(out.stdout, FLOAT_NOISE, `${args[0]} --json: ${out.stdout}`);
    }
    const task = JSON.parse((await runCli(['get', id, '--json', '--port', port])).stdout) as {
      task: { duration_ms: number };
    };
    assert.ok(Number.isInteger(task.task.duration_ms), 'the agent reports whole milliseconds');
  });
});
