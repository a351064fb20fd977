// Types of postgres-server.mjs (plain JavaScript, so that scripts/test.mjs can import it on any Node).

/** The one line the PostgreSQL suites fail with when no server binaries are found. */
export declare const NOT_FOUND: string;
export declare const ADMIN_USER: string;

export type ServerBinaries =
  | { bindir: string; problem?: undefined }
  | { bindir?: undefined; problem: string };

export declare function findServerBinaries(env?: NodeJS.ProcessEnv): ServerBinaries;
export declare function ensureServerBinaries(options?: {
  install?: boolean;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}): ServerBinaries;

/** Databases on a server: create fresh ones, drop them. */
export interface DatabaseHandles {
  /** The superuser's URL on the maintenance database (postgres). */
  readonly adminUrl: string;
  /** The URL of `database` on this server. */
  url(database: string): string;
  /** CREATE DATABASE (default name: unique across processes); resolves with its URL. */
  createDatabase(name?: string): Promise<string>;
  /** DROP DATABASE ... WITH (FORCE), by name or URL. */
  dropDatabase(nameOrUrl: string): Promise<void>;
  /** Drop every database created through these handles. */
  dropCreatedDatabases(): Promise<void>;
}

/** A server someone else runs: stop() drops the databases created here, nothing more. */
export interface ConnectedServer extends DatabaseHandles {
  stop(): Promise<void>;
}

/** A server this process started: stop() shuts it down and removes its folder. */
export interface StartedCluster extends DatabaseHandles {
  readonly dir: string;
  readonly port: number;
  /** The postmaster's pid. */
  readonly pid: number;
  /** server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)". */
  readonly version: string;
  stop(): Promise<void>;
  /** stop(), synchronously (bounded): for exit handlers. */
  stopNow(): void;
}

export declare function connectServer(adminUrl: string): ConnectedServer;
export declare function startCluster(options?: {
  bindir?: string;
  /** Default os.tmpdir(). As root the server runs as `postgres`, which must be able to enter it. */
  parentDir?: string;
  /** Extra server settings (-c name=value), e.g. { shared_buffers: '128MB' }. */
  settings?: Record<string, string>;
}): Promise<StartedCluster>;
