#!/usr/bin/env bash
# Install the third-party MCP clients CI runs against our server into a git-ignored cache folder, exactly as
# locked in .ci/npm/package-lock.json (`npm ci`): Node 22 (npm package node@22: the Inspector and the conformance
# suite need Node >= 22), the MCP Inspector (its --cli mode) and the official conformance suite.
# Idempotent: reinstalls only when the lock file changed. Needs npm (any version) and the npm registry.
# To move a pin: edit .ci/npm/package.json, run `npm install --package-lock-only` in .ci/npm, commit both.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${NPM_TOOLS_DIR:-$ROOT/.cache/npm-tools}"
LOCK="$ROOT/.ci/npm/package-lock.json"
STAMP="$TOOLS/.lock.sha256"

mkdir -p "$TOOLS"
want="$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ] || [ ! -x "$TOOLS/node_modules/node/bin/node" ]; then
  echo "npm-tools: installing into $TOOLS" >&2
  rm -rf "$TOOLS/node_modules"
  cp "$ROOT/.ci/npm/package.json" "$LOCK" "$TOOLS/"
  (cd "$TOOLS" && HOME="$TOOLS/home" npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$want" > "$STAMP"
fi
echo "npm-tools: node $("$TOOLS/node_modules/node/bin/node" --version)," \
  "$(cd "$TOOLS" && node_modules/node/bin/node -e 'const p=require("./package.json").dependencies; console.log(Object.entries(p).map(([k,v])=>k+"@"+v).join(" "))')" >&2
