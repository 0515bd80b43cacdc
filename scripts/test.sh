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
cargo nextest run --workspace --profile "$profile" "$@"
# Doc tests are not run by nextest.
cargo test --workspace --doc --quiet
