/**
 * The hub's TCP transport: newline-delimited JSON, one request object per line, one response per
 * request (PROTOCOL.md). Each connection is a CallContext for Hub.call; events pushed to a
 * subscribed connection are lines with an `event` key and no `id`. On a hub with a token, the
 * connections that have not authenticated yet are held to auth-guard.ts's limits.
 *
 * With TLS (`mittelo hub --tls-cert --tls-key`) the port serves TLS only. Its first byte tells a
 * TLS client (a handshake record) from a plain one, which is answered with one plain-text error
 * line saying to use TLS, then closed: a clear error instead of a hang. A plain hub likewise
 * answers a TLS handshake with a plain line and closes, which the TLS client reports as "does not
 * speak TLS".
 */
import net from 'node:net';
import tls from 'node:tls';
import { isMitteloError } from '../errors.ts';
import { LineReader } from '../protocol/framing.ts';
import type { HubEvent, LeaseRevokedEvent } from '../protocol/model.ts';
import {
  AUTH_LIMIT_DEFAULTS,
  AuthGuard,
  type AuthLimits,
  addressKey,
  evictedMessage,
  helloDeadlineMessage,
} from './auth-guard.ts';
import type { CallContext, Hub } from './hub.ts';

export interface TcpServerOptions {
  maxLineBytes: number;
  /** Log an unexpected (internal) error; bad input is the client's business and is not logged. */
  onInternalError?: (error: unknown) => void;
  /** Limits for connections that have not authenticated (hubs with a token only). */
  authLimits?: AuthLimits | undefined;
  /** Serve TLS only, with this certificate and key (PEM; checked by tls.ts). */
  tls?: { cert: string; key: string } | undefined;
  /** With TLS: how long a new connection has to finish its handshake (default 10 s). */
  tlsHandshakeTimeoutMs?: number | undefined;
}

/** A subscriber that stops reading is cut off rather than growing the hub's memory without bound. */
const MAX_SUBSCRIBER_BACKLOG = 16 * 1024 * 1024;
/** Stop reading requests from a client that does not read its answers. */
const MAX_RESPONSE_BACKLOG = 4 * 1024 * 1024;

/** How long a peer that sent an oversized line gets to read our error before we drop it. */
const HANG_UP_GRACE_MS = 5000;
/** Idle time before the first keepalive probe of a connection (as the client does). */
const KEEPALIVE_IDLE_MS = 15_000;

/** The first byte of a TLS connection: a handshake record. No JSON line starts with it. */
const TLS_HANDSHAKE_BYTE = 0x16;
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

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
  /** Set on hubs with a token while this connection has not authenticated. */
  private guard: AuthGuard<Connection> | null;
  private readonly address: string;
  private helloTimer: NodeJS.Timeout | null = null;
  /**
   * Lines read while an unauthenticated hello is being checked: they wait for its answer, so a
   * burst of hellos in one packet is one guess (a wrong one closes the connection), and a hello
   * sent together with the requests after it still serves them.
   */
  private held: string[] | null = null;
  private backoffTimer: NodeJS.Timeout | null = null;
  /** Set while reading is stopped because the client sent more live output than it may (slowDown). */
  private slowTimer: NodeJS.Timeout | null = null;
  readonly isAlive = () => this.alive;

  constructor(
    socket: net.Socket,
    hub: Hub,
    options: TcpServerOptions,
    guard: AuthGuard<Connection> | null,
    plain: boolean,
  ) {
    this.socket = socket;
    this.hub = hub;
    this.options = options;
    this.authenticated = !hub.requiresToken;
    this.guard = this.authenticated ? null : guard;
    this.address = addressKey(socket.remoteAddress);
    socket.setNoDelay(true);
    // A peer that vanished without closing (its machine lost power or network) is found by the
    // kernel's probes and the connection closed, so its agent shows as disconnected.
    socket.setKeepAlive(true, KEEPALIVE_IDLE_MS);
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
    let first = plain;
    socket.on('data', (chunk: Buffer) => {
      if (first && chunk[0] === TLS_HANDSHAKE_BYTE) {
        // A TLS client on a plain hub: it cannot read this line, but gets plain text where it
        // expects TLS and says "does not speak TLS" at once, instead of waiting.
        this.fail(
          null,
          'bad_request',
          'this hub does not speak TLS: connect with a plain address (no tls://, no --tls), or start the hub with --tls-cert and --tls-key',
        );
        this.reader.stop();
        this.hangUp();
        return;
      }
      first = false;
      this.reader.push(chunk);
    });
    socket.on('drain', () => {
      if (!this.held && !this.slowTimer) socket.resume();
    });
    socket.on('error', () => {}); // a reset by the peer ends the connection; nothing to report
    socket.on('close', () => this.closed());
    if (this.guard) {
      const limits = this.guard.limits;
      this.helloTimer = setTimeout(() => this.helloTimedOut(limits), limits.helloTimeoutMs).unref();
    }
  }

  subscribe = (categories: Parameters<NonNullable<CallContext['subscribe']>>[0]): void => {
    this.unsubscribe?.();
    this.unsubscribe = this.hub.subscribe(categories, (event) => this.push(event));
  };

  notify = (message: LeaseRevokedEvent): void => void this.send(message);

  /**
   * Read nothing more from this client for `ms` (it sent more `output` than its budget,
   * output-budget.ts): its requests wait in its socket and the kernel's buffers, not in the hub.
   */
  slowDown = (ms: number): void => {
    if (!this.alive || this.slowTimer) return;
    this.socket.pause();
    this.slowTimer = setTimeout(() => {
      this.slowTimer = null;
      if (!this.held && this.socket.writableLength <= MAX_RESPONSE_BACKLOG) this.socket.resume();
    }, ms);
    this.slowTimer.unref();
  };

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

  /** Close at once with one error line (an unauthenticated connection pushed out by newer ones). */
  drop(code: string, message: string): void {
    // Written straight away: send() corks until the next tick, and destroy() would discard it.
    if (this.alive)
      this.socket.write(`${JSON.stringify({ id: null, result: null, error: { code, message } })}\n`);
    this.socket.destroy();
  }

  private helloTimedOut(limits: AuthLimits): void {
    this.helloTimer = null;
    if (this.authenticated || !this.alive) return;
    this.fail(null, 'unauthorized', helloDeadlineMessage(limits, this.backoffTimer !== null));
    this.hangUp();
  }

  /**
   * A hello on a connection that has not authenticated: wait out the address's back-off, then let
   * the hub check it. A wrong token closes the connection (one guess per connection) and slows
   * the address down; lines read meanwhile are handled after the answer.
   */
  private async checkHello(id: Id, params: unknown, guard: AuthGuard<Connection>): Promise<void> {
    this.held = [];
    this.socket.pause();
    const delay = guard.backoff.reserveCheck(this.address, Date.now());
    if (delay > 0) {
      await new Promise<void>((resolve) => {
        this.backoffTimer = setTimeout(resolve, delay);
      });
      this.backoffTimer = null;
    }
    if (!this.alive || this.socket.writableEnded) return;
    const token = (params as { token?: unknown } | null | undefined)?.token;
    this.inFlight += 1;
    let wrongToken = false;
    try {
      this.send({ id, result: await this.hub.call('hello', params, this), error: null });
    } catch (error) {
      this.reply(id, error);
      // A hello with no token is a client bug, not a guess: it is answered and may be repeated.
      wrongToken =
        isMitteloError(error) && error.code === 'unauthorized' && typeof token === 'string' && token !== '';
    } finally {
      this.inFlight -= 1;
    }
    if (wrongToken) {
      guard.backoff.recordFailure(this.address, Date.now());
      this.hangUp();
      return;
    }
    if (this.authenticated) this.settleAuth();
    const held = this.held;
    this.held = null;
    // A held line may be another hello (after one without a token): it starts a new hold.
    for (const line of held) this.onLine(line);
    if (this.closing && this.inFlight === 0) this.socket.end();
    else if (!this.held && !this.slowTimer && this.socket.writableLength <= MAX_RESPONSE_BACKLOG)
      this.socket.resume();
  }

  /** No more deadline and no more counting against the cap. */
  private settleAuth(): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.guard?.settled(this);
    this.guard = null;
  }

  private onLine(line: string): void {
    if (this.held) {
      this.held.push(line);
      return;
    }
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
    if (method === 'hello' && this.guard && !this.authenticated) {
      void this.checkHello(id, params, this.guard);
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
        (result) => {
          // An answer that did not go out: leases in it go back to the queue now.
          if (!this.send({ id, result, error: null })) this.hub.undelivered(method, result);
        },
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

  /** Write one line; false when it could not go out (the peer is gone, or it cannot be encoded). */
  private send(message: object): boolean {
    // After end() (a hang-up, a passed deadline) a write would only raise an error.
    if (!this.alive || this.socket.writableEnded) return false;
    let line: string;
    try {
      line = `${JSON.stringify(message)}\n`;
    } catch (error) {
      // Answers are bounded by bytes (store/answer-budget.ts), so this is a bug, not a big list:
      // say so to the caller instead of letting the hub die of an unhandled rejection.
      this.options.onInternalError?.(error);
      const id = (message as { id?: Id }).id ?? null;
      this.socket.write(
        `${JSON.stringify({ id, result: null, error: { code: 'internal', message: `the answer could not be encoded (${(error as Error).message}); nothing was delivered` } })}\n`,
      );
      return false;
    }
    // Answers completed in the same turn of the event loop leave in one write.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(line);
    if (this.socket.writableLength > MAX_RESPONSE_BACKLOG) this.socket.pause();
    return true;
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
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    if (this.slowTimer) clearTimeout(this.slowTimer);
    this.settleAuth();
    this.hub.connectionClosed(this);
  }
}

export class TcpServer {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private stopping = false;

  /** Null on a hub without a token: no hello deadline, no cap (v0.1 clients never say hello). */
  private readonly guard: AuthGuard<Connection> | null;

  /** With TLS: connections still in their handshake (closed at once when the hub stops). */
  private readonly handshaking = new Set<net.Socket>();

  constructor(hub: Hub, options: TcpServerOptions) {
    this.guard = hub.requiresToken ? new AuthGuard(options.authLimits ?? AUTH_LIMIT_DEFAULTS) : null;
    const accept = (socket: net.Socket, plain: boolean) => {
      const connection = new Connection(socket, hub, options, this.guard, plain);
      this.connections.add(connection);
      socket.on('close', () => this.connections.delete(connection));
      if (!this.guard) return;
      for (const oldest of this.guard.admit(connection)) {
        oldest.drop('unavailable', evictedMessage(this.guard.limits));
      }
    };
    if (!options.tls) {
      this.server = net.createServer((socket) => accept(socket, true));
      return;
    }
    const context = tls.createSecureContext({
      cert: options.tls.cert,
      key: options.tls.key,
      minVersion: 'TLSv1.2',
    });
    const handshakeMs = options.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS;
    this.server = net.createServer((raw) => this.startTls(raw, context, handshakeMs, accept));
  }

  /**
   * A new connection to a TLS hub: a handshake becomes a TLS connection once it completes (within
   * `handshakeMs`); anything else is answered in plain text that this hub needs TLS, then closed.
   */
  private startTls(
    raw: net.Socket,
    context: tls.SecureContext,
    handshakeMs: number,
    accept: (socket: net.Socket, plain: boolean) => void,
  ): void {
    this.handshaking.add(raw);
    raw.on('close', () => this.handshaking.delete(raw));
    raw.on('error', () => {});
    const timer = setTimeout(() => raw.destroy(), handshakeMs).unref();
    raw.once('data', (chunk: Buffer) => {
      raw.pause();
      if (chunk[0] !== TLS_HANDSHAKE_BYTE) {
        clearTimeout(timer);
        const port = raw.localPort ?? 0;
        const host = raw.localAddress?.includes(':') ? `[${raw.localAddress}]` : (raw.localAddress ?? 'HOST');
        const message = `this hub serves TLS only: connect to tls://${host}:${port} (mittelo: --hub tls://${host}:${port}, or --tls), trusting its certificate with --tls-ca FILE if it is not from a CA your system trusts`;
        raw.end(
          `${JSON.stringify({ id: null, result: null, error: { code: 'bad_request', message, details: { tls_required: true } } })}\n`,
        );
        setTimeout(() => raw.destroy(), HANG_UP_GRACE_MS).unref();
        return;
      }
      raw.unshift(chunk);
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
      secure.on('error', () => secure.destroy()); // a failed handshake: the client says why on its side
      secure.once('secure', () => {
        clearTimeout(timer);
        this.handshaking.delete(raw);
        if (this.stopping) {
          secure.destroy();
          return;
        }
        accept(secure, false);
      });
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
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const raw of this.handshaking) raw.destroy();
    for (const connection of this.connections) connection.end();
    // A peer that never reads would hold the close open forever.
    const forced = setTimeout(() => {
      for (const connection of this.connections) connection.destroy();
    }, 2000);
    await closed;
    clearTimeout(forced);
  }
}
