#!/usr/bin/env bash
# Builds the local images berth's tests use. Nothing is pulled from a registry.
#
#   berth-test/busybox:latest  busybox-static on scratch, user agent (1000:1000)    ~1 s
#   debian:bookworm-slim       debootstrap minbase, trimmed, imported              ~80 s once
#                              (the tarball is cached; a re-import takes seconds)
#   berth-test/dind:latest     Debian + docker.io + berth-dind-entrypoint          ~20 s
#   berth-test/mcp:latest      Debian + python3 + the MCP SDK + a FastMCP server    ~10 s
# A cold run (no image, no cache) takes about 2 min here; see tests/images/README.md.
#
# Every image carries LABEL berth.test-image=1 and berth.test-inputs=HASH, the hash
# of everything it is built from (its context under tests/images/, and its base
# image's layers). An image whose hash matches is kept, so a run with nothing to
# do takes well under a second; change an input and the next run rebuilds it.
# Safe to run any number of times. Progress goes to stderr; build logs go to
# /var/cache/berth/logs/.
#
# Usage: scripts/build-test-images.sh [--verify]
#   --verify   also run tests/images/verify.sh on the images that were up to date
#              (a freshly built image is always verified, and untagged when that
#              fails; BERTH_IMAGES_NO_VERIFY=1 skips it)
#
# Needs: a running engine, busybox-static and debootstrap (scripts/setup-engine.sh
# sets all three up), python3 with pip (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

images=tests/images
cache=/var/cache/berth
logs=$cache/logs
verify_all=false
case "${1:-}" in
  --verify) verify_all=true ;;
  "") ;;
  *)
    echo "usage: $0 [--verify]" >&2
    exit 2
    ;;
esac

started=$SECONDS
log() { printf 'images: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

docker version >/dev/null 2>&1 || die "the engine does not answer (docker version): run scripts/setup-engine.sh"
mkdir -p "$cache" "$logs"

# One run at a time per machine: a second one waits, then finds the images built.
exec 9>"$cache/build.lock"
if ! flock -n 9; then
  log "another build-test-images run is in progress; waiting for it"
  flock 9
fi

# A short hash of the files under a directory (their names and contents), but for
# Python's byte-code caches.
tree_hash() {
  (cd "$1" && find . -type f ! -path '*/__pycache__/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) |
    sha256sum | cut -c1-16
}

label_of() { # IMAGE LABEL
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

image_id() {
  docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true
}

# The base image's layers: stable when the same tarball is imported again.
layers_of() {
  docker image inspect --format '{{range .RootFS.Layers}}{{.}} {{end}}' "$1"
}

# Removes a replaced image if nothing else (a tag, a container, a child) uses it.
drop_old() { # OLD_ID NEW_ID
  if [ -n "$1" ] && [ "$1" != "$2" ]; then
    docker image rm "$1" >/dev/null 2>&1 || true
  fi
}

verified=()
failed=()

# build NAME TAG CONTEXT [EXTRA_HASH_INPUT]: builds TAG unless it exists with the
# same inputs, then verifies it (tests/images/verify.sh NAME).
build() {
  local name=$1 tag=$2 context=$3 extra=${4:-} hash
  hash=$( { tree_hash "$context"; echo "$extra"; } | sha256sum | cut -c1-16)
  if [ "$(label_of "$tag" berth.test-inputs)" = "$hash" ]; then
    log "$tag is up to date"
    return 0
  fi
  local old start=$SECONDS buildlog=$logs/build-${tag//[\/:]/-}.log
  old=$(image_id "$tag")
  log "building $tag (log: $buildlog)"
  # The classic builder: the engine is 20.10 and no buildx plugin is needed.
  if ! DOCKER_BUILDKIT=0 docker build --force-rm --label "berth.test-inputs=$hash" \
    -t "$tag" "$context" >"$buildlog" 2>&1; then
    tail -n 30 "$buildlog" >&2
    die "building $tag failed (log: $buildlog)"
  fi
  drop_old "$old" "$(image_id "$tag")"
  log "built $tag in $((SECONDS - start))s"
  if [ "${BERTH_IMAGES_NO_VERIFY:-}" != 1 ]; then
    if ! verify "$name"; then
      # Untagged, so that the next run builds it again rather than keeping it.
      docker image rm "$tag" >/dev/null 2>&1 || true
      failed+=("$tag")
    fi
  fi
}

# --- berth-test/busybox ---------------------------------------------------------

busybox_image() {
  local bin
  bin=$(command -v busybox || true)
  [ -n "$bin" ] || bin=/bin/busybox
  [ -x "$bin" ] || die "busybox is missing: run scripts/setup-engine.sh (it installs busybox-static)"
  if ldd "$bin" >/dev/null 2>&1; then
    die "$bin is dynamically linked: install busybox-static"
  fi
  # The binary is copied into the context (and ignored by git) so that the
  # context hash follows the host's busybox.
  cmp -s "$bin" "$images/busybox/busybox" || cp "$bin" "$images/busybox/busybox"
  build busybox berth-test/busybox:latest "$images/busybox"
}

# --- debian:bookworm-slim ---------------------------------------------------------

# The Debian mirror apt uses on this host, else deb.debian.org.
mirror() {
  local uri
  uri=$(
    {
      awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' /etc/apt/sources.list.d/*.sources 2>/dev/null
      sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]\+\).*/\2/p' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
    } | grep -E '/debian/?$' | head -n1 || true
  )
  echo "${uri:-http://deb.debian.org/debian}"
}

debian_image() {
  local tag=debian:bookworm-slim recipe=$images/debian hash current
  hash=$(tree_hash "$recipe")
  if docker image inspect "$tag" >/dev/null 2>&1; then
    current=$(label_of "$tag" berth.test-inputs)
    if [ "$(label_of "$tag" berth.test-image)" != 1 ]; then
      log "$tag is present (not built here; kept)"
      return 0
    fi
    if [ "$current" = "$hash" ]; then
      log "$tag is up to date"
      return 0
    fi
  fi

  local tarball=$cache/bookworm-minbase-$hash.tar start=$SECONDS
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is missing: run scripts/setup-engine.sh"
    local root url
    url=$(mirror)
    root=$(mktemp -d /var/tmp/berth-bookworm.XXXXXX)
    # shellcheck disable=SC2064 # expand $root now
    trap "rm -rf '$root' '$tarball.tmp'" EXIT
    log "debootstrap --variant=minbase bookworm from $url (about a minute; log: $logs/debootstrap.log)"
    if ! debootstrap --variant=minbase bookworm "$root" "$url" >"$logs/debootstrap.log" 2>&1; then
      tail -n 20 "$logs/debootstrap.log" >&2
      die "debootstrap failed (log: $logs/debootstrap.log)"
    fi
    sh "$recipe/finish-rootfs.sh" "$root" "$url"
    tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    trap - EXIT
    # Tarballs of older recipes are of no further use.
    find "$cache" -maxdepth 1 -name 'bookworm-minbase*.tar' ! -name "${tarball##*/}" -delete
    log "debootstrapped in $((SECONDS - start))s; cached as $tarball"
  fi

  local old
  old=$(image_id "$tag")
  log "importing $tag from $tarball"
  docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'LABEL berth.test-image=1' \
    --change "LABEL berth.test-inputs=$hash" \
    "$tarball" "$tag" >/dev/null
  drop_old "$old" "$(image_id "$tag")"
  log "imported $tag in $((SECONDS - start))s"
}

# --- berth-test/mcp: the SDK's wheels ------------------------------------------

# CPython 3.11 (bookworm's python3) on x86_64 glibc 2.36.
wheel_platforms() {
  local v
  for v in manylinux1 manylinux2010 manylinux2014 manylinux_2_5 manylinux_2_12 $(seq -f 'manylinux_2_%g' 17 36); do
    printf -- '--platform\n%s_x86_64\n' "$v"
  done
}

mcp_wheels() {
  local context=$images/mcp key dir start=$SECONDS
  key=$( { cat "$context/requirements.txt"; echo cp311-x86_64; } | sha256sum | cut -c1-16)
  dir=$cache/wheels/$key
  if [ ! -f "$dir/.complete" ]; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
      log "installing python3-pip on the host"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null
    fi
    log "downloading wheels for $(grep -v '^#' "$context/requirements.txt" | xargs) (CPython 3.11) into $dir"
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    local platforms
    mapfile -t platforms < <(wheel_platforms)
    if ! python3 -m pip download --disable-pip-version-check --dest "$dir.tmp" --only-binary=:all: \
      --python-version 3.11 --implementation cp --abi cp311 "${platforms[@]}" \
      -r "$context/requirements.txt" pip >"$logs/pip-download.log" 2>&1; then
      tail -n 20 "$logs/pip-download.log" >&2
      die "pip download failed (log: $logs/pip-download.log)"
    fi
    ls "$dir.tmp" >"$dir.tmp/.complete"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
    log "downloaded $(wc -l <"$dir/.complete") wheels in $((SECONDS - start))s"
  fi
  # Into the build context (ignored by git), when it holds another set.
  if ! cmp -s "$dir/.complete" "$context/wheels/.complete"; then
    rm -rf "$context/wheels"
    cp -R "$dir" "$context/wheels"
  fi
}

# --- verification ---------------------------------------------------------------

verify() { # NAME...
  local start=$SECONDS out=$logs/verify-${1}.log
  [ "$#" -eq 1 ] || out=$logs/verify.log
  log "verifying $* (log: $out)"
  if ! bash "$images/verify.sh" "$@" >"$out" 2>&1; then
    tail -n 40 "$out" >&2
    log "verification failed (log: $out)"
    return 1
  fi
  verified+=("$@")
  log "verified $* in $((SECONDS - start))s"
}

busybox_image
debian_image
debian_layers=$(layers_of debian:bookworm-slim)
build dind berth-test/dind:latest "$images/dind" "$debian_layers"
mcp_wheels
build mcp berth-test/mcp:latest "$images/mcp" "$debian_layers"

if $verify_all; then
  todo=()
  for name in busybox dind mcp; do
    [[ " ${verified[*]} " == *" $name "* ]] || todo+=("$name")
  done
  [ "${#todo[@]}" -eq 0 ] || verify "${todo[@]}" || failed+=("${todo[@]}")
fi
[ "${#failed[@]}" -eq 0 ] || die "failed: ${failed[*]}"
log "done in $((SECONDS - started))s"
