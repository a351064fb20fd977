/**
 * Connections that never authenticate (issue 10, item 6), against real hub processes: the hello
 * deadline, the cap on unauthenticated connections (under `ulimit -n 256`, where 300 silent
 * connections used to starve a valid client of descriptors), one guess per connection and the
 * per-address back-off for wrong tokens. The last test prints a valid client's latency during a
 * flood; it asserts only that every call was served.
 *
 * The hubs run `startHub` in a child process (not the CLI), so the limits can be set small; the
 * cap test keeps the defaults.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { makeTempDir, REPO_ROOT, waitFor } from '../helpers/hub-process.ts';
import type { WireMessage } from '../helpers/raw-client.ts';

const TOKEN = 's3cret-token';
const START_HUB = pathToFileURL(join(REPO_ROOT, 'src', 'hub', 'start-hub.ts')).href;

/** Runs in the hub's child process: startHub with the JSON config from the environment. */
const HUB_SCRIPT = `
import { HUB_DEFAULTS, startHub } from ${JSON.stringify(START_HUB)};
const running = await startHub({ ...HUB_DEFAULTS, insecure: false, fsync: false, ...JSON.parse(process.env.AUTH_FLOOD_HUB) });
process.stdout.write('MITTELO_HUB ' + running.tcp.port + '\\n');
process.on('SIGTERM', () => void running.stop());
await running.stopped;
`;

interface TestHub {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A hub in a child process; with `fdLimit`, under `ulimit -n` (the real descriptor starvation). */
async function startTestHub(config: Record<string, unknown>, fdLimit?: number): Promise<TestHub> {
  const dir = makeTempDir('mittelo-auth-flood-');
  const node = [process.execPath, '--input-type=module', '-e', HUB_SCRIPT];
  const [command, args] = fdLimit
    ? ['bash', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, ...node]]
    : [node[0]!, node.slice(1)];
  const child = spawn(command as string, args as string[], {
    env: { ...process.env, AUTH_FLOOD_HUB: JSON.stringify({ port: 0, db: join(dir, 'hub.db'), ...config }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start; stderr: ${stderr}`)), 15_000);
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      const match = /MITTELO_HUB (\d+)/.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    void exited.then(() => reject(new Error(`hub exited before listening; stderr: ${stderr}`)));
  });
  return {
    port,
    pid: child.pid!,
    async stop() {
      await stopChild(child, exited);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A line client that can connect from another loopback address (127.0.0.2, …) than 127.0.0.1. */
class LineClient {
  readonly socket: net.Socket;
  readonly received: WireMessage[] = [];
  readonly closed: Promise<void>;
  isClosed = false;
  private buffer = '';
  private nextId = 1;
  private readonly waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('data', (text: string) => {
      this.buffer += text;
      for (let nl = this.buffer.indexOf('\n'); nl !== -1; nl = this.buffer.indexOf('\n')) {
        this.received.push(JSON.parse(this.buffer.slice(0, nl)) as WireMessage);
        this.buffer = this.buffer.slice(nl + 1);
      }
      for (const wake of this.waiters) wake();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        for (const wake of this.waiters) wake();
        resolve();
      }),
    );
  }

  static connect(port: number, from = '127.0.0.1'): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: from });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new LineClient(socket));
      });
    });
  }

  request(method: string, params?: unknown): number {
    const id = this.nextId++;
    this.socket.write(`${JSON.stringify({ id, method, params })}\n`);
    return id;
  }

  /** The first received message that matches (taken off the list); rejects on close or timeout. */
  take(match: (message: WireMessage) => boolean, what: string, timeoutMs = 10_000): Promise<WireMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.received.findIndex(match);
        if (index !== -1) {
          finish();
          resolve(this.received.splice(index, 1)[0]!);
        } else if (this.isClosed) {
          finish();
          reject(new Error(`connection closed before ${what}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  async call(method: string, params?: unknown, timeoutMs = 10_000): Promise<WireMessage> {
    const id = this.request(method, params);
    return this.take((m) => m.id === id, `an answer to ${method}`, timeoutMs);
  }

  async result(method: string, params?: unknown, timeoutMs = 10_000): Promise<WireMessage> {
    const answer = await this.call(method, params, timeoutMs);
    if (answer.error) throw new Error(`${method} failed: ${JSON.stringify(answer.error)}`);
    return answer.result as WireMessage;
  }

  /** Resolves when the hub closed the connection; rejects if it stays open. */
  async expectClosed(what: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.isClosed, what, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Open connections, always closed after `body`. */
async function withClients(
  body: (open: (port: number, from?: string) => Promise<LineClient>) => Promise<void>,
) {
  const clients: LineClient[] = [];
  try {
    await body(async (port, from) => {
      const client = await LineClient.connect(port, from);
      clients.push(client);
      return client;
    });
  } finally {
    for (const client of clients) client.close();
  }
}

/** A valid client's whole job: hello with the token, enqueue, stats. */
async function serveValidClient(client: LineClient, timeoutMs = 10_000): Promise<void> {
  const hello = await client.result('hello', { token: TOKEN, client: 'auth-flood-test' }, timeoutMs);
  assert.equal(hello.auth_required, true);
  const enqueued = await client.result('enqueue', { prompt: 'still served' }, timeoutMs);
  assert.ok((enqueued.task_id as number) > 0);
  const stats = await client.result('stats', undefined, timeoutMs);
  assert.ok((stats.stats.queued as number) >= 1);
}

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

describe('the hello deadline', () => {
  it('a token hub closes a silent connection with one unauthorized line; a hub without a token never does', async () => {
    const tokenHub = await startTestHub({ token: TOKEN, helloTimeoutMs: 400 });
    // Would close its silent connection first, if a token-less hub had a deadline at all.
    const openHub = await startTestHub({ helloTimeoutMs: 100 });
    try {
      await withClients(async (open) => {
        const v01 = await open(openHub.port);
        const authenticated = await open(tokenHub.port);
        await authenticated.result('hello', { token: TOKEN });
        const silent = await open(tokenHub.port);

        const line = await silent.take((m) => m.id === null, 'the deadline line');
        assert.equal(line.result, null);
        assert.equal(line.error.code, 'unauthorized');
        assert.match(line.error.message, /hello with the token within 0\.4 s/);
        await silent.expectClosed('the silent connection to be closed');
        assert.equal(silent.received.length, 0, 'one line, then the close');

        // Both outlived the deadline: the authenticated one, and the v0.1 one on the token-less hub.
        assert.equal(authenticated.isClosed, false);
        assert.ok((await authenticated.result('stats')).stats);
        assert.equal(v01.isClosed, false);
        assert.ok((await v01.result('stats')).stats);
      });
    } finally {
      await Promise.all([tokenHub.stop(), openHub.stop()]);
    }
  });
});

describe('the cap on unauthenticated connections', () => {
  it('under ulimit -n 256, 300 silent connections do not keep a valid client from being served', async () => {
    const hub = await startTestHub({ token: TOKEN }, 256);
    try {
      const limits = readFileSync(`/proc/${hub.pid}/limits`, 'utf8');
      assert.match(limits, /Max open files\s+256\s/, 'the hub must run under ulimit -n 256');
      await withClients(async (open) => {
        const early = await open(hub.port);
        await early.result('hello', { token: TOKEN });
        const silent: LineClient[] = [];
        for (let i = 0; i < 300; i += 1) silent.push(await open(hub.port));

        const valid = await open(hub.port);
        await serveValidClient(valid);

        const closedCount = () => silent.filter((c) => c.isClosed).length;
        await waitFor(() => closedCount() >= 300 - 64, 'the hub to drop all but 64 silent connections');
        const first = await silent[0]!.take((m) => m.id === null, 'the line for a dropped connection');
        assert.equal(first.error.code, 'unavailable');
        assert.match(first.error.message, /too many connections waiting to authenticate \(64 at once\)/);
        // Authenticated connections never count and are never dropped.
        assert.equal(early.isClosed, false);
        assert.ok((await early.result('stats')).stats);
        console.log(
          `[auth-flood] cap: ${closedCount()} of 300 silent connections dropped; hub holds ${openFds(hub.pid)} descriptors (limit 256)`,
        );
      });
    } finally {
      await hub.stop();
    }
  });
});

describe('wrong tokens', () => {
  it('close the connection after the answer, and slow down their address, not other clients', async () => {
    const delayMs = 3000;
    const hub = await startTestHub({
      token: TOKEN,
      helloTimeoutMs: 60_000,
      wrongTokenBackoff: { freeFailures: 2, baseDelayMs: delayMs, maxDelayMs: delayMs },
    });
    try {
      await withClients(async (open) => {
        const early = await open(hub.port);
        await early.result('hello', { token: TOKEN });

        // Twenty guesses in one write are one guess: one answer, then the close.
        const burst = await open(hub.port);
        const guesses = Array.from({ length: 20 }, (_, i) =>
          JSON.stringify({ id: i + 1, method: 'hello', params: { token: `guess-${i}` } }),
        );
        burst.socket.write(`${guesses.join('\n')}\n`);
        const answer = await burst.take((m) => m.id === 1, 'the answer to the first guess');
        assert.equal(answer.error.code, 'unauthorized');
        assert.equal(answer.error.message, 'wrong token');
        await burst.expectClosed('the connection to close after a wrong token');
        assert.equal(burst.received.length, 0, 'the other 19 guesses were never checked');

        const second = await open(hub.port);
        assert.equal((await second.call('hello', { token: 'guess-again' })).error.code, 'unauthorized');
        await second.expectClosed('the second guessing connection to close');

        // The third guess from 127.0.0.1 waits; a client from 127.0.0.2 and an authenticated
        // connection are served meanwhile.
        const third = await open(hub.port);
        const thirdId = third.request('hello', { token: 'guess-three' });
        const other = await open(hub.port, '127.0.0.2');
        await serveValidClient(other);
        assert.ok((await early.result('stats')).stats);
        assert.equal(third.received.length, 0, 'the third wrong token from one address was checked at once');
        const late = await third.take((m) => m.id === thirdId, 'the delayed answer', delayMs + 15_000);
        assert.equal(late.error.code, 'unauthorized');
        await third.expectClosed('the third guessing connection to close');

        // The right token from the address in back-off still works, after its delay.
        const fixed = await open(hub.port);
        await serveValidClient(fixed, delayMs + 15_000);
      });
    } finally {
      await hub.stop();
    }
  });
});

/** Runs in its own process: keeps `SILENT` silent connections and `GUESSERS` wrong-token loops going. */
const FLOOD_SCRIPT = `
import net from 'node:net';
const port = Number(process.env.FLOOD_PORT);
const counts = { connections: 0, dropped: 0, guesses: 0, wrong_token_answers: 0 };
let stopping = false;
function silent() {
  if (stopping) return;
  counts.connections++;
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.on('close', () => { counts.dropped++; setImmediate(silent); });
}
function guesser() {
  if (stopping) return;
  counts.connections++;
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.3' });
  socket.setEncoding('utf8');
  socket.on('connect', () => {
    counts.guesses++;
    socket.write(JSON.stringify({ id: 1, method: 'hello', params: { token: 'guess-' + counts.guesses } }) + '\\n');
  });
  socket.on('data', (text) => { if (text.includes('wrong token')) counts.wrong_token_answers++; });
  socket.on('error', () => {});
  socket.on('close', () => setImmediate(guesser));
}
for (let i = 0; i < Number(process.env.FLOOD_SILENT); i++) silent();
for (let i = 0; i < Number(process.env.FLOOD_GUESSERS); i++) guesser();
setInterval(() => process.stdout.write(JSON.stringify(counts) + '\\n'), 200);
process.on('SIGTERM', () => { stopping = true; process.stdout.write(JSON.stringify(counts) + '\\n'); process.exit(0); });
`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function statsLatencies(client: LineClient, calls: number): Promise<string> {
  const took: number[] = [];
  for (let i = 0; i < calls; i += 1) {
    const started = performance.now();
    await client.result('stats', undefined, 30_000);
    took.push(performance.now() - started);
  }
  took.sort((a, b) => a - b);
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  return `p50 ${ms(percentile(took, 50))}, p99 ${ms(percentile(took, 99))}, max ${ms(took.at(-1)!)}`;
}

describe('a valid client during a flood (latency printed, not asserted)', () => {
  it('is served: 200 stats calls while silent connections and wrong tokens pour in', async () => {
    const hub = await startTestHub({ token: TOKEN }, 256);
    let flood: ChildProcess | null = null;
    let floodExited: Promise<void> = Promise.resolve();
    try {
      await withClients(async (open) => {
        const quiet = await open(hub.port, '127.0.0.2');
        await quiet.result('hello', { token: TOKEN });
        const baseline = await statsLatencies(quiet, 200);

        flood = spawn(process.execPath, ['--input-type=module', '-e', FLOOD_SCRIPT], {
          env: { ...process.env, FLOOD_PORT: String(hub.port), FLOOD_SILENT: '300', FLOOD_GUESSERS: '20' },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        floodExited = new Promise((resolve) => flood!.once('exit', () => resolve()));
        let counts: Record<string, number> = {};
        flood.stdout!.setEncoding('utf8').on('data', (text: string) => {
          const last = text.trim().split('\n').at(-1);
          if (last) counts = JSON.parse(last);
        });
        await waitFor(
          () => (counts.dropped ?? 0) > 500,
          'the flood to be under way (500 connections dropped)',
          30_000,
        );

        const helloStarted = performance.now();
        const during = await open(hub.port, '127.0.0.2');
        await during.result('hello', { token: TOKEN }, 30_000);
        const helloMs = performance.now() - helloStarted;
        const flooded = await statsLatencies(during, 200);
        const fds = openFds(hub.pid);
        await stopChild(flood, floodExited);
        console.log(`[auth-flood] stats latency, quiet: ${baseline}`);
        console.log(
          `[auth-flood] stats latency, flood: ${flooded}; connect + hello ${helloMs.toFixed(1)} ms; hub descriptors ${fds}`,
        );
        console.log(`[auth-flood] flood so far: ${JSON.stringify(counts)}`);
        assert.equal(during.isClosed, false);
      });
    } finally {
      if (flood) await stopChild(flood, floodExited);
      await hub.stop();
    }
  });
});
