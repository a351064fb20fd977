/**
 * What every client command shares: where the hub is (flags, then MITTELO_* env, then defaults),
 * how to print (--json or human), and how failures become one line and an exit code.
 */
import { type Command, Option } from 'commander';
import { HubClient, HubUnreachableError } from '../client/hub-client.ts';
import { isMitteloError, STORAGE_ERROR_CODES } from '../errors.ts';

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
}

export function connectionOptions(): Option[] {
  return [
    new Option('--host <host>', 'hub host').env('MITTELO_HOST').default('127.0.0.1'),
    new Option('--port <port>', 'hub TCP port').env('MITTELO_PORT').default('8765'),
    new Option('--token <token>', 'shared token, when the hub has one').env('MITTELO_TOKEN'),
  ];
}

/** Add --host/--port/--token to a client command (after its own options, so help lists those first). */
export function withConnectionOptions(command: Command): Command {
  for (const option of connectionOptions()) command.addOption(option);
  return command;
}

export function jsonOption(): Option {
  return new Option('--json', 'print machine-readable JSON');
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
    host: flags.host,
    port: parsePort(flags.port, '--port'),
    token: flags.token,
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
  const where = `the hub at ${flags.host}:${flags.port}`;
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
  if (error instanceof HubUnreachableError) {
    process.stderr.write(`mittelo: ${error.message}\n`);
    return EXIT.unreachable;
  }
  if (isMitteloError(error)) {
    process.stderr.write(`mittelo: ${error.message}\n`);
    if (error.code === 'bad_request' || error.code === 'too_large') return EXIT.usage;
    if (error.code === 'unavailable') return EXIT.unreachable;
    if (STORAGE_ERROR_CODES.includes(error.code)) return EXIT.storage;
    return EXIT.refused;
  }
  process.stderr.write(`mittelo: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT.failure;
}
