/**
 * A throwaway Redis for the BullMQ baseline: `redis-server` (Debian package `redis-server`) on a
 * free local port, its data in a fresh folder, durable as issue 17 measured it (`--appendonly yes
 * --appendfsync everysec`, no RDB snapshots), stopped and removed when the scenario ends. The bench
 * never installs Redis; without it the BullMQ rows say "not measured" and why.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from '../../src/backends/find-executable.ts';
import { assertRunning, startProcess, until } from './agents.ts';

export interface BenchRedis {
  url: string;
  host: string;
  port: number;
  /** For the report: "Redis 7.0.15 on port 40123 (AOF everysec)". */
  description: string;
}

const READY_TIMEOUT_MS = 30_000;

/** Why Redis cannot be measured here, or null when redis-server is on PATH. */
export function redisMissing(): string | null {
  return findExecutable('redis-server')
    ? null
    : 'redis-server is not installed (Debian: apt-get install redis-server)';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** One PING answered with +PONG: the server takes commands. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

/** Run `use` with a fresh Redis server; it is stopped and its folder removed whatever happens. */
export async function withBenchRedis<T>(use: (redis: BenchRedis) => Promise<T>): Promise<T> {
  const folder = mkdtempSync(join(tmpdir(), 'mittelo-bench-redis-'));
  const port = await freePort();
  const server = startProcess(
    'redis-server',
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      folder,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--daemonize',
      'no',
    ],
    { cwd: folder },
  );
  try {
    await until(() => pings(port), 'redis-server to answer PING', READY_TIMEOUT_MS, {
      alive: () => assertRunning(server),
    });
    const version =
      /v=(\d+\.\d+\.\d+)/.exec(server.stdout())?.[1] ?? /Redis version=(\S+)/.exec(server.stdout())?.[1];
    return await use({
      url: `redis://127.0.0.1:${port}`,
      host: '127.0.0.1',
      port,
      description: `Redis ${version ?? '(version not printed)'} on port ${port}, AOF everysec`,
    });
  } finally {
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  }
}
