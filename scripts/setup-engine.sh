#!/usr/bin/env bash
# Installs and starts what berth's tests and examples need on a Debian host:
# the Docker engine (docker.io), gVisor (runsc, registered with the engine),
# busybox-static and debootstrap for building images locally, openssl, and tmux.
# Safe to run any number of times: each step checks before it acts.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    log "this script installs packages and starts dockerd: run it as root"
    exit 1
  fi
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  [ -x /usr/bin/runsc ] || missing+=(runsc)
  [ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || missing+=(busybox-static)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  # The egress tests make a throwaway TLS certificate with it.
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  # The interactive tests drive berth through a terminal of their own.
  command -v tmux >/dev/null 2>&1 || missing+=(tmux)
  # The benchmark reads peak memory through it (a small parent, see bench.py).
  [ -x /usr/bin/time ] || missing+=(time)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Registers runsc with --network=host: without it every runsc container fails with
# "cannot run with network enabled in root network namespace" on these hosts.
register_runsc() {
  local cfg=/etc/docker/daemon.json
  mkdir -p /etc/docker
  [ -s "$cfg" ] || echo '{}' >"$cfg"
  python3 - "$cfg" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    cfg = json.load(f)
want = {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=host"]}
runtimes = cfg.setdefault("runtimes", {})
if runtimes.get("runsc") != want:
    runtimes["runsc"] = want
    with open(path + ".tmp", "w") as f:
        json.dump(cfg, f, indent=2)
    import os
    os.replace(path + ".tmp", path)
    print("changed")
PY
}

engine_answers() { timeout 5 docker version >/dev/null 2>&1; }

start_dockerd() {
  if engine_answers; then
    return 0
  fi
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd is running but does not answer yet"
  else
    # A dockerd that was killed leaves its pid file; a new one refuses to start.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
      log "removing stale /var/run/docker.pid"
      rm -f /var/run/docker.pid
    fi
    log "starting dockerd (log: /var/log/berth-dockerd.log)"
    nohup dockerd >/var/log/berth-dockerd.log 2>&1 &
  fi
  local i
  for i in $(seq 1 60); do
    if engine_answers; then
      log "engine answers after ${i}s"
      return 0
    fi
    sleep 1
  done
  log "dockerd did not answer within 60s; last lines of its log:"
  tail -n 20 /var/log/berth-dockerd.log >&2 || true
  exit 1
}

main() {
  need_root
  install_packages
  local changed
  changed=$(register_runsc)
  start_dockerd
  if [ "$changed" = "changed" ]; then
    log "runsc registered; reloading dockerd"
    pkill -HUP -x dockerd
    sleep 1
  fi
  local i
  for i in $(seq 1 20); do
    if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q runsc; then
      log "engine ready: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), runtimes: $(docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}')"
      return 0
    fi
    sleep 1
  done
  log "runsc is not listed by the engine after reload"
  exit 1
}

main "$@"
