/**
 * TLS end to end, with real processes and a certificate made by openssl for the test: a hub with
 * --tls-cert/--tls-key serves tls:// (enqueue, lease, ack; an agent) and https:// (REST) to
 * clients that trust its CA (--tls-ca); a wrong CA, TLS against a plain hub and plain TCP against
 * a TLS hub each end in a clear error, in bounded time; bad certificate files stop the hub before
 * it starts (exit 2); and a hub that listens beyond loopback with a token but no TLS warns that
 * the token travels in clear text.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HubClient, TlsError } from '../../src/client/hub-client.ts';
import { startCli } from '../helpers/cli-process.ts';
import {
  HANG_GUARD_MS,
  type HubProcess,
  makeTempDir,
  startHubProcess,
  waitFor,
} from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';
import { makeTestCerts, type TestCerts } from '../helpers/tls-certs.ts';

/** How long a mismatched connection may take to fail: far less than a hang guard. */
const CLEAR_ERROR_MS = 10_000;

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: HANG_GUARD_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (text: string) => {
        body += text;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a hub with TLS', () => {
  let certs: TestCerts;
  let otherCa: TestCerts;
  let hub: HubProcess;
  let hubAddress: string;

  before(async () => {
    certs = makeTestCerts();
    otherCa = makeTestCerts();
    hub = await startHubProcess({ rest: true, args: ['--tls-cert', certs.cert, '--tls-key', certs.key] });
    hubAddress = `tls://127.0.0.1:${hub.port}`;
  });
  after(async () => {
    await hub?.stop();
    for (const made of [certs, otherCa]) if (made) rmSync(made.dir, { recursive: true, force: true });
  });

  it('prints its REST address as https:// (MITTELO_REST)', () => {
    assert.equal(hub.child.exitCode, null);
    assert.match(hub.restUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('enqueue (CLI with --hub tls://… --tls-ca), then lease and ack over TLS (HubClient with tlsCa)', async () => {
    const enqueued = await runCli([
      'enqueue',
      '--prompt',
      'secret work',
      '--backend',
      'tls_lane',
      '--hub',
      hubAddress,
      '--tls-ca',
      certs.ca,
    ]);
    assert.equal(enqueued.code, 0, enqueued.stderr);
    const id = Number(enqueued.stdout.trim());
    assert.ok(id > 0);

    const client = new HubClient({ hubs: [hubAddress], tlsCa: readFileSync(certs.ca), reconnect: false });
    try {
      const { tasks } = await client.lease({ worker_id: 'tls-worker', backend: 'tls_lane' });
      assert.deepEqual(
        tasks.map((t) => t.task_id),
        [id],
      );
      assert.equal(tasks[0]!.prompt, 'secret work');
      const acked = await client.ack({
        task_id: id,
        status: 'done',
        result: 'over tls',
        lease_token: tasks[0]!.lease_token,
      });
      assert.equal(acked.status, 'done');
    } finally {
      client.close();
    }

    // --tls with --port is the same as a tls:// address.
    const got = await runCli([
      'get',
      String(id),
      '--json',
      '--port',
      String(hub.port),
      '--tls',
      '--tls-ca',
      certs.ca,
    ]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(JSON.parse(got.stdout).task.result, 'over tls');
  });

  it('an agent over TLS (mittelo agent --hub tls://…, MITTELO_TLS_CA) takes and finishes a task', async () => {
    const client = new HubClient({ hubs: [hubAddress], tlsCa: readFileSync(certs.ca), reconnect: false });
    try {
      const id = await client.enqueue({ prompt: 'agent over tls', backend: 'echo' });
      const agent = startCli(['agent', '--hub', hubAddress, '--backend', 'echo', '--once'], {
        env: { MITTELO_TLS_CA: certs.ca },
      });
      try {
        assert.equal(await agent.exit(), 0, agent.stderr());
      } finally {
        agent.kill('SIGKILL');
      }
      const { tasks } = await client.wait([id], { timeout_ms: HANG_GUARD_MS });
      assert.equal(tasks[0]?.status, 'done');
      assert.equal(tasks[0]?.result, 'echo:agent over tls');
    } finally {
      client.close();
    }
  });

  it('serves REST over https to a client that trusts the CA', async () => {
    const stats = await httpsGet(`${hub.restUrl}/stats`, readFileSync(certs.ca, 'utf8'));
    assert.equal(stats.status, 200);
    assert.equal(typeof JSON.parse(stats.body).stats.queued, 'number');
    await assert.rejects(httpsGet(`${hub.restUrl}/stats`, readFileSync(otherCa.ca, 'utf8')), /certificate/);
  });

  it('a client with the wrong CA (or none: the system store) is refused clearly: exit 3, no retry', async () => {
    for (const args of [['--tls-ca', otherCa.ca], []]) {
      const started = Date.now();
      const ran = await runCli(['stats', '--hub', hubAddress, ...args], { timeoutMs: CLEAR_ERROR_MS });
      assert.equal(ran.code, 3, ran.stderr);
      assert.match(
        ran.stderr,
        new RegExp(
          `^mittelo: the certificate of the hub at tls://127\\.0\\.0\\.1:${hub.port} is not trusted \\(.+\\): pass the CA certificate that signed it with --tls-ca FILE`,
        ),
      );
      assert.equal(ran.stderr.trim().split('\n').length, 1, 'one line');
      assert.ok(Date.now() - started < CLEAR_ERROR_MS);
    }
    // In code: a TlsError, even for a client that would reconnect forever.
    const client = new HubClient({ hubs: [hubAddress], tlsCa: readFileSync(otherCa.ca) });
    try {
      await assert.rejects(client.connect(), (error: unknown) => {
        assert.ok(error instanceof TlsError);
        assert.equal(error.code, 'tls_error');
        assert.equal(error.details?.reason, 'untrusted_certificate');
        return true;
      });
    } finally {
      client.close();
    }
  });

  it('a plain client gets a clear error at once (serves TLS only), not a hang', async () => {
    const ran = await runCli(['stats', '--port', String(hub.port)], { timeoutMs: CLEAR_ERROR_MS });
    assert.equal(ran.code, 3, ran.stderr);
    assert.equal(
      ran.stderr,
      `mittelo: the hub at 127.0.0.1:${hub.port} serves TLS only, and this client connected without TLS: connect to tls://127.0.0.1:${hub.port} (or pass --tls), with --tls-ca FILE if its certificate is not from a CA this system trusts\n`,
    );
    const client = new HubClient({ port: hub.port }); // reconnect on: still no retry loop
    try {
      await assert.rejects(client.connect(), (error: unknown) => {
        assert.ok(error instanceof TlsError);
        assert.equal(error.details?.reason, 'tls_required');
        return true;
      });
    } finally {
      client.close();
    }
    // An agent says so and exits 3 rather than waiting forever.
    const agent = await runCli(['agent', '--port', String(hub.port), '--backend', 'echo'], {
      timeoutMs: HANG_GUARD_MS,
    });
    assert.equal(agent.code, 3, agent.stderr);
    assert.match(agent.stderr, /serves TLS only/);
  });

  it('--tls-ca with no TLS address is a usage error (exit 2)', async () => {
    const ran = await runCli(['stats', '--port', String(hub.port), '--tls-ca', certs.ca]);
    assert.equal(ran.code, 2);
    assert.match(
      ran.stderr,
      /^mittelo: --tls-ca is given but no hub address uses TLS \(127\.0\.0\.1:\d+\): add --tls/,
    );
  });
});

describe('TLS against a plain hub', () => {
  let hub: HubProcess;
  let certs: TestCerts;
  before(async () => {
    certs = makeTestCerts();
    hub = await startHubProcess();
  });
  after(async () => {
    await hub?.stop();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  it('a TLS client gets "does not speak TLS" at once, not a hang', async () => {
    const ran = await runCli(['stats', '--hub', `tls://127.0.0.1:${hub.port}`, '--tls-ca', certs.ca], {
      timeoutMs: CLEAR_ERROR_MS,
    });
    assert.equal(ran.code, 3, ran.stderr);
    assert.match(
      ran.stderr,
      new RegExp(
        `^mittelo: the hub at tls://127\\.0\\.0\\.1:${hub.port} does not speak TLS \\(it answered in plain text`,
      ),
    );
    // The plain hub still serves plain clients.
    const plain = await runCli(['stats', '--json', '--port', String(hub.port)]);
    assert.equal(plain.code, 0, plain.stderr);
  });
});

describe('mittelo hub --tls-cert/--tls-key: bad input stops it before it starts', () => {
  let certs: TestCerts;
  let dir: string;
  before(() => {
    certs = makeTestCerts();
    dir = makeTempDir();
  });
  after(() => {
    rmSync(certs.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, () => string[], RegExp]> = [
    [
      'a missing certificate file',
      () => ['--tls-cert', join(dir, 'nope.pem'), '--tls-key', certs.key],
      /^mittelo: cannot read --tls-cert .*nope\.pem: no such file; nothing was started\n$/,
    ],
    [
      'a missing key file',
      () => ['--tls-cert', certs.cert, '--tls-key', join(dir, 'nope.key')],
      /^mittelo: cannot read --tls-key .*nope\.key: no such file; nothing was started\n$/,
    ],
    [
      'a key that is not the certificate’s',
      () => ['--tls-cert', certs.cert, '--tls-key', certs.otherKey],
      /^mittelo: --tls-key .*other\.key does not match the certificate in --tls-cert .*hub\.pem: give the private key the certificate was made for; nothing was started\n$/,
    ],
    [
      'a key given as the certificate',
      () => ['--tls-cert', certs.key, '--tls-key', certs.key],
      /^mittelo: --tls-cert .*hub\.key holds no PEM certificate/,
    ],
    [
      'a certificate without its key',
      () => ['--tls-cert', certs.cert],
      /^mittelo: --tls-cert needs --tls-key too/,
    ],
  ];
  for (const [what, args, expected] of cases) {
    it(`${what}: one line, exit 2, no database`, async () => {
      const db = join(dir, `${what.replace(/\W+/g, '-')}.db`);
      const ran = await runCli(['hub', '--port', '0', '--db', db, ...args()]);
      assert.equal(ran.code, 2, ran.stderr);
      assert.match(ran.stderr, expected);
      assert.equal(ran.stdout, '');
      assert.equal(existsSync(db), false, 'nothing was started');
    });
  }
});

describe('the clear-text warning', () => {
  it('a hub beyond loopback with a token but no TLS warns on stderr (one line, with the fix); with TLS it does not', async () => {
    const certs = makeTestCerts();
    const plain = await startHubProcess({ args: ['--host', '0.0.0.0', '--token', 'shh'] });
    const secure = await startHubProcess({
      args: ['--host', '0.0.0.0', '--token', 'shh', '--tls-cert', certs.cert, '--tls-key', certs.key],
    });
    try {
      await waitFor(() => plain.stderr().includes('warning'), 'the warning');
      const lines = plain
        .stderr()
        .split('\n')
        .filter((line) => line.includes('warning'));
      assert.equal(lines.length, 1);
      assert.match(
        lines[0]!,
        /^mittelo hub: warning: listening on 0\.0\.0\.0 without TLS: the token .* travels in clear text; serve TLS with --tls-cert FILE --tls-key FILE/,
      );
    } finally {
      await plain.stop();
      assert.equal(await secure.stop(), 0);
      assert.doesNotMatch(secure.stderr(), /warning/);
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });
});
