/**
 * The hub's TLS material check (src/hub/tls.ts) on certificates openssl makes in the test: a sound
 * pair passes with its expiry date; a file that cannot be read, a certificate that is not PEM or
 * not readable, an encrypted key, a key that is not a key, and a key of another certificate each
 * give one bad_request line naming what to fix. The same refusals through `mittelo hub` are in
 * test/integration/tls.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MitteloError } from '../../src/errors.ts';
import { checkTls, readTlsFiles } from '../../src/hub/tls.ts';
import { makeTestCerts } from '../helpers/tls-certs.ts';

const certs = makeTestCerts();
after(() => rmSync(certs.dir, { recursive: true, force: true }));

const cert = readFileSync(certs.cert, 'utf8');
const key = readFileSync(certs.key, 'utf8');

/** checkTls throws a bad_request whose message matches `words` and ends "nothing was started". */
function refuses(run: () => unknown, words: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof MitteloError, String(error));
    assert.equal(error.code, 'bad_request');
    assert.match(error.message, words);
    assert.match(error.message, /; nothing was started$/);
    return true;
  });
}

describe('checkTls', () => {
  it('a certificate and its own key pass, with the date the certificate expires and no warnings', () => {
    const checked = checkTls({ cert, key });
    assert.deepEqual(checked.warnings, []);
    assert.ok(checked.validTo.getTime() > Date.now());
    assert.ok(checked.context);
  });

  it('no PEM certificate, or a PEM block that is not a certificate, is refused', () => {
    refuses(
      () => checkTls({ cert: 'hello', key }),
      /^tls\.cert \(the certificate\) holds no PEM certificate/,
    );
    refuses(
      () =>
        checkTls({ cert: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n', key }),
      /^tls\.cert \(the certificate\) is not a readable PEM certificate \(/,
    );
  });

  it('a key that is not a key, or an encrypted one, is refused with the fix', () => {
    refuses(
      () => checkTls({ cert, key: 'not a key' }),
      /^tls\.key \(the private key\) is not a readable PEM private key/,
    );
    const encrypted = spawnSync(
      'openssl',
      ['pkey', '-in', certs.key, '-aes256', '-passout', 'pass:secret', '-out', join(certs.dir, 'enc.key')],
      { encoding: 'utf8' },
    );
    assert.equal(encrypted.status, 0, encrypted.stderr);
    refuses(
      () => checkTls({ cert, key: readFileSync(join(certs.dir, 'enc.key'), 'utf8') }),
      /is encrypted with a passphrase: give the hub an unencrypted key \(openssl pkey -in KEY -out KEY\.plain\)/,
    );
  });

  it('the key of another certificate is refused', () => {
    refuses(
      () => checkTls({ cert, key: readFileSync(certs.otherKey, 'utf8') }),
      /does not match the certificate in tls\.cert/,
    );
  });
});

describe('readTlsFiles', () => {
  it('reads both files and names the flags in its messages', () => {
    assert.ok(readTlsFiles(certs.cert, certs.key).context);
    refuses(
      () => readTlsFiles(certs.cert, certs.otherKey),
      /^--tls-key .*other\.key does not match the certificate in --tls-cert .*hub\.pem/,
    );
  });

  it('a missing file or a folder says so', () => {
    refuses(
      () => readTlsFiles(join(certs.dir, 'nope.pem'), certs.key),
      /^cannot read --tls-cert .*nope\.pem: no such file/,
    );
    refuses(
      () => readTlsFiles(certs.cert, certs.dir),
      /^cannot read --tls-key .*: it is a folder, not a file/,
    );
  });
});
