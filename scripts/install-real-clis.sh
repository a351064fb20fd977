#!/usr/bin/env bash
# Install the real vendor CLIs that come from npm, at the versions in docs/cli-lock.json, into a
# folder outside the project (default ~/.cache/mittelo/real-clis), for the tests that run them
# offline. Prints the folder of their executables on stdout. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${MITTELO_REAL_CLIS_DIR:-$HOME/.cache/mittelo/real-clis}"
mkdir -p "$dir"
packages=$(node -e '
  const lock = require("./docs/cli-lock.json");
  console.log(Object.values(lock.clis).filter((c) => c.package && c.version).map((c) => `${c.package}@${c.version}`).join(" "));
')
if [ ! -f "$dir/package.json" ]; then echo '{ "name": "mittelo-real-clis", "private": true }' > "$dir/package.json"; fi
# The CLIs' own install scripts must run (claude and opencode put their native binaries in place).
( cd "$dir" && npm install --no-audit --no-fund --loglevel=error $packages >&2 )
echo "$dir/node_modules/.bin"
