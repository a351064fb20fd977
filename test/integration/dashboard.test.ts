/**
 * `mittelo dashboard` as a person runs it, with real processes: one snapshot for scripts, the
 * plain live output riding out a hub that is killed and started again, and the full-screen view
 * on a pseudo-terminal (util-linux `script`) quitting on `q` with the terminal given back.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Snapshot } from '../../src/cli/dashboard/snapshot.ts';
import { HubClient } from '../../src/client/hub-client.ts';
import { startCli } from '../helpers/cli-process.ts';
import { CLI_ENTRY, HANG_GUARD_MS, makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A hub with an echo agent that has finished `prompts`. */
async function busyHub(prompts: string[]) {
  const hub = await startHubProcess();
  cleanups.push(() => hub.stop());
  const agent = startCli(['agent', '--backend', 'echo', '--worker-id', 'w-echo', '--port', String(hub.port)]);
  cleanups.push(() => agent.kill());
  const client = new HubClient({ port: hub.port, reconnect: false });
  try {
    const ids = await client.enqueueMany(prompts);
    const waited = await client.wait(ids, { timeout_ms: HANG_GUARD_MS });
    assert.equal(waited.timed_out, false);
  } finally {
    client.close();
  }
  return hub;
}

describe('mittelo dashboard', () => {
  it('--once --json prints one snapshot: counts, agents and the newest tasks', async () => {
    const hub = await busyHub(['first', 'second']);
    const port = String(hub.port);
    const ran = await runCli(['dashboard', '--once', '--json', '--port', port]);
    assert.equal(ran.code, 0, ran.stderr);
    const snapshot = JSON.parse(ran.stdout) as Snapshot;
    assert.equal(snapshot.hub, `127.0.0.1:${port}`);
    assert.deepEqual(snapshot.stats, { queued: 0, leased: 0, done: 2, failed: 0, canceled: 0 });
    assert.deepEqual(
      snapshot.tasks.map((task) => [task.prompt, task.result]),
      [
        ['second', 'echo:second'],
        ['first', 'echo:first'],
      ],
    );
    const agent = snapshot.agents?.find((entry) => entry.worker_id === 'w-echo');
    assert.equal(agent?.healthy, true);
    assert.equal(agent?.tasks_done, 2);
    assert.deepEqual(snapshot.filter, { status: null, backend: null, search: null });

    const filtered = await runCli([
      'dashboard',
      '--once',
      '--port',
      port,
      '--search',
      'SEC',
      '--status',
      'done',
    ]);
    assert.equal(filtered.code, 0, filtered.stderr);
    assert.match(filtered.stdout, /^mittelö dashboard · hub 127\.0\.0\.1:\d+ · \d\d:\d\d:\d\d · connected$/m);
    assert.match(filtered.stdout, /^queued 0 · leased 0 · done 2 · failed 0 · canceled 0 · total 2$/m);
    assert.match(filtered.stdout, /^filter: status done · backend all · search "SEC"$/m);
    assert.match(filtered.stdout, /^w-echo +echo +connected +ok/m);
    assert.match(filtered.stdout, /second +echo:second$/m);
    assert.doesNotMatch(filtered.stdout, /echo:first/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: a pipe gets no control codes.
    assert.doesNotMatch(filtered.stdout, /\x1b/);
  });

  it("--once shows each running task's newest output line under its row, and a finished task's change", async () => {
    const hub = await startHubProcess();
    cleanups.push(() => hub.stop());
    // The agent's side done by hand: lease two tasks, stream output for one, ack the other with a change.
    const worker = new HubClient({ port: hub.port, reconnect: false, workerId: 'w-live', backend: 'live' });
    cleanups.push(() => worker.close());
    const [changedId, runningId, quietId] = await worker.enqueueMany([
      { prompt: 'change a file', backend: 'live' },
      { prompt: 'still running', backend: 'live' },
      { prompt: 'running, silent', backend: 'live' },
    ]);
    const { tasks } = await worker.lease({ worker_id: 'w-live', backend: 'live', max_tasks: 3 });
    const lease = (id: number | undefined) => tasks.find((task) => task.task_id === id)!;
    const long = `the newest line ${'x'.repeat(300)}`;
    await worker.output({
      task_id: runningId!,
      lease_token: lease(runningId).lease_token,
      worker_id: 'w-live',
      lines: [
        { kind: 'text', text: 'an older line' },
        { kind: 'tool', text: long },
      ],
    });
    // A variable, not a literal: the client's ack type may not list `worktree` yet.
    const ack = {
      task_id: changedId!,
      lease_token: lease(changedId).lease_token,
      worker_id: 'w-live',
      status: 'done' as const,
      result: 'changed',
      worktree: {
        branch: 'mittelo/task-1-x',
        path: '/tmp/nowhere',
        base_ref: 'HEAD',
        base_commit: 'a'.repeat(40),
        commit: 'b'.repeat(40),
        files_changed: 2,
        insertions: 12,
        deletions: 3,
        diff: '+x\n',
        diff_bytes: 3,
        diff_truncated: false,
        diff_cap_bytes: 262_144,
        kept: false,
      },
    };
    await worker.ack(ack);

    const port = String(hub.port);
    // Not a terminal: lines are not cut to a width (the render tests cut them to a screen's).
    const ran = await runCli(['dashboard', '--once', '--port', port]);
    assert.equal(ran.code, 0, ran.stderr);
    const lines = ran.stdout.split('\n');
    const row = lines.findIndex((line) => new RegExp(`^${runningId} +leased +live +w-live `).test(line));
    assert.ok(row > 0, ran.stdout);
    assert.equal(lines[row + 1], `  ↳ tool: ${long}`, ran.stdout);
    assert.doesNotMatch(ran.stdout, /an older line/);
    // Newest first: the silent running task has no line under it; the finished one shows its change.
    const quiet = lines.findIndex((line) => new RegExp(`^${quietId} +leased `).test(line));
    assert.equal(quiet, row - 1, ran.stdout);
    assert.match(
      lines[row + 2]!,
      new RegExp(`^${changedId} +done +live +w-live +1/1 +\\S+ +\\+12 −3 +change a file +changed$`),
    );
    assert.match(ran.stdout, /^tasks, newest first: 3 · a change in full: mittelo diff ID$/m);

    const json = await runCli(['dashboard', '--once', '--json', '--port', port]);
    assert.equal(json.code, 0, json.stderr);
    const snapshot = JSON.parse(json.stdout) as Snapshot;
    assert.deepEqual(Object.keys(snapshot.newest_output ?? {}), [String(runningId)]);
    assert.equal(snapshot.newest_output?.[String(runningId)]?.text, long);
    assert.equal(snapshot.newest_output?.[String(runningId)]?.kind, 'tool');
  });

  it('refuses bad flags before connecting, and exits 3 with --once when no hub is there', async () => {
    const json = await runCli(['dashboard', '--json', '--port', '1']);
    assert.equal(json.code, 2);
    assert.match(json.stderr, /--json needs --once/);
    const fast = await runCli(['dashboard', '--interval-ms', '10', '--port', '1']);
    assert.equal(fast.code, 2);
    assert.match(fast.stderr, /--interval-ms must be at least 100/);
    const status = await runCli(['dashboard', '--once', '--status', 'finished', '--port', '1']);
    assert.equal(status.code, 2);
    const down = await runCli(['dashboard', '--once', '--port', '1']);
    assert.equal(down.code, 3);
    assert.equal(down.stderr, 'mittelo: no hub at 127.0.0.1:1 — start one with `mittelo hub`\n');
  });

  it('live on a pipe: keeps printing, rides out a killed hub, picks up the restarted one', async () => {
    const dir = makeTempDir('mittelo-dashboard-');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = join(dir, 'hub.db');
    const first = await startHubProcess({ dir, db });
    cleanups.push(() => first.kill());
    const port = first.port;
    const client = new HubClient({ port, reconnect: false });
    await client.enqueue('waiting for an agent');
    client.close();

    const dashboard = startCli(['dashboard', '--interval-ms', '200', '--port', String(port)]);
    cleanups.push(() => dashboard.kill());
    const counters = /^queued 1 · leased 0 · done 0 · failed 0 · canceled 0 · total 1$/gm;
    const seen = () => (dashboard.stdout().match(counters) ?? []).length;
    await waitFor(() => seen() >= 2, 'two snapshots on stdout');

    await first.kill();
    const downLine =
      /^\d\d:\d\d:\d\d hub at 127\.0\.0\.1:\d+ is not reachable — retrying \(start one with `mittelo hub`\) · last snapshot \d+s ago$/m;
    await waitFor(() => downLine.test(dashboard.stdout()), 'the not-reachable line');
    assert.equal(dashboard.child.exitCode, null, 'still running without a hub');

    const before = seen();
    const second = await startHubProcess({ dir, db, args: ['--port', String(port)] });
    cleanups.push(() => second.stop());
    await waitFor(() => seen() >= before + 2, 'snapshots from the restarted hub');

    dashboard.kill('SIGTERM');
    assert.equal(await dashboard.exit(), 0);
    assert.equal(dashboard.stderr(), '');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: a pipe gets no control codes.
    assert.doesNotMatch(dashboard.stdout(), /\x1b/);
  });

  it('full screen on a terminal: draws, filters on s, quits on q and gives the terminal back', async () => {
    const hub = await busyHub(['on a terminal']);
    // `script` gives the dashboard a pseudo-terminal (stty sets its size, which starts at 0x0) and
    // passes what is written to its stdin on as keys.
    const command = `stty cols 120 rows 30; '${process.execPath}' '${CLI_ENTRY}' dashboard --port ${hub.port}`;
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    cleanups.push(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text;
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));

    await waitFor(() => out.includes('total 1') && out.includes('keys: q quit'), 'the first screen');
    assert.ok(out.includes('\x1b[?1049h'), 'entered the alternate screen');
    child.stdin.write('s');
    await waitFor(() => out.includes('filter: status queued'), 'the status filter after s');
    child.stdin.write('q');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no exit after q: ${out}`)), HANG_GUARD_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(code, 0, out);
    assert.ok(out.endsWith('\x1b[?25h\x1b[?1049l'), 'cursor shown and alternate screen left, last');
  });
});
