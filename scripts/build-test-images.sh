#!/usr/bin/env bash
# Builds the local images berth's tests use; no registry is needed.
#   berth-test/busybox  busybox on scratch, user agent (1000:1000)      ~1 s
#   debian:bookworm-slim  debootstrap minbase, imported (cached tarball)  ~60 s once
#   berth-test/dind     Debian + docker.io, for docker host and dind modes
#   berth-test/mcp      Debian + python3 + the MCP SDK + a FastMCP server
# Each image carries the hash of its inputs; an image whose inputs did not change
# is kept, so a second run takes about a second. Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."
images=tests/images
cache=/var/cache/berth
mkdir -p "$cache"

log() { printf 'images: %s\n' "$*" >&2; }

# Hash of every file in a context directory (names and contents).
inputs_hash() {
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

current_hash() {
  docker image inspect --format '{{ index .Config.Labels "berth.test-inputs" }}' "$1" 2>/dev/null || true
}

# build TAG CONTEXT: builds unless the image exists with the same inputs.
build() {
  local tag=$1 context=$2 hash
  hash=$(inputs_hash "$context")
  if [ "$(current_hash "$tag")" = "$hash" ]; then
    log "$tag is up to date"
    return 0
  fi
  log "building $tag"
  local start=$SECONDS
  local buildlog=$cache/build-${tag//[\/:]/-}.log
  DOCKER_BUILDKIT=0 docker build --label "berth.test-inputs=$hash" -t "$tag" "$context" >"$buildlog" 2>&1 || {
    tail -n 30 "$buildlog" >&2
    exit 1
  }
  log "built $tag in $((SECONDS - start))s"
}

mirror() {
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

debian_base() {
  if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    return 0
  fi
  local tarball=$cache/bookworm-minbase.tar
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || { log "debootstrap is missing: run scripts/setup-engine.sh"; exit 1; }
    local root
    root=$(mktemp -d /var/tmp/berth-bookworm.XXXXXX)
    log "debootstrap bookworm from $(mirror) (about a minute)"
    debootstrap --variant=minbase bookworm "$root" "$(mirror)" >"$cache/debootstrap.log" 2>&1 || {
      tail -n 20 "$cache/debootstrap.log" >&2
      rm -rf "$root"
      exit 1
    }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  log "importing debian:bookworm-slim"
  docker import "$tarball" debian:bookworm-slim >/dev/null
}

# The server uses the 1.x SDK's FastMCP (2.x renamed it).
MCP_SPEC='mcp>=1.10,<2'

mcp_wheels() {
  local dir=$images/mcp/wheels
  if [ "$(head -n1 "$dir/.complete" 2>/dev/null)" = "$MCP_SPEC" ]; then
    return 0
  fi
  log "downloading the MCP SDK's wheels for Python 3.11"
  rm -rf "$dir"
  mkdir -p "$dir"
  python3 -m pip download --quiet --dest "$dir" --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
    --platform linux_x86_64 --platform any "$MCP_SPEC"
  { echo "$MCP_SPEC"; ls "$dir"; } >"$dir/.complete"
}

busybox=$(command -v busybox || echo /bin/busybox)
if ! cmp -s "$busybox" "$images/busybox/busybox"; then
  cp "$busybox" "$images/busybox/busybox"
fi
build berth-test/busybox:latest "$images/busybox"
debian_base
build berth-test/dind:latest "$images/dind"
mcp_wheels
build berth-test/mcp:latest "$images/mcp"
