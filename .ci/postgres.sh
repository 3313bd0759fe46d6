#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on 127.0.0.1 for the database tests, installing PostgreSQL from Debian's
# packages when it is missing. Prints `export PG...=...` lines for the caller to eval; progress goes to stderr.
# Usage: eval "$(bash .ci/postgres.sh start)"   ...   bash .ci/postgres.sh stop "$PGDATA_DIR"
set -euo pipefail

log () { echo "postgres: $*" >&2; }

bindir () {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

as_postgres () {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start () {
  if ! bindir >/dev/null; then
    if [ "$(id -u)" != "0" ]; then log "not installed and not root: skipping"; return 0; fi
    log "installing from Debian packages"
    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql) >/dev/null 2>&1 || {
      log "install failed: the database tests will skip"; return 0; }
  fi
  local bin dir port
  bin=$(bindir)
  dir=$(mktemp -d /tmp/graceful-pg.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" = "0" ] && chown postgres:postgres "$dir"
  # A free port on loopback, asked of the kernel.
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync >/dev/null
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=100" start >/dev/null
  log "running on 127.0.0.1:$port (data in $dir)"
  echo "export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres PGDATABASE=postgres GRACEFUL_PG_DIR=$dir"
}

stop () {
  local dir=${1:-}
  [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
  as_postgres "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-start}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) log "usage: $0 start|stop DIR"; exit 2 ;;
esac
