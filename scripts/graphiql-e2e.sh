#!/usr/bin/env bash
# The self-hosted GraphiQL in a real browser: the blog on a seeded SQLite
# file, and Debian's Chromium driven by playwright-core
# (examples/blog/e2e/graphiql.mjs) running a query through the UI, and the
# REST API's Redoc page (examples/blog/e2e/api-docs.mjs). The screenshots
# are kept at target/e2e/graphiql.png and target/e2e/api-docs.png. Installs Node.js and
# Chromium from Debian when missing (never a browser download of its own).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/need.sh
need node:nodejs npm:npm curl:curl chromium:chromium python3:python3
(cd examples/blog/e2e && npm ci --no-audit --no-fund --loglevel=error)

cargo build --locked -q -p blog
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export DATABASE_URL="sqlite:$work/blog.sqlite3"
target/debug/blog seed --users 3 --posts 5 --comments 10 --tags 2 >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
GRAPHLOOM_JWT_SECRET=graphiql-e2e-secret-of-enough-bytes RUST_LOG=warn \
  target/debug/blog serve --addr "127.0.0.1:$port" &
pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
mkdir -p target/e2e
CHROMIUM=$(command -v chromium) node examples/blog/e2e/graphiql.mjs "http://127.0.0.1:$port" target/e2e/graphiql.png
CHROMIUM=$(command -v chromium) node examples/blog/e2e/api-docs.mjs "http://127.0.0.1:$port" target/e2e/api-docs.png
