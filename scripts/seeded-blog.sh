# Sourced by the e2e scripts: builds the blog, seeds a SQLite file with a
# small data set (3 users, 5 posts, 10 comments, 2 tags; the demo password)
# in a temporary directory ($work), serves it on a free port of 127.0.0.1
# ($port, $base) and stops it and removes $work on exit. $1 is the signing
# secret's prefix (a name for the script).
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
base="http://127.0.0.1:$port"
GRAPHLOOM_JWT_SECRET="$1-secret-of-enough-bytes-for-hs256" RUST_LOG=warn \
  target/debug/blog serve --admin --addr "127.0.0.1:$port" &
pid=$!
for _ in $(seq 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
