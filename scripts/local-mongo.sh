#!/usr/bin/env bash
# The local default MongoDB: nx-27017 (MongoDB wire protocol over SQLite) on 127.0.0.1, data under ./var/mongo.
# Usage: scripts/local-mongo.sh start|stop|status   (port: LOCAL_MONGO_PORT, default 27117)
set -euo pipefail
cd "$(dirname "$0")/.."
port=${LOCAL_MONGO_PORT:-27117}
dir=var/mongo
pidfile=$dir/nx-27017.pid
up() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
case "${1:-status}" in
  start)
    mkdir -p "$dir"
    if up; then echo "mongodb://127.0.0.1:$port"; exit 0; fi
    nohup .venv/bin/nx-27017 --data-dir "$dir" --host 127.0.0.1 -p "$port" \
      --log-file "$dir/nx-27017.log" --pid-file "$pidfile" >/dev/null 2>&1 &
    echo $! > "$dir/server.pid"
    for _ in $(seq 1 100); do up && break; sleep 0.1; done
    up || { echo "local MongoDB did not start; see $dir/nx-27017.log" >&2; exit 1; }
    echo "mongodb://127.0.0.1:$port"
    ;;
  stop)
    if [ -f "$dir/server.pid" ]; then kill "$(cat "$dir/server.pid")" 2>/dev/null || true; rm -f "$dir/server.pid"; fi
    ;;
  status)
    if up; then echo "running: mongodb://127.0.0.1:$port (data: $PWD/$dir)"; else echo "not running"; exit 1; fi
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
