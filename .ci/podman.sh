#!/usr/bin/env bash
# A container runtime for test/containers/container.test.ts: Debian's podman (rootful) with runc, and a base image that stands in
# for node:20-slim, built here from nothing since no image registry is reachable: `debootstrap --variant=minbase` of
# Debian bookworm, this machine's node and npm, and a `node` user, as the official image has. Installs what is
# missing; prints `export ...` lines for the caller to eval; progress goes to stderr. Nothing is kept across runs.
# Usage: eval "$(bash .ci/podman.sh start)"   ...   bash .ci/podman.sh stop
set -euo pipefail

IMAGE=localhost/graceful-node-base:ci
log () { echo "podman: $*" >&2; }

start () {
  if [ "$(id -u)" != "0" ]; then log "not root: test/containers/container.test.ts will skip"; return 0; fi
  if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
    log "installing podman, runc and debootstrap from Debian packages"
    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y podman runc debootstrap) >/dev/null 2>&1 || {
      log "install failed: test/containers/container.test.ts will skip"; return 0; }
  fi
  local started root node npm
  started=$(date +%s)
  root=$(mktemp -d /tmp/graceful-rootfs.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" RETURN
  debootstrap --variant=minbase bookworm "$root" >"$root.log" 2>&1 || {
    log "debootstrap failed ($(tail -1 "$root.log")): test/containers/container.test.ts will skip"; rm -f "$root.log"; return 0; }
  rm -f "$root.log"
  node=$(command -v node)
  npm=$(dirname "$(readlink -f "$(command -v npm)")")/..
  cp "$(readlink -f "$node")" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$(readlink -f "$npm")" "$root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  local changes=(--change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
  # Where this machine reaches the npm registry through a TLS proxy, node here trusts its certificate through
  # NODE_EXTRA_CA_CERTS; the image's node (the same binary) needs the same trust for the Dockerfile's `npm ci`.
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r "$NODE_EXTRA_CA_CERTS" ]; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp "$NODE_EXTRA_CA_CERTS" "$root/usr/local/share/ca-certificates/machine.crt"
    changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/machine.crt')
  fi
  tar -C "$root" -c . | podman import --quiet "${changes[@]}" - "$IMAGE" >/dev/null || {
    log "podman import failed: test/containers/container.test.ts will skip"; return 0; }
  log "base image $IMAGE built in $(( $(date +%s) - started )) s"
  echo "export PODMAN_BASE_IMAGE=$IMAGE"
}

stop () {
  command -v podman >/dev/null || return 0
  # The test removes its own containers and images by name; this is the base image, and whatever a killed test left.
  podman ps -a --format '{{.Names}}' | grep '^graceful-test-' | xargs -r podman rm -f >/dev/null 2>&1 || true
  podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/graceful-test-' | xargs -r podman rmi -f >/dev/null 2>&1 || true
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) log "usage: $0 start|stop"; exit 2 ;;
esac
