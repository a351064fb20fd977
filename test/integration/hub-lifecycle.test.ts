/**
 * The hub process from the outside: clean stops on SIGTERM (with long-polls and requests in
 * flight), durability of answered writes across kill -9, one hub per database, and the one-line
 * refusals for a busy port, an unsafe bind and bad flags.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type HubProcess, makeTempDir, startHubProcess, waitFor } from '../helpers/hub-process.ts';
import { RawClient, type WireMessage } from '../helpers/raw-client.ts';
import { type Ran, runCli } from '../helpers/run-cli.ts';

/** Run `mittelo hub ...args` in `dir` and wait for it to exit by itself (bounded). */
function runHubUntilExit(dir: string, args: string[]): Promise<Ran> {
  return runCli(['hub', ...args], { cwd: dir });
}

/** A port that is taken for as long as the returned server is open. */
function occupyPort(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server));
  });
}

/**
 * Every stored task, newest first. A `list` answer stops at the hub's byte budget (tens of
 * thousands of tasks) and then says `truncated` and where the next page starts: follow it.
 */
async function listEvery(client: RawClient): Promise<WireMessage[]> {
  const tasks: WireMessage[] = [];
  let beforeId: number | undefined;
  for (;;) {
    const page = await client.result(
      'list',
      beforeId === undefined ? { limit: 0 } : { limit: 0, before_id: beforeId },
    );
    tasks.push(...(page.tasks as WireMessage[]));
    if (page.truncated !== true) return tasks;
    beforeId = page.next_before_id as number;
  }
}

/** Everything a test opened (hubs, connections, folders), released in `close` whatever happened. */
class Scope {
  readonly dir = makeTempDir();
  readonly db = join(this.dir, 'hub.db');
  private readonly hubs: HubProcess[] = [];
  private readonly clients: RawClient[] = [];

  /** A hub on this scope's database (so a restart finds the same tasks). */
  async hub(args: string[] = []): Promise<HubProcess> {
    const hub = await startHubProcess({ dir: this.dir, db: this.db, args });
    this.hubs.push(hub);
    return hub;
  }

  async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const client = await RawClient.connect(port, host);
    this.clients.push(client);
    return client;
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.close();
    await Promise.all(this.hubs.map((hub) => hub.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function withScope(body: (scope: Scope) => Promise<void>): Promise<void> {
  const scope = new Scope();
  try {
    await body(scope);
  } finally {
    await scope.close();
  }
}

describe('hub lifecycle: stopping', () => {
  it('SIGTERM with a long-poll lease pending: the client gets an answer and the hub exits 0', async () => {
    await withScope(async (scope) => {
      const hub = await scope.hub();
      const client = await scope.connect(hub.port);
      const id = client.request('lease', { worker_id: 'idle', wait_ms: 120_000 });
      // Let the lease park; the point is that a parked lease is answered, not left hanging. (A
      // round trip shows the hub has read it; a sleep could be outlasted on a loaded machine.)
      await client.synced();
      assert.equal(client.hasUnread, false);
      hub.child.kill('SIGTERM');
      const response = await client.nextMatching((m) => m.id === id);
      assert.deepEqual(response.result, { tasks: [] }, JSON.stringify(response));
      assert.equal(response.error, null);
      await client.closed;
      assert.equal(await hub.exited, 0, hub.stderr());
    });
  });

  it('SIGTERM with requests in flight: every request read is answered, the rest see a close, exit 0', async () => {
    await withScope(async (scope) => {
      const hub = await scope.hub();
      const clients: RawClient[] = [];
      for (let c = 0; c < 4; c += 1) clients.push(await scope.connect(hub.port));
      const acknowledged = new Set<number>();
      let answered = 0;
      // Each client keeps sending small batches until the hub hangs up, so requests are in
      // flight (read, not yet committed or answered) whenever the signal lands.
      const pumps = clients.map(async (client, c) => {
        let sent = 0;
        let open = true;
        void client.closed.then(() => {
          open = false;
        });
        while (open && sent < 20_000) {
          let batch = '';
          for (let i = 0; i < 25; i += 1, sent += 1) {
            batch += `${JSON.stringify({ id: `${c}-${sent}`, method: 'enqueue', params: { prompt: `c${c} t${sent}` } })}\n`;
          }
          client.send(batch);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      });
      const readers = clients.map(async (client, c) => {
        const seen = new Set<string>();
        // Read until the hub closes the connection; every line must answer one of our requests.
        for (;;) {
          let message: WireMessage;
          try {
            message = await client.nextMessage();
          } catch (error) {
            assert.match((error as Error).message, /connection closed/, 'no hang: answers or a close');
            break;
          }
          assert.ok(typeof message.id === 'string' && !seen.has(message.id), JSON.stringify(message));
          seen.add(message.id);
          answered += 1;
          if (message.error === null) acknowledged.add(message.result.task_id);
          else assert.equal(message.error.code, 'unavailable', JSON.stringify(message));
        }
        // Requests are read in order, so the answered ones are the first few: none was dropped.
        const expected = Array.from({ length: seen.size }, (_, i) => `${c}-${i}`);
        assert.deepEqual([...seen].sort(), expected.sort());
      });
      await waitFor(() => answered >= 400, 'the hub to be busy answering');
      hub.child.kill('SIGTERM');
      await Promise.all([...readers, ...pumps]);
      assert.equal(await hub.exited, 0, hub.stderr());

      // The database the stopped hub left holds exactly the enqueues it answered.
      const again = await scope.hub();
      const reader = await scope.connect(again.port);
      const stored = await listEvery(reader);
      const storedIds = new Set(stored.map((t) => t.task_id as number));
      for (const id of acknowledged) assert.ok(storedIds.has(id), `acknowledged task ${id} is stored`);
      assert.equal(
        storedIds.size,
        acknowledged.size,
        'no task was stored without its enqueue being answered',
      );
    });
  });
});

describe('hub lifecycle: durability across kill -9', () => {
  it('every enqueue answered before kill -9 is there after a restart on the same --db', async () => {
    await withScope(async (scope) => {
      const hub = await scope.hub();
      const clients: RawClient[] = [];
      for (let c = 0; c < 4; c += 1) clients.push(await scope.connect(hub.port));
      const perClient = 125;
      const answers = clients.map(async (client, c) => {
        let batch = '';
        for (let i = 0; i < perClient; i += 1) {
          batch += `${JSON.stringify({ id: i, method: 'enqueue', params: { prompt: `conn ${c} task ${i}` } })}\n`;
        }
        client.send(batch);
        const ids: number[] = [];
        for (let i = 0; i < perClient; i += 1) {
          const message = await client.nextMessage();
          assert.equal(message.error, null, JSON.stringify(message));
          ids.push(message.result.task_id);
        }
        return ids;
      });
      const acknowledged = (await Promise.all(answers)).flat();
      await hub.kill();
      assert.equal(hub.child.signalCode, 'SIGKILL');
      assert.equal(acknowledged.length, 500);

      const again = await scope.hub();
      const reader = await scope.connect(again.port);
      const stored = await listEvery(reader);
      assert.deepEqual(
        stored.map((t) => t.task_id).sort((a, b) => a - b),
        [...acknowledged].sort((a, b) => a - b),
      );
      assert.ok(stored.every((t) => t.status === 'queued'));
    });
  });

  it('an ack answered before kill -9 is still done after a restart', async () => {
    await withScope(async (scope) => {
      const hub = await scope.hub();
      const client = await scope.connect(hub.port);
      const done = (await client.result('enqueue', { prompt: 'finish me' })).task_id;
      const open = (await client.result('enqueue', { prompt: 'still running' })).task_id;
      await client.result('lease', { worker_id: 'w', max_tasks: 2 });
      assert.deepEqual(await client.result('ack', { task_id: done, status: 'done', result: 'kept' }), {
        ok: true,
        status: 'done',
        requeued: false,
      });
      await hub.kill();

      const again = await scope.hub();
      const reader = await scope.connect(again.port);
      const byId = new Map((await listEvery(reader)).map((t) => [t.task_id, t]));
      assert.equal(byId.get(done)!.status, 'done');
      assert.equal(byId.get(done)!.result, 'kept');
      assert.equal(byId.get(open)!.status, 'leased');
      assert.equal(byId.get(open)!.worker_id, 'w');
    });
  });
});

describe('hub lifecycle: refusing to start', () => {
  it('a second hub on the same --db exits non-zero: "in use by another hub"', async () => {
    await withScope(async (scope) => {
      const first = await scope.hub();
      const second = await runHubUntilExit(scope.dir, ['--port', '0', '--db', scope.db]);
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, /in use by another hub/);
      assert.equal(second.stdout, '', 'it never said it was listening');
      // The first hub is unaffected.
      const client = await scope.connect(first.port);
      assert.equal((await client.call('stats')).error, null);
    });
  });

  it('--port already in use: exit non-zero with one line naming EADDRINUSE and --port 0', async () => {
    const taken = await occupyPort();
    try {
      await withScope(async (scope) => {
        const { port } = taken.address() as net.AddressInfo;
        const result = await runHubUntilExit(scope.dir, ['--port', String(port), '--db', scope.db]);
        assert.notEqual(result.code, 0);
        const lines = result.stderr.trim().split('\n');
        assert.equal(lines.length, 1, result.stderr);
        assert.match(lines[0]!, /EADDRINUSE/);
        assert.match(lines[0]!, /--port 0/);
        assert.match(lines[0]!, new RegExp(`:${port}\\b`));
      });
    } finally {
      taken.close();
    }
  });

  it('--host that is not an address of this machine: exit non-zero with one line naming EADDRNOTAVAIL', async () => {
    await withScope(async (scope) => {
      // 192.0.2.0/24 is reserved for documentation: never a local address.
      const args = ['--host', '192.0.2.1', '--insecure', '--port', '0', '--db', scope.db];
      const result = await runHubUntilExit(scope.dir, args);
      assert.notEqual(result.code, 0);
      const lines = result.stderr.trim().split('\n');
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, /192\.0\.2\.1/);
      assert.match(lines[0]!, /EADDRNOTAVAIL/);
      assert.match(lines[0]!, /127\.0\.0\.1/);
    });
  });

  it('--host 0.0.0.0 without --token is refused with a message about --token and --insecure', async () => {
    await withScope(async (scope) => {
      const result = await runHubUntilExit(scope.dir, ['--host', '0.0.0.0', '--port', '0', '--db', scope.db]);
      assert.equal(result.code, 2);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, /0\.0\.0\.0/);
      assert.match(result.stderr, /--token/);
      assert.match(result.stderr, /--insecure/);
      assert.equal(result.stdout, '');
    });
  });

  it('--host 0.0.0.0 --insecure starts and serves', async () => {
    await withScope(async (scope) => {
      const hub = await scope.hub(['--host', '0.0.0.0', '--insecure']);
      assert.equal(hub.host, '0.0.0.0');
      const client = await scope.connect(hub.port, '127.0.0.1');
      assert.equal((await client.call('stats')).error, null);
      client.close();
      assert.equal(await hub.stop(), 0);
    });
  });

  it('--host 0.0.0.0 with --token starts and requires the token', async () => {
    await withScope(async (scope) => {
      const hub = await scope.hub(['--host', '0.0.0.0', '--token', 'sesame']);
      const client = await scope.connect(hub.port, '127.0.0.1');
      assert.equal((await client.call('stats')).error.code, 'unauthorized');
      await client.result('hello', { token: 'sesame' });
      assert.equal((await client.call('stats')).error, null);
    });
  });

  it('a bad flag value (--lease-seconds abc) exits 2 with a message naming the flag', async () => {
    await withScope(async (scope) => {
      const result = await runHubUntilExit(scope.dir, [
        '--port',
        '0',
        '--lease-seconds',
        'abc',
        '--db',
        scope.db,
      ]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /--lease-seconds/);
      assert.match(result.stderr, /abc/);
      assert.equal(result.stdout, '');
    });
  });
});
