/**
 * A deliberately dumb line client for protocol tests: it writes exactly the bytes it is given and
 * hands back the lines the hub sends, in order. Independent of HubClient, so tests can check exact
 * wire shapes, malformed input and what an old v0.1 client would see.
 */
import net from 'node:net';
import { HANG_GUARD_MS, type HubProcess, startHubProcess } from './hub-process.ts';

/** A response or event line, parsed. Loose on purpose: tests assert the shape. */
// biome-ignore lint/suspicious/noExplicitAny: wire messages are checked by the tests themselves
export type WireMessage = Record<string, any>;

const DEFAULT_TIMEOUT_MS = HANG_GUARD_MS;

export class RawClient {
  readonly socket: net.Socket;
  /** Settles when the hub (or we) closed the connection. */
  readonly closed: Promise<void>;
  private buffer = '';
  private readonly lines: string[] = [];
  private readonly readers: Array<(line: string | null) => void> = [];
  private ended = false;
  private nextId = 1;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.onData(text));
    socket.on('error', () => {}); // a reset shows up as `closed`; tests assert on that
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        for (const reader of this.readers.splice(0)) reader(null);
        resolve();
      }),
    );
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  /** Write `text` as is (add the newline yourself). */
  send(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Write one request line; returns the id used (a fresh number unless `id` is given). */
  request(method: string, params?: unknown, id?: string | number | null): string | number | null {
    const requestId = id === undefined ? this.nextId++ : id;
    const message: WireMessage = { id: requestId, method };
    if (params !== undefined) message.params = params;
    this.send(`${JSON.stringify(message)}\n`);
    return requestId;
  }

  /** The next line from the hub; rejects if none comes within the timeout or the connection closes. */
  nextLine(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(new Error('connection closed before a line arrived'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.readers.indexOf(reader);
        if (index !== -1) this.readers.splice(index, 1);
        reject(new Error(`no line from the hub within ${timeoutMs} ms`));
      }, timeoutMs);
      const reader = (line: string | null) => {
        clearTimeout(timer);
        if (line === null) reject(new Error('connection closed before a line arrived'));
        else resolve(line);
      };
      this.readers.push(reader);
    });
  }

  async nextMessage(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<WireMessage> {
    return JSON.parse(await this.nextLine(timeoutMs)) as WireMessage;
  }

  /** The next message that satisfies `match`, skipping (and dropping) the others. */
  async nextMatching(match: (message: WireMessage) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.nextMessage(Math.max(1, deadline - Date.now()));
      if (match(message)) return message;
    }
  }

  /** Send a request and read the next line: the v0.1 client's one-call-one-line exchange. */
  async call(method: string, params?: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<WireMessage> {
    const id = this.request(method, params);
    return this.nextMatching((message) => message.id === id, timeoutMs);
  }

  /** `call`, but the result; throws with the hub's message when it answered with an error. */
  async result(method: string, params?: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<WireMessage> {
    const response = await this.call(method, params, timeoutMs);
    if (response.error) throw new Error(`${method} failed: ${JSON.stringify(response.error)}`);
    return response.result as WireMessage;
  }

  /**
   * A round trip that proves the hub has read every line sent before it (lines are read in order):
   * a `stats` request and its answer. Lines that arrive meanwhile stay unread, so `hasUnread`
   * still tells whether an earlier request was answered. Use it instead of a sleep.
   */
  async synced(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const id = `synced-${this.nextId++}`;
    this.request('stats', {}, id);
    const deadline = Date.now() + timeoutMs;
    const others: string[] = [];
    for (;;) {
      const line = await this.nextLine(Math.max(1, deadline - Date.now()));
      if ((JSON.parse(line) as WireMessage).id === id) break;
      others.push(line);
    }
    this.lines.unshift(...others);
  }

  /** Whether a line has arrived that nobody has read yet. */
  get hasUnread(): boolean {
    return this.lines.length > 0;
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(text: string): void {
    // Look for newlines in the new text only: a list of 50,000 tasks is one line of many chunks,
    // and scanning the whole buffer again at every chunk would take quadratic time.
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const line = this.buffer + text.slice(start, newline);
      this.buffer = '';
      start = newline + 1;
      const reader = this.readers.shift();
      if (reader) reader(line);
      else this.lines.push(line);
    }
    this.buffer += text.slice(start);
  }
}

/** One call on a fresh connection, closed afterwards (how some v0.1 clients work). */
export async function callOnce(port: number, method: string, params?: unknown): Promise<WireMessage> {
  const client = await RawClient.connect(port);
  try {
    return await client.call(method, params);
  } finally {
    client.close();
  }
}

export interface RawHubSession {
  hub: HubProcess;
  /** A connection opened before `body` runs. */
  client: RawClient;
  /** Another connection to the same hub, closed with the session. */
  connect(): Promise<RawClient>;
}

/** Run `body` against a fresh hub process (`mittelo hub ...args`); close every connection and stop it after. */
export async function withRawHub(
  args: string[],
  body: (session: RawHubSession) => Promise<void>,
): Promise<void> {
  const hub = await startHubProcess({ args });
  const clients: RawClient[] = [];
  const connect = async () => {
    const client = await RawClient.connect(hub.port);
    clients.push(client);
    return client;
  };
  try {
    await body({ hub, client: await connect(), connect });
  } finally {
    for (const client of clients) client.close();
    await hub.stop();
  }
}
