#!/usr/bin/env bash
# End-to-end federation test: the three example services on 127.0.0.1, each
# with its own SQLite database, composed by both composers and served by two
# gateways: Apollo Gateway (e2e.mjs logs in, writes and reads across all three)
# and Hive Gateway over the SDL with @authenticated / @requiresScopes, which it
# enforces (hive-e2e.mjs). accounts signs tokens with an Ed25519 key; products
# and reviews verify them through accounts' JWKS endpoint. Installs Node.js,
# curl and openssl from Debian if missing.
#
# Then Apollo's subgraph compatibility "products" schema (the compat service)
# with the suite's users and inventory subgraphs (compat-subgraphs.mjs),
# composed by both composers and checked through both gateways
# (compat-e2e.mjs).
#
# `bash scripts/federation-e2e.sh serve` starts the same stack on fixed ports
# (Apollo Gateway 4000, accounts 4001, products 4002, reviews 4003, Hive
# Gateway 4004; compat 4005, users 4006, inventory 4007, its Apollo Gateway
# 4008 and Hive Gateway 4009) with a superuser admin / e2e-password-1, and
# keeps it running until Ctrl-C instead of testing.
#
# With E2E_POSTGRES=postgres://user@host:port (a server, as scripts/postgres.sh
# starts), each service gets its own fresh PostgreSQL database instead of a
# SQLite file; they are dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
case $mode in test|serve|routers) ;; *) echo "usage: $0 [serve|routers]" >&2; exit 2 ;; esac
export APOLLO_TELEMETRY_DISABLED=true

. scripts/need.sh
need node:nodejs npm:npm curl:curl openssl:openssl
(cd examples/federation/gateway && npm ci --no-audit --no-fund --loglevel=error)

cargo build --locked -q -p federation-example
bin=target/debug
work=$(mktemp -d)
pids=()
pg=${E2E_POSTGRES:-}
databases=()
db_url() { # service name -> its database URL
  if [ -n "$pg" ]; then echo "$pg/e2e_$$_$1"; else echo "sqlite:$work/$1.sqlite3"; fi
}
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for d in "${databases[@]}"; do psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $d" || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM
if [ -n "$pg" ]; then
  for s in accounts products reviews compat shelves; do
    psql -q "$pg/postgres" -c "CREATE DATABASE e2e_$$_$s"
    databases+=("e2e_$$_$s")
  done
  echo "databases: PostgreSQL at $pg"
fi

if [ "$mode" = serve ]; then
  p_gw=4000 p_acc=4001 p_prod=4002 p_rev=4003 p_hive=4004
  p_compat=4005 p_users=4006 p_inv=4007 p_cgw=4008 p_chive=4009
else
  # Free ports from the kernel, so parallel runs and busy machines do not clash.
  read -r p_gw p_acc p_prod p_rev p_hive p_compat p_users p_inv p_cgw p_chive < <(node -e '
  const net = require("node:net");
  Promise.all([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(() => new Promise((ok) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => ok(s));
  }))).then((ss) => { console.log(ss.map((s) => s.address().port).join(" ")); ss.forEach((s) => s.close()); });')
fi

# Prints the three services' subgraph SDL (with the `schema` flags given) to
# $work/<service><suffix>.graphql and composes them; the caller's EXPECT,
# SUPERGRAPH and GUILD_SUPERGRAPH go to compose.mjs.
compose_services() { # suffix, [schema flags…]
  local suffix=$1 args=() s name port
  shift
  for s in accounts:$p_acc products:$p_prod reviews:$p_rev; do
    name=${s%%:*} port=${s##*:}
    "$bin/$name" schema --federation "$@" > "$work/$name$suffix.graphql"
    args+=("$name=$work/$name$suffix.graphql=http://127.0.0.1:$port/graphql")
  done
  node examples/federation/gateway/compose.mjs "${args[@]}"
}
# @composeDirective: products' @owner reaches the supergraph.
EXPECT='@owner(team: "catalogue")' SUPERGRAPH="$work/supergraph.graphql" compose_services ""
# @interfaceObject: the ratings service of the blog's federation tests (its SDL
# as snapshotted there, without insta's header) with a media service that owns
# the Media interface.
echo "ratings (@interfaceObject Media) with the media fixture:"
awk 'seen >= 2 { print } /^---$/ && seen < 2 { seen++ }' \
  examples/blog/tests/blog/snapshots/blog__federation__ratings_subgraph.snap > "$work/ratings.graphql"
node examples/federation/gateway/compose.mjs \
  "media=examples/federation/gateway/fixtures/media.graphql" "ratings=$work/ratings.graphql"
# The auth directives are for gateways that enforce them (Apollo Gateway
# refuses them): check that they compose, with both composers.
echo "with --auth-directives:"
EXPECT='@authenticated|@requiresScopes(scopes:' GUILD_SUPERGRAPH="$work/supergraph-auth.graphql" \
  compose_services -auth --auth-directives

openssl genpkey -algorithm ed25519 -out "$work/jwt.pem" 2>/dev/null
export GRAPHLOOM_SECRET_KEY=e2e-secret-key-that-is-long-enough-000
export GRAPHLOOM_SUPERUSER_PASSWORD=e2e-password-1
"$bin/accounts" migrate --database-url "$(db_url accounts)" >/dev/null
"$bin/accounts" createsuperuser --no-input --username admin --email admin@example.com \
  --database-url "$(db_url accounts)" >/dev/null

wait_for() { # url, name, [curl options]
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "${@:3}" "$1" && return 0
    sleep 0.2
  done
  echo "$2 did not start; its log:" >&2
  cat "$work/$2.log" >&2
  exit 1
}

# Tokens name the services that accept them: accounts itself, the other two
# and the gateway that verifies them (Hive Gateway, audience `gateway`).
GRAPHLOOM_JWT_AUDIENCES=products,reviews,gateway \
GRAPHLOOM_JWT_PRIVATE_KEY_FILE="$work/jwt.pem" "$bin/accounts" serve --addr "127.0.0.1:$p_acc" \
  --database-url "$(db_url accounts)" >"$work/accounts.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$p_acc/.well-known/jwks.json" accounts
for s in products:$p_prod reviews:$p_rev; do
  name=${s%%:*} port=${s##*:}
  GRAPHLOOM_JWKS_URL="http://127.0.0.1:$p_acc/.well-known/jwks.json" GRAPHLOOM_SESSION_CHECK_TTL_MS=300 "$bin/$name" serve \
    --addr "127.0.0.1:$port" --database-url "$(db_url "$name")" >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$port/readyz" "$name"
done

PORT=$p_gw node examples/federation/gateway/gateway.mjs "$work/supergraph.graphql" >"$work/gateway.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$p_gw/" gateway -H 'content-type: application/json' -d '{"query":"{__typename}"}'
PORT=$p_hive JWT_AUDIENCE=gateway JWKS_URL="http://127.0.0.1:$p_acc/.well-known/jwks.json" \
  node examples/federation/gateway/hive.mjs "$work/supergraph-auth.graphql" >"$work/hive.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$p_hive/graphql" hive -H 'content-type: application/json' -d '{"query":"{__typename}"}'

# Apollo's compatibility "products" subgraph, migrated (which loads the
# suite's data), with the suite's users and inventory subgraphs; both
# composers compose them with only the two hints the suite's schemas mean to
# give, and both gateways serve the supergraph.
compat_dir=examples/federation/gateway/compat
"$bin/compat" migrate --database-url "$(db_url compat)" >/dev/null
"$bin/compat" serve --addr "127.0.0.1:$p_compat" --database-url "$(db_url compat)" >"$work/compat.log" 2>&1 &
pids+=($!)
USERS_PORT=$p_users INVENTORY_PORT=$p_inv node examples/federation/gateway/compat-subgraphs.mjs >"$work/compat-subgraphs.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$p_compat/readyz" compat
wait_for "http://127.0.0.1:$p_inv/" compat-subgraphs -H 'content-type: application/json' -d '{"query":"{__typename}"}'
"$bin/compat" schema --federation > "$work/compat.graphql"
echo "compat with the suite's users and inventory:"
HINTS='"ProductDimension.unit" is defined in subgraph "products" but not in subgraph "inventory"|Field "User.name" on subgraph "users" is overridden' \
  EXPECT='@custom' SUPERGRAPH="$work/compat-supergraph.graphql" GUILD_SUPERGRAPH="$work/compat-guild.graphql" \
  node examples/federation/gateway/compose.mjs \
  "products=$work/compat.graphql=http://127.0.0.1:$p_compat/graphql" \
  "users=$compat_dir/users.graphql=http://127.0.0.1:$p_users/" \
  "inventory=$compat_dir/inventory.graphql=http://127.0.0.1:$p_inv/"
PORT=$p_cgw node examples/federation/gateway/gateway.mjs "$work/compat-supergraph.graphql" >"$work/compat-gateway.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$p_cgw/" compat-gateway -H 'content-type: application/json' -d '{"query":"{__typename}"}'
PORT=$p_chive JWKS_URL="http://127.0.0.1:$p_acc/.well-known/jwks.json" \
  node examples/federation/gateway/hive.mjs "$work/compat-guild.graphql" >"$work/compat-hive.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$p_chive/graphql" compat-hive -H 'content-type: application/json' -d '{"query":"{__typename}"}'

if [ "$mode" = serve ]; then
  echo "compat: Apollo Gateway http://127.0.0.1:$p_cgw/, Hive Gateway http://127.0.0.1:$p_chive/graphql"
  echo "Apollo Gateway: http://127.0.0.1:$p_gw/, Hive Gateway: http://127.0.0.1:$p_hive/graphql"
  echo "(log in as admin / e2e-password-1); Ctrl-C stops everything"
  wait
  exit 0
fi

logs() {
  for s in accounts products reviews gateway hive compat compat-subgraphs compat-gateway compat-hive; do
    echo "== $s log" >&2; tail -20 "$work/$s.log" >&2
  done
  exit 1
}
GATEWAY="http://127.0.0.1:$p_gw/" node examples/federation/gateway/e2e.mjs || logs
if [ "$mode" = routers ]; then
  # Over the data e2e.mjs wrote (before hive-e2e.mjs adds to it), the same
  # two supergraphs under the Rust routers, each built once with
  # `cargo install` into target/routers (ROUTERS_DIR): Hive Router (MIT) and
  # Apollo Router (Elastic License 2.0; no GraphOS key, so no enterprise
  # features: it serves the supergraph's @listSize/@cost without pricing
  # operations). Not part of CI: the first build takes the better part of an
  # hour on two cores. Versions are the newest that build with this
  # toolchain (rustc 1.95).
  echo "-- under Hive Router and Apollo Router"
  routers=${ROUTERS_DIR:-target/routers}
  install_router() { # crate, version, binary, [cargo install options…]
    [ -x "$routers/$1/bin/$3" ] || cargo install "$1@$2" --locked --root "$routers/$1" "${@:4}" >&2
    echo "$routers/$1/bin/$3"
  }
  # Hive Router's `graphiql` feature skips its build script's `npm install`
  # of a UI package the npm registry no longer serves.
  # ROUTERS="hive" (or "apollo") runs one of the two.
  which_routers=${ROUTERS:-hive apollo}
  case " $which_routers " in *" hive "*)
    hive_router=$(install_router hive-router 0.2.19 hive_router --features graphiql) ;;
  esac
  case " $which_routers " in *" apollo "*)
    need protoc:protobuf-compiler # its build compiles .proto files
    apollo_router=$(install_router apollo-router 2.16.5 router) ;;
  esac
  read -r p_hr p_ar < <(node -e '
  const net = require("node:net");
  Promise.all([1, 2].map(() => new Promise((ok) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => ok(s));
  }))).then((ss) => { console.log(ss.map((s) => s.address().port).join(" ")); ss.forEach((s) => s.close()); });')
  run_router() { # name, supergraph, e2e script
    local name=$1 supergraph=$2 script=$3 pid
    case " $which_routers " in *" hive "*)
      cat > "$work/hive-router.yaml" <<YAML
supergraph:
  source: file
  path: $supergraph
http:
  host: 127.0.0.1
  port: $p_hr
headers:
  all:
    request:
      - propagate:
          named: authorization
YAML
      ROUTER_CONFIG_FILE_PATH="$work/hive-router.yaml" "$hive_router" >"$work/hive-router.log" 2>&1 &
      pid=$!
      pids+=($pid)
      wait_for "http://127.0.0.1:$p_hr/graphql" hive-router -H 'content-type: application/json' -d '{"query":"{__typename}"}'
      GATEWAY="http://127.0.0.1:$p_hr/graphql" node "examples/federation/gateway/$script" \
        || { tail -40 "$work/hive-router.log"; echo "$name under Hive Router failed" >&2; exit 1; }
      kill "$pid"; wait "$pid" 2>/dev/null || true ;;
    esac
    case " $which_routers " in *" apollo "*)
      cat > "$work/apollo-router.yaml" <<YAML
supergraph:
  listen: 127.0.0.1:$p_ar
  path: /
  introspection: true
headers:
  all:
    request:
      operations:
        - propagate:
            named: authorization
include_subgraph_errors:
  all: true
YAML
      APOLLO_TELEMETRY_DISABLED=true "$apollo_router" --supergraph "$supergraph" --config "$work/apollo-router.yaml" \
        >"$work/apollo-router.log" 2>&1 &
      pid=$!
      pids+=($pid)
      wait_for "http://127.0.0.1:$p_ar/" apollo-router -H 'content-type: application/json' -d '{"query":"{__typename}"}'
      GATEWAY="http://127.0.0.1:$p_ar/" node "examples/federation/gateway/$script" \
        || { tail -40 "$work/apollo-router.log"; echo "$name under Apollo Router failed" >&2; exit 1; }
      kill "$pid"; wait "$pid" 2>/dev/null || true ;;
    esac
  }
  run_router "the three services" "$work/supergraph.graphql" reads-e2e.mjs
  run_router compat "$work/compat-supergraph.graphql" compat-e2e.mjs
  # @context / @fromContext: the shelves service alone (Apollo Gateway
  # refuses a supergraph with contexts), with its demo data migration.
  p_shelves=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
  "$bin/shelves" migrate --database-url "$(db_url shelves)" >/dev/null
  "$bin/shelves" serve --addr "127.0.0.1:$p_shelves" --database-url "$(db_url shelves)" >"$work/shelves.log" 2>&1 &
  pids+=($!)
  wait_for "http://127.0.0.1:$p_shelves/readyz" shelves
  "$bin/shelves" schema --federation > "$work/shelves.graphql"
  echo "shelves (@context):"
  EXPECT='contextArguments' SUPERGRAPH="$work/shelves-supergraph.graphql" node examples/federation/gateway/compose.mjs \
    "shelves=$work/shelves.graphql=http://127.0.0.1:$p_shelves/graphql"
  # Under Apollo Router only: Hive Router 0.2.19 serves this supergraph but
  # plans the query without the context (one fetch; the argument is left
  # unset, so titles come without the shelf's name), as recorded in
  # examples/federation/README.md.
  case " $which_routers " in *" apollo "*)
    all_routers=$which_routers which_routers=apollo
    run_router shelves "$work/shelves-supergraph.graphql" context-e2e.mjs
    which_routers=$all_routers ;;
  esac
fi
GATEWAY="http://127.0.0.1:$p_hive/graphql" node examples/federation/gateway/hive-e2e.mjs || logs
GATEWAY="http://127.0.0.1:$p_cgw/" node examples/federation/gateway/compat-e2e.mjs || logs
GATEWAY="http://127.0.0.1:$p_chive/graphql" node examples/federation/gateway/compat-e2e.mjs || logs
# The suite's ftv1 check asks the subgraph itself; the trace is decoded.
SUBGRAPH="http://127.0.0.1:$p_compat/graphql" node examples/federation/gateway/ftv1.mjs || logs

# Verify-only services ask accounts whether a token's session is live
# (/auth/introspect, beside the JWKS; answers kept 300 ms here): a logout
# at accounts refuses the access token at products and reviews too.
echo "-- a logout at accounts reaches products and reviews"
gql() { # url, token, body -> HTTP status; the body in $work/gql.out
  curl -s -o "$work/gql.out" -w '%{http_code}' -H 'content-type: application/json' \
    ${2:+-H "authorization: Bearer $2"} -d "$3" "$1"
}
gql "http://127.0.0.1:$p_acc/graphql" "" \
  '{"query":"mutation { login(input: { login: \"admin\", password: \"e2e-password-1\" }) { accessToken refreshToken } }"}' >/dev/null
access=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).data.login.accessToken' "$work/gql.out")
refresh=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).data.login.refreshToken' "$work/gql.out")
for port in $p_prod $p_rev; do
  [ "$(gql "http://127.0.0.1:$port/graphql" "$access" '{"query":"{ __typename }"}')" = 200 ] || { cat "$work/gql.out"; exit 1; }
done
gql "http://127.0.0.1:$p_acc/graphql" "$access" "{\"query\":\"mutation { logout(input: { refreshToken: \\\"$refresh\\\" }) { ok } }\"}" >/dev/null
grep -q '"logout":{"ok":true}' "$work/gql.out" || { cat "$work/gql.out"; exit 1; }
sleep 0.4
for port in $p_prod $p_rev; do
  code=$(gql "http://127.0.0.1:$port/graphql" "$access" '{"query":"{ __typename }"}')
  [ "$code" = 401 ] || { echo "port $port answered $code to a logged-out token:"; cat "$work/gql.out"; exit 1; }
done
grep -q "the session has ended" "$work/gql.out"
echo "refused by products and reviews after the logout"

# The CLI's checks against the running services: `schema --against-url`
# finds no change against itself; `schema --supergraph` composes reviews
# with the others fetched over HTTP, and refuses (exit 1) when a subgraph
# it composes with breaks a key.
echo "-- schema --against-url and --supergraph against the running services"
"$bin/reviews" schema --against-url "http://127.0.0.1:$p_rev/graphql" | tee "$work/against.out"
grep -q "No changes against" "$work/against.out"
export GRAPHLOOM_COMPOSER_DIR=examples/federation/gateway
"$bin/reviews" schema --supergraph "accounts=http://127.0.0.1:$p_acc/graphql" \
  --supergraph "products=http://127.0.0.1:$p_prod/graphql" | tee "$work/supergraph.out"
grep -q "reviews composes with accounts, products" "$work/supergraph.out"
sed 's/@key(fields: "upc")/@key(fields: "sku")/' "$work/products.graphql" > "$work/products-broken.graphql"
if "$bin/reviews" schema --supergraph "accounts=$work/accounts.graphql" \
  --supergraph "products=$work/products-broken.graphql" > "$work/broken.out" 2>&1; then
  cat "$work/broken.out"; echo "schema --supergraph accepted a broken key" >&2; exit 1
fi
grep -q 'Cannot query field "sku" on type "Product"' "$work/broken.out"
echo "federation e2e passed"
