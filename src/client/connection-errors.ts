/**
 * What HubClient throws about the connection itself (the client-side codes of src/errors.ts),
 * and the words for each way a connection attempt can fail: what happened, at which address,
 * whether TLS was used, and what to do about it.
 */
import { MitteloError } from '../errors.ts';
import { formatHubAddress, type HubAddress } from './address.ts';

/**
 * No connection could be made (code `hub_unreachable`), or, as its subclass ConnectionClosedError,
 * the connection dropped with the call in flight (`connection_closed`). Retrying (reconnecting)
 * may help; the agent and the dashboard do.
 */
export class HubUnreachableError extends MitteloError {
  /** The first address tried (the only one for a client with one address). */
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** Every address tried. */
  readonly addresses: readonly HubAddress[];

  constructor(
    message: string,
    addresses: readonly HubAddress[],
    options: {
      code?: 'hub_unreachable' | 'connection_closed';
      cause?: unknown;
      details?: Record<string, unknown>;
    } = {},
  ) {
    super(options.code ?? 'hub_unreachable', message, {
      addresses: addresses.map(formatHubAddress),
      ...options.details,
    });
    this.name = 'HubUnreachableError';
    if (options.cause !== undefined) this.cause = options.cause;
    const first = addresses[0] ?? { host: '?', port: 0 };
    this.host = first.host;
    this.port = first.port;
    this.tls = first.tls === true;
    this.addresses = addresses;
  }
}

/**
 * The connection dropped while this call was in flight (code `connection_closed`). The request
 * may have reached the hub and been applied; only its answer is known to be lost.
 */
export class ConnectionClosedError extends HubUnreachableError {
  readonly method: string;
  readonly mayHaveBeenApplied = true;
  constructor(method: string, address: HubAddress, reason?: string, cause?: unknown) {
    super(
      `the connection to the hub at ${formatHubAddress(address)} closed with \`${method}\` in flight` +
        `${reason ? ` (${reason})` : ''}: the hub may have applied it; check before repeating a call that must not happen twice`,
      [address],
      { code: 'connection_closed', cause, details: { method, may_have_been_applied: true } },
    );
    this.name = 'ConnectionClosedError';
    this.method = method;
  }
}

/** No answer within the request timeout (code `request_timeout`); the hub may still apply the call. */
export class RequestTimeoutError extends MitteloError {
  readonly method: string;
  readonly timeoutMs: number;
  readonly mayHaveBeenApplied = true;
  constructor(method: string, address: HubAddress, timeoutMs: number, droppedConnection: boolean) {
    super(
      'request_timeout',
      `no answer from the hub at ${formatHubAddress(address)} to \`${method}\` within ${seconds(timeoutMs)}: ` +
        'it may still apply the call. ' +
        (droppedConnection
          ? 'Nothing at all came from the hub meanwhile, so the connection was dropped as dead (the next call reconnects).'
          : 'The hub is overloaded or stuck; check it, or give calls longer (requestTimeoutMs).'),
      { method, timeout_ms: timeoutMs, may_have_been_applied: true, connection_dropped: droppedConnection },
    );
    this.name = 'RequestTimeoutError';
    this.method = method;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * TLS failed in a way another try does not fix (code `tls_error`): the certificate is not trusted
 * or not for this name, or one side speaks TLS and the other does not. Nothing was sent.
 */
export class TlsError extends MitteloError {
  readonly host: string;
  readonly port: number;
  constructor(message: string, address: HubAddress, reason: string, cause?: unknown) {
    super('tls_error', message, { address: formatHubAddress(address), reason });
    this.name = 'TlsError';
    if (cause !== undefined) this.cause = cause;
    this.host = address.host;
    this.port = address.port;
  }
}

/** The client was closed; calls still waiting reject with this. Not a hub problem: not retried. */
export class ClientClosedError extends Error {
  constructor() {
    super('client closed');
    this.name = 'ClientClosedError';
  }
}

/** Where a connection attempt got to before it failed. */
export type AttemptPhase = 'connect' | 'handshake' | 'hello';

/** One failed attempt at one address, for HubUnreachableError's message. */
export class AttemptFailure extends Error {
  readonly address: HubAddress;
  /** Nothing listens there (ECONNREFUSED): the usual "no hub" case. */
  readonly refused: boolean;
  constructor(address: HubAddress, reason: string, refused: boolean, cause?: unknown) {
    super(reason, { cause });
    this.name = 'AttemptFailure';
    this.address = address;
    this.refused = refused;
  }
}

const seconds = (ms: number) => (ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`);

/** The one-line words of a Node error: its code, and the first clause of its message. */
function nodeReason(error: unknown): string {
  const e = error as NodeJS.ErrnoException | undefined;
  const message = (e?.message ?? String(error)).split(/[;\n]/)[0]!.trim();
  return e?.code && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}

/**
 * A connection attempt failed at `phase`: a TlsError when retrying cannot help, else an
 * AttemptFailure with the reason and, where there is one, the fix.
 */
export function attemptFailure(
  address: HubAddress,
  error: unknown,
  phase: AttemptPhase,
  attemptTimeoutMs: number,
): TlsError | AttemptFailure {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  if (address.tls && phase === 'handshake') {
    const tls = tlsFailure(address, error, code);
    if (tls) return tls;
  }
  if (code === 'ECONNREFUSED') return new AttemptFailure(address, 'nothing listens there', true, error);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
    return new AttemptFailure(
      address,
      `the name "${address.host}" does not resolve (${code}): check the address`,
      false,
      error,
    );
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN' || code === 'ENETDOWN') {
    return new AttemptFailure(
      address,
      `no route to it (${code}): check the address and the network`,
      false,
      error,
    );
  }
  if (code === 'ATTEMPT_TIMEOUT' || code === 'ETIMEDOUT') {
    if (phase === 'handshake') {
      return new AttemptFailure(
        address,
        `no answer to the TLS handshake within ${seconds(attemptTimeoutMs)}: if it is a plain (non-TLS) hub, connect without tls:// and --tls`,
        false,
        error,
      );
    }
    return new AttemptFailure(
      address,
      `no answer within ${seconds(attemptTimeoutMs)} (connect timed out): check the address, and that no firewall drops the connection`,
      false,
      error,
    );
  }
  if (phase === 'handshake') {
    return new AttemptFailure(
      address,
      `it hung up during the TLS handshake (${nodeReason(error)}): is it a plain (non-TLS) hub? Then connect without tls:// and --tls`,
      false,
      error,
    );
  }
  if (phase === 'hello') {
    return new AttemptFailure(
      address,
      `it accepted the connection, then closed it before answering hello (${nodeReason(error)})`,
      false,
      error,
    );
  }
  return new AttemptFailure(address, nodeReason(error), false, error);
}

/** OpenSSL and Node codes that say the peer's certificate was checked and refused. */
const UNTRUSTED = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT|DECODE)|INVALID_CA|CHAIN/;
/** Codes that say the other side answered, but not in TLS. */
const NOT_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_HTTP_REQUEST',
]);

/** A TLS failure retrying does not fix; null for one that may pass (a hang-up, a reset). */
function tlsFailure(address: HubAddress, error: unknown, code: string): TlsError | null {
  const where = formatHubAddress(address);
  const reason = nodeReason(error);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new TlsError(
      `the certificate of the hub at ${where} is not for "${address.host}" (${reason}): connect by a name or address the certificate lists (its subjectAltName), or give the hub a certificate for this one`,
      address,
      'name_mismatch',
      error,
    );
  }
  if (NOT_TLS.has(code)) {
    return new TlsError(
      `the hub at ${where} does not speak TLS (it answered in plain text: ${code}): connect without tls:// and --tls, or start that hub with --tls-cert FILE --tls-key FILE`,
      address,
      'not_tls',
      error,
    );
  }
  if (code.startsWith('ERR_SSL_')) {
    if (/EOF|SHUTDOWN/.test(code)) return null;
    return new TlsError(
      `the TLS handshake with the hub at ${where} failed (${reason}): check that both sides use TLS 1.2 or newer and that the hub's certificate and key are sound`,
      address,
      'handshake_failed',
      error,
    );
  }
  if (UNTRUSTED.test(code)) {
    return new TlsError(
      `the certificate of the hub at ${where} is not trusted (${reason}): pass the CA certificate that signed it with --tls-ca FILE (env MITTELO_TLS_CA; tlsCa in code), or give the hub a certificate from a CA this system trusts`,
      address,
      'untrusted_certificate',
      error,
    );
  }
  return null;
}

/** The plain-TCP client reached a hub that serves only TLS (the hub said so in plain text). */
export function tlsRequired(address: HubAddress): TlsError {
  const tlsAddress = formatHubAddress({ ...address, tls: true });
  return new TlsError(
    `the hub at ${formatHubAddress(address)} serves TLS only, and this client connected without TLS: connect to ${tlsAddress} (or pass --tls), with --tls-ca FILE if its certificate is not from a CA this system trusts`,
    address,
    'tls_required',
  );
}

/** Every address failed in one round: one error that says so for each. */
export function unreachable(
  addresses: readonly HubAddress[],
  failures: readonly AttemptFailure[],
): HubUnreachableError {
  const tried = failures.length > 0 ? failures.map((f) => f.address) : addresses;
  const list = tried.map(formatHubAddress).join(', ');
  if (failures.every((f) => f.refused)) {
    const start = tried.some((a) => a.tls) ? 'mittelo hub --tls-cert FILE --tls-key FILE' : 'mittelo hub';
    return new HubUnreachableError(`no hub at ${list} — start one with \`${start}\``, tried, {
      cause: failures[0],
    });
  }
  const parts = failures.map((f) =>
    f.refused
      ? `${formatHubAddress(f.address)}: no hub there`
      : `${formatHubAddress(f.address)}: ${f.message}`,
  );
  const message =
    failures.length === 1
      ? `cannot reach the hub at ${parts[0]}`
      : `cannot reach any hub (${parts.join('; ')})`;
  return new HubUnreachableError(message, tried, { cause: failures[0] });
}
