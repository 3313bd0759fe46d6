#!/usr/bin/env bash
# Starts a throwaway Redis on 127.0.0.1 for the queue tests (BullMQ), installing Debian's redis-server when it is
# missing. Prints an `export REDIS_URL=...` line for the caller to eval; progress goes to stderr.
# Usage: eval "$(bash .ci/redis.sh start)"   ...   bash .ci/redis.sh stop "$GRACEFUL_REDIS_DIR"
set -euo pipefail

log () { echo "redis: $*" >&2; }

start () {
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" != "0" ]; then log "not installed and not root: skipping"; return 0; fi
    log "installing from Debian packages"
    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server) >/dev/null 2>&1 || {
      log "install failed: the queue tests will skip"; return 0; }
  fi
  local dir port
  dir=$(mktemp -d /tmp/graceful-redis.XXXXXX)
  # A free port on loopback, asked of the kernel.
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  # In memory only: nothing to save, nothing to load, nothing left behind but the directory removed on the way out.
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/log" >/dev/null
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
    log "did not start: $(tail -3 "$dir/log" 2>/dev/null)"; return 0
  fi
  echo "$port" >"$dir/port"
  log "running on 127.0.0.1:$port (files in $dir)"
  echo "export REDIS_URL=redis://127.0.0.1:$port GRACEFUL_REDIS_DIR=$dir"
}

stop () {
  local dir=${1:-}
  [ -n "$dir" ] && [ -f "$dir/port" ] || return 0
  redis-cli -h 127.0.0.1 -p "$(cat "$dir/port")" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-start}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) log "usage: $0 start|stop DIR"; exit 2 ;;
esac
