/**
 * What every client command shares: where the hub is (flags, then MITTELO_* env, then defaults;
 * one address or several for failover; plain TCP or TLS), how to print (--json or human), and
 * how failures become one line and an exit code.
 */

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import {
  formatHubAddress,
  type HubAddress,
  HubClient,
  type HubClientOptions,
  HubUnreachableError,
  parseHubList,
  TlsError,
} from '../client/hub-client.ts';
import { CLIENT_ERROR_CODES, isMitteloError, STORAGE_ERROR_CODES } from '../errors.ts';

/** Exit codes: documented in docs/CLI.md. */
export const EXIT = {
  ok: 0,
  /** The command ran but the outcome is a failure (a task failed, a wait timed out). */
  failure: 1,
  /** Bad usage or input: nothing was changed. */
  usage: 2,
  /** The hub could not be reached (or could not start). */
  unreachable: 3,
  /** The hub refused the request (auth, conflict, not found, ...). */
  refused: 4,
  /** The database cannot be used: disk full, damaged, read-only, deleted. Nothing was stored. */
  storage: 5,
} as const;

/** A failure to report in one line and exit with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message);
    this.exitCode = exitCode;
  }
}

export interface ConnectionFlags {
  host: string;
  port: string;
  token?: string;
  /** --hub / MITTELO_HUB: one address or several, comma-separated (failover, in order). */
  hub?: string;
  /** --tls: addresses without a scheme (and --host/--port) use TLS. */
  tls?: boolean;
  /** --tls-ca / MITTELO_TLS_CA: the CA certificate(s) to trust, instead of the system store. */
  tlsCa?: string;
  /** Where --hub, --host, --port and --tls-ca came from; set by withConnectionOptions. */
  connectionSources?: Partial<Record<'hub' | 'host' | 'port' | 'tlsCa', string | undefined>>;
}

export function connectionOptions(): Option[] {
  return [
    new Option('--host <host>', 'hub host').env('MITTELO_HOST').default('127.0.0.1'),
    new Option('--port <port>', 'hub TCP port').env('MITTELO_PORT').default('8765'),
    new Option(
      '--hub <addresses>',
      'hub address(es) instead of --host/--port: host:port or tls://host:port, comma-separated for failover',
    ).env('MITTELO_HUB'),
    new Option('--tls', 'connect with TLS (as a tls:// address does)'),
    new Option(
      '--tls-ca <file>',
      "CA certificate (PEM) to trust for the hub's TLS, instead of the system's",
    ).env('MITTELO_TLS_CA'),
    new Option('--token <token>', 'shared token, when the hub has one').env('MITTELO_TOKEN'),
  ];
}

/**
 * The flags of a command with subcommands (`limit set`, `budget clear`): commander hands every
 * flag the parent knows (connection flags, --json) to the parent, wherever it is written, so a
 * subcommand reads them there, with where each connection flag came from.
 */
export function parentFlags<T extends ConnectionFlags>(subcommand: Command): T {
  const parent = subcommand.parent!;
  const source = (key: string) => parent.getOptionValueSource(key) as string | undefined;
  return {
    ...(parent.opts() as T),
    connectionSources: {
      hub: source('hub'),
      host: source('host'),
      port: source('port'),
      tlsCa: source('tlsCa'),
    },
  };
}

/**
 * Add --host/--port/--hub/--tls/--tls-ca/--token to a client command (after its own options, so
 * help lists those first), and note where each address flag came from: a --host typed on the
 * command line beats MITTELO_HUB from the environment, as any flag beats the environment.
 */
export function withConnectionOptions(command: Command): Command {
  for (const option of connectionOptions()) command.addOption(option);
  command.hook('preAction', (_hooked, action) => {
    const source = (key: string) => action.getOptionValueSource(key) as string | undefined;
    action.setOptionValue('connectionSources', {
      hub: source('hub'),
      host: source('host'),
      port: source('port'),
      tlsCa: source('tlsCa'),
    });
  });
  return command;
}

/**
 * The hub addresses the flags name: --hub (or MITTELO_HUB) when given, else --host/--port. A
 * --host or --port on the command line wins over MITTELO_HUB; --hub and --host on the command
 * line together are refused. Usage errors are CliErrors (exit 2).
 */
export function hubAddressesFrom(flags: ConnectionFlags): HubAddress[] {
  const sources = flags.connectionSources ?? {};
  const hostOnCli = sources.host === 'cli' || sources.port === 'cli';
  const hub = flags.hub?.trim() ? flags.hub : undefined;
  if (hub && sources.hub === 'cli' && hostOnCli) {
    throw new CliError('give the hub either as --hub or as --host/--port, not both');
  }
  const tls = Boolean(flags.tls);
  if (hub && !(hostOnCli && sources.hub !== 'cli')) {
    let addresses: HubAddress[];
    try {
      addresses = parseHubList(hub);
    } catch (error) {
      const where = sources.hub === 'env' ? 'MITTELO_HUB' : '--hub';
      throw new CliError(`${where}: ${(error as Error).message}`);
    }
    return addresses.map((address) => ({ ...address, tls: address.tls ?? tls }));
  }
  return [{ host: flags.host, port: parsePort(flags.port, '--port'), tls }];
}

/** `127.0.0.1:8765` or `tls://a:1, tls://b:2`, for messages. */
export function describeHubs(addresses: readonly HubAddress[]): string {
  return addresses.map(formatHubAddress).join(', ');
}

/**
 * What a HubClient needs to reach the hub the flags name: its addresses, TLS trust, the token.
 * --tls-ca given on the command line with no TLS address is a mistake and is refused (exit 2);
 * from MITTELO_TLS_CA it only applies where TLS is used.
 */
export function hubClientOptions(
  flags: ConnectionFlags,
): Pick<HubClientOptions, 'hubs' | 'tlsCa' | 'token'> & { hubs: HubAddress[] } {
  const hubs = hubAddressesFrom(flags);
  const usesTls = hubs.some((address) => address.tls);
  let tlsCa: string | undefined;
  if (flags.tlsCa && usesTls) tlsCa = readCaFile(flags.tlsCa);
  else if (flags.tlsCa && flags.connectionSources?.tlsCa === 'cli') {
    throw new CliError(
      `--tls-ca is given but no hub address uses TLS (${describeHubs(hubs)}): add --tls, or write the address as tls://host:port`,
    );
  }
  return { hubs, token: flags.token, ...(tlsCa !== undefined ? { tlsCa } : {}) };
}

function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (error as Error).message;
    throw new CliError(`cannot read --tls-ca ${path}: ${why}`);
  }
  try {
    if (!/-----BEGIN [A-Z0-9 ]*CERTIFICATE-----/.test(pem))
      throw new Error('no "-----BEGIN CERTIFICATE-----" line');
    new X509Certificate(pem);
  } catch (error) {
    throw new CliError(
      `--tls-ca ${path} holds no PEM certificate (${(error as Error).message.split('\n')[0]}): give the CA certificate that signed the hub's, in PEM form`,
    );
  }
  return pem;
}

export function jsonOption(): Option {
  return new Option('--json', 'print machine-readable JSON');
}

/** An option's argParser for a flag that may be given again: each value is added to the list. */
export function repeatable(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function parsePort(value: string, flag: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliError(`${flag} must be a port number 0-65535, got "${value}"`);
  }
  return port;
}

export function parsePositiveInt(value: string, flag: string, { allowZero = false } = {}): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1)) {
    throw new CliError(
      `${flag} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got "${value}"`,
    );
  }
  return n;
}

/** A task id given on the command line: a positive integer. */
export function parseTaskId(value: string, what = 'task id'): number {
  const id = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new CliError(`${what} must be a positive integer, got "${value}"`);
  }
  return id;
}

/**
 * A connected client for one command: fails fast (no reconnect loop) when no hub is there, and
 * explains a refused token in terms of the CLI's flags (--token, MITTELO_TOKEN) rather than the
 * protocol's (`params.token`).
 */
export async function connectClient(flags: ConnectionFlags): Promise<HubClient> {
  const client = new HubClient({
    ...hubClientOptions(flags),
    reconnect: false,
    client: 'mittelo-cli',
  });
  try {
    await client.connect();
  } catch (error) {
    throw refusedToken(error, flags) ?? error;
  }
  return client;
}

/** A refused token in the CLI's terms (--token, MITTELO_TOKEN); null for any other error. */
export function refusedToken(error: unknown, flags: ConnectionFlags): CliError | null {
  if (!isMitteloError(error) || error.code !== 'unauthorized') return null;
  let hubs: string;
  try {
    hubs = describeHubs(hubAddressesFrom(flags));
  } catch {
    hubs = `${flags.host}:${flags.port}`;
  }
  const where = `the hub at ${hubs}`;
  return new CliError(
    flags.token
      ? `${where} refused the token (${error.message}): check --token or MITTELO_TOKEN`
      : `this hub requires a token: pass --token or set MITTELO_TOKEN (${where})`,
    EXIT.refused,
  );
}

/** Run a command body with a connected client, always closing it. */
export async function withHub<T>(
  flags: ConnectionFlags,
  body: (client: HubClient) => Promise<T>,
): Promise<T> {
  const client = await connectClient(flags);
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One line on stderr and the exit code that says what kind of failure it was. */
export function reportFailure(error: unknown): number {
  if (error instanceof CliError) {
    process.stderr.write(`mittelo: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof HubUnreachableError || error instanceof TlsError) {
    process.stderr.write(`mittelo: ${error.message}\n`);
    return EXIT.unreachable;
  }
  if (isMitteloError(error)) {
    process.stderr.write(`mittelo: ${error.message}\n`);
    // hub_unreachable, connection_closed, request_timeout, tls_error: the hub could not be reached (or answer).
    if ((CLIENT_ERROR_CODES as readonly string[]).includes(error.code)) return EXIT.unreachable;
    if (error.code === 'bad_request' || error.code === 'too_large') return EXIT.usage;
    if (error.code === 'unavailable') return EXIT.unreachable;
    if (STORAGE_ERROR_CODES.includes(error.code)) return EXIT.storage;
    return EXIT.refused;
  }
  process.stderr.write(`mittelo: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT.failure;
}
