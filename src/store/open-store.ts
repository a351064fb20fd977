/**
 * Open the store a `--db` value names: a `postgres://` (or `postgresql://`) URL is the PostgreSQL
 * store, anything else is the path of a SQLite file. The PostgreSQL code (and its driver) is
 * loaded only when asked for, so the embedded default starts as fast as before.
 */
import type { RetryPolicy } from './queue-policy.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './types.ts';

export interface OpenStoreOptions {
  /** SQLite only: fsync every commit (PostgreSQL follows the server's synchronous_commit). */
  fsync?: boolean | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  log?: ((line: string) => void) | undefined;
}

export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** Throws MitteloError (bad_request / unavailable / storage_*) with a one-line cause and fix. */
export async function openStore(db: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(db)) {
    const { PostgresStore } = await import('./postgres/postgres-store.ts');
    return PostgresStore.open({ url: db, retry: options.retry, log: options.log });
  }
  return new SqliteStore({ path: db, fsync: options.fsync ?? false, retry: options.retry, log: options.log });
}

/**
 * For `mittelo doctor`: check, writing nothing, that a PostgreSQL `--db` could be opened. Resolves
 * with a line saying what was found; throws the MitteloError the hub would start with.
 */
export async function probePostgres(url: string): Promise<string> {
  const { PostgresStore } = await import('./postgres/postgres-store.ts');
  const found = await PostgresStore.probe(url);
  return found.schema_version === 0
    ? `PostgreSQL at ${found.where} answers; the first hub creates the schema (v${found.current_version})`
    : `PostgreSQL at ${found.where} answers; the Mittelö schema is at v${found.schema_version}` +
        (found.schema_version < found.current_version
          ? ` (a hub of this build migrates it to v${found.current_version})`
          : '');
}
