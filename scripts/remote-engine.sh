#!/usr/bin/env bash
# A second Docker engine and an sshd, both on loopback, for the remote-endpoint
# tests; runs a command with them and removes both afterwards, on failure too.
#
# Usage: scripts/remote-engine.sh COMMAND [ARGS...]
#
# The engine: its own --data-root, --exec-root, --pidfile, unix socket and
# containerd, a bridge of its own (created here with `ip link add`, so the
# engine's default bridge network works as it does on any host; --iptables=false
# leaves the first engine's rules alone, and its networks come from 10.213.0.0/16,
# away from the first engine's), its own empty daemon.json (no runsc: runc runs
# its containers), listening with TLS on 127.0.0.1 (CA, server and client
# certificates made here with openssl). The sshd: Debian's openssh-server on its
# own port and config, a host key and a client key made here, and a user
# (berth-remote) in the group that owns the second engine's socket; the sshd sets
# DOCKER_HOST for it, so `docker system dial-stdio` reaches the second engine.
#
# The command sees:
#   BERTH_TEST_REMOTE_SOCKET    the second engine's unix socket
#   BERTH_TEST_REMOTE_TLS       tcp://127.0.0.1:PORT
#   BERTH_TEST_REMOTE_CERTS     ca.pem, cert.pem, key.pem that work
#   BERTH_TEST_REMOTE_WRONG_CA  a ca.pem that did not sign the engine's certificate
#   BERTH_TEST_REMOTE_WRONG_KEY a client certificate and key of another CA
#   BERTH_TEST_REMOTE_CLOSED    tcp://127.0.0.1:PORT where nothing listens
#   BERTH_TEST_REMOTE_SSH       ssh://berth-remote@127.0.0.1:PORT
#   BERTH_TEST_REMOTE_SSH_COMMAND        the ssh command with the authorized key
#   BERTH_TEST_REMOTE_SSH_WRONG_COMMAND  the same with a key the sshd does not know
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v dockerd >/dev/null 2>&1 || { echo "dockerd is missing: run scripts/setup-engine.sh" >&2; exit 1; }

user=berth-remote
work=$(mktemp -d /tmp/berth-remote.XXXXXX)
chmod 755 "$work"
bridge="brt-$$"
bridge=${bridge:0:15}
created_user=
created_group=
dockerd_pid=
sshd_pid=

cleanup() {
  local status=$?
  set +e
  if [ -n "$sshd_pid" ]; then
    kill "$sshd_pid" 2>/dev/null
    wait "$sshd_pid" 2>/dev/null
  fi
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 "$dockerd_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -9 "$dockerd_pid" 2>/dev/null
    wait "$dockerd_pid" 2>/dev/null
  fi
  # Whatever the engine left mounted under its roots (nothing, after a clean stop).
  grep -o " $work[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  ip link show "$bridge" >/dev/null 2>&1 && ip link del "$bridge"
  [ -n "$created_user" ] && userdel "$user" 2>/dev/null
  [ -n "$created_group" ] && groupdel "$user" 2>/dev/null
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
tls_port=$(free_port)
ssh_port=$(free_port)
closed_port=$(free_port)

# Certificates: the engine's CA, the server and a client; another CA and a
# client of it, for the failure cases.
certs="$work/certs"
mkdir -p "$certs"
(
  cd "$certs"
  ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$1-key.pem" -out "$1.pem" -days 2 -subj "/CN=berth test $1" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      2>/dev/null
  }
  leaf() { # name ca extensions
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$1-key.pem" -out "$1.csr" -subj "/CN=berth test $1" 2>/dev/null
    printf '%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2-key.pem" -CAcreateserial \
      -days 2 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  }
  ca ca
  ca other-ca
  leaf server ca "$(printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost')"
  leaf client ca "$(printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth')"
  leaf other-client other-ca "$(printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth')"
  mkdir good wrong-ca wrong-key
  cp ca.pem good/ca.pem; cp client.pem good/cert.pem; cp client-key.pem good/key.pem
  cp other-ca.pem wrong-ca/ca.pem; cp client.pem wrong-ca/cert.pem; cp client-key.pem wrong-ca/key.pem
  cp ca.pem wrong-key/ca.pem; cp other-client.pem wrong-key/cert.pem; cp other-client-key.pem wrong-key/key.pem
)

# The ssh user, in the group that owns the second engine's socket.
if ! getent group "$user" >/dev/null; then
  groupadd --system "$user"
  created_group=1
fi
if ! id "$user" >/dev/null 2>&1; then
  useradd --system --gid "$user" --home-dir "$work/home" --no-create-home --shell /bin/sh "$user"
  created_user=1
fi
# A locked password ("!") keeps sshd (without PAM) from letting the key in; "*"
# is no password, not a lock.
usermod --password '*' --home "$work/home" "$user"
mkdir -p "$work/home"
chown "$user:$user" "$work/home"

# The second engine.
ip link add name "$bridge" type bridge
ip addr add 10.212.0.1/24 dev "$bridge"
ip link set "$bridge" up
echo '{}' >"$work/daemon.json"
dockerd --config-file "$work/daemon.json" \
  --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
  -H "unix://$work/docker.sock" --group "$user" \
  -H "tcp://127.0.0.1:$tls_port" --tlsverify \
  --tlscacert "$certs/ca.pem" --tlscert "$certs/server.pem" --tlskey "$certs/server-key.pem" \
  --bridge "$bridge" --iptables=false --ip-masq=false \
  --default-address-pool base=10.213.0.0/16,size=24 \
  >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
second=(docker -H "unix://$work/docker.sock")
for _ in $(seq 1 150); do
  "${second[@]}" version >/dev/null 2>&1 && break
  if ! kill -0 "$dockerd_pid" 2>/dev/null; then
    echo "the second dockerd exited:" >&2
    tail -20 "$work/dockerd.log" >&2
    exit 1
  fi
  sleep 0.2
done
"${second[@]}" version >/dev/null || { tail -20 "$work/dockerd.log" >&2; exit 1; }
# The test image, from the first engine (nothing is pulled).
docker save berth-test/busybox | "${second[@]}" load >/dev/null

# The sshd.
ssh_dir="$work/ssh"
mkdir -p "$ssh_dir" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/wrong_ed25519"
cp "$ssh_dir/id_ed25519.pub" "$ssh_dir/authorized_keys"
chmod 644 "$ssh_dir/authorized_keys"
cat >"$ssh_dir/sshd_config" <<EOF
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $ssh_dir/host_key
PidFile $ssh_dir/sshd.pid
AuthorizedKeysFile $ssh_dir/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The keys live under /tmp (world-writable, sticky), which strict modes refuse.
StrictModes no
AllowUsers $user
SetEnv DOCKER_HOST=unix://$work/docker.sock
EOF
/usr/sbin/sshd -D -f "$ssh_dir/sshd_config" -E "$ssh_dir/sshd.log" &
sshd_pid=$!
echo "[127.0.0.1]:$ssh_port $(cut -d' ' -f1,2 "$ssh_dir/host_key.pub")" >"$ssh_dir/known_hosts"
for key in id_ed25519 wrong_ed25519; do
  cat >"$ssh_dir/config-$key" <<EOF
Host 127.0.0.1
  IdentityFile $ssh_dir/$key
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile $ssh_dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  LogLevel ERROR
EOF
done
for _ in $(seq 1 100); do
  ssh -F "$ssh_dir/config-id_ed25519" -o BatchMode=yes -p "$ssh_port" "$user@127.0.0.1" true 2>/dev/null && break
  kill -0 "$sshd_pid" 2>/dev/null || { tail -5 "$ssh_dir/sshd.log" >&2; exit 1; }
  sleep 0.1
done
ssh -F "$ssh_dir/config-id_ed25519" -o BatchMode=yes -p "$ssh_port" "$user@127.0.0.1" docker version --format '{{.Server.Version}}' >/dev/null \
  || { echo "docker over ssh does not answer" >&2; tail -5 "$ssh_dir/sshd.log" >&2; exit 1; }

export BERTH_TEST_REMOTE_SOCKET="$work/docker.sock"
export BERTH_TEST_REMOTE_TLS="tcp://127.0.0.1:$tls_port"
export BERTH_TEST_REMOTE_CERTS="$certs/good"
export BERTH_TEST_REMOTE_WRONG_CA="$certs/wrong-ca"
export BERTH_TEST_REMOTE_WRONG_KEY="$certs/wrong-key"
export BERTH_TEST_REMOTE_CLOSED="tcp://127.0.0.1:$closed_port"
export BERTH_TEST_REMOTE_SSH="ssh://$user@127.0.0.1:$ssh_port"
export BERTH_TEST_REMOTE_SSH_COMMAND="ssh -F $ssh_dir/config-id_ed25519"
export BERTH_TEST_REMOTE_SSH_WRONG_COMMAND="ssh -F $ssh_dir/config-wrong_ed25519"
"$@"
