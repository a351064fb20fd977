/**
 * The hub's TLS material (`mittelo hub --tls-cert FILE --tls-key FILE`): read the files, check
 * that they hold a PEM certificate and a PEM private key that belong together, and build the
 * secure context the TCP and REST servers share. Every problem is one `bad_request` line naming
 * the flag, the file and the fix, raised before anything listens or opens the database.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { MitteloError } from '../errors.ts';

/** A certificate (its chain may follow it) and its private key, both PEM text. */
export interface TlsPem {
  cert: string;
  key: string;
}

/** How the certificate and key are named in messages: the flags and files, or "tls.cert" in code. */
export interface TlsLabels {
  cert: string;
  key: string;
}

const CODE_LABELS: TlsLabels = { cert: 'tls.cert (the certificate)', key: 'tls.key (the private key)' };

export interface CheckedTls extends TlsPem {
  /** When the certificate stops being valid (clients refuse it after that). */
  validTo: Date;
  /** Problems that do not stop the hub but will trouble clients (an expired certificate). */
  warnings: string[];
  context: tls.SecureContext;
}

/** Read `--tls-cert` and `--tls-key` and check them (see checkTls). */
export function readTlsFiles(certPath: string, keyPath: string): CheckedTls {
  const labels = { cert: `--tls-cert ${certPath}`, key: `--tls-key ${keyPath}` };
  return checkTls({ cert: readPem(certPath, '--tls-cert'), key: readPem(keyPath, '--tls-key') }, labels);
}

function readPem(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a folder, not a file'
            : ((error as Error).message ?? String(error));
    throw new MitteloError('bad_request', `cannot read ${flag} ${path}: ${why}; nothing was started`, {
      flag,
      path,
      ...(code ? { errno: code } : {}),
    });
  }
}

/**
 * A certificate and key that can serve TLS: both parse, the key is not encrypted, and it is the
 * certificate's own key. Throws MitteloError `bad_request`; an expired certificate is a warning.
 */
export function checkTls(pem: TlsPem, labels: TlsLabels = CODE_LABELS): CheckedTls {
  const refuse = (message: string): never => {
    throw new MitteloError('bad_request', `${message}; nothing was started`);
  };
  if (!/-----BEGIN [A-Z0-9 ]*CERTIFICATE-----/.test(pem.cert)) {
    refuse(
      `${labels.cert} holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" line): give the hub's certificate in PEM form`,
    );
  }
  let certificate: X509Certificate | undefined;
  try {
    certificate = new X509Certificate(pem.cert);
  } catch (error) {
    refuse(`${labels.cert} is not a readable PEM certificate (${firstLine(error)})`);
  }
  // Told by its PEM header first: OpenSSL 3 without a passphrase callback reports an encrypted
  // key as "interrupted or cancelled", which says nothing to the user.
  if (ENCRYPTED_KEY.test(pem.key)) refuse(encryptedKey(labels));
  let key: KeyObject | undefined;
  try {
    key = createPrivateKey(pem.key);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MISSING_PASSPHRASE' || /passphrase|encrypted/i.test(firstLine(error))) {
      refuse(encryptedKey(labels));
    }
    refuse(`${labels.key} is not a readable PEM private key (${firstLine(error)})`);
  }
  if (!certificate!.checkPrivateKey(key!)) {
    refuse(
      `${labels.key} does not match the certificate in ${labels.cert}: give the private key the certificate was made for`,
    );
  }
  let context: tls.SecureContext | undefined;
  try {
    context = tls.createSecureContext({ cert: pem.cert, key: pem.key, minVersion: 'TLSv1.2' });
  } catch (error) {
    refuse(`${labels.cert} with ${labels.key} cannot serve TLS (${firstLine(error)})`);
  }
  const validTo = new Date(certificate!.validTo);
  const warnings: string[] = [];
  const now = Date.now();
  if (validTo.getTime() < now) {
    warnings.push(
      `${labels.cert} expired on ${validTo.toISOString()}: clients will refuse it; renew the certificate`,
    );
  } else if (new Date(certificate!.validFrom).getTime() > now) {
    warnings.push(
      `${labels.cert} is not valid before ${new Date(certificate!.validFrom).toISOString()}: clients will refuse it until then`,
    );
  }
  return { cert: pem.cert, key: pem.key, validTo, warnings, context: context! };
}

/** PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`) and the older OpenSSL form (`Proc-Type: 4,ENCRYPTED`). */
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type:\s*4,ENCRYPTED/m;

const encryptedKey = (labels: TlsLabels) =>
  `${labels.key} is encrypted with a passphrase: give the hub an unencrypted key (openssl pkey -in KEY -out KEY.plain)`;

function firstLine(error: unknown): string {
  return ((error as Error)?.message ?? String(error)).split('\n')[0]!;
}
