#!/usr/bin/env node
// The installed `mittelo` command: runs the compiled CLI (npm install builds dist/ via `prepare`).
// Mittelö needs Node.js >= 22. An older node (Debian ships 20) runs this file too, so it stays
// plain JavaScript that Node 20 parses: there it asks scripts/ensure-node.sh for a Node >= 22
// (fetching Node 24 from npm once into ~/.cache/mittelo/node24, the copy `npm test` and CI use)
// and runs the same command under it, as if it had been started that way.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [major] = process.versions.node.split('.').map(Number);
if (major >= 22) {
  const main = new URL('../dist/cli/main.js', import.meta.url);
  let cli;
  try {
    cli = await import(main.href);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes(fileURLToPath(main)))
      throw error;
    process.stderr.write(
      'mittelo: dist/ is missing: run `npm install` (or `npm run build`) in this checkout\n',
    );
    process.exit(2);
  }
  process.exitCode = await cli.main(process.argv.slice(2));
} else {
  runUnderNewerNode();
}

function runUnderNewerNode() {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  // stdout is the folder; stderr (what it fetches, or what to install) goes straight to the user.
  const found = spawnSync('bash', [join(root, 'scripts', 'ensure-node.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (found.error) {
    process.stderr.write(
      `mittelo: needs Node.js 22 or newer (this is ${process.version}), and could not run ` +
        `scripts/ensure-node.sh to fetch it (${found.error.code ?? found.error.message}): install Node.js 22 ` +
        'or newer (https://nodejs.org, or your package manager)\n',
    );
    process.exit(2);
  }
  if (found.status !== 0) process.exit(2); // it said what to install
  const node = join(found.stdout.trim(), 'node');
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  child.on('error', (error) => {
    process.stderr.write(`mittelo: could not start ${node}: ${error.message}\n`);
    process.exit(2);
  });
  // A signal sent to this pid is passed on. A Ctrl-C on the terminal reaches the child already
  // (same process group): passing that one on too would make it a second Ctrl-C ("stop at once").
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']) {
    process.on(signal, () => {
      if (signal === 'SIGINT' || signal === 'SIGQUIT' ? !inTerminalForeground() : true) child.kill(signal);
    });
  }
  child.on('exit', (code, signal) => {
    if (code !== null) process.exit(code);
    // Die of the same signal, so whoever started us sees what happened to the command.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    process.exit(128 + (constants.signals[signal] ?? 1));
  });
}

/**
 * Whether this process is in the foreground process group of a terminal, where the terminal's
 * Ctrl-C (SIGINT) and Ctrl-\ (SIGQUIT) reach every process of the group, the child included.
 * Linux: /proc/self/stat has our process group (field 5) and the terminal's foreground group
 * (field 8); elsewhere a terminal on stdin is taken as the sign.
 */
function inTerminalForeground() {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] === fields[5];
  } catch {
    return Boolean(process.stdin.isTTY);
  }
}
