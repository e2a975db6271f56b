#!/usr/bin/env bash
# The load benchmark (examples/blog/benches/load.rs): the blog over HTTP
# against a hand-written axum + sqlx baseline, with wrk, on SQLite and on a
# throwaway PostgreSQL cluster. Installs wrk and PostgreSQL from Debian when
# they are missing. Takes about 5 minutes; GRAPHLOOM_LOAD_SECONDS (default
# 10) is the measured time per operation and side.
# Usage: scripts/load-bench.sh   (results: docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/need.sh
need wrk:wrk

# Its own cluster, beside the test suite's.
export GRAPHLOOM_PG_PORT=${GRAPHLOOM_PG_PORT:-54339}
pg_env=$(scripts/postgres.sh start)
trap 'scripts/postgres.sh stop' EXIT
eval "$pg_env"
base=${GRAPHLOOM_TEST_DATABASE_URL%/postgres}
unset GRAPHLOOM_TEST_DATABASE_URL
psql_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/psql
"$psql_bin" "$base/postgres" -qc "DROP DATABASE IF EXISTS load" -c "CREATE DATABASE load"

GRAPHLOOM_BENCH_DATABASE_URL="$base/load" cargo bench -p blog --bench load
