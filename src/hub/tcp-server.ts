/**
 * The hub's TCP transport: newline-delimited JSON, one request object per line, one response per
 * request (PROTOCOL.md). Each connection is a CallContext for Hub.call; events pushed to a
 * subscribed connection are lines with an `event` key and no `id`.
 */
import net from 'node:net';
import { isMitteloError } from '../errors.ts';
import { LineReader } from '../protocol/framing.ts';
import type { HubEvent, LeaseRevokedEvent } from './events.ts';
import type { CallContext, Hub } from './hub.ts';

export interface TcpServerOptions {
  maxLineBytes: number;
  /** Log an unexpected (internal) error; bad input is the client's business and is not logged. */
  onInternalError?: (error: unknown) => void;
}

/** A subscriber that stops reading is cut off rather than growing the hub's memory without bound. */
const MAX_SUBSCRIBER_BACKLOG = 16 * 1024 * 1024;
/** Stop reading requests from a client that does not read its answers. */
const MAX_RESPONSE_BACKLOG = 4 * 1024 * 1024;

/** How long a peer that sent an oversized line gets to read our error before we drop it. */
const HANG_UP_GRACE_MS = 5000;

type Id = string | number | null;

class Connection implements CallContext {
  authenticated: boolean;
  workerId: string | undefined;
  private readonly socket: net.Socket;
  private readonly hub: Hub;
  private readonly options: TcpServerOptions;
  private readonly reader: LineReader;
  private alive = true;
  private corked = false;
  /** Requests read but not yet answered: a stopping hub answers them before it closes. */
  private inFlight = 0;
  private closing = false;
  private unsubscribe: (() => void) | null = null;
  readonly isAlive = () => this.alive;

  constructor(socket: net.Socket, hub: Hub, options: TcpServerOptions) {
    this.socket = socket;
    this.hub = hub;
    this.options = options;
    this.authenticated = !hub.requiresToken;
    socket.setNoDelay(true);
    this.reader = new LineReader({
      maxLineBytes: options.maxLineBytes,
      onLine: (line) => this.onLine(line),
      onTooLarge: (bytes) => {
        this.send({
          id: null,
          result: null,
          error: {
            code: 'too_large',
            message: `line over ${options.maxLineBytes} bytes (${bytes}+ received); closing the connection. The hub's limit is --max-line-bytes.`,
          },
        });
        this.hangUp();
      },
    });
    socket.on('data', (chunk: Buffer) => this.reader.push(chunk));
    socket.on('drain', () => socket.resume());
    socket.on('error', () => {}); // a reset by the peer ends the connection; nothing to report
    socket.on('close', () => this.closed());
  }

  subscribe = (categories: Parameters<NonNullable<CallContext['subscribe']>>[0]): void => {
    this.unsubscribe?.();
    this.unsubscribe = this.hub.subscribe(categories, (event) => this.push(event));
  };

  notify = (message: LeaseRevokedEvent): void => this.send(message);

  onHello = (identity: { worker_id?: string | undefined }): void => {
    if (this.workerId && this.workerId !== identity.worker_id) this.hub.registry.disconnect(this.workerId);
    this.workerId = identity.worker_id;
  };

  /**
   * Close a connection whose peer is still sending (an oversized line): stop reading at once, so
   * the rest of its data stays in the kernel instead of passing through our memory, let the error
   * answer go out, and drop the connection if the peer does not hang up itself.
   */
  private hangUp(): void {
    this.socket.pause();
    this.socket.removeAllListeners('drain');
    this.socket.end();
    setTimeout(() => this.socket.destroy(), HANG_UP_GRACE_MS).unref();
  }

  /** Finish: stop reading, answer the requests already read (parked leases included), then close. */
  end(): void {
    this.reader.stop();
    this.closing = true;
    if (this.inFlight === 0) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch (error) {
      this.fail(null, 'bad_request', `invalid JSON: ${(error as Error).message}`);
      return;
    }
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      this.fail(
        null,
        'bad_request',
        'a request must be a JSON object: {"id": 1, "method": "...", "params": {...}}',
      );
      return;
    }
    const { id: rawId, method, params } = request as { id?: unknown; method?: unknown; params?: unknown };
    const id = (rawId ?? null) as Id;
    if (typeof method !== 'string' || method === '') {
      this.fail(
        id,
        'bad_request',
        'missing "method": a request is {"id": 1, "method": "...", "params": {...}}',
      );
      return;
    }
    let pending: Promise<unknown>;
    try {
      pending = this.hub.call(method, params, this);
    } catch (error) {
      this.reply(id, error);
      return;
    }
    this.inFlight += 1;
    pending
      .then(
        (result) => this.send({ id, result, error: null }),
        (error) => this.reply(id, error),
      )
      .finally(() => {
        this.inFlight -= 1;
        // Ending earlier would drop this answer: writes after end() are discarded.
        if (this.closing && this.inFlight === 0) this.socket.end();
      });
  }

  private reply(id: Id, error: unknown): void {
    if (isMitteloError(error)) {
      const body: Record<string, unknown> = { code: error.code, message: error.message };
      if (error.details) body.details = error.details;
      this.send({ id, result: null, error: body });
      return;
    }
    this.options.onInternalError?.(error);
    this.fail(id, 'internal', `internal error: ${(error as Error)?.message ?? String(error)}`);
  }

  private fail(id: Id, code: string, message: string): void {
    this.send({ id, result: null, error: { code, message } });
  }

  private send(message: object): void {
    if (!this.alive) return;
    // Answers completed in the same turn of the event loop leave in one write.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(`${JSON.stringify(message)}\n`);
    if (this.socket.writableLength > MAX_RESPONSE_BACKLOG) this.socket.pause();
  }

  private push(event: HubEvent): void {
    if (this.socket.writableLength > MAX_SUBSCRIBER_BACKLOG) {
      this.unsubscribe?.();
      this.unsubscribe = null;
      this.send({
        id: null,
        result: null,
        error: {
          code: 'too_large',
          message: 'event backlog over 16 MiB: this subscriber reads too slowly; closing',
        },
      });
      this.socket.end();
      return;
    }
    this.send(event);
  }

  private closed(): void {
    if (!this.alive) return;
    this.alive = false;
    this.reader.stop();
    this.unsubscribe?.();
    this.hub.connectionClosed(this);
  }
}

export class TcpServer {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();

  constructor(hub: Hub, options: TcpServerOptions) {
    this.server = net.createServer((socket) => {
      const connection = new Connection(socket, hub, options);
      this.connections.add(connection);
      socket.on('close', () => this.connections.delete(connection));
    });
  }

  /** Resolves with the bound address; rejects with the listen error (see listen-errors.ts). */
  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.off('error', onError);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /** Stop accepting; close every connection once the answers already written have gone out. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) connection.end();
    // A peer that never reads would hold the close open forever.
    const forced = setTimeout(() => {
      for (const connection of this.connections) connection.destroy();
    }, 2000);
    await closed;
    clearTimeout(forced);
  }
}
