/**
 * HubClient's transport against scripted hubs on real TCP sockets (port 0): framing (bytes, not
 * UTF-16 units; UTF-8 split across chunks), the per-request timeout (parking calls get their
 * wait added; late answers are ignored; a silent connection is dropped), the coded connection
 * errors, and failover between several addresses (hello and subscribe repeated on the next one).
 * The hub address parser is here too.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import {
  ConnectionClosedError,
  HubClient,
  type HubClientOptions,
  HubUnreachableError,
  parseHubAddress,
  parseHubList,
  RequestTimeoutError,
} from '../../src/client/hub-client.ts';
import { CLIENT_ERROR_CODES, ERROR_CODES, HUB_ERROR_CODES, MitteloError } from '../../src/errors.ts';
import { waitFor } from '../helpers/hub-process.ts';
import { unusedPort } from '../helpers/ports.ts';

interface Request {
  id: number;
  method: string;
  params: Record<string, unknown>;
}

/** A hub that answers hello itself and hands every other request to `onRequest`. */
interface FakeHub {
  port: number;
  requests: Request[];
  sockets: Set<net.Socket>;
  /** Write raw bytes to every connection (the tests cut them where they like). */
  write(bytes: Buffer | string): void;
  answer(request: Request, result: unknown): void;
  /** Close the listener and every connection. */
  close(): Promise<void>;
}

function fakeHub(
  onRequest: (request: Request, socket: net.Socket, hub: FakeHub) => void = () => {},
): Promise<FakeHub> {
  const sockets = new Set<net.Socket>();
  const requests: Request[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      buffer += text;
      for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
        const request = JSON.parse(buffer.slice(0, nl)) as Request;
        buffer = buffer.slice(nl + 1);
        requests.push(request);
        if (request.method === 'hello') {
          const hello = {
            protocol: '1',
            server: 'fake',
            features: [],
            lease_seconds: 60,
            auth_required: false,
          };
          socket.write(`${JSON.stringify({ id: request.id, result: hello, error: null })}\n`);
        } else onRequest(request, socket, hub);
      }
    });
  });
  const hub: FakeHub = {
    port: 0,
    requests,
    sockets,
    write: (bytes) => {
      for (const socket of sockets) socket.write(bytes);
    },
    answer: (request, result) => hub.write(`${JSON.stringify({ id: request.id, result, error: null })}\n`),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return new Promise((resolve) => {
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      hub.port = (server.address() as net.AddressInfo).port;
      resolve(hub);
    });
  });
}

const clients: HubClient[] = [];
const hubs: FakeHub[] = [];
const open = (options: HubClientOptions) => {
  const client = new HubClient({ reconnect: false, ...options });
  clients.push(client);
  return client;
};
const start = async (onRequest?: Parameters<typeof fakeHub>[0]) => {
  const hub = await fakeHub(onRequest);
  hubs.push(hub);
  return hub;
};
after(async () => {
  for (const client of clients) client.close();
  for (const hub of hubs) await hub.close();
});

const lastRequest = (hub: FakeHub, method: string): Promise<Request> =>
  waitFor(() => hub.requests.findLast((r) => r.method === method), `a ${method} request`) as Promise<Request>;

describe('HubClient framing (LineReader: bytes, not characters)', () => {
  it('joins an answer whose multi-byte UTF-8 characters are split across chunks', async () => {
    const hub = await start();
    const client = open({ port: hub.port });
    const text = 'Mittelö — 日本語 🚀 ünïcödé';
    const pending = client.call<{ text: string }>('echo');
    const request = await lastRequest(hub, 'echo');
    const bytes = Buffer.from(
      `${JSON.stringify({ id: request.id, result: { text }, error: null })}\n`,
      'utf8',
    );
    // One byte per write, with a pause for each to leave as its own chunk: every character whose
    // encoding takes more than a byte is cut inside it.
    const socket = [...hub.sockets][0]!;
    socket.setNoDelay(true);
    for (let i = 0; i < bytes.length; i += 1) {
      await new Promise<void>((resolve) => socket.write(bytes.subarray(i, i + 1), () => resolve()));
    }
    assert.deepEqual(await pending, { text });
  });

  it('counts the size limit in bytes: an answer of few characters but more bytes is refused, and the connection dropped', async () => {
    const hub = await start();
    const limit = 200;
    const client = open({ port: hub.port, maxLineBytes: limit });
    // The answer's line: 93 characters (UTF-16 units), but 213 bytes of UTF-8, over the limit.
    const wide = '日'.repeat(60);
    const fits = client.call<string>('small');
    hub.answer(await lastRequest(hub, 'small'), 'x'.repeat(100));
    assert.equal((await fits).length, 100);

    const disconnected = new Promise((resolve) => client.once('disconnected', resolve));
    const big = client.call('big');
    hub.answer(await lastRequest(hub, 'big'), wide);
    await assert.rejects(big, (error: unknown) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.equal(error.code, 'connection_closed');
      assert.match(error.message, /over this client's limit of 200 bytes/);
      assert.match(error.message, /maxLineBytes/);
      return true;
    });
    await disconnected;
    assert.equal(client.connected, false);
  });
});

describe('HubClient request timeout', () => {
  it('rejects a call with no answer within requestTimeoutMs (request_timeout); its late answer is ignored', async () => {
    const hub = await start((request, socket) => {
      // Alive, just not answering `stuck`: an event line shows the connection works.
      if (request.method === 'stuck') socket.write('{"event":"hub.stopping","time":0}\n');
      else if (request.method === 'stats') hub.answer(request, { stats: { queued: 7 } });
    });
    const client = open({ port: hub.port, requestTimeoutMs: 150 });
    const events: unknown[] = [];
    client.on('event', (event) => events.push(event));
    await assert.rejects(client.call('stuck'), (error: unknown) => {
      assert.ok(error instanceof RequestTimeoutError);
      assert.ok(error instanceof MitteloError);
      assert.equal(error.code, 'request_timeout');
      assert.equal(error.details?.may_have_been_applied, true);
      assert.equal(error.details?.connection_dropped, false);
      assert.match(error.message, /`stuck` within 150 ms: it may still apply the call/);
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${hub.port}`));
      return true;
    });
    assert.equal(events.length, 1);
    // The late answer arrives: nothing takes it, and the connection serves the next call.
    hub.answer(await lastRequest(hub, 'stuck'), 'too late');
    assert.deepEqual(await client.call('stats'), { stats: { queued: 7 } });
    assert.equal(client.connected, true);
  });

  it('a lease with wait_ms (and a wait with timeout_ms) gets its wait added to the timeout', async () => {
    const hub = await start((request, socket) => {
      if (request.method === 'stats') socket.write('{"event":"hub.stopping","time":0}\n');
    });
    const client = open({ port: hub.port, requestTimeoutMs: 100 });
    const lease = client.lease({ worker_id: 'w', wait_ms: 60_000 });
    const wait = client.wait([1], { timeout_ms: 60_000 });
    await lastRequest(hub, 'wait');
    // An ordinary call on the same connection times out meanwhile; the parked ones do not.
    await assert.rejects(client.stats(), RequestTimeoutError);
    hub.answer(await lastRequest(hub, 'lease'), { tasks: [] });
    hub.answer(await lastRequest(hub, 'wait'), { tasks: [], timed_out: true });
    assert.deepEqual(await lease, { tasks: [] });
    assert.deepEqual(await wait, { tasks: [], timed_out: true });
  });

  it('a timed-out call on a connection that has gone silent drops it (the next call reconnects)', async () => {
    const hub = await start(); // answers hello, then nothing
    const client = open({ port: hub.port, requestTimeoutMs: 150, reconnect: true });
    await client.connect();
    const disconnected = new Promise<Error | null>((resolve) => client.once('disconnected', resolve));
    const other = client.call('also_stuck', {}, { timeoutMs: 0 });
    await assert.rejects(client.call('stuck'), (error: unknown) => {
      assert.ok(error instanceof RequestTimeoutError);
      assert.equal(error.details?.connection_dropped, true);
      assert.match(error.message, /dropped as dead/);
      return true;
    });
    await disconnected;
    // The call with no timeout was in flight on the dropped connection.
    await assert.rejects(other, ConnectionClosedError);
    await waitFor(() => hub.requests.filter((r) => r.method === 'hello').length === 1, 'one hello so far');
    const again = client.call('ping');
    hub.answer(await lastRequest(hub, 'ping'), 'pong');
    assert.equal(await again, 'pong');
    assert.equal(
      hub.requests.filter((r) => r.method === 'hello').length,
      2,
      'hello again on the new connection',
    );
  });
});

describe('HubClient connection errors are coded MitteloErrors', () => {
  it('client-side codes are ERROR_CODES, apart from the codes a hub sends', () => {
    for (const code of ['hub_unreachable', 'connection_closed', 'request_timeout', 'tls_error'] as const) {
      assert.ok(CLIENT_ERROR_CODES.includes(code));
      assert.ok(ERROR_CODES.includes(code));
      assert.ok(!(HUB_ERROR_CODES as readonly string[]).includes(code));
    }
  });

  it('hub_unreachable: nothing listens (one address, then several)', async () => {
    const [a, b] = [await unusedPort(), await unusedPort()];
    await assert.rejects(open({ port: a }).stats(), (error: unknown) => {
      assert.ok(error instanceof HubUnreachableError);
      assert.ok(error instanceof MitteloError);
      assert.equal(error.code, 'hub_unreachable');
      assert.equal(error.message, `no hub at 127.0.0.1:${a} — start one with \`mittelo hub\``);
      return true;
    });
    await assert.rejects(
      open({ hubs: [`127.0.0.1:${a}`, `tls://127.0.0.1:${b}`] }).connect(),
      (error: unknown) => {
        assert.ok(error instanceof HubUnreachableError);
        assert.equal(
          error.message,
          `no hub at 127.0.0.1:${a}, tls://127.0.0.1:${b} — start one with \`mittelo hub --tls-cert FILE --tls-key FILE\``,
        );
        assert.deepEqual(error.details?.addresses, [`127.0.0.1:${a}`, `tls://127.0.0.1:${b}`]);
        return true;
      },
    );
  });

  it('hub_unreachable with the reason: a hub that accepts and hangs up before hello', async () => {
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      await assert.rejects(open({ port }).connect(), (error: unknown) => {
        assert.ok(error instanceof HubUnreachableError);
        assert.equal(error.code, 'hub_unreachable');
        assert.match(
          error.message,
          new RegExp(`^cannot reach the hub at 127\\.0\\.0\\.1:${port}: .*closed it before answering hello`),
        );
        return true;
      });
    } finally {
      server.close();
    }
  });

  it('connection_closed: the connection drops with a call in flight (it may have been applied)', async () => {
    const hub = await start((request, socket) => {
      if (request.method === 'ack') socket.destroy();
    });
    const client = open({ port: hub.port });
    await assert.rejects(client.ack({ task_id: 1, status: 'done', result: 'r' }), (error: unknown) => {
      assert.ok(error instanceof ConnectionClosedError);
      assert.ok(error instanceof HubUnreachableError, 'still a HubUnreachableError, as before');
      assert.equal(error.code, 'connection_closed');
      assert.equal(error.method, 'ack');
      assert.equal(error.details?.may_have_been_applied, true);
      assert.match(
        error.message,
        new RegExp(
          `hub at 127\\.0\\.0\\.1:${hub.port} closed with \`ack\` in flight: the hub may have applied it`,
        ),
      );
      return true;
    });
  });
});

describe('HubClient failover between several addresses', () => {
  it('connects to the first that answers, and on a drop moves to the next: hello (token, identity, features) and subscribe again', async () => {
    const down = await unusedPort();
    const first = await start((request) => {
      if (request.method === 'subscribe' || request.method === 'stats') first.answer(request, { ok: true });
    });
    const second = await start((request) => {
      if (request.method === 'subscribe' || request.method === 'stats') second.answer(request, { ok: true });
    });
    const client = open({
      hubs: [`127.0.0.1:${down}`, { host: '127.0.0.1', port: first.port }, `tcp://127.0.0.1:${second.port}`],
      reconnect: true,
      maxBackoffMs: 100,
      token: 'secret',
      workerId: 'w-1',
      features: ['lease_revocations'],
    });
    let connects = 0;
    client.on('connected', () => {
      connects += 1;
    });
    await client.subscribe(['task']);
    assert.equal(client.port, first.port, 'the first address that answers');
    assert.equal(client.where, `127.0.0.1:${first.port}`);

    const disconnected = new Promise<Error | null>((resolve) => client.once('disconnected', resolve));
    await first.close();
    const lost = await disconnected;
    assert.match(String(lost?.message), new RegExp(`lost the hub at 127\\.0\\.0\\.1:${first.port}`));
    // A subscribed client reconnects by itself: to the next address.
    await waitFor(() => connects === 2, 'the reconnect to the second hub');
    assert.equal(client.port, second.port);
    const hello = second.requests.find((r) => r.method === 'hello')!;
    assert.equal(hello.params.token, 'secret');
    assert.equal(hello.params.worker_id, 'w-1');
    assert.deepEqual(hello.params.features, ['lease_revocations']);
    assert.deepEqual(second.requests.find((r) => r.method === 'subscribe')?.params, { events: ['task'] });
    assert.deepEqual(await client.call('stats'), { ok: true }, 'calls go to the second hub now');
  });
});

describe('hub addresses', () => {
  it('parses host:port, tcp://, tls://, IPv6 in brackets, and a missing port as 8765', () => {
    assert.deepEqual(parseHubAddress('hub.example:9000'), { host: 'hub.example', port: 9000 });
    assert.deepEqual(parseHubAddress('tcp://127.0.0.1:8765'), { host: '127.0.0.1', port: 8765, tls: false });
    assert.deepEqual(parseHubAddress('tls://hub.example:9443/'), {
      host: 'hub.example',
      port: 9443,
      tls: true,
    });
    assert.deepEqual(parseHubAddress('[::1]:9000'), { host: '::1', port: 9000 });
    assert.deepEqual(parseHubAddress('tls://[::1]'), { host: '::1', port: 8765, tls: true });
    assert.deepEqual(parseHubAddress(' localhost '), { host: 'localhost', port: 8765 });
    assert.deepEqual(parseHubList('a:1, tls://b:2,,'), [
      { host: 'a', port: 1 },
      { host: 'b', port: 2, tls: true },
    ]);
  });

  it('refuses what is not an address, saying how to write one', () => {
    for (const [text, why] of [
      ['http://127.0.0.1:8080', /unknown scheme http:\/\/ \(a REST URL/],
      ['127.0.0.1:0', /the port must be 1-65535/],
      ['127.0.0.1:http', /the port must be 1-65535/],
      [':8765', /no host name/],
      ['', /empty hub address/],
    ] as const) {
      assert.throws(
        () => parseHubAddress(text),
        (error: unknown) => {
          assert.ok(error instanceof MitteloError);
          assert.equal(error.code, 'bad_request');
          assert.match(error.message, why);
          assert.match(error.message, /tls:\/\/host:port/);
          return true;
        },
      );
    }
    assert.throws(() => parseHubList(' , '), /no hub address/);
  });
});
