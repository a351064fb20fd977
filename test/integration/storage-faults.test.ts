/**
 * The hub on storage that fails for real: a small tmpfs that fills up under 40 connections of
 * ~1 MiB enqueues, a filesystem mounted read-only, a damaged file, and the database deleted under a
 * running hub. Mounting needs root (CI runs as root); elsewhere the mount cases skip, saying so.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { runCli } from '../helpers/run-cli.ts';

const canMount = process.getuid?.() === 0 ? false : 'needs root to mount a small tmpfs (CI runs as root)';
const LONG = 120_000; // a bound against hangs, never a timing assertion

interface Mount {
  dir: string;
  remount(options: string): void;
  unmount(): void;
}

function mountTmpfs(sizeMiB: number): Mount {
  const dir = makeTempDir('mittelo-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir]);
  let mounted = true;
  return {
    dir,
    remount: (options) => execFileSync('mount', ['-o', `remount,${options}`, dir]),
    unmount: () => {
      if (!mounted) return;
      mounted = false;
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One line on stderr, no stack trace. */
function assertOneLine(stderr: string): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at |SqliteError|unexpected error/);
}

describe('storage faults under a real hub', () => {
  const mounts: Mount[] = [];
  after(() => {
    for (const mount of mounts) mount.unmount();
  });

  it('a filesystem that fills up: every acknowledged enqueue survives a kill -9, and the hub recovers once space is back', {
    skip: canMount,
    timeout: 600_000,
  }, async () => {
    const mount = mountTmpfs(48);
    mounts.push(mount);
    const db = join(mount.dir, 'hub.db');
    let hub = await startHubProcess({
      db,
      dir: mount.dir,
      args: ['--max-prompt-bytes', String(2 * 1024 * 1024), '--max-line-bytes', String(4 * 1024 * 1024)],
    });
    const acknowledged: number[] = [];
    let refused = 0;
    const codes = new Set<string>();
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < 40; i++) clients.push(await RawClient.connect(hub.port));
      // Each connection enqueues ~1 MiB prompts until it has been refused three times.
      await Promise.all(
        clients.map(async (client, c) => {
          let refusals = 0;
          for (let n = 0; refusals < 3 && n < 200; n++) {
            const prompt = `${c}:${n}:`.padEnd(1024 * 1024 - 64 + ((c * 7919 + n) % 4096), 'z');
            const answer = await client.call('enqueue', { prompt }, LONG);
            if (answer.error) {
              codes.add(answer.error.code);
              refusals += 1;
              refused += 1;
              assert.match(answer.error.message, /database or disk is full: free space under /);
            } else acknowledged.push(answer.result.task_id);
          }
        }),
      );
      assert.deepEqual([...codes], ['storage_full'], 'refusals carry the stable code');
      assert.ok(acknowledged.length > 0 && refused > 0);
      assert.equal(new Set(acknowledged).size, acknowledged.length, 'an id was handed to two requests');

      // Space is back: the same hub process takes writes again, without a restart.
      mount.remount('size=256m');
      const again = await clients[0]!.call('enqueue', { prompt: 'space is back' }, LONG);
      assert.equal(again.error, null, JSON.stringify(again.error));
      acknowledged.push(again.result.task_id);

      // The episode is over once writes have worked for a few seconds: keep writing until it says so.
      await waitFor(
        async () => {
          const more = await clients[0]!.call('enqueue', { prompt: 'still fine' }, LONG);
          assert.equal(more.error, null, JSON.stringify(more.error));
          acknowledged.push(more.result.task_id);
          await new Promise((resolve) => setTimeout(resolve, 200));
          return /storage works again/.test(hub.stderr());
        },
        'the log line that storage works again',
        LONG,
      );
      const log = hub.stderr();
      assert.equal(log.match(/storage fault/g)?.length, 1, `one log line for the episode:\n${log}`);
      assert.match(log, new RegExp(`storage works again: ${refused} request\\(s\\) were refused`));
      assert.doesNotMatch(log, /\n\s+at /, 'no stack traces');
      const stats = (await clients[0]!.result('stats', {}, LONG)).stats;
      assert.equal(stats.queued, acknowledged.length, 'stats count only stored tasks');
    } finally {
      for (const client of clients) client.close();
      await hub.kill();
    }

    hub = await startHubProcess({ db, dir: mount.dir });
    const client = await RawClient.connect(hub.port);
    try {
      let found = 0;
      for (let i = 0; i < acknowledged.length; i += 200) {
        const ids = acknowledged.slice(i, i + 200);
        const answer = await client.result('wait', { task_ids: ids, timeout_ms: 0 }, LONG);
        found += answer.tasks.length;
      }
      const stats = (await client.result('stats', {}, LONG)).stats;
      console.log(
        `# disk full run: ${acknowledged.length} enqueues acknowledged, ${refused} refused with storage_full, ` +
          `${found} found after kill -9 and restart (missing: ${acknowledged.length - found})`,
      );
      assert.equal(found, acknowledged.length, 'every acknowledged enqueue is there after the restart');
      assert.equal(stats.queued, acknowledged.length, 'and nothing that was refused');
    } finally {
      client.close();
      await hub.stop();
    }
  });

  it('a database on a read-only filesystem: one line, exit 5', {
    skip: canMount,
    timeout: LONG,
  }, async () => {
    const mount = mountTmpfs(16);
    mounts.push(mount);
    const db = join(mount.dir, 'hub.db');
    const hub = await startHubProcess({ db, dir: mount.dir });
    await hub.stop();
    mount.remount('ro');
    const ran = await runCli(['hub', '--port', '0', '--db', db], { timeoutMs: LONG });
    assert.equal(ran.code, 5, ran.stderr);
    assertOneLine(ran.stderr);
    assert.ok(ran.stderr.includes(db), ran.stderr);
    assert.match(ran.stderr, /read-only|cannot be written|writable/);
  });

  it('a damaged database: one line naming the file and how to recover it, exit 5', {
    timeout: LONG,
  }, async () => {
    const hub = await startHubProcess();
    const client = await RawClient.connect(hub.port);
    const tasks = Array.from({ length: 300 }, (_, i) => ({ prompt: `task ${i} ${'q'.repeat(300)}` }));
    await client.result('enqueue_many', { tasks }, LONG);
    client.close();
    const { db, dir } = hub;
    const code = await new Promise<number | null>((resolve) => {
      hub.child.once('exit', resolve);
      hub.child.kill('SIGTERM');
    });
    assert.equal(code, 0);
    try {
      const size = statSync(db).size;
      const fd = openSync(db, 'r+');
      writeSync(fd, Buffer.alloc(size - 4096, 0x5a), 0, size - 4096, 4096);
      closeSync(fd);
      const ran = await runCli(['hub', '--port', '0', '--db', db], { timeoutMs: LONG });
      assert.equal(ran.code, 5, ran.stderr);
      assertOneLine(ran.stderr);
      assert.ok(ran.stderr.includes(db), ran.stderr);
      assert.match(ran.stderr, /damaged/);
      assert.match(ran.stderr, /sqlite3 .* \.recover/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the database deleted under a running hub: writes refused (exit 5), what it held saved', {
    timeout: LONG,
  }, async () => {
    const hub = await startHubProcess();
    try {
      const first = await runCli(['enqueue', '--port', String(hub.port), '--prompt', 'before'], {
        timeoutMs: LONG,
      });
      assert.equal(first.code, 0, first.stderr);
      unlinkSync(hub.db);
      const refused = await waitFor<Awaited<ReturnType<typeof runCli>> | false>(
        async () => {
          const ran = await runCli(['enqueue', '--port', String(hub.port), '--prompt', 'after'], {
            timeoutMs: LONG,
          });
          return ran.code !== 0 && ran;
        },
        'an enqueue refused after the delete',
        LONG,
      );
      assert.ok(refused);
      assert.equal(refused.code, 5, refused.stderr);
      assert.match(refused.stderr, /was deleted while the hub was running; writes are refused/);
      await waitFor(
        () => /saved to .*hub\.db\.rescued-/.test(hub.stderr()),
        'the rescue line in the log',
        LONG,
      );
      const rescued = readdirSync(hub.dir).filter((name) => name.startsWith('hub.db.rescued-'));
      assert.equal(rescued.length, 1);
      // Reads still answer: status works on the hub that lost its file.
      const status = await runCli(['stats', '--port', String(hub.port), '--json'], { timeoutMs: LONG });
      assert.equal(status.code, 0, status.stderr);
    } finally {
      await hub.stop();
    }
  });
});
