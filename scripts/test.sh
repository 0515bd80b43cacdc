#!/usr/bin/env bash
# The test command: sets up the engine and the local test images, builds berth,
# and runs every test (unit, snapshot, conformance, end-to-end).
# Usage: scripts/test.sh [extra nextest args]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/require-rust.sh
require_rust

bash scripts/setup-engine.sh
bash scripts/build-test-images.sh
# The MCP end-to-end test's client is the official Python SDK, on the host, in a
# virtual environment of its own: stock Debian's python3 refuses `pip install`
# into the system (PEP 668).
venv=target/mcp-client-venv
if ! "$venv/bin/python3" -c 'import mcp.client.stdio' 2>/dev/null; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/python3" -m pip install --quiet 'mcp>=1.10,<2'
fi
export BERTH_TEST_PYTHON="$PWD/$venv/bin/python3"
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
cargo build --workspace --bins
# The egress proxy's static helper, next to the berth binaries.
bash scripts/build-helper.sh
profile=default
[ "${CI:-}" = "true" ] && profile=ci
# Doc tests are not run by nextest; they go first so the last lines printed are
# the nextest summaries.
cargo test --workspace --doc --quiet
# Phase 1: every test that is not ignored (each touches only what it created), in
# parallel.
cargo nextest run --workspace --profile "$profile" "$@"
# The egress proxy's own code (TLS included) is built only with its feature, as
# the helper binary is: its unit tests run here.
cargo nextest run -p runtime-core --features proxy --profile "$profile" -E 'test(/^egress::/)' "$@"
# The embedding example (a crate on runtime-core and runtime-docker alone) talks
# to an MCP server in a sandbox it starts, with records in a scratch state dir.
state=$(mktemp -d)
summary=$(XDG_STATE_HOME="$state" target/debug/berth-embed-example)
rm -rf "$state"
echo "embedding example: $summary"
case "$summary" in
  *'"add":"42"'*'"tools":["add","echo"]'*) ;;
  *) echo "the embedding example did not get add(40, 2) = 42 and the tools add, echo" >&2; exit 1 ;;
esac
# Phase 2: the ignored tests, which restart or sweep the whole engine (the
# `engine-wide` group of .config/nextest.toml), one at a time, and the remote
# endpoint tests, which need the second engine and the sshd that
# scripts/remote-engine.sh starts around them (and removes after, on failure
# too). Between them, the two phases run every test exactly once.
bash scripts/remote-engine.sh \
  cargo nextest run --workspace --profile "$profile" --run-ignored only --test-threads 1 --no-capture "$@"
