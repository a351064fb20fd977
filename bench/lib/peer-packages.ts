/**
 * Packages a baseline needs that the project itself does not depend on (BullMQ and its Redis
 * client), installed on demand into a cache folder outside the repository, once per machine:
 * `npm run bench` measures the peer without making it a dependency of Mittelö.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The peer versions the figures are measured with (BullMQ as in issue 17's table). */
export const BULLMQ_PACKAGES = { bullmq: '6.7.6', ioredis: '5.9.2' } as const;

/** Where peers are installed: beside Mittelö's other caches, never inside the repository. */
export const PEERS_DIR = join(homedir(), '.cache', 'mittelo', 'bench-peers');

const INSTALL_TIMEOUT_MS = 300_000;

function installedVersion(name: string): string | null {
  const file = join(PEERS_DIR, 'node_modules', name, 'package.json');
  if (!existsSync(file)) return null;
  return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? null;
}

/**
 * The folder holding `packages` at their versions, installing them first when they are missing.
 * Throws with npm's own last lines when it cannot (no registry, no disk): the caller reports the
 * peer as "not measured" with that reason.
 */
export async function ensurePeerPackages(packages: Record<string, string>): Promise<string> {
  const missing = Object.entries(packages).filter(([name, version]) => installedVersion(name) !== version);
  if (missing.length === 0) return PEERS_DIR;
  mkdirSync(PEERS_DIR, { recursive: true });
  const specs = missing.map(([name, version]) => `${name}@${version}`);
  try {
    await run(
      'npm',
      [
        'install',
        '--prefix',
        PEERS_DIR,
        '--no-audit',
        '--no-fund',
        '--no-save',
        '--loglevel=error',
        ...specs,
      ],
      { timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message);
    throw new Error(
      `npm install ${specs.join(' ')} failed: ${stderr.trim().split('\n').slice(-3).join(' / ')}`,
    );
  }
  return PEERS_DIR;
}

/** `require` resolving from the peers folder, for a child that loads a peer package. */
export function requireFromPeers(folder: string): NodeJS.Require {
  return createRequire(join(folder, 'package.json'));
}
