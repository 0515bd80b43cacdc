#!/usr/bin/env python3
"""Wall-time benchmarks of berth against the docker CLI, in the same run.

Prints medians and ratios (berth / docker); never asserts a time. Writes the rows
as a markdown table and JSON (target/bench/bench.md and bench.json, or --out).
Besides the rows below: 20 `run --rm` started at once (wall time and failures), the
peak resident memory of `run --rm`, and the floor: the same create, start, wait
and remove (and exec create, start and inspect) made by this script on the
engine's socket, against which `berth run --rm` and `docker exec` are compared. Uses the local
busybox test image. The commands compared are run in turn, sample by sample, so a
machine that slows down mid-run slows both. Usage:
scripts/bench.py [-n RUNS] [--berth PATH]

berth's default sandbox joins the berth-owned network; the engine sets up its
embedded DNS for every container on a user-defined network (one re-exec and
eleven iptables runs on Docker 20.10), which `docker run --rm` on the default
bridge does not pay. The second row of each pair runs docker on the same network.

The exec rows compare `berth exec` through berth-init's socket, and through the
engine (`[sandbox] init = false`), with `docker exec` into a container of the same
image: `exec RUN true`, a real MCP exchange (initialize, then 50 tools/call one
after another, through `exec -i` of the test image's FastMCP server; the per-call
median), and 256 MiB through `exec -i ... cat`. Under runsc (registered here
without --host-uds=create) exec goes through the engine; the fallback matrix
prints, per runtime and network policy, the path `berth plan` chooses.

The egress rows compare an allowlist sandbox with an open one (cold start), and
100 HTTPS requests (a new connection each) made through the run's egress proxy
with the same requests made directly from a container on the proxy's own network,
to an upstream this script starts (the test image's python, with a throwaway
certificate from openssl); then the proxy's peak memory, from its cgroup.

With --remote (run under scripts/remote-engine.sh, which starts a second engine
with TLS on loopback and an sshd in front of it), only the remote rows: cold start
and exec round trip over the second engine's unix socket, over TLS and over ssh,
each against the docker CLI over the same endpoint (on the same network), and
each endpoint against the unix socket. Both clients run the same `ssh` (a
wrapper on PATH that adds the harness's config).
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

IMAGE = "berth-test/busybox:latest"
LABEL = "berth.managed-by=berth-bench"


def timed(argv, runs):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}")
    return statistics.median(samples)


def interleaved(commands, runs):
    """Medians of `commands`, run in turn `runs` times."""
    samples = [[] for _ in commands]
    for _ in range(runs):
        for i, argv in enumerate(commands):
            samples[i].append(timed(argv, 1))
    return [statistics.median(s) for s in samples]


RESULTS = []


def row(name, berth_s, docker_s, unit="ms", labels=("berth", "docker")):
    """Prints one comparison and keeps it for the report files. Times are in
    seconds (printed in ms); with another unit, the values are printed as given.
    `labels` name the two columns (the floor rows compare with the API itself)."""
    RESULTS.append({"name": name.strip(), "measured": labels[0], "baseline": labels[1],
                    labels[0]: berth_s, labels[1]: docker_s, "unit": unit, "ratio": berth_s / docker_s})
    a, b = labels
    if unit == "ms":
        print(f"{name:<44} {a} {ms(berth_s):>7} ms   {b} {ms(docker_s):>7} ms   ratio {berth_s / docker_s:5.2f}")
    else:
        print(f"{name:<44} {a} {berth_s:7.1f} {unit}   {b} {docker_s:7.1f} {unit}   ratio {berth_s / docker_s:5.2f}")


def ms(seconds):
    """Milliseconds, with two decimals below 10 ms."""
    return f"{seconds * 1000:.2f}" if seconds < 0.01 else f"{seconds * 1000:.1f}"


def write_report(out_dir, runs):
    """The kept rows as a markdown table and as JSON, in `out_dir`."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "bench.json"), "w") as f:
        json.dump({"runs": runs, "rows": RESULTS}, f, indent=2)
    lines = ["| | measured | baseline | ratio |", "|---|---|---|---|"]
    for r in RESULTS:
        a, b = r[r["measured"]], r[r["baseline"]]
        if r["unit"] == "ms":
            a, b = f"{ms(a)} ms", f"{ms(b)} ms"
        else:
            a, b = f"{a:.1f} {r['unit']}", f"{b:.1f} {r['unit']}"
        lines.append(f"| {r['name']} | {r['measured']} {a} | {r['baseline']} {b} | {r['ratio']:.2f} |")
    with open(os.path.join(out_dir, "bench.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"report: {out_dir}/bench.md and bench.json")


def peak_rss_kib(argv):
    """Runs `argv`; its peak resident memory in KiB, from wait4 in GNU time.
    Not from this script's own wait4: Linux keeps the high-water mark of the
    memory a child had before exec, and a child forked from Python starts with
    Python's (about 20 MiB), which would hide anything smaller."""
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}")
    return int(done.stderr.decode().strip().splitlines()[-1])


def concurrent(argv_for, count):
    """Starts `count` commands at once (argv_for(i) each); the wall time until
    all ended, and how many failed."""
    start = time.perf_counter()
    procs = [subprocess.Popen(argv_for(i), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i in range(count)]
    failed = sum(1 for p in procs if p.wait() != 0)
    return time.perf_counter() - start, failed


class EngineSocket(http.client.HTTPConnection):
    """HTTP to the engine's Unix socket, for the floor: what the API itself costs."""

    def __init__(self, path="/var/run/docker.sock"):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def api(conn, method, path, body=None):
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if payload else {}
    conn.request(method, "/v1.41" + path, body=payload, headers=headers)
    reply = conn.getresponse()
    data = reply.read()
    if reply.status >= 300:
        sys.exit(f"{method} {path}: {reply.status} {data[:200]!r}")
    return json.loads(data) if data else None


def floor_run():
    """create, start, wait and remove `IMAGE true` straight on the API; seconds."""
    start = time.perf_counter()
    conn = EngineSocket()
    # On berth's network, as berth's own sandbox.
    created = api(conn, "POST", "/containers/create", {"Image": IMAGE, "Cmd": ["true"],
                                                       "HostConfig": {"NetworkMode": "berth"},
                                                       "Labels": {"berth.managed-by": "berth-bench"}})
    cid = created["Id"]
    api(conn, "POST", f"/containers/{cid}/start")
    api(conn, "POST", f"/containers/{cid}/wait")
    api(conn, "DELETE", f"/containers/{cid}?force=1")
    conn.close()
    return time.perf_counter() - start


def floor_exec(container):
    """exec create, start (output read to its end) and inspect of `true`; seconds."""
    start = time.perf_counter()
    conn = EngineSocket()
    made = api(conn, "POST", f"/containers/{container}/exec", {"Cmd": ["true"], "AttachStdout": True,
                                                               "AttachStderr": True})
    conn.request("POST", f"/v1.41/exec/{made['Id']}/start", body=json.dumps({"Detach": False}).encode(),
                           headers={"Content-Type": "application/json"})
    conn.getresponse().read()
    api(conn, "GET", f"/exec/{made['Id']}/json")
    conn.close()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--runs", type=int, default=20)
    ap.add_argument("--berth", default="target/release/berth")
    ap.add_argument("--out", default="target/bench", help="where bench.md and bench.json go")
    ap.add_argument("--remote", action="store_true", help="the remote-endpoint rows only")
    args = ap.parse_args()
    berth, n = args.berth, args.runs
    if args.remote:
        remote(os.path.abspath(berth), n)
        return
    # berth's shared network is made by the first run; one this script made goes
    # with it (`docker network rm` refuses one still in use).
    had_network = subprocess.run(["docker", "network", "inspect", "berth"], capture_output=True).returncode == 0
    try:
        local(args, berth, n)
    finally:
        if not had_network:
            subprocess.run(["docker", "network", "rm", "berth"], capture_output=True)


def local(args, berth, n):
    env_docker = ["--runtime", "docker"]

    # Warm both paths once.
    timed([berth, "run", "--rm", *env_docker, IMAGE, "--", "true"], 1)
    timed(["docker", "run", "--rm", IMAGE, "true"], 1)

    network = "berth"  # the shared network berth's first run created
    b, d, dn = interleaved([
        [berth, "run", "--rm", *env_docker, IMAGE, "--", "true"],
        ["docker", "run", "--rm", "--label", LABEL, IMAGE, "true"],
        ["docker", "run", "--rm", "--network", network, "--label", LABEL, IMAGE, "true"],
    ], n)
    row("run --rm IMG true (runc)", b, d)
    row("  against docker on the same network", b, dn)

    bg, dg, dgn = interleaved([
        [berth, "run", "--rm", "--runtime", "gvisor", IMAGE, "--", "true"],
        ["docker", "run", "--rm", "--runtime", "runsc", "--label", LABEL, IMAGE, "true"],
        ["docker", "run", "--rm", "--runtime", "runsc", "--network", network, "--label", LABEL, IMAGE, "true"],
    ], n)
    row("run --rm IMG true (runsc)", bg, dg)
    row("  against docker on the same network", bg, dgn)
    print(f"{'berth runsc / berth runc':<44} {bg / b:5.2f}   (docker CLI: {dg / d:5.2f})")

    exec_paths(berth, n)
    pool_claim(berth, n)
    egress(berth, n)
    suite(berth, n)
    print(f"medians of {n} runs each (egress requests: medians of {max(3, n // 4)} rounds)")
    write_report(args.out, n)


def first_output(argv):
    """Runs `argv`; seconds until its first byte of output."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.read(1)
    first = time.perf_counter() - start
    proc.stdout.read()
    if proc.wait() != 0:
        sys.exit(f"{' '.join(argv)} failed: {proc.stderr.read().decode(errors='replace')}")
    return first


def pool_claim(berth, n):
    """A run that claims a warm pool's member, to its first output, against
    `docker run` and against the same run started cold."""
    work = tempfile.mkdtemp(prefix="berth-bench-pool-")
    config = os.path.join(work, "berth.toml")
    with open(config, "w") as f:
        f.write(f'[sandbox]\nname = "bench-pool"\nimage = "{IMAGE}"\n\n[pool]\nsize = 1\nttl = "10m"\n')
    try:
        claim, cold, plain = [], [], []
        for _ in range(n):
            subprocess.run([berth, "pool", "up", "-q", "--runtime", "docker", "-f", config], check=True)
            claim.append(first_output([berth, "run", "--rm", "--runtime", "docker", "-f", config, "--", "echo", "x"]))
            plain.append(first_output(["docker", "run", "--rm", "--label", LABEL, IMAGE, "echo", "x"]))
            cold.append(first_output([berth, "run", "--rm", "--no-pool", "--runtime", "docker", "-f", config,
                                      "--", "echo", "x"]))
        row("pool claim: run --rm to first output", statistics.median(claim), statistics.median(plain))
        row("  the same run started cold", statistics.median(cold), statistics.median(plain))
        print(f"{'  pool claim to first output (target < 30 ms)':<44} {statistics.median(claim) * 1000:.1f} ms")
    finally:
        # A replacement the last claim started makes nothing once the pool is down.
        subprocess.run([berth, "pool", "down", "--runtime", "docker", "-f", config], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def suite(berth, n):
    """Concurrent starts, peak memory, and the engine's floor."""
    rounds = max(3, n // 5)
    walls = [[], []]
    failures = [0, 0]
    for _ in range(rounds):
        for i, argv_for in enumerate([
            lambda k: [berth, "run", "--rm", "--runtime", "docker", IMAGE, "--", "true"],
            lambda k: ["docker", "run", "--rm", "--network", "berth", "--label", LABEL, IMAGE, "true"],
        ]):
            wall, failed = concurrent(argv_for, 20)
            walls[i].append(wall)
            failures[i] += failed
    row("20 run --rm at once, wall time (same network)", statistics.median(walls[0]), statistics.median(walls[1]))
    print(f"{'  failures over ' + str(rounds) + ' rounds':<44} berth {failures[0]}   docker {failures[1]}")

    rss_b = statistics.median(peak_rss_kib([berth, "run", "--rm", "--runtime", "docker", IMAGE, "--", "true"])
                              for _ in range(3))
    rss_d = statistics.median(peak_rss_kib(["docker", "run", "--rm", "--label", LABEL, IMAGE, "true"])
                              for _ in range(3))
    row("peak RSS of run --rm IMG true", rss_b / 1024, rss_d / 1024, unit="MiB")

    fr = statistics.median(floor_run() for _ in range(n))
    b = timed([berth, "run", "--rm", "--runtime", "docker", IMAGE, "--", "true"], n)
    row("run --rm IMG true against the API floor", b, fr, labels=("berth", "floor"))
    subprocess.run(["docker", "rm", "-f", "bench-floor-exec"], capture_output=True)
    subprocess.run(["docker", "run", "-d", "--label", LABEL, "--name", "bench-floor-exec", IMAGE, "sleep", "3600"],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        fe = statistics.median(floor_exec("bench-floor-exec") for _ in range(n))
        de = timed(["docker", "exec", "bench-floor-exec", "true"], n)
        row("exec true against the API floor", de, fe, labels=("docker", "floor"))
    finally:
        subprocess.run(["docker", "rm", "-f", "bench-floor-exec"], capture_output=True)


REMOTE_VARS = ("BERTH_TEST_REMOTE_SOCKET", "BERTH_TEST_REMOTE_TLS", "BERTH_TEST_REMOTE_CERTS",
               "BERTH_TEST_REMOTE_SSH", "BERTH_TEST_REMOTE_SSH_COMMAND")


def remote(berth, n):
    missing = [v for v in REMOTE_VARS if v not in os.environ]
    if missing:
        sys.exit(f"--remote runs under scripts/remote-engine.sh ({', '.join(missing)} not set)")
    work = tempfile.mkdtemp(prefix="berth-bench-remote-")
    try:
        remote_in(berth, n, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def remote_in(berth, n, work):
    ssh, *flags = os.environ["BERTH_TEST_REMOTE_SSH_COMMAND"].split()
    ssh = shutil.which(ssh)
    # Plain ssh, and ssh with its own multiplexing (what a user's ~/.ssh/config
    # may turn on): connections after the first skip the handshake.
    control = os.path.join(work, "cm-%C")
    paths = {}
    for name, extra in (("plain", ""), ("mux", f"-o ControlMaster=auto -o ControlPath={control} -o ControlPersist=30")):
        directory = os.path.join(work, name)
        os.mkdir(directory)
        with open(os.path.join(directory, "ssh"), "w") as f:
            f.write(f'#!/bin/sh\nexec {ssh} {" ".join(flags)} {extra} "$@"\n')
        os.chmod(os.path.join(directory, "ssh"), 0o755)
        paths[name] = f"PATH={directory}:{os.environ['PATH']}"
    unset = ["-u", "DOCKER_CONTEXT", "-u", "DOCKER_TLS_VERIFY", "-u", "DOCKER_CERT_PATH",
             "-u", "BERTH_SSH_COMMAND"]
    ssh_host = f"DOCKER_HOST={os.environ['BERTH_TEST_REMOTE_SSH']}"
    endpoints = [
        ("unix socket", [paths["plain"], f"DOCKER_HOST=unix://{os.environ['BERTH_TEST_REMOTE_SOCKET']}"]),
        ("TLS", [paths["plain"], f"DOCKER_HOST={os.environ['BERTH_TEST_REMOTE_TLS']}", "DOCKER_TLS_VERIFY=1",
                 f"DOCKER_CERT_PATH={os.environ['BERTH_TEST_REMOTE_CERTS']}"]),
        ("ssh", [paths["plain"], ssh_host]),
        ("ssh, ControlMaster", [paths["mux"], ssh_host]),
    ]
    try:
        remote_rows(berth, n, work, unset, endpoints)
    finally:
        # The multiplexing master this run started, by its control socket.
        target = os.environ["BERTH_TEST_REMOTE_SSH"].removeprefix("ssh://")
        user, _, hostport = target.partition("@")
        host, _, port = hostport.rpartition(":")
        subprocess.run([ssh, *flags, "-o", f"ControlPath={control}", "-O", "exit", "-p", port, "-l", user, host],
                       capture_output=True)


def remote_rows(berth, n, work, unset, endpoints):
    config = os.path.join(work, "berth.toml")
    with open(config, "w") as f:
        f.write(f'[sandbox]\nimage = "{IMAGE}"\n')
    results = {}
    for name, env in endpoints:
        prefix = ["env", *unset, *env]
        b = prefix + [berth]
        d = prefix + ["docker"]
        # Warm both; berth's first run makes the shared network docker joins.
        timed(b + ["run", "--rm", "--runtime", "docker", "-f", config, "--", "true"], 1)
        timed(d + ["run", "--rm", "--label", LABEL, "--network", "berth", IMAGE, "true"], 1)
        br, dr = interleaved([
            b + ["run", "--rm", "--runtime", "docker", "-f", config, "--", "true"],
            d + ["run", "--rm", "--label", LABEL, "--network", "berth", IMAGE, "true"],
        ], n)
        target, theirs = "bench-remote-exec", "bench-remote-docker-exec"
        subprocess.run(b + ["rm", "-f", target], capture_output=True)
        subprocess.run(d + ["rm", "-f", theirs], capture_output=True)
        subprocess.run(b + ["run", "-d", "--runtime", "docker", "--name", target, "-f", config, "--", "sleep", "3600"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(d + ["run", "-d", "--label", LABEL, "--name", theirs, IMAGE, "sleep", "3600"],
                       check=True, stdout=subprocess.DEVNULL)
        try:
            be, de = interleaved([b + ["exec", target, "--", "true"], d + ["exec", theirs, "true"]], n)
        finally:
            subprocess.run(b + ["rm", "-f", target], capture_output=True)
            subprocess.run(d + ["rm", "-f", theirs], capture_output=True)
        results[name] = (br, be)
        row(f"run --rm IMG true over {name}", br, dr)
        row(f"exec RUN true over {name}", be, de)
    base_run, base_exec = results["unix socket"]
    for name in ("TLS", "ssh", "ssh, ControlMaster"):
        r, e = results[name]
        print(f"{'berth over ' + name + ' / over the unix socket':<44} run {r / base_run:5.2f}   exec {e / base_exec:5.2f}")
    print(f"medians of {n} runs each")


MCP_IMAGE = "berth-test/mcp:latest"
CLIENT = """import ssl, sys, time, urllib.request
n, url = int(sys.argv[1]), sys.argv[2]
# A CA file as the third argument; without one, the default (SSL_CERT_FILE).
context = ssl.create_default_context(cafile=sys.argv[3] if len(sys.argv) > 3 else None)
opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
start = time.perf_counter()
for _ in range(n):
    with opener.open(url, timeout=10) as reply:
        reply.read()
print(time.perf_counter() - start)
"""


def sandbox(berth, name, runtime, image, config_dir, init=True):
    """Starts a detached berth sandbox sleeping; returns its name."""
    config = os.path.join(config_dir, f"{name}.toml")
    with open(config, "w") as f:
        f.write(f'[sandbox]\nimage = "{image}"\ninit = {"true" if init else "false"}\nuser = "1000:1000"\n')
    subprocess.run([berth, "rm", "-f", name], capture_output=True)
    subprocess.run([berth, "run", "-d", "--runtime", runtime, "--name", name, "-f", config, "--", "sleep", "3600"],
                   check=True, stdout=subprocess.DEVNULL)
    return name


def container(name, image, oci="runc"):
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    subprocess.run(["docker", "run", "-d", "--runtime", oci, "--user", "1000:1000", "--label", LABEL,
                    "--name", name, image, "sleep", "3600"], check=True, stdout=subprocess.DEVNULL)
    return name


def mcp_per_call(argv, calls=50):
    """Starts an MCP server through `argv` (stdio), initializes it, then makes
    `calls` tools/call requests one after another; the median seconds per call."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def ask(message, answer=True):
        proc.stdin.write((json.dumps(message) + "\n").encode())
        proc.stdin.flush()
        if answer:
            line = proc.stdout.readline()
            if not line:
                sys.exit(f"{' '.join(argv)}: the server closed its output")
            return json.loads(line)
        return None

    try:
        ask({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2024-11-05", "capabilities": {},
            "clientInfo": {"name": "berth-bench", "version": "0"}}})
        ask({"jsonrpc": "2.0", "method": "notifications/initialized"}, answer=False)
        samples = []
        for i in range(1, calls + 1):
            start = time.perf_counter()
            reply = ask({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                         "params": {"name": "add", "arguments": {"a": i, "b": 1}}})
            samples.append(time.perf_counter() - start)
            if "result" not in reply:
                sys.exit(f"tools/call failed: {reply}")
        return statistics.median(samples)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def line_round_trip(argv, lines=200):
    """Starts `argv` (a cat), then sends it lines one after another, each when
    the last came back: the median seconds per line, what the transport alone
    adds to every request of a stdio server."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = b"x" * 100 + b"\n"
    samples = []
    try:
        for _ in range(lines):
            start = time.perf_counter()
            proc.stdin.write(line)
            proc.stdin.flush()
            if proc.stdout.readline() != line:
                sys.exit(f"{' '.join(argv)}: the line did not come back")
            samples.append(time.perf_counter() - start)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    return statistics.median(samples[20:])


def through_cat(argv, data_path):
    """Seconds to send the file at `data_path` through `argv` (a cat) and back."""
    with open(data_path, "rb") as data:
        start = time.perf_counter()
        done = subprocess.run(argv, stdin=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        took = time.perf_counter() - start
    if done.returncode != 0 or len(done.stdout) != os.path.getsize(data_path):
        sys.exit(f"{' '.join(argv)} failed or lost bytes: {done.stderr.decode(errors='replace')}")
    return took


def exec_paths(berth, n):
    work = tempfile.mkdtemp(prefix="berth-bench-exec-")
    names = []
    try:
        exec_rows(berth, n, work, names)
    finally:
        for name in names:
            subprocess.run([berth, "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "rm", "-f", "bench-docker-exec", "bench-docker-exec-runsc", "bench-docker-mcp"],
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def exec_rows(berth, n, work, names):
    init_run = sandbox(berth, "bench-exec-init", "docker", IMAGE, work)
    engine_run = sandbox(berth, "bench-exec-engine", "docker", IMAGE, work, init=False)
    gvisor_run = sandbox(berth, "bench-exec-gvisor", "gvisor", IMAGE, work)
    names.extend([init_run, engine_run, gvisor_run])
    plain = container("bench-docker-exec", IMAGE)
    plain_runsc = container("bench-docker-exec-runsc", IMAGE, "runsc")
    bi, be, de = interleaved([
        [berth, "exec", init_run, "--", "true"],
        [berth, "exec", engine_run, "--", "true"],
        ["docker", "exec", plain, "true"],
    ], n)
    row("exec RUN true (runc), through berth-init", bi, de)
    row("exec RUN true (runc), through the engine", be, de)
    bg, dg = interleaved([
        [berth, "exec", gvisor_run, "--", "true"],
        ["docker", "exec", plain_runsc, "true"],
    ], n)
    row("exec RUN true (runsc), through the engine", bg, dg)

    samples = [[], [], []]
    for _ in range(max(3, n // 5)):
        samples[0].append(line_round_trip([berth, "exec", "-i", init_run, "--", "cat"]))
        samples[1].append(line_round_trip([berth, "exec", "-i", engine_run, "--", "cat"]))
        samples[2].append(line_round_trip(["docker", "exec", "-i", plain, "cat"]))
    li, le, ld = (statistics.median(s) for s in samples)
    row("a line's round trip through exec -i cat, berth-init", li, ld)
    row("a line's round trip through exec -i cat, engine", le, ld)

    data = os.path.join(work, "data")
    with open(data, "wb") as f:
        f.write(os.urandom(256 << 20))
    rounds = max(3, n // 5)
    samples = [[], [], []]
    for _ in range(rounds):
        samples[0].append(through_cat([berth, "exec", "-i", init_run, "--", "cat"], data))
        samples[1].append(through_cat([berth, "exec", "-i", engine_run, "--", "cat"], data))
        samples[2].append(through_cat(["docker", "exec", "-i", plain, "cat"], data))
    ti, te, td = (statistics.median(s) for s in samples)
    row("256 MiB through exec -i cat, berth-init", ti, td)
    row("256 MiB through exec -i cat, engine", te, td)
    print(f"{'  throughput (MiB/s): init / engine / docker':<44} {256 / ti:7.0f} {256 / te:7.0f} {256 / td:7.0f}")
    os.remove(data)

    mcp_init = sandbox(berth, "bench-mcp-init", "docker", MCP_IMAGE, work)
    mcp_engine = sandbox(berth, "bench-mcp-engine", "docker", MCP_IMAGE, work, init=False)
    names.extend([mcp_init, mcp_engine])
    mcp_plain = container("bench-docker-mcp", MCP_IMAGE)
    server = ["python3", "/srv/server.py"]
    samples = [[], [], []]
    for _ in range(max(3, n // 5)):
        samples[0].append(mcp_per_call([berth, "exec", "-i", "-w", "/srv", mcp_init, "--", *server]))
        samples[1].append(mcp_per_call([berth, "exec", "-i", "-w", "/srv", mcp_engine, "--", *server]))
        samples[2].append(mcp_per_call(["docker", "exec", "-i", "-w", "/srv", mcp_plain, "python3", "/srv/server.py"]))
    mi, me, md = (statistics.median(s) for s in samples)
    row("MCP tools/call, per call, berth-init", mi, md)
    row("MCP tools/call, per call, engine", me, md)
    fallback_matrix(berth, work)


def fallback_matrix(berth, work):
    """The exec path `berth plan` chooses per runtime and network policy."""
    print("exec path chosen (runtime x network policy):")
    for runtime in ["docker", "gvisor", "apple"]:
        cells = []
        for policy in ["open", "none", "allowlist"]:
            config = os.path.join(work, f"matrix-{runtime}-{policy}.toml")
            allow = '\nallow = ["example.com"]' if policy == "allowlist" else ""
            with open(config, "w") as f:
                f.write(f'[sandbox]\nimage = "{IMAGE}"\n\n[network]\npolicy = "{policy}"{allow}\n')
            done = subprocess.run([berth, "plan", "--runtime", runtime, "-f", config, "--format", "json"],
                                  capture_output=True)
            if done.returncode != 0:
                cells.append(f"{policy}: refused")
                continue
            path = json.loads(done.stdout)["plan"]["init"]["exec"]["path"]
            cells.append(f"{policy}: {path}")
        print(f"  {runtime:<8} " + "   ".join(cells))


def peak_memory(container_id):
    """The container's peak memory in bytes, from its cgroup (v1 or v2)."""
    for path in (
        f"/sys/fs/cgroup/memory/docker/{container_id}/memory.max_usage_in_bytes",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/memory.peak",
        f"/sys/fs/cgroup/docker/{container_id}/memory.peak",
    ):
        try:
            with open(path) as f:
                return int(f.read())
        except OSError:
            continue
    return None


def egress(berth, n):
    work = tempfile.mkdtemp(prefix="berth-bench-egress-")
    os.chmod(work, 0o755)
    try:
        egress_in(berth, n, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def egress_in(berth, n, work):
    here = os.path.dirname(os.path.abspath(__file__))
    shutil.copy(os.path.join(here, "..", "tests", "egress", "upstream.py"), work)
    with open(os.path.join(work, "client.py"), "w") as f:
        f.write(CLIENT)
    # A CA, and the upstream's certificate from it for both of its names.
    for argv in (
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
         "-days", "1", "-subj", "/CN=berth bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "req.csr",
         "-subj", "/CN=up.bench.test"],
        ["x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
         "-CAcreateserial", "-out", "cert.pem", "-days", "1", "-extfile", "san.ext"],
    ):
        with open(os.path.join(work, "san.ext"), "w") as f:
            f.write("subjectAltName=DNS:up.bench.test,DNS:bound.bench.test\n")
        subprocess.run(["openssl", *argv], cwd=work, check=True, capture_output=True)
    os.chmod(os.path.join(work, "key.pem"), 0o644)
    sandbox = f'[sandbox]\nimage = "{IMAGE}"\n'
    allowlist = sandbox + '\n[network]\npolicy = "allowlist"\nallow = ["up.bench.test:8443"]\n'
    for name, text in (("open.toml", sandbox), ("allow.toml", allowlist)):
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    open_cfg, allow_cfg = os.path.join(work, "open.toml"), os.path.join(work, "allow.toml")
    timed([berth, "run", "--rm", "--runtime", "docker", "-f", allow_cfg, "--", "true"], 1)
    ba, bo = interleaved([
        [berth, "run", "--rm", "--runtime", "docker", "-f", allow_cfg, "--", "true"],
        [berth, "run", "--rm", "--runtime", "docker", "-f", open_cfg, "--", "true"],
    ], n)
    print(f"{'run --rm true, allowlist vs open (runc)':<44} allowlist {ba * 1000:7.1f} ms   open {bo * 1000:7.1f} ms   ratio {ba / bo:5.2f}")

    config = os.path.join(work, "requests.toml")
    with open(config, "w") as f:
        f.write(f'[sandbox]\nimage = "{MCP_IMAGE}"\ncommand = ["sleep", "3600"]\n\n'
                f'[workspace]\npath = "{work}"\nmount = "/work"\nread_only = true\n\n'
                '[secrets.BENCH_TOKEN]\nhosts = ["bound.bench.test:8443"]\n\n'
                '[network]\npolicy = "allowlist"\nallow = ["up.bench.test:8443"]\n'
                f'upstream_ca = "{work}/ca.pem"\n')
    name = subprocess.run([berth, "run", "-d", "--runtime", "docker", "-f", config],
                          check=True, capture_output=True, text=True,
                          env={**os.environ, "BENCH_TOKEN": "bench-value"}).stdout.strip()
    upstream = "bench-egress-upstream"
    try:
        run_id = subprocess.run(["docker", "inspect", name, "--format", '{{index .Config.Labels "berth.run-id"}}'],
                                check=True, capture_output=True, text=True).stdout.strip()
        network = f"berth-{run_id}-egress"
        subprocess.run(["docker", "run", "-d", "--name", upstream, "--label", LABEL, "--network", network,
                        "--network-alias", "up.bench.test", "--network-alias", "bound.bench.test",
                        "-v", f"{work}:/srv/egress:ro",
                        "--entrypoint", "python3", MCP_IMAGE, "/srv/egress/upstream.py"],
                       check=True, capture_output=True)
        time.sleep(1)
        url, count = "https://up.bench.test:8443/", "100"
        proxied_argv = [berth, "exec", name, "--", "python3", "/work/client.py", count, url, "/work/ca.pem"]
        direct_argv = ["docker", "run", "--rm", "--label", LABEL, "--network", network,
                       "-v", f"{work}:/work:ro", "--entrypoint", "python3", MCP_IMAGE,
                       "/work/client.py", count, url, "/work/ca.pem"]
        # The bound host's TLS is intercepted; the client trusts the run's CA
        # through SSL_CERT_FILE.
        intercepted_argv = [berth, "exec", name, "--", "python3", "/work/client.py", count,
                            "https://bound.bench.test:8443/"]
        proxied, direct, intercepted = [], [], []
        for _ in range(max(3, n // 4)):
            for argv, out in ((proxied_argv, proxied), (direct_argv, direct),
                              (intercepted_argv, intercepted)):
                done = subprocess.run(argv, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(f"{' '.join(argv)} failed: {done.stderr}")
                out.append(float(done.stdout.strip().splitlines()[-1]))
        p, d = statistics.median(proxied), statistics.median(direct)
        i = statistics.median(intercepted)
        print(f"{'100 HTTPS requests, proxied vs direct':<44} proxied {p * 1000:7.1f} ms   direct {d * 1000:7.1f} ms   ratio {p / d:5.2f}")
        print(f"{'100 HTTPS requests, intercepted vs tunnelled':<44} intercepted {i * 1000:7.1f} ms   tunnelled {p * 1000:7.1f} ms   ratio {i / p:5.2f}   ({(i - p) * 10:.2f} ms more per request)")
        proxy_id = subprocess.run(["docker", "inspect", f"berth-{run_id}-proxy", "--format", "{{.Id}}"],
                                  check=True, capture_output=True, text=True).stdout.strip()
        peak = peak_memory(proxy_id)
        print(f"{'egress proxy peak memory':<44} {peak / 2**20:.1f} MiB" if peak else "egress proxy peak memory: unknown (no cgroup file)")
    finally:
        subprocess.run(["docker", "rm", "-f", upstream], capture_output=True)
        subprocess.run([berth, "rm", "-f", name], capture_output=True)


if __name__ == "__main__":
    main()
