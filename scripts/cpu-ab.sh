#!/usr/bin/env bash
# CPU per request of two `blog` builds, alternating, for a fixed cost that
# the load benchmark's noise hides: each serves a copy of one seeded SQLite
# file and answers `post(id:)` under `wrk -t2 -c16` for 5 s after a 1 s
# warm-up; CPU is the server process's (utime + stime from /proc).
# Usage: scripts/cpu-ab.sh OLD_BLOG NEW_BLOG [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need.sh
need wrk:wrk
old=$1 new=$2 rounds=${3:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
DATABASE_URL="sqlite:$work/seed.sqlite3" "$new" seed --users 100 --posts 1000 --comments 1000 --tags 10 >/dev/null
cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"query($id: ID!) { post(id: $id) { id title slug status createdAt author { id username } } }","variables":{"id":"1"}}'
LUA
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
measure() { # binary label
  rm -f "$work"/run.sqlite3*
  cp "$work/seed.sqlite3" "$work/run.sqlite3"
  DATABASE_URL="sqlite:$work/run.sqlite3" GRAPHLOOM_JWT_SECRET=cpu-ab-secret-of-enough-bytes RUST_LOG=warn \
    "$1" serve --addr "127.0.0.1:$port" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  wrk -t2 -c16 -d1s -s "$work/post.lua" "http://127.0.0.1:$port/graphql" >/dev/null
  local t0 t1 out reqs
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$(wrk -t2 -c16 -d5s -s "$work/post.lua" "http://127.0.0.1:$port/graphql")
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # Clock ticks are 1/100 s.
  python3 -c "print('$2', $reqs, 'requests', round(($t1 - $t0) * 10000 / $reqs, 1), 'us CPU per request')"
}
for _ in $(seq "$rounds"); do
  measure "$old" old
  measure "$new" new
done
