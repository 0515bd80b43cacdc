#!/usr/bin/env bash
# First run: starts the engine (installing it if needed), builds berth and a small
# example image locally (no registry needed), then runs a command in a sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/require-rust.sh
require_rust

bash scripts/setup-engine.sh
cargo build --release --bin berth
# The static helper that runs an allowlist run's egress proxy.
bash scripts/build-helper.sh
berth=target/release/berth

# The example image is busybox on scratch, built by berth from examples/hello.
busybox=$(command -v busybox || echo /bin/busybox)
cp "$busybox" examples/hello/busybox

echo "== berth doctor"
"$berth" doctor
echo
echo "== berth plan -f examples/hello/berth.toml"
"$berth" plan -f examples/hello/berth.toml
echo
echo "== berth run --rm -f examples/hello/berth.toml"
"$berth" run --rm -f examples/hello/berth.toml
