// Debian packages the tests need (postgresql, chromium) and CI's tools (python3, a C compiler),
// installed with apt-get when missing and this is root on Debian or Ubuntu. Plain JavaScript:
// scripts/test.mjs imports it before any TypeScript runs, on every Node the project supports.
// `node scripts/apt-install.mjs PACKAGE...` installs from the command line (.ci/run uses it).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const APT_TIMEOUT_MS = 15 * 60_000;
/** `apt-get update` once per process: the second package of a run needs no fresh lists. */
let updated = false;

/** Why apt-get may not install packages here, or null when it may (root on Debian or Ubuntu). */
export function aptUnavailable() {
  if (process.getuid?.() !== 0) return 'not running as root';
  let release = '';
  try {
    release = readFileSync('/etc/os-release', 'utf8');
  } catch {
    return 'no /etc/os-release';
  }
  const field = (name) => new RegExp(`^${name}="?([^"\\n]*)"?$`, 'm').exec(release)?.[1] ?? '';
  const family = `${field('ID')} ${field('ID_LIKE')}`.split(/\s+/);
  if (!family.includes('debian') && !family.includes('ubuntu')) return 'not Debian or Ubuntu';
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0) return 'no apt-get';
  return null;
}

/** apt-get install these packages; null when it worked, else what failed (one line). */
export function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // stdout is dpkg's chatter; stderr (errors) stays visible.
  const run = (args) =>
    spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'], timeout: APT_TIMEOUT_MS });
  const steps = [...(updated ? [] : [['update', '-qq']]), ['install', '-y', '-qq', ...packages]];
  for (const args of steps) {
    const result = run(args);
    if (result.status !== 0) {
      const how = result.error ? result.error.message : `exit ${result.status ?? result.signal}`;
      return `apt-get ${args.join(' ')} failed (${how})`;
    }
    if (args[0] === 'update') updated = true;
  }
  return null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const packages = process.argv.slice(2);
  const problem =
    packages.length === 0 ? 'name the packages to install' : (aptUnavailable() ?? aptInstall(packages));
  if (problem) {
    console.error(`apt-install: cannot install ${packages.join(' ') || 'anything'}: ${problem}`);
    process.exit(1);
  }
}
