#!/bin/sh
# Turns a `debootstrap --variant=minbase` tree into something like the official
# debian:bookworm-slim: apt and dpkg set up as in the official images, no caches,
# lists, logs, documentation, manuals or translations.
# Usage: finish-rootfs.sh ROOT MIRROR
set -eu
root=$1
mirror=$2
here=$(dirname "$0")

cp -R "$here/rootfs/." "$root/"
cat >"$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
SOURCES

rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/archives/partial/* \
  "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old \
  "$root"/var/lib/dpkg/*-old "$root"/root/.bash_history
mkdir -p "$root/var/lib/apt/lists/partial"
find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/groff/* "$root"/usr/share/info/* \
  "$root"/usr/share/lintian/* "$root"/usr/share/linda/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
find "$root/var/log" -type f -delete
# The engine provides these per container.
: >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
: >"$root/etc/machine-id" 2>/dev/null || true
