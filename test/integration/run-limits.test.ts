/**
 * `mittelo run --limit` (issue 13): on the embedded hub the cap holds for the whole run (three
 * shell agents, a cap of 1: never two shell tasks at work at once, seen from the tasks' own log of
 * starts and ends); against a running hub (--hub) the cap is there while the run runs and, when it
 * ends, every scope it touched has what it had before.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ResultRecord } from '../../src/run/results.ts';
import { startCli } from '../helpers/cli-process.ts';
import { makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const dir = makeTempDir('mittelo-run-limits-');
after(() => rmSync(dir, { recursive: true, force: true }));

function writePack(name: string, n: number): string {
  const pack = join(dir, name);
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ prompt: `t${i}`, backend: 'shell' }));
  writeFileSync(pack, `${lines.join('\n')}\n`);
  return pack;
}

/** The most tasks at work at once, from a log of `s` (started) and `e` (ended) lines. */
function mostAtOnce(log: string): number {
  let now = 0;
  let most = 0;
  for (const mark of log.trim().split('\n')) {
    now += mark === 's' ? 1 : -1;
    most = Math.max(most, now);
  }
  return most;
}

describe('mittelo run --limit', () => {
  it('embedded hub: --limit shell=1 with --agent shell=3 never has two shell tasks at once; all finish', async () => {
    const log = join(dir, 'starts-and-ends');
    const out = join(dir, 'embedded.jsonl');
    // Appends are atomic: the order of the lines is the order the runs started and ended in.
    const cmd = `echo s >> ${log}; sleep 0.2; echo e >> ${log}; cat`;
    const n = 8;
    const ran = await runCli(
      [
        'run',
        writePack('embedded.jsonl', n),
        '--agent',
        'shell=3',
        '--shell-cmd',
        cmd,
        '--limit',
        'shell=1',
        '--out',
        out,
        '--db',
        join(dir, 'embedded.db'),
      ],
      { cwd: dir },
    );
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, new RegExp(`${n} tasks: ${n} done, 0 failed`), ran.stdout);
    const records = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ResultRecord);
    assert.equal(records.length, n);
    assert.ok(records.every((r) => r.status === 'done'));
    const marks = readFileSync(log, 'utf8');
    assert.equal(marks.trim().split('\n').length, 2 * n, 'each task ran once');
    assert.equal(mostAtOnce(marks), 1, `never two at once:\n${marks}`);
  });

  it('--hub: the cap is on the hub while the run runs; afterwards the hub has its own caps back', async () => {
    const hub = await startHubProcess({ db: join(dir, 'hub.db'), args: ['--limit', 'shell=4'] });
    const go = join(dir, 'go');
    // Each task waits for the test to say go, so the run is surely running while we look.
    const cmd = `while [ ! -e ${go} ]; do sleep 0.05; done; cat`;
    const mittelo = (args: string[]) => runCli([...args, '--port', String(hub.port)], { cwd: dir });
    const run = startCli(
      [
        'run',
        writePack('hub.jsonl', 3),
        '--hub',
        `127.0.0.1:${hub.port}`,
        '--agent',
        'shell=2',
        '--shell-cmd',
        cmd,
        '--limit',
        'shell=1',
        '--limit',
        'tag:gpu=2',
        '--out',
        join(dir, 'hub-results.jsonl'),
      ],
      { cwd: dir },
    );
    try {
      const before = await mittelo(['limit']);
      assert.equal(before.code, 0, before.stderr);
      const during = await waitFor(async () => {
        const listed = await mittelo(['limit']);
        return /^limit: tag:gpu: \d+\/2 leased \(cap 2\)/m.test(listed.stdout) ? listed.stdout : null;
      }, "the run's caps on the hub");
      assert.match(during!, /^limit: shell: [01]\/1 leased \(cap 1\)/m);
      writeFileSync(go, '');
      assert.equal(await run.exit(), 0, run.stderr());
      const afterwards = await mittelo(['limit']);
      assert.equal(afterwards.code, 0, afterwards.stderr);
      assert.match(afterwards.stdout, /^limit: shell: 0\/4 leased \(cap 4\)$/m);
      assert.doesNotMatch(afterwards.stdout, /tag:gpu/);
      assert.match(run.stdout(), /3 tasks: 3 done, 0 failed/);
    } finally {
      if (!existsSync(go)) writeFileSync(go, '');
      run.kill();
      await run.exit().catch(() => {});
      await hub.stop();
    }
  });
});
