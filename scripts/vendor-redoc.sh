#!/usr/bin/env bash
# Writes the Redoc bundle that graphloom-server embeds to render the REST
# API's OpenAPI document at /api/docs (crates/graphloom-server/assets/redoc/),
# from the npm registry at the pinned version below, checked against the
# integrity hash npm publishes and stored gzipped (-n: the same bytes on a
# rerun). Run it to change the version, then update ASSETS in
# crates/graphloom-server/src/redoc.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
REDOC=2.5.4
out=crates/graphloom-server/assets/redoc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "redoc@$REDOC" >/dev/null)
want=$(npm view "redoc@$REDOC" dist.integrity)
got="sha512-$(openssl dgst -sha512 -binary "$work/redoc-$REDOC.tgz" | base64 -w0)"
[ "$want" = "$got" ] || { echo "redoc@$REDOC: integrity $got, npm says $want" >&2; exit 1; }
tar xzf "$work/redoc-$REDOC.tgz" -C "$work"
mkdir -p "$out"
gzip -9 -n -c "$work/package/bundles/redoc.standalone.js" > "$out/redoc.standalone.js.gz"
{
  echo "Redoc $REDOC, from the npm registry (scripts/vendor-redoc.sh). Its license"
  echo "and the notices of what its bundle includes follow."
  echo; echo "== redoc"; cat "$work/package/LICENSE"
  echo; echo "== bundled"; cat "$work/package/bundles/redoc.standalone.js.LICENSE.txt"
} > "$out/LICENSES.txt"
ls -l "$out"
