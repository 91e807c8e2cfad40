#!/usr/bin/env bash
# `make crawl`: crawl BOARDS (comma-separated) for PAGES list pages each into MongoDB.
# With MONGO_URI set, stores there; without it, starts the local nx-27017 server (data under ./var/mongo).
set -euo pipefail
cd "$(dirname "$0")/.."
boards=${1:-600519,usBABA,hk09988}
pages=${2:-2}
shift 2 || true
started=""
if [ -z "${MONGO_URI:-}" ]; then
  if ! bash scripts/local-mongo.sh status >/dev/null 2>&1; then started=1; fi
  MONGO_URI=$(bash scripts/local-mongo.sh start)
  export MONGO_URI
  echo "MONGO_URI is not set: storing in the local MongoDB-protocol server at $MONGO_URI (data: $PWD/var/mongo)"
fi
status=0
.venv/bin/scrapy crawl guba -a boards="$boards" -a pages="$pages" "$@" || status=$?
if [ -n "$started" ]; then
  bash scripts/local-mongo.sh stop
  echo "Data is in $PWD/var/mongo; read it with: bash scripts/local-mongo.sh start  (then mongodb://127.0.0.1:${LOCAL_MONGO_PORT:-27117}, database guba)"
fi
exit $status
