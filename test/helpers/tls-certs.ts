/**
 * Certificates for TLS tests, made with the `openssl` binary in a temporary folder: a test CA and
 * a hub certificate it signed, for 127.0.0.1 and localhost. Each call makes a new CA, so two calls
 * give a "wrong CA" for each other. Throws one clear line when openssl is missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './hub-process.ts';

export interface TestCerts {
  dir: string;
  /** The CA certificate that signed the hub's (what clients pass as --tls-ca). */
  ca: string;
  /** The hub's certificate and key (what `mittelo hub --tls-cert --tls-key` take). */
  cert: string;
  key: string;
  /** Another key, not the certificate's (for the mismatch test). */
  otherKey: string;
}

const OPENSSL = ['/usr/bin/openssl', '/usr/local/bin/openssl', '/opt/homebrew/bin/openssl'].find((path) =>
  existsSync(path),
);

function openssl(dir: string, args: string[]): void {
  if (!OPENSSL) {
    throw new Error(
      'the TLS tests need the openssl binary (looked in /usr/bin, /usr/local/bin, /opt/homebrew/bin): install openssl',
    );
  }
  const ran = spawnSync(OPENSSL, args, { cwd: dir, encoding: 'utf8' });
  if (ran.status !== 0) {
    throw new Error(`openssl ${args.join(' ')} failed (exit ${ran.status}): ${ran.stderr || ran.error}`);
  }
}

export function makeTestCerts(dir = makeTempDir('mittelo-tls-')): TestCerts {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=mittelo test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  ]);
  openssl(dir, ['req', ...ec, '-keyout', 'hub.key', '-out', 'hub.csr', '-subj', '/CN=localhost']);
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'hub.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'hub.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  openssl(dir, [
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-out',
    'other.key',
  ]);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'hub.pem'),
    key: join(dir, 'hub.key'),
    otherKey: join(dir, 'other.key'),
  };
}
