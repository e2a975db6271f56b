#!/usr/bin/env bash
# Compares graphloom's breaking-change classification (`schema --diff`) with
# graphql-inspector's (npm @graphql-inspector/core) on the schema pairs of
# crates/graphloom-graphql/tests/inspector/pairs.json, and fails on any
# difference not documented on graphloom_graphql::diff::Kind. Installs
# Node.js from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need.sh
need node:nodejs npm:npm
dir=crates/graphloom-graphql/tests/inspector
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
ours=$(mktemp)
trap 'rm -f "$ours"' EXIT
cargo run --locked -q -p graphloom-graphql --example diff_pairs > "$ours"
node "$dir/compare.mjs" "$ours"
