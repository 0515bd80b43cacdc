#!/usr/bin/env bash
# Sourced by the scripts that build berth: fails early, before anything is
# installed or started, when the Rust toolchain the workspace needs is missing or
# too old. The scripts install everything else; Rust comes from rustup
# (https://rustup.rs), as Debian's packaged toolchain is often older.

require_rust() {
  local root needed have
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  needed=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
  if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
    printf 'berth needs a Rust toolchain of version %s or newer, and cargo is not on PATH.\n' "$needed" >&2
    printf 'Install it with rustup (https://rustup.rs), then open a new shell or run: . "$HOME/.cargo/env"\n' >&2
    exit 1
  fi
  have=$(rustc --version | sed -n 's/^rustc \([0-9][0-9.]*\).*/\1/p')
  # sort -V puts the older version first: when that is not the needed one, the
  # toolchain is too old.
  if [ -n "$needed" ] && [ -n "$have" ] &&
    [ "$(printf '%s\n%s\n' "$needed" "$have" | sort -V | head -n 1)" != "$needed" ]; then
    printf 'berth needs Rust %s or newer; this rustc is %s.\n' "$needed" "$have" >&2
    printf 'Update it with: rustup update stable\n' >&2
    exit 1
  fi
}
