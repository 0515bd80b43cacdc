#!/usr/bin/env python3
"""Wall-time benchmarks of berth against the docker CLI, in the same run.

Prints medians and ratios (berth / docker); never asserts a time. Uses the local
busybox test image. The commands compared are run in turn, sample by sample, so a
machine that slows down mid-run slows both. Usage:
scripts/bench.py [-n RUNS] [--berth PATH]

berth's default sandbox joins the berth-owned network; the engine sets up its
embedded DNS for every container on a user-defined network (one re-exec and
eleven iptables runs on Docker 20.10), which `docker run --rm` on the default
bridge does not pay. The second row of each pair runs docker on the same network.
"""
import argparse
import statistics
import subprocess
import sys
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


def row(name, berth_s, docker_s):
    print(f"{name:<44} berth {berth_s * 1000:7.1f} ms   docker {docker_s * 1000:7.1f} ms   ratio {berth_s / docker_s:5.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", "--runs", type=int, default=20)
    ap.add_argument("--berth", default="target/release/berth")
    args = ap.parse_args()
    berth, n = args.berth, args.runs
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

    name = "bench-exec-target"
    subprocess.run(["docker", "rm", "-f", name, "bench-docker-exec"], capture_output=True)
    subprocess.run([berth, "run", "-d", "--runtime", "docker", "--name", name, IMAGE, "--", "sleep", "3600"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["docker", "run", "-d", "--label", LABEL, "--name", "bench-docker-exec", IMAGE, "sleep", "3600"], check=True, stdout=subprocess.DEVNULL)
    try:
        be, de = interleaved([
            [berth, "exec", name, "--", "true"],
            ["docker", "exec", "bench-docker-exec", "true"],
        ], n)
        row("exec RUN true (runc)", be, de)
    finally:
        subprocess.run([berth, "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "rm", "-f", "bench-docker-exec"], capture_output=True)
    print(f"medians of {n} runs each")


if __name__ == "__main__":
    main()
