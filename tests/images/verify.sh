#!/usr/bin/env bash
# Checks the local test images for real. scripts/build-test-images.sh runs it on
# every image it builds (and on all of them with --verify).
#
# Usage: tests/images/verify.sh [busybox] [dind] [mcp]   (no argument: all three)
#
#   busybox  id and /etc/passwd as root, as --user 1000:1000, and under runsc
#            when the engine has it
#   dind     a private engine inside berth-test/dind with the privileged-equivalent
#            flags (see README.md): it answers, loads berth-test/busybox from the
#            host (docker save | docker exec -i docker load) and runs it
#   mcp      a JSON-RPC exchange with the FastMCP server (initialize, tools/list,
#            tools/call add and echo), as root and as the user agent
#
# Every container and volume it creates has the label berth.managed-by=berth-test
# and is removed on exit.
set -euo pipefail
cd "$(dirname "$0")"

label=berth.managed-by=berth-test
tag=berth-test-verify-$$
say() { printf 'verify: %s\n' "$*"; }
fail() {
  say "FAILED: $*"
  exit 1
}

cleanup() {
  docker rm -f "$tag-dind" >/dev/null 2>&1 || true
  docker volume rm "$tag-docker" >/dev/null 2>&1 || true
}
trap cleanup EXIT

expect() { # WHAT PATTERN TEXT
  if ! grep -qE -- "$2" <<<"$3"; then
    printf '%s\n' "$3"
    fail "$1: no match for /$2/"
  fi
}

verify_busybox() {
  local image=berth-test/busybox:latest out
  out=$(docker run --rm --label "$label" "$image" sh -c 'id; cat /etc/passwd; stat -c %a /tmp')
  printf '%s\n' "$out"
  expect "busybox as root" '^uid=0\(root\) gid=0\(root\)' "$out"
  expect "busybox passwd" '^agent:x:1000:1000:' "$out"
  expect "busybox /tmp" '^1777$' "$out"

  out=$(docker run --rm --label "$label" --user 1000:1000 "$image" sh -c 'id; echo hi >/tmp/x && cat /tmp/x; cd && pwd')
  printf '%s\n' "$out"
  expect "busybox as agent" '^uid=1000\(agent\) gid=1000\(agent\)' "$out"
  expect "busybox /tmp writable" '^hi$' "$out"

  if docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}' | grep -qw runsc; then
    out=$(docker run --rm --label "$label" --runtime runsc --user 1000:1000 "$image" sh -c 'id; cat /etc/passwd; dmesg | head -n1')
    printf '%s\n' "$out"
    expect "busybox under runsc" '^uid=1000\(agent\) gid=1000\(agent\)' "$out"
    expect "busybox under runsc is gVisor" 'gVisor' "$out"
  else
    say "runsc is not registered with the engine: skipped busybox under runsc"
  fi
  say "busybox ok"
}

# The flags berth uses for docker mode "dind" when --privileged cannot work
# (CAP_SYS_RESOURCE missing from the host's bounding set); see README.md.
dind_flags() {
  local missing=()
  # Capabilities in the engine's set (0..40) the bounding set lacks.
  local bnd names i
  bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
    LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
    SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
    SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
    MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ)
  for i in "${!names[@]}"; do
    if (((bnd >> i & 1) == 0)); then
      missing+=("${names[$i]}")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo --privileged
    return
  fi
  printf '%s\n' --cap-add ALL
  for i in "${missing[@]}"; do printf '%s\n' --cap-drop "$i"; done
  printf '%s\n' --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm' \
    --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw
}

verify_dind() {
  local image=${BERTH_VERIFY_DIND_IMAGE:-berth-test/dind:latest} c=$tag-dind flags out i
  mapfile -t flags < <(dind_flags)
  say "dind flags: ${flags[*]}"
  docker volume create --label "$label" "$tag-docker" >/dev/null
  docker run -d --name "$c" --label "$label" "${flags[@]}" -v "$tag-docker:/var/lib/docker" \
    "$image" berth-dind-entrypoint sleep 600 >/dev/null
  for i in $(seq 1 100); do
    docker exec "$c" docker version >/dev/null 2>&1 && break
    if [ "$(docker inspect --format '{{.State.Running}}' "$c")" != true ]; then
      docker logs "$c" 2>&1 | tail -n 30
      fail "the dind container exited"
    fi
    sleep 0.3
  done
  docker exec "$c" docker version >/dev/null || {
    docker exec "$c" tail -n 30 /var/log/dockerd.log || true
    fail "the inner engine does not answer"
  }
  docker exec "$c" docker info --format 'inner engine {{.ServerVersion}}, storage {{.Driver}}, cgroup {{.CgroupDriver}} v{{.CgroupVersion}}'
  docker save berth-test/busybox:latest | docker exec -i "$c" docker load
  out=$(docker exec "$c" docker run --rm berth-test/busybox:latest sh -c 'echo inner-ok; id -u; ip -4 -o addr show eth0; cat /proc/self/cgroup')
  printf '%s\n' "$out"
  expect "a container of the inner engine" '^inner-ok$' "$out"
  expect "the inner container's bridge address" 'eth0 +inet ' "$out"
  # In the host cgroup namespace, the inner containers' cgroups must sit below the
  # sandbox's own (so its limits cover them), not beside it under /docker.
  local id
  id=$(docker inspect --format '{{.Id}}' "$c")
  if docker exec "$c" cat /proc/self/cgroup | grep -q "$id"; then
    expect "the inner container's cgroup is inside the sandbox's" "/$id/berth-dind/" "$out"
  fi
  # The user agent reaches the inner engine through the docker group.
  out=$(docker exec --user agent "$c" docker ps --format '{{.ID}}' 2>&1) || {
    printf '%s\n' "$out"
    fail "agent cannot use the inner engine"
  }
  # The inner engine is private: the host engine does not see its containers.
  docker exec "$c" docker run -d --name berth-inner-probe berth-test/busybox:latest sleep 30 >/dev/null
  if docker ps -a --format '{{.Names}}' | grep -qx berth-inner-probe; then
    fail "the inner container shows up on the host engine"
  fi
  docker exec "$c" docker rm -f berth-inner-probe >/dev/null
  say "dind ok"
}

verify_mcp() {
  local image=berth-test/mcp:latest
  python3 mcp-exchange.py docker run -i --rm --label "$label" "$image" python3 /srv/server.py
  python3 mcp-exchange.py docker run -i --rm --label "$label" --user 1000:1000 --read-only "$image" python3 /srv/server.py
  say "mcp ok"
}

[ "$#" -gt 0 ] || set -- busybox dind mcp
for name in "$@"; do
  case "$name" in
    busybox | dind | mcp) "verify_$name" ;;
    *) fail "unknown image $name (busybox, dind or mcp)" ;;
  esac
done
