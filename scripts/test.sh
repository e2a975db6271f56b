#!/usr/bin/env bash
# The whole test suite, as CI runs it: every test on embedded SQLite, then
# every test again on a throwaway PostgreSQL cluster that this script installs
# (from Debian, if missing) and starts on 127.0.0.1, and the federation example
# end to end behind Apollo Gateway and Hive Gateway (scripts/federation-e2e.sh),
# on SQLite and on PostgreSQL, and the self-hosted GraphiQL in Chromium
# (scripts/graphiql-e2e.sh). Nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }

pg_env=$(scripts/postgres.sh start)
trap 'scripts/postgres.sh stop' EXIT
eval "$pg_env"
pg_url=$GRAPHLOOM_TEST_DATABASE_URL
unset GRAPHLOOM_TEST_DATABASE_URL

echo "== tests on SQLite (in-memory databases)"
cargo test --workspace --locked

echo "== federation: three services on SQLite behind Apollo Gateway and Hive Gateway"
bash scripts/federation-e2e.sh

echo "== GraphiQL, served by the blog itself, in Debian's Chromium"
bash scripts/graphiql-e2e.sh

echo "== federation: the same on PostgreSQL"
E2E_POSTGRES=${pg_url%/postgres} bash scripts/federation-e2e.sh

echo "== tests on PostgreSQL ($pg_url)"
GRAPHLOOM_TEST_DATABASE_URL=$pg_url cargo test --workspace --locked
