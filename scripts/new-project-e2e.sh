#!/usr/bin/env bash
# `graphloom new` end to end: generates a workspace from this checkout's
# templates into a temporary folder and proves it is ready to work in, as a
# new user would find it: fmt and clippy clean, migrations current, its own
# tests passing (on SQLite; on PostgreSQL too when E2E_PG_URL is set); then
# `startapp` and `startservice` and the same again; then the two services
# compose (`schema --supergraph`, refusing a broken key), and `schema --diff`
# exits 0 on a safe change and 1 on a breaking one. The generated project
# builds into this checkout's target folder, so only its own crates compile.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export CARGO_TARGET_DIR=$repo/target
export RUST_BACKTRACE=0
cargo build -q -p graphloom-cli
graphloom=$repo/target/debug/graphloom

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
start=$(date +%s)
"$graphloom" new mysite --graphloom-path "$repo"
cd mysite

check() {
  echo "-- fmt, clippy, migrations, tests ($*)"
  cargo fmt --all --check
  cargo clippy -q --all-targets -- -D warnings
  for s in services/*/; do
    cargo run -q -p "$(basename "$s")" -- makemigrations --check
  done
  cargo test -q
  if [ -n "${E2E_PG_URL:-}" ]; then
    GRAPHLOOM_TEST_DATABASE_URL=$E2E_PG_URL cargo test -q
  fi
}

check "graphloom new"
echo "graphloom new -> tests passed in $(( $(date +%s) - start )) s (dependencies shared with this checkout's build)"
test -s services/mysite/schema.graphql || { echo "the first test run did not write schema.graphql" >&2; exit 1; }

"$graphloom" startapp shop
"$graphloom" startservice billing
"$graphloom" startapp ledger --service billing
grep -q '.app(shop::app())' services/mysite/src/lib.rs
grep -q '.app(ledger::app())' services/billing/src/lib.rs
check "startapp, startservice"

echo "-- schema --supergraph: the two services compose (the composers from composition/)"
(cd composition && npm ci --no-audit --no-fund --loglevel=error)
cargo run -q -p billing -- schema --federation > $work/billing.graphql
cargo run -q -p mysite -- schema --supergraph billing=$work/billing.graphql | tee $work/compose.out
grep -q "mysite composes with billing" $work/compose.out
# billing's User by a key mysite's User lacks: refused, exit 1.
sed 's/@key(fields: "id")/@key(fields: "uid")/' $work/billing.graphql > $work/billing-broken.graphql
if cargo run -q -p mysite -- schema --supergraph billing=$work/billing-broken.graphql > $work/broken.out 2>&1; then
  cat $work/broken.out; echo "schema --supergraph accepted a key no subgraph defines" >&2; exit 1
fi
grep -q 'Cannot query field "uid"' $work/broken.out

echo "-- schema --diff"
cargo run -q -p mysite -- schema --diff services/mysite/schema.graphql
# A field the old schema had and the new lacks: breaking, exit 1.
awk '{print} /^type Note /{t=1} /^}/{t=0} t && /^\ttitle: String!$/{print "\tsubtitle: String!"}' services/mysite/schema.graphql > $work/old-breaking.graphql
grep -q subtitle $work/old-breaking.graphql
if cargo run -q -p mysite -- schema --diff $work/old-breaking.graphql; then
  echo "schema --diff accepted a removed field" >&2; exit 1
fi
cargo run -q -p mysite -- schema --diff $work/old-breaking.graphql --allow-breaking >/dev/null
# A field the old schema lacked (Note.body): safe, exit 0.
awk '/^type Note /{t=1} /^}/{t=0} !(t && /^\tbody: String!$/)' services/mysite/schema.graphql > $work/old-safe.graphql
cargo run -q -p mysite -- schema --diff $work/old-safe.graphql | tee $work/safe.out
grep -q "FIELD_ADDED" $work/safe.out
echo "new-project e2e passed"
