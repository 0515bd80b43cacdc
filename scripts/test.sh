#!/usr/bin/env bash
# The test command: sets up the engine and the local test images, builds berth,
# and runs every test (unit, snapshot, conformance, end-to-end).
# Usage: scripts/test.sh [extra nextest args]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-engine.sh
bash scripts/build-test-images.sh
# The MCP end-to-end test's client is the official Python SDK, on the host.
python3 -c 'import mcp.client.stdio' 2>/dev/null || python3 -m pip install --quiet 'mcp>=1.10,<2'
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest
cargo build --workspace --bins
profile=default
[ "${CI:-}" = "true" ] && profile=ci
# Doc tests are not run by nextest; they go first so the last lines printed are
# the nextest summaries.
cargo test --workspace --doc --quiet
# Phase 1: everything that can share the engine, in parallel.
serial='binary(chaos) | binary(restart)'
cargo nextest run --workspace --profile "$profile" -E "not ($serial)" "$@"
# Phase 2: tests that sweep or restart the whole engine, one at a time.
cargo nextest run -p berth-tests --profile "$profile" -E "$serial" --test-threads 1 --no-capture "$@"
