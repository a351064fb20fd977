// A throwaway PostgreSQL server for the tests (scripts/test.mjs, test/helpers/postgres.ts) and the
// benchmarks (bench/lib/postgres-server.ts): find the server binaries (installing Debian's package
// when allowed), initdb into a fresh temporary folder, start `postgres` on a free loopback port,
// hand out fresh databases, and stop and remove it all again, also when the process that started
// it dies. Plain JavaScript: scripts/test.mjs imports it before any TypeScript runs, on every Node
// the project supports. Types: postgres-server.d.mts.
import { spawn, spawnSync } from 'node:child_process';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { aptInstall, aptUnavailable } from './apt-install.mjs';
import { executable } from './executable.mjs';

export const NOT_FOUND =
  "PostgreSQL server binaries (initdb, postgres) not found: install Debian's postgresql package or put them on PATH";
/** The superuser initdb creates; every URL handed out connects as it (trust auth, loopback only). */
export const ADMIN_USER = 'mittelo';

const HOST = '127.0.0.1';
/** initdb, and the server becoming ready: seconds on a loaded 2-core machine, never minutes. */
const INITDB_TIMEOUT_MS = 120_000;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
/** A port picked free can be taken by someone else before the server binds it: try a few. */
const PORT_ATTEMPTS = 5;

const isRoot = () => process.getuid?.() === 0;
/** A bound for a race: unref'd, so the losing timer never keeps a finished process alive. */
const deadline = (ms) => sleep(ms, undefined, { ref: false });

const hasServer = (dir) =>
  Boolean(dir) && executable(join(dir, 'initdb')) && executable(join(dir, 'postgres'));

/**
 * Where initdb and postgres are: MITTELO_PG_BINDIR when set (and only there), else the first of
 * PATH, `pg_config --bindir`, /usr/lib/postgresql/<highest version>/bin (Debian keeps them there,
 * off PATH). Answers { bindir } or { problem } (one line).
 */
export function findServerBinaries(env = process.env) {
  if (env.MITTELO_PG_BINDIR) {
    if (hasServer(env.MITTELO_PG_BINDIR)) return { bindir: env.MITTELO_PG_BINDIR };
    return { problem: `MITTELO_PG_BINDIR=${env.MITTELO_PG_BINDIR} has no initdb and postgres: ${NOT_FOUND}` };
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (hasServer(dir)) return { bindir: dir };
  }
  const pgConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8', env });
  const configured = pgConfig.status === 0 ? pgConfig.stdout.trim() : '';
  if (hasServer(configured)) return { bindir: configured };
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian)
    ? readdirSync(debian)
        .filter((name) => /^\d+(\.\d+)?$/.test(name))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const dir = join(debian, version, 'bin');
    if (hasServer(dir)) return { bindir: dir };
  }
  return { problem: NOT_FOUND };
}

/**
 * The server binaries, installing Debian's postgresql first when they are missing, `install` is
 * true, and this is root on Debian or Ubuntu (and MITTELO_PG_BINDIR does not name a folder: then
 * that folder is what is wanted). `log` gets one line before installing, saying what and why.
 */
export function ensureServerBinaries({ install = false, log = console.log, env = process.env } = {}) {
  const found = findServerBinaries(env);
  if (found.bindir || !install || env.MITTELO_PG_BINDIR || aptUnavailable()) return found;
  log("== installing Debian's postgresql (the PostgreSQL store tests start a throwaway server)");
  const failed = aptInstall(['postgresql']);
  if (failed) return { problem: `${failed}; ${NOT_FOUND}` };
  return findServerBinaries(env);
}

/** A port nobody listens on right now (PostgreSQL cannot be given port 0). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The uid/gid to run the server as: ourselves, or (initdb and postgres refuse root) postgres. */
function serverAccount() {
  if (!isRoot()) return null;
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) {
      return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
    }
  }
  throw new Error(
    "running as root, and there is no 'postgres' (or 'nobody') user to run the PostgreSQL server as: initdb and postgres refuse root",
  );
}

/** [command, args] that run `command args` as `account` (setpriv execs: the pid is the server's). */
function asAccount(account, command, args) {
  if (!account) return [command, args];
  if (
    executable('/usr/bin/setpriv') ||
    spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0
  ) {
    return [
      'setpriv',
      [`--reuid=${account.uid}`, `--regid=${account.gid}`, '--clear-groups', '--', command, ...args],
    ];
  }
  return ['runuser', ['-u', account.name, '--', command, ...args]];
}

/** Our environment without PG* variables (PGDATA, PGPORT, ... would redirect initdb or postgres). */
function serverEnv(home) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  return { ...env, HOME: home, LC_ALL: 'C', LANG: 'C' };
}

function runToEnd(command, args, options, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (text) => {
      output = (output + text).slice(-4000);
    };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, output: `${output}\n${error.message}` });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, output });
    });
  });
}

function lastLines(text, count = 3) {
  return text.trim().split('\n').slice(-count).join(' | ');
}

/** Alive and not a zombie (/proc), so it works from an exit handler where nothing reaps children. */
function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function signal(pid, name) {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

// Clusters of this process (starting or running), stopped synchronously when it exits normally.
const live = new Set();
let exitHookInstalled = false;
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const cluster of live) cluster.stopNow();
  });
}

/**
 * If this process dies without running its exit handlers (SIGKILL, a fatal signal), a small shell
 * loop notices within a second, shuts down the server its lock file names (if it got that far) and
 * removes the folder, retrying while an orphaned initdb may still be writing there: a crashed test
 * run leaves no server and no folder behind. Started with the folder, killed with the server.
 */
function startWatchdog(dir) {
  const script = [
    // A zombie (dead, not yet reaped) still answers kill -0: /proc says Z for it.
    `alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }`,
    'while alive "$1"; do sleep 1; done',
    'server=$(head -n 1 "$2/data/postmaster.pid" 2>/dev/null)',
    'if [ -n "$server" ]; then',
    '  kill -QUIT "$server" 2>/dev/null',
    '  i=0; while alive "$server" && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
    '  kill -KILL "$server" 2>/dev/null',
    'fi',
    'for i in 1 2 3 4 5; do rm -rf "$2" 2>/dev/null; [ -e "$2" ] || break; sleep 1; done',
  ].join('\n');
  const child = spawn('sh', ['-c', script, 'watchdog', String(process.pid), dir], {
    detached: true,
    stdio: 'ignore',
  });
  child.on('error', () => {}); // no sh: the exit hook still cleans up a normal exit
  child.unref();
  return child;
}

async function pgModule() {
  return (await import('pg')).default;
}

/**
 * Wait until our server takes a query; null when ready, else why not ('exited' or 'timeout'). It
 * must be ours: if someone took the port first, another server may answer there (another test
 * process's cluster would even let us in), so its data_directory is checked.
 */
async function waitReady(adminUrl, dataDir, gone, giveUpAt) {
  const pg = await pgModule();
  for (;;) {
    if (gone()) return 'exited';
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    try {
      await client.connect();
      const answer = await client.query('show data_directory');
      if (realpathSync(answer.rows[0].data_directory) === realpathSync(dataDir)) return null;
    } catch {
      // refused, or "the database system is starting up": try again
    } finally {
      await client.end().catch(() => {});
    }
    if (Date.now() > giveUpAt) return 'timeout';
    await sleep(50);
  }
}

/** Database handles on any server we may create databases on (ours, or one given by URL). */
function databaseHandles(adminUrl) {
  const created = new Set();
  let counter = 0;
  const url = (database) => {
    const parsed = new URL(adminUrl);
    parsed.pathname = `/${encodeURIComponent(database)}`;
    return parsed.toString();
  };
  const admin = async (sql) => {
    const pg = await pgModule();
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end().catch(() => {});
    }
  };
  return {
    adminUrl,
    url,
    /** A fresh empty database (default name: unique across processes); resolves with its URL. */
    async createDatabase(name) {
      counter += 1;
      const database = name ?? `mittelo_${process.pid}_${counter}_${Math.random().toString(16).slice(2, 8)}`;
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) {
        throw new Error(`database name "${database}": use lower-case letters, digits and _ (at most 63)`);
      }
      await admin(`CREATE DATABASE "${database}"`);
      created.add(database);
      return url(database);
    },
    /** Drop a database (by name or URL), closing its connections first. */
    async dropDatabase(nameOrUrl) {
      const database = nameOrUrl.includes('://')
        ? decodeURIComponent(new URL(nameOrUrl).pathname.slice(1))
        : nameOrUrl;
      await admin(`DROP DATABASE IF EXISTS "${database.replaceAll('"', '""')}" WITH (FORCE)`);
      created.delete(database);
    },
    /** Drop every database this handle created. */
    async dropCreatedDatabases() {
      for (const database of [...created]) await this.dropDatabase(database);
    },
  };
}

/** A server someone else runs (MITTELO_TEST_PG_URL, MITTELO_BENCH_PG_URL): databases only. */
export function connectServer(adminUrl) {
  const handles = databaseHandles(adminUrl);
  return {
    ...handles,
    /** Drops the databases created here; the server itself is not ours to stop. */
    async stop() {
      await handles.dropCreatedDatabases();
    },
  };
}

/**
 * initdb into a fresh folder under `parentDir` and start the server on a free loopback port.
 * Resolves with { dir, port, pid, version, adminUrl, url(db), createDatabase(name?),
 * dropDatabase(nameOrUrl), dropCreatedDatabases(), stop() }; rejects with one line saying why.
 */
export async function startCluster({ bindir, parentDir = os.tmpdir(), settings = {} } = {}) {
  const binaries = bindir ? { bindir } : findServerBinaries();
  if (!binaries.bindir) throw new Error(binaries.problem);
  const account = serverAccount();
  const dir = mkdtempSync(join(parentDir, 'mittelo-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sock');
  mkdirSync(sockets);
  if (account) for (const path of [dir, sockets]) chownSync(path, account.uid, account.gid);
  const spawnOptions = { cwd: dir, env: serverEnv(dir) };
  const removeDir = () => rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  // Cleaned up from here on, whatever happens: by the exit hook, or the watchdog if we die.
  const watchdog = startWatchdog(dir);
  let serverPid = null;
  const starting = {
    stopNow() {
      if (serverPid) signal(serverPid, 'SIGKILL');
      signal(-watchdog.pid, 'SIGKILL');
      removeDir();
    },
  };
  live.add(starting);
  installExitHook();

  try {
    // --no-sync: the initial files need no fsync for a throwaway cluster (saves seconds); the
    // server itself keeps fsync on, since durability is what the store tests are about.
    const initdbArgs = ['-D', data, '-U', ADMIN_USER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'];
    const [initCommand, initArgs] = asAccount(account, join(binaries.bindir, 'initdb'), initdbArgs);
    const init = await runToEnd(initCommand, initArgs, spawnOptions, INITDB_TIMEOUT_MS);
    if (init.code !== 0) throw new Error(`initdb failed (exit ${init.code}): ${lastLines(init.output)}`);

    const options = {
      listen_addresses: HOST,
      unix_socket_directories: sockets,
      shared_buffers: '32MB',
      max_connections: '200',
      ...settings,
    };
    let lastProblem = '';
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      const port = await freePort();
      const logFile = join(dir, `postgres-${attempt}.log`);
      const logFd = openSync(logFile, 'a');
      const args = ['-D', data, '-p', String(port)];
      for (const [key, value] of Object.entries(options)) args.push('-c', `${key}=${value}`);
      const [command, commandArgs] = asAccount(account, join(binaries.bindir, 'postgres'), args);
      // Its own process group (a terminal's Ctrl-C is ours to handle), logging to a file (no pipe
      // to keep open), unref'd: a test file's process may end while the server runs; the exit
      // hook then stops it.
      const server = spawn(command, commandArgs, {
        ...spawnOptions,
        detached: true,
        stdio: ['ignore', logFd, logFd],
      });
      closeSync(logFd);
      serverPid = server.pid;
      let spawnError = null; // setpriv or postgres could not be run at all
      server.on('error', (error) => {
        spawnError = error;
      });
      server.unref();
      const exited = new Promise((resolve) => server.once('exit', resolve));
      const adminUrl = `postgres://${ADMIN_USER}@${HOST}:${port}/postgres`;
      const gone = () => spawnError !== null || server.exitCode !== null || server.signalCode !== null;
      const why = await waitReady(adminUrl, data, gone, Date.now() + START_TIMEOUT_MS);
      const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
      if (why === null) {
        live.delete(starting);
        return running({ dir, port, data, server, exited, adminUrl, removeDir, watchdog });
      }
      if (spawnError) throw new Error(`could not run ${command}: ${spawnError.message}`);
      server.ref(); // wait for it below even when nothing else keeps this process alive
      if (why === 'timeout') signal(server.pid, 'SIGKILL');
      await Promise.race([exited, deadline(STOP_TIMEOUT_MS)]);
      lastProblem =
        why === 'timeout'
          ? `postgres did not accept connections within ${START_TIMEOUT_MS / 1000} s: ${lastLines(log())}`
          : `postgres exited at start: ${lastLines(log())}`;
      // Someone took the port between our check and the server's bind: pick another.
      if (!/could not bind|could not create any TCP\/IP sockets|already in use/i.test(log())) break;
    }
    throw new Error(lastProblem);
  } catch (error) {
    live.delete(starting);
    signal(-watchdog.pid, 'SIGKILL');
    removeDir();
    throw error;
  }
}

async function running({ dir, port, data, server, exited, adminUrl, removeDir, watchdog }) {
  // The postmaster's own pid (setpriv execs, runuser forks): its lock file says.
  const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]) || server.pid;
  let stopped = false;
  const cluster = {
    ...databaseHandles(adminUrl),
    dir,
    port,
    pid,
    version: '',
    /** Immediate shutdown (as pg_ctl stop -m immediate), then the folder is removed. */
    async stop() {
      if (stopped) return;
      stopped = true;
      live.delete(cluster);
      server.ref(); // the wait below must hold the process open until the server is gone
      signal(pid, 'SIGQUIT');
      const gone = await Promise.race([exited.then(() => true), deadline(STOP_TIMEOUT_MS).then(() => false)]);
      if (!gone) {
        signal(pid, 'SIGKILL');
        await Promise.race([exited, deadline(STOP_TIMEOUT_MS)]);
      }
      signal(-watchdog.pid, 'SIGKILL');
      removeDir();
    },
    /** The same, synchronously, for the exit hook: a bounded spin while the server goes. */
    stopNow() {
      if (stopped) return;
      stopped = true;
      signal(pid, 'SIGQUIT');
      const giveUpAt = Date.now() + 5000;
      const pause = new Int32Array(new SharedArrayBuffer(4));
      while (alive(pid) && Date.now() < giveUpAt) Atomics.wait(pause, 0, 0, 10);
      if (alive(pid)) signal(pid, 'SIGKILL');
      signal(-watchdog.pid, 'SIGKILL');
      try {
        removeDir();
      } catch {
        // the watchdog is gone; nothing else can be done from an exit handler
      }
    },
  };
  live.add(cluster);
  try {
    const pg = await pgModule();
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    cluster.version = (await client.query('show server_version')).rows[0].server_version;
    await client.end();
  } catch {
    // only for messages
  }
  return cluster;
}
