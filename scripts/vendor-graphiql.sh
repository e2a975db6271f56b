#!/usr/bin/env bash
# Writes the GraphiQL assets that graphloom-server embeds and serves itself
# (crates/graphloom-server/assets/graphiql/), from the npm registry, at the
# pinned versions below: GraphiQL 3's UMD bundle and the React 18 UMD builds
# it runs on (React 19 has none). Each tarball is checked against the
# integrity hash npm publishes; files are stored gzipped (-n: no name or
# time, so a rerun writes the same bytes). Run it to change a version,
# then update the constants in crates/graphloom-server/src/graphiql.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
GRAPHIQL=3.8.3
REACT=18.3.1
out=crates/graphloom-server/assets/graphiql
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for pkg in "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT"; do
  name=${pkg%@*}
  want=$(npm view "$pkg" dist.integrity)
  got="sha512-$(openssl dgst -sha512 -binary "$work/$name-${pkg#*@}.tgz" | base64 -w0)"
  [ "$want" = "$got" ] || { echo "$pkg: integrity $got, npm says $want" >&2; exit 1; }
  mkdir -p "$work/$name" && tar xzf "$work/$name-${pkg#*@}.tgz" -C "$work/$name"
done
gzip -9 -n -c "$work/graphiql/package/graphiql.min.js" > "$out/graphiql.min.js.gz"
gzip -9 -n -c "$work/graphiql/package/graphiql.min.css" > "$out/graphiql.min.css.gz"
gzip -9 -n -c "$work/react/package/umd/react.production.min.js" > "$out/react.production.min.js.gz"
gzip -9 -n -c "$work/react-dom/package/umd/react-dom.production.min.js" > "$out/react-dom.production.min.js.gz"
{
  echo "GraphiQL $GRAPHIQL, React $REACT and ReactDOM $REACT, from the npm registry"
  echo "(scripts/vendor-graphiql.sh). Their licenses follow."
  for name in graphiql react react-dom; do
    echo; echo "== $name"; cat "$work/$name/package/LICENSE"
  done
} > "$out/LICENSES.txt"
ls -l "$out"
