#!/usr/bin/env bash
# The self-hosted GraphiQL in a real browser: the blog on a seeded SQLite
# file, and Debian's Chromium driven by playwright-core
# (examples/blog/e2e/graphiql.mjs) running a query through the UI, and the
# REST API's Redoc page (examples/blog/e2e/api-docs.mjs), and the admin used
# as staff would (examples/blog/e2e/admin.mjs). The screenshots are kept in
# target/e2e/ (graphiql.png, api-docs.png, admin-list.png, admin-edit.png). Installs Node.js and
# Chromium from Debian when missing (never a browser download of its own).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/need.sh
need node:nodejs npm:npm curl:curl chromium:chromium python3:python3
(cd examples/blog/e2e && npm ci --no-audit --no-fund --loglevel=error)

. scripts/seeded-blog.sh graphiql-e2e
mkdir -p target/e2e
CHROMIUM=$(command -v chromium) node examples/blog/e2e/graphiql.mjs "$base" target/e2e/graphiql.png
CHROMIUM=$(command -v chromium) node examples/blog/e2e/api-docs.mjs "$base" target/e2e/api-docs.png
CHROMIUM=$(command -v chromium) node examples/blog/e2e/admin.mjs "$base" target/e2e
