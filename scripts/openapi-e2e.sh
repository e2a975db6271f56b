#!/usr/bin/env bash
# The REST API's OpenAPI document, end to end: the blog serves it, Redocly
# lints it (its recommended rules, warnings as errors:
# examples/blog/rest-client/redocly.yaml), openapi-typescript types it, tsc
# compiles a client that uses those types (examples/blog/rest-client), and
# the client runs against the blog: lists with an expansion, creates,
# changes on a version, meets 412 on a stale one, calls the service's own
# endpoints. Then tsc must refuse the client against a document that lost
# a field it reads. The lint report is kept at target/e2e/openapi-lint.txt.
# Installs Node.js and curl if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need.sh
need node:nodejs npm:npm curl:curl python3:python3
client=examples/blog/rest-client
(cd "$client" && npm ci --no-audit --no-fund --loglevel=error)
. scripts/seeded-blog.sh openapi-e2e
curl -fsS "$base/api/openapi.json" > "$work/openapi.json"
mkdir -p target/e2e
echo "-- redocly lint (recommended-strict)"
(cd "$client" && npx redocly lint "$work/openapi.json" --config redocly.yaml --format=stylish) \
  2>&1 | grep -v '[║╔╚]' | tee target/e2e/openapi-lint.txt
grep -q "Your API description is valid" target/e2e/openapi-lint.txt

types() { (cd "$client" && npx openapi-typescript "$1" -o src/api.d.ts >/dev/null 2>&1 && npx tsc); }
echo "-- openapi-typescript, tsc, and the typed client against the blog"
types "$work/openapi.json"
DEMO_PASSWORD=graphloom-demo node "$client/dist/main.js" "$base"

echo "-- tsc refuses the client when the document loses Post.title"
python3 - "$work/openapi.json" "$work/broken.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
post = doc["components"]["schemas"]["Post"]
del post["properties"]["title"]
post["required"].remove("title")
json.dump(doc, open(sys.argv[2], "w"))
PY
if types "$work/broken.json" > "$work/tsc.txt" 2>&1; then
  echo "tsc accepted a client that reads a field the document no longer has" >&2
  exit 1
fi
grep "title" "$work/tsc.txt"
types "$work/openapi.json" >/dev/null
echo "openapi e2e: ok"
