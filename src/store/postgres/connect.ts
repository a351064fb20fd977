/**
 * Reaching the PostgreSQL server: the `--db` URL, the pool's settings, and what a failed
 * connection looks like to the person starting the hub (one line each: which server, what is wrong,
 * what to do). The password of the URL never appears in a message.
 */
import pg from 'pg';
import { MitteloError } from '../../errors.ts';

/** Where the store lives, as messages name it. */
export interface DatabaseTarget {
  /** What pg connects with (the URL as given). */
  connectionString: string;
  host: string;
  port: number;
  database: string;
  user: string | null;
  /** `host:port/database`: the name of the server in every message (never the password). */
  where: string;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

const URL_SHAPE = 'postgres://user[:password]@host[:port]/database';

/** The URL with any password replaced, for messages about a URL that could not be parsed. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/** Parse a `postgres://` URL, refusing (bad_request) anything that is not one. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MitteloError(
      'bad_request',
      `--db ${redactUrl(url)} is not a PostgreSQL URL: expected ${URL_SHAPE}`,
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new MitteloError(
      'bad_request',
      `--db ${redactUrl(url)} is not a PostgreSQL URL (it starts with ${parsed.protocol}//): expected ${URL_SHAPE}`,
    );
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) {
    throw new MitteloError(
      'bad_request',
      `--db ${redactUrl(url)} names no database: expected ${URL_SHAPE} (create one with \`createdb NAME\`)`,
    );
  }
  const socketHost = parsed.searchParams.get('host');
  const host = socketHost ?? (parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost');
  let port = 5432;
  if (parsed.port) {
    port = Number(parsed.port);
  }
  const user = parsed.username ? decodeURIComponent(parsed.username) : (process.env.PGUSER ?? null);
  return {
    connectionString: url,
    host,
    port,
    database,
    user,
    where: `${host.includes(':') ? `[${host}]` : host}:${port}/${database}`,
  };
}

/**
 * Type parsers for this store's connections only (pg's global parsers are left alone): bigint ids
 * and counts as numbers (they stay far below 2^53), json columns as their text, which the store
 * parses itself (so their byte size counts toward answer budgets, as with SQLite's text).
 */
const INT8 = 20;
const NUMERIC = 1700;
const JSON_OID = 114;
export const storeTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return (value: string) => Number(value);
    if (oid === JSON_OID) return (value: string) => value;
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
} as pg.CustomTypesConfig;

export interface ConnectionSettings {
  connectTimeoutMs: number;
}

/** What every connection of the store is opened with. */
export function clientConfig(target: DatabaseTarget, settings: ConnectionSettings): pg.ClientConfig {
  return {
    connectionString: target.connectionString,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    // A server that vanishes without closing the connection is noticed by TCP keepalive.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'mittelo',
    types: storeTypes,
  };
}

/** One connection, opened now; a failure is described (describeConnectError). */
export async function connectClient(
  target: DatabaseTarget,
  settings: ConnectionSettings,
): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(target, settings));
  // An error on an idle connection is reported by the next query; without a listener it would crash.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw describeConnectError(error, target, settings);
  }
  return client;
}

/** SQLSTATE of a server error, or the Node error code (ECONNREFUSED, ...). */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function errorText(error: unknown): string {
  const message = (error as Error | null)?.message ?? String(error);
  // AggregateError (every address of a name refused) has an empty message: use its first one.
  if (!message && error instanceof AggregateError && error.errors.length) {
    return errorText(error.errors[0]);
  }
  return message.split('\n')[0]!;
}

/** Errors that mean no usable connection to the server (not a refusal of the request itself). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT',
  'EADDRNOTAVAIL',
]);

/** The connection itself failed or was lost (as opposed to the server refusing a statement). */
export function isConnectionFailure(error: unknown): boolean {
  const code = errorCode(error);
  if (code && NETWORK_CODES.has(code)) return true;
  if (code && /^(08|57P0[123])/.test(code)) return true;
  if (code === '53300') return true; // too many connections
  if (error instanceof AggregateError) return error.errors.some(isConnectionFailure);
  const text = errorText(error);
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|Client was closed|Cannot use a pool after calling end|socket hang up|read ECONNRESET/i.test(
    text,
  );
}

/**
 * Why the store could not connect, in one line: bad_request for what the user must change in --db
 * (password, database name, URL), unavailable for a server that is not (yet) there.
 */
export function describeConnectError(
  error: unknown,
  target: DatabaseTarget,
  settings: ConnectionSettings,
): MitteloError {
  if (error instanceof MitteloError) return error;
  const code = errorCode(error) ?? 'unknown';
  const said = errorText(error);
  const details = { db: target.where, pg_code: code };
  const server = `PostgreSQL at ${target.where}`;
  const user = target.user ? `user "${target.user}"` : 'the user';
  if (code === '3D000') {
    const flags = `${target.host === 'localhost' ? '' : `-h ${target.host} `}${target.port === 5432 ? '' : `-p ${target.port} `}${target.user ? `-U ${target.user} ` : ''}`;
    return new MitteloError(
      'bad_request',
      `the database "${target.database}" does not exist on PostgreSQL at ${target.host}:${target.port}: create it with \`createdb ${flags}${target.database}\`, or pass another --db`,
      details,
    );
  }
  if (code === '28P01' || /password authentication failed/i.test(said)) {
    return new MitteloError(
      'bad_request',
      `${server} refused the password of ${user} (${said}): check the user and password in --db (or PGPASSWORD, ~/.pgpass)`,
      details,
    );
  }
  if (/client password must be a string|password must be a string/i.test(said)) {
    return new MitteloError(
      'bad_request',
      `${server} asks ${user} for a password and --db gives none: add it (postgres://user:password@host/db), or set PGPASSWORD or ~/.pgpass`,
      details,
    );
  }
  if (code === '28000' || code.startsWith('28')) {
    return new MitteloError(
      'bad_request',
      `${server} does not let ${user} in (${said}): check the user in --db, or allow it in the server's pg_hba.conf`,
      details,
    );
  }
  if (code === '57P03') {
    return new MitteloError(
      'unavailable',
      `${server} is starting up or shutting down (${said}): try again in a moment`,
      details,
    );
  }
  if (code === '53300') {
    return new MitteloError(
      'unavailable',
      `${server} has no free connections (${said}): raise its max_connections or stop some clients`,
      details,
    );
  }
  if (/timeout/i.test(said) || code === 'ETIMEDOUT') {
    return new MitteloError(
      'unavailable',
      `${server} did not answer within ${Math.round(settings.connectTimeoutMs / 1000)} s: check that the server runs and that the host and port in --db are right`,
      details,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new MitteloError(
      'unavailable',
      `cannot find the PostgreSQL host "${target.host}" (${code}): check the host in --db`,
      details,
    );
  }
  if (/SSL|certificate/i.test(said)) {
    return new MitteloError(
      'bad_request',
      `cannot open a connection to ${server} (${said}): check sslmode in --db`,
      details,
    );
  }
  if (isConnectionFailure(error)) {
    return new MitteloError(
      'unavailable',
      `${server} is not answering (${said || code}): start the server, or check the host and port in --db`,
      details,
    );
  }
  return new MitteloError('unavailable', `cannot connect to ${server} (${code}: ${said})`, details);
}
