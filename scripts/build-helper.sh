#!/usr/bin/env bash
# Builds berth-helper, the static binary berth runs in its sidecar containers (the
# egress proxy), and puts it next to the berth binaries of target/debug and
# target/release, where berth looks for it (or set BERTH_HELPER to its path).
# Statically linked against glibc, it runs as PID 1 of an image with nothing else.
#
# Usage: scripts/build-helper.sh     (about 1 min the first time, seconds after)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/require-rust.sh
require_rust
triple=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --release \
  -p runtime-core --features helper --bin berth-helper --target "$triple"
built=target/$triple/release/berth-helper
if file "$built" 2>/dev/null | grep -q 'dynamically linked'; then
  echo "build-helper: $built is dynamically linked; it must be static" >&2
  exit 1
fi
for dir in target/debug target/release; do
  mkdir -p "$dir"
  cp "$built" "$dir/berth-helper.tmp" && mv "$dir/berth-helper.tmp" "$dir/berth-helper"
done
echo "build-helper: $built ($(du -h "$built" | cut -f1)) -> target/debug, target/release" >&2
