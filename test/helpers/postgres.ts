/**
 * Real PostgreSQL for the tests. `npm test` (scripts/test.mjs) starts ONE throwaway cluster for the
 * whole run and passes its superuser URL in MITTELO_TEST_PG_URL; each test file then makes fresh,
 * uniquely named databases on it. Run on its own (`node --test file.test.ts`), a file starts a
 * cluster of its own instead, stopped when the file's process exits. When no server can be had,
 * `testPostgres()` rejects with one line saying what to install (MITTELO_TEST_PG_ERROR carries
 * test.mjs's own line), so a PostgreSQL suite fails rather than skips.
 *
 *   const pg = await testPostgres();          // in a before()
 *   const url = await pg.createDatabase();    // postgres://mittelo@127.0.0.1:<port>/<fresh db>
 *   after(() => pg.dropCreatedDatabases());
 */
import {
  type ConnectedServer,
  connectServer,
  findServerBinaries,
  type StartedCluster,
  startCluster,
} from '../../scripts/postgres-server.mjs';

export type { StartedCluster };

/** A PostgreSQL server a test may create databases on. */
export interface TestPostgres {
  /** postgres://mittelo@127.0.0.1:<port>/postgres: the superuser (trust auth) on the maintenance db. */
  readonly adminUrl: string;
  /** The URL of `database` on this server. */
  url(database: string): string;
  /** A fresh empty database (default name unique across test processes); resolves with its URL. */
  createDatabase(name?: string): Promise<string>;
  /** DROP DATABASE ... WITH (FORCE) (its connections are closed), by name or URL. */
  dropDatabase(nameOrUrl: string): Promise<void>;
  /** Drop every database this process created on it. */
  dropCreatedDatabases(): Promise<void>;
  /** Drop this process's databases, and stop the server when this process started it. */
  stop(): Promise<void>;
}

/** An Error whose whole report is its one line: no stack to wade through for a setup problem. */
function setupError(line: string): Error {
  const error = new Error(line);
  error.stack = `Error: ${line}`;
  return error;
}

/** Start a cluster of one's own, always (most tests want `testPostgres()`, which shares one). */
export async function startPostgres(options: { parentDir?: string } = {}): Promise<StartedCluster> {
  const binaries = findServerBinaries();
  if (binaries.bindir === undefined) throw setupError(binaries.problem);
  try {
    return await startCluster({ bindir: binaries.bindir, ...options });
  } catch (error) {
    throw setupError(`could not start a throwaway PostgreSQL server: ${(error as Error).message}`);
  }
}

let shared: Promise<TestPostgres> | null = null;

/**
 * The run's server: MITTELO_TEST_PG_URL when set (npm test's shared cluster, or one of your own),
 * else a cluster started for this process (once; later calls get the same one).
 */
export function testPostgres(): Promise<TestPostgres> {
  shared ??= (async (): Promise<TestPostgres> => {
    const url = process.env.MITTELO_TEST_PG_URL;
    if (url) return connectServer(url) satisfies ConnectedServer;
    const problem = process.env.MITTELO_TEST_PG_ERROR;
    if (problem) throw setupError(problem);
    return startPostgres();
  })();
  return shared;
}

/** Drop the databases this process created on the run's server (a no-op when it has none). */
export async function dropCreatedDatabases(): Promise<void> {
  if (!shared) return;
  const server = await shared.catch(() => null);
  await server?.dropCreatedDatabases();
}
