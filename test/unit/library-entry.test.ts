/**
 * The library surface (src/index.ts, the package's "." export): what a program gets from
 * `import … from 'mittelo'` starts a hub on a SQLite file and talks to it with HubClient, and the
 * coded errors it names are the ones the client throws. The packed, installed package is tried
 * from outside the repository in test/integration/library-package.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as mittelo from '../../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'mittelo-library-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the library entry (src/index.ts)', () => {
  it('startHub and HubClient: enqueue, lease, ack and read back through the public names', async () => {
    const running = await mittelo.startHub({
      ...mittelo.HUB_DEFAULTS,
      port: 0,
      db: join(dir, 'hub.db'),
      insecure: false,
      fsync: false,
      log: () => {},
    });
    const client = new mittelo.HubClient({ port: running.tcp.port });
    try {
      const id = await client.enqueue({ prompt: 'from the library', backend: 'echo' });
      const { tasks } = await client.lease({ worker_id: 'library-test', backend: 'echo' });
      assert.equal(tasks[0]?.task_id, id);
      await client.ack({
        task_id: id,
        status: 'done',
        result: 'ok',
        lease_token: tasks[0]?.lease_token ?? null,
      });
      const task: mittelo.Task = await client.get(id);
      assert.equal(task.status, 'done');
      assert.equal(task.result, 'ok');
      assert.ok(running.store instanceof mittelo.SqliteStore);
    } finally {
      client.close();
      await running.stop();
    }
  });

  it('the error classes and codes it exports are the ones a dead address throws', async () => {
    const client = new mittelo.HubClient({ port: 1, reconnect: false });
    try {
      await assert.rejects(client.stats(), (error: unknown) => {
        assert.ok(error instanceof mittelo.HubUnreachableError);
        assert.ok(error instanceof mittelo.MitteloError);
        assert.ok(mittelo.CLIENT_ERROR_CODES.includes(error.code as mittelo.ClientErrorCode));
        return true;
      });
    } finally {
      client.close();
    }
    assert.deepEqual(mittelo.parseHubList('tls://a:1,b:2'), [
      { host: 'a', port: 1, tls: true },
      { host: 'b', port: 2 },
    ]);
  });
});
