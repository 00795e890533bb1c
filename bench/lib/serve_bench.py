#!/usr/bin/env python3
"""Timing for bench/serve.sh: `docker run --rm IMAGE true` through each daemon's socket.

  serve_bench.py --runs N --warmup W --rounds R --concurrent C --image IMAGE \\
                 NAME=SOCKET[,EXTRA-ARG...] ...

Each NAME=SOCKET is one series: `docker run --rm [EXTRA-ARG...] IMAGE true` with
DOCKER_HOST=unix://SOCKET. The first series is the one measured (strata), the second its
baseline (podman), any further ones are shown for information. Warm-up (W runs each), then N
sequential runs of each, interleaved (a, b, c, a, b, c, ...) so that machine noise hits all
alike; then R rounds of C concurrent runs per series (interleaved by round), each round's wall
clock from the first start to the last exit. A run that exits non-zero is a failure: the
sequential ones stop the benchmark (exit 1, its stderr shown); the concurrent ones are counted
and reported (exit 1 at the end). Prints the per-series figures and the summary.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

AIM = 0.3  # strata serve's `docker run --rm IMAGE true` may take at most this much of podman's


def parse_series(text):
    name, _, rest = text.partition("=")
    socket, *extra = rest.split(",")
    if not name or not socket:
        raise argparse.ArgumentTypeError(f"expected NAME=SOCKET[,ARG...], got {text!r}")
    return name, socket, [a for a in extra if a]


def command(series, image):
    _, _, extra = series
    return ["docker", "run", "--rm", *extra, image, "true"]


def environment(series):
    env = dict(os.environ)
    env["DOCKER_HOST"] = "unix://" + series[1]
    return env


def run_once(series, image):
    """One timed run: (seconds, exit status, stderr)."""
    t0 = time.perf_counter()
    done = subprocess.run(command(series, image), env=environment(series), stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0, done.returncode, done.stderr.decode(errors="replace")


def run_concurrent(series, image, count):
    """COUNT runs started at once: (wall-clock seconds, [(status, stderr) of the failures])."""
    argv, env = command(series, image), environment(series)
    t0 = time.perf_counter()
    procs = [subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(count)]
    # Drain each one's stderr as it goes (communicate), so that none blocks on a full pipe.
    errors = [p.communicate()[1] for p in procs]
    wall = time.perf_counter() - t0
    failures = [(p.returncode, err.decode(errors="replace")) for p, err in zip(procs, errors) if p.returncode != 0]
    return wall, failures


def pct(values, q):
    """Nearest-rank percentile of VALUES (q in 0..100)."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, -(-len(s) * q // 100) - 1))]


def fail(message, detail=""):
    print(f"bench/serve.sh: {message}", file=sys.stderr)
    for line in detail.strip().splitlines()[-10:]:
        print("  " + line, file=sys.stderr)
    sys.exit(1)


def leftovers(series):
    """Containers the daemon still lists after the runs (each was --rm)."""
    out = subprocess.run(["docker", "ps", "-aq"], env=environment(series), capture_output=True, text=True)
    return len(out.stdout.split()) if out.returncode == 0 else f"? (docker ps -a: {out.stderr.strip()})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrent", type=int, default=50)
    ap.add_argument("--image", default="busybox")
    ap.add_argument("series", nargs="+", type=parse_series)
    args = ap.parse_args()
    series = args.series
    n = len(series)
    if n < 2:
        ap.error("give at least two series: strata's and podman's")
    # Keyed by position: the same daemon may appear twice (with other docker run arguments).
    label = [s[0] + "".join(" " + a for a in s[2]) for s in series]
    width = max(len(v) for v in label)

    for s in series:
        for _ in range(args.warmup):
            _, status, err = run_once(s, args.image)
            if status != 0:
                fail(f"warm-up `{' '.join(command(s, args.image))}` through {s[0]} exited {status}:", err)

    times = [[] for _ in series]
    for _ in range(args.runs):
        for i, s in enumerate(series):
            seconds, status, err = run_once(s, args.image)
            if status != 0:
                fail(f"`{' '.join(command(s, args.image))}` through {s[0]} exited {status}:", err)
            times[i].append(seconds * 1000)
    print(f"sequential: {args.runs} runs each after {args.warmup} warm-up runs, interleaved")
    for i in range(n):
        t = times[i]
        print(f"  {label[i]:{width}s}  median {statistics.median(t):7.1f} ms  p10 {pct(t, 10):7.1f}"
              f"  p90 {pct(t, 90):7.1f}  min {min(t):7.1f}  max {max(t):7.1f}")

    walls = [[] for _ in series]
    failed = [0] * n
    first_error = [None] * n
    for _ in range(args.rounds):
        for i, s in enumerate(series):
            wall, failures = run_concurrent(s, args.image, args.concurrent)
            walls[i].append(wall * 1000)
            failed[i] += len(failures)
            if failures and first_error[i] is None:
                first_error[i] = failures[0]
    print(f"concurrent: {args.rounds} rounds of {args.concurrent} runs at once each, interleaved (wall clock)")
    for i, s in enumerate(series):
        w = walls[i]
        print(f"  {label[i]:{width}s}  median {statistics.median(w):7.1f} ms  rounds "
              + " ".join(f"{x:.1f}" for x in w)
              + f"  failed {failed[i]}/{args.rounds * args.concurrent}  containers left {leftovers(s)}")
        if first_error[i] is not None:
            status, err = first_error[i]
            print(f"    first failure (exit {status}): " + (err.strip().splitlines() or [""])[-1])

    seq = [statistics.median(t) for t in times]
    con = [statistics.median(w) for w in walls]
    names = [{"strata": "strata serve", "podman": "podman service"}.get(s[0], s[0]) + "".join(" " + a for a in s[2])
             for s in series]
    nw = max(len(v) for v in names)
    print()
    print(f"docker run --rm {args.image} true (median of {args.runs})")
    for i in range(n):
        print(f"  {names[i]:{nw}s} {seq[i]:8.1f} ms")
    print(f"  ratio strata/podman {seq[0] / seq[1]:.2f} (aim: at most {AIM:.2f})")
    for i in range(2, n):
        print(f"  ratio strata/({names[i]}) {seq[0] / seq[i]:.2f}")
    print(f"{args.concurrent} concurrent runs (median of {args.rounds} rounds, wall clock)")
    for i in range(n):
        print(f"  {names[i]:{nw}s} {con[i]:8.1f} ms" + (f"  ({failed[i]} failed)" if failed[i] else ""))
    print(f"  ratio strata/podman {con[0] / con[1]:.2f}")
    for i in range(2, n):
        print(f"  ratio strata/({names[i]}) {con[0] / con[i]:.2f}")
    if any(failed):
        print("bench/serve.sh: some concurrent runs failed (see above)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
