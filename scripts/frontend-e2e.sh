#!/usr/bin/env bash
# The frontend flow, end to end: the blog's SDL is exported, graphql-codegen's
# client preset types examples/blog/frontend's operations from it and writes
# the persisted-documents manifest, tsc compiles the app, and the app runs
# against the blog serving that manifest as its only trusted documents. Then
# the build must fail against two broken schemas: one without a field the app
# selects (codegen refuses the document) and one where a field the app uses
# became nullable (tsc refuses the code). Installs Node.js and curl if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need.sh
need node:nodejs npm:npm curl:curl
front=examples/blog/frontend
(cd "$front" && npm ci --no-audit --no-fund --loglevel=error)
cargo build --locked -q -p blog
blog=$(pwd)/target/debug/blog
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

build() { (cd "$front" && SCHEMA=$1 npx graphql-codegen --config codegen.ts && npx tsc); }

echo "-- codegen and tsc against the blog's SDL"
"$blog" schema > "$work/schema.graphql"
build "$work/schema.graphql"

echo "-- the app against the blog, with only the manifest's documents trusted"
port=$(( 20000 + RANDOM % 20000 ))
DATABASE_URL=sqlite:$work/blog.sqlite3 "$blog" demo --addr "127.0.0.1:$port" \
  --trusted-documents "$front/src/gql/persisted-documents.json" --trusted-documents-only \
  > "$work/blog.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
out=$(node "$front/dist/main.js" "http://127.0.0.1:$port/graphql")
echo "$out"
echo "$out" | grep -q "posts; the newest:"
[ "$(echo "$out" | grep -c '^- ')" = 5 ]
# A document outside the manifest is refused.
code=$(curl -s -o "$work/refused.json" -w '%{http_code}' -H 'content-type: application/json' \
  -d '{"query":"{ posts { totalCount } }"}' "http://127.0.0.1:$port/graphql")
grep -q QUERY_NOT_IN_SAFELIST "$work/refused.json" || { echo "untrusted document answered ($code): $(cat "$work/refused.json")" >&2; exit 1; }

# Edits Post in the SDL with graphql-js: $1 = remove FIELD | nullable FIELD.
edit_post() {
  (cd "$front" && node --input-type=module -e '
    import { readFileSync } from "node:fs";
    import { parse, print, visit, Kind } from "graphql";
    const [file, how, field] = process.argv.slice(1);
    const doc = visit(parse(readFileSync(file, "utf8")), {
      ObjectTypeDefinition(node) {
        if (node.name.value !== "Post") return;
        const fields = how === "remove"
          ? node.fields.filter((f) => f.name.value !== field)
          : node.fields.map((f) => f.name.value === field && f.type.kind === Kind.NON_NULL_TYPE ? { ...f, type: f.type.type } : f);
        return { ...node, fields };
      },
    });
    console.log(print(doc));
  ' "$work/schema.graphql" "$1" "$2")
}

echo "-- a schema without Post.readingMinutes: the build must fail"
edit_post remove readingMinutes > "$work/removed.graphql"
! grep -q readingMinutes "$work/removed.graphql"
if build "$work/removed.graphql" > "$work/removed.log" 2>&1; then
  echo "the frontend built against a schema without a field it selects" >&2; exit 1
fi
grep -q 'Cannot query field "readingMinutes"' "$work/removed.log"

echo "-- a schema where Post.title is nullable: tsc must fail"
edit_post nullable title > "$work/nullable.graphql"
if build "$work/nullable.graphql" > "$work/nullable.log" 2>&1; then
  echo "the frontend compiled against a schema where title may be null" >&2; exit 1
fi
grep -q "TS18047" "$work/nullable.log"

build "$work/schema.graphql" >/dev/null
echo "frontend e2e passed"
