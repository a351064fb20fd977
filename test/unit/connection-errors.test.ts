/**
 * The words HubClient uses for a failed connection attempt (src/client/connection-errors.ts): each
 * Node and OpenSSL error code a connect, a TLS handshake or the hello step can end with maps to
 * the reason and fix a user reads, and TLS failures that another try cannot fix become TlsError.
 * The real sockets behind the common cases are in test/unit/hub-client.test.ts and
 * test/integration/tls.test.ts; the rare codes (no route, a name that does not resolve, an OpenSSL
 * handshake failure) cannot be provoked on a test machine, so they are given here as the errors
 * Node raises.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HubAddress } from '../../src/client/address.ts';
import {
  AttemptFailure,
  attemptFailure,
  ConnectionClosedError,
  HubUnreachableError,
  RequestTimeoutError,
  TlsError,
  tlsRequired,
  unreachable,
} from '../../src/client/connection-errors.ts';

const plain: HubAddress = { host: '127.0.0.1', port: 9000, tls: false };
const secure: HubAddress = { host: 'hub.example', port: 9443, tls: true };

/** A Node error with a code, as sockets and TLS raise them. */
function nodeError(code: string, message = `${code.toLowerCase()} happened`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

describe('attemptFailure: the reason for each way an attempt fails', () => {
  it('ECONNREFUSED is "nothing listens there" and marked refused', () => {
    const failure = attemptFailure(plain, nodeError('ECONNREFUSED'), 'connect', 3000);
    assert.ok(failure instanceof AttemptFailure);
    assert.equal(failure.message, 'nothing listens there');
    assert.equal(failure.refused, true);
  });

  for (const code of ['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME']) {
    it(`${code}: the name does not resolve`, () => {
      const failure = attemptFailure(secure, nodeError(code), 'connect', 3000) as AttemptFailure;
      assert.equal(failure.message, `the name "hub.example" does not resolve (${code}): check the address`);
      assert.equal(failure.refused, false);
    });
  }

  for (const code of ['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']) {
    it(`${code}: no route`, () => {
      const failure = attemptFailure(plain, nodeError(code), 'connect', 3000);
      assert.equal(failure.message, `no route to it (${code}): check the address and the network`);
    });
  }

  it('a connect timeout names the timeout in seconds; a handshake timeout suggests a plain hub', () => {
    const connect = attemptFailure(plain, nodeError('ATTEMPT_TIMEOUT'), 'connect', 2500);
    assert.match(connect.message, /^no answer within 2\.5 s \(connect timed out\): check the address/);
    const handshake = attemptFailure(secure, nodeError('ETIMEDOUT'), 'handshake', 800);
    assert.match(handshake.message, /^no answer to the TLS handshake within 800 ms: if it is a plain/);
  });

  it('a hang-up during the handshake or before hello says where it happened', () => {
    const handshake = attemptFailure(secure, nodeError('ECONNRESET', 'socket hang up'), 'handshake', 3000);
    assert.ok(handshake instanceof AttemptFailure);
    assert.equal(
      handshake.message,
      'it hung up during the TLS handshake (ECONNRESET: socket hang up): is it a plain (non-TLS) hub? Then connect without tls:// and --tls',
    );
    const hello = attemptFailure(plain, new Error('closed; more words\nand lines'), 'hello', 3000);
    assert.equal(hello.message, 'it accepted the connection, then closed it before answering hello (closed)');
  });

  it('any other connect error keeps its code and first clause, once', () => {
    const failure = attemptFailure(plain, nodeError('EPIPE', 'write EPIPE'), 'connect', 3000);
    assert.equal(failure.message, 'write EPIPE');
    assert.equal(attemptFailure(plain, 'a string', 'connect', 3000).message, 'a string');
  });
});

describe('attemptFailure: TLS failures another try does not fix', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'name_mismatch', /is not for "hub\.example".*subjectAltName/],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'not_tls', /does not speak TLS \(it answered in plain text/],
    ['ERR_SSL_HTTP_REQUEST', 'not_tls', /does not speak TLS/],
    ['ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'handshake_failed', /TLS 1\.2 or newer/],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'untrusted_certificate', /is not trusted .*--tls-ca FILE/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'untrusted_certificate', /is not trusted/],
    ['CERT_HAS_EXPIRED', 'untrusted_certificate', /is not trusted/],
  ];
  for (const [code, reason, words] of cases) {
    it(`${code} is a TlsError (${reason})`, () => {
      const failure = attemptFailure(secure, nodeError(code), 'handshake', 3000);
      assert.ok(failure instanceof TlsError, `${code} gave ${failure.constructor.name}`);
      assert.equal(failure.code, 'tls_error');
      assert.equal(failure.details?.reason, reason);
      assert.equal(failure.details?.address, 'tls://hub.example:9443');
      assert.equal(failure.host, 'hub.example');
      assert.equal(failure.port, 9443);
      assert.match(failure.message, words);
    });
  }

  it('an OpenSSL EOF or shutdown during the handshake may pass on another try: not a TlsError', () => {
    for (const code of ['ERR_SSL_UNEXPECTED_EOF_WHILE_READING', 'ERR_SSL_SHUTDOWN_WHILE_IN_INIT']) {
      const failure = attemptFailure(secure, nodeError(code), 'handshake', 3000);
      assert.ok(failure instanceof AttemptFailure, code);
    }
  });

  it('certificate codes on a plain address, or outside the handshake, are not TLS verdicts', () => {
    assert.ok(
      attemptFailure(plain, nodeError('CERT_HAS_EXPIRED'), 'handshake', 3000) instanceof AttemptFailure,
    );
    assert.ok(attemptFailure(secure, nodeError('CERT_HAS_EXPIRED'), 'hello', 3000) instanceof AttemptFailure);
  });

  it('tlsRequired names the tls:// address to use', () => {
    const error = tlsRequired(plain);
    assert.equal(error.details?.reason, 'tls_required');
    assert.match(error.message, /connect to tls:\/\/127\.0\.0\.1:9000 \(or pass --tls\)/);
  });
});

describe('unreachable: one error for a round of failed addresses', () => {
  const other: HubAddress = { host: '127.0.0.1', port: 9001, tls: false };

  it('all refused: "no hub at …" with the command that starts one (the TLS one for TLS addresses)', () => {
    const refused = new AttemptFailure(plain, 'nothing listens there', true);
    const error = unreachable([plain], [refused]);
    assert.ok(error instanceof HubUnreachableError);
    assert.equal(error.code, 'hub_unreachable');
    assert.equal(error.message, 'no hub at 127.0.0.1:9000 — start one with `mittelo hub`');
    assert.equal(error.cause, refused);
    const tls = unreachable([secure], [new AttemptFailure(secure, 'nothing listens there', true)]);
    assert.match(tls.message, /start one with `mittelo hub --tls-cert FILE --tls-key FILE`/);
    assert.equal(tls.tls, true);
  });

  it('one other failure says what went wrong; several list each address', () => {
    const slow = new AttemptFailure(plain, 'no answer within 3 s', false);
    assert.equal(
      unreachable([plain], [slow]).message,
      'cannot reach the hub at 127.0.0.1:9000: no answer within 3 s',
    );
    const error = unreachable([plain, other], [slow, new AttemptFailure(other, 'x', true)]);
    assert.equal(
      error.message,
      'cannot reach any hub (127.0.0.1:9000: no answer within 3 s; 127.0.0.1:9001: no hub there)',
    );
    assert.deepEqual(error.details?.addresses, ['127.0.0.1:9000', '127.0.0.1:9001']);
    assert.equal(error.host, '127.0.0.1');
    assert.equal(error.port, 9000);
  });

  it('with no failures recorded it names the addresses it was given', () => {
    const error = unreachable([plain, other], []);
    assert.equal(error.addresses.length, 2);
  });
});

describe('the call-level errors', () => {
  it('ConnectionClosedError says the call may have been applied', () => {
    const error = new ConnectionClosedError('ack', plain, 'reset by peer');
    assert.equal(error.code, 'connection_closed');
    assert.equal(error.mayHaveBeenApplied, true);
    assert.match(error.message, /closed with `ack` in flight \(reset by peer\): the hub may have applied it/);
    assert.ok(error instanceof HubUnreachableError);
    assert.doesNotMatch(new ConnectionClosedError('ack', plain).message, /\(\)/);
  });

  it('RequestTimeoutError tells an overloaded hub from a dead connection', () => {
    const stuck = new RequestTimeoutError('enqueue', plain, 30_000, false);
    assert.match(stuck.message, /within 30 s: it may still apply the call\. The hub is overloaded or stuck/);
    const dead = new RequestTimeoutError('enqueue', plain, 500, true);
    assert.match(dead.message, /within 500 ms: .*dropped as dead/);
    assert.equal(dead.details?.connection_dropped, true);
  });

  it('HubUnreachableError without addresses still has a host and port to show', () => {
    const error = new HubUnreachableError('gone', []);
    assert.equal(error.host, '?');
    assert.equal(error.port, 0);
    assert.equal(error.tls, false);
  });
});
