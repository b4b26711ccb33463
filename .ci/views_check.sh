#!/usr/bin/env bash
# The committed MCP Apps views (cleavr_mcp/views/*.html) and the test host bundle equal a fresh, deterministic
# build of views/src with the locked npm packages. A difference means: run `make views` and commit the result.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE="${NPM_TOOLS_DIR:-$ROOT/.cache/npm-tools}/node_modules/node/bin/node"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$NODE" "$ROOT/views/build.mjs" "$out/views" "$out/host"
status=0
for view in "$out"/views/*.html; do
  name="$(basename "$view")"
  cmp -s "$view" "$ROOT/cleavr_mcp/views/$name" || { echo "views-check: cleavr_mcp/views/$name is stale" >&2; status=1; }
done
cmp -s "$out/host/host.bundle.js" "$ROOT/tests/apps/host/host.bundle.js" \
  || { echo "views-check: tests/apps/host/host.bundle.js is stale" >&2; status=1; }
[ "$status" -eq 0 ] && echo "views-check: committed views equal a fresh build ($(ls "$out"/views | wc -l) views)" >&2
exit "$status"
