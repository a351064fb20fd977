/**
 * The one-line messages for a hub that cannot listen (QA ticket P0). EPERM and EACCES cannot be
 * provoked here without changing privileges, so the messages are checked directly: each names the
 * cause and the fix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeListenError } from '../../src/hub/listen-errors.ts';

function listenError(code: string, host = '127.0.0.1', port = 8765): NodeJS.ErrnoException {
  return Object.assign(new Error(`listen ${code}: something went wrong ${host}:${port}`), {
    code,
    syscall: 'listen',
  });
}

const describeFor = (code: string, port = 8765) =>
  describeListenError(listenError(code, '127.0.0.1', port), 'hub', '127.0.0.1', port);

describe('describeListenError', () => {
  it('EPERM names the sandbox, the permission needed, and --port 0', () => {
    const message = describeFor('EPERM');
    assert.match(message, /^cannot listen on 127\.0\.0\.1:8765 for the hub: EPERM/);
    assert.match(message, /sandbox/);
    assert.match(message, /permission to bind and listen on a TCP socket/);
    assert.match(message, /--port 0 picks a free one/);
  });

  it('EACCES names privileged ports, the capability needed and --port 0', () => {
    const message = describeFor('EACCES', 80);
    assert.match(message, /127\.0\.0\.1:80 .*EACCES/);
    assert.match(message, /below 1024/);
    assert.match(message, /CAP_NET_BIND_SERVICE/);
    assert.match(message, /--port 0/);
  });

  it('EADDRINUSE says the port is taken and offers --port 0', () => {
    const message = describeFor('EADDRINUSE');
    assert.match(message, /EADDRINUSE/);
    assert.match(message, /already in use/);
    assert.match(message, /--port 0/);
  });

  it('EADDRNOTAVAIL names the host that is not local and a host to use instead', () => {
    const message = describeListenError(listenError('EADDRNOTAVAIL', '192.0.2.1'), 'hub', '192.0.2.1', 8765);
    assert.match(message, /192\.0\.2\.1:8765/);
    assert.match(message, /EADDRNOTAVAIL/);
    assert.match(message, /not an address of this machine/);
    assert.match(message, /127\.0\.0\.1/);
  });

  it('a host name that does not resolve says so', () => {
    const message = describeListenError(listenError('ENOTFOUND', 'nosuchhost'), 'hub', 'nosuchhost', 8765);
    assert.match(message, /nosuchhost/);
    assert.match(message, /does not resolve/);
  });

  it('an unexpected code keeps the code and the system message', () => {
    const message = describeFor('EMFILE');
    assert.match(message, /^cannot listen on 127\.0\.0\.1:8765 for the hub: EMFILE/);
    assert.match(message, /something went wrong/);
  });

  it('for the REST API the fix names --rest-port, not --port', () => {
    for (const code of ['EPERM', 'EACCES', 'EADDRINUSE']) {
      const message = describeListenError(listenError(code), 'REST API', '127.0.0.1', 8080, '--rest-port');
      assert.match(message, /for the REST API/);
      assert.match(message, /--rest-port 0/, code);
      assert.doesNotMatch(message, /(^|\s)--port\b/, code);
    }
  });

  it('every message is a single line', () => {
    for (const code of ['EPERM', 'EACCES', 'EADDRINUSE', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EMFILE']) {
      assert.doesNotMatch(describeFor(code), /\n/, code);
    }
  });
});
