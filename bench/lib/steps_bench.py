#!/usr/bin/env python3
"""Helpers for bench/steps.sh: the five steps as a strata manifest and a Containerfile, timing
one build, and the final table.

  steps_bench.py files PROJECT LAYOUT BASE VARIANT
  steps_bench.py time RESULTS NAME ROUND [--ran COUNTER] -- COMMAND...
  steps_bench.py summary RESULTS

`files` writes PROJECT/envs/base.json (the base image alone), PROJECT/envs/bench.json (the
base and the five steps) and PROJECT/context/Containerfile (FROM BASE and the same five steps
as RUN lines), with the last step's VARIANT (0 for the original, anything else for an edit).
`--ran COUNTER` runs the shell command COUNTER before and after the build, and records the
difference of the numbers it prints as the steps the build ran (what made a layer).
"""
import json
import os
import resource
import statistics
import subprocess
import sys
import time

# The aims (medians): an edit of the last step rebuilds in under this fraction of a full build
# (strata), and a fully cached strata build takes at most this fraction of buildah's.
AIM_EDIT = 0.10
AIM_NOOP = 0.05

FILES = 300  # files a step writes


def steps(variant):
    """The five shell commands, each one line (a Containerfile's RUN takes a line), each
    writing FILES deterministic files of about 40 KB (12 MB in all) with busybox tools.
    The last one's numbers start VARIANT further on, so an edit changes every file it writes."""
    loop = f"i=1; while [ $i -le {FILES} ]; do {{body}}; i=$((i+1)); done"
    return [
        # Numbers, one a line: 6,000 of them a file.
        "set -e; mkdir -p /bench/s1; cd /bench/s1; "
        + loop.format(body="seq $((i*100000)) $((i*100000+4999)) >n$i.txt"),
        # A repeated line, cut to 48,000 bytes.
        "set -e; mkdir -p /bench/s2; cd /bench/s2; "
        + loop.format(body='yes "step two, file $i: the quick brown fox jumps over the lazy dog" | head -c 40000 >t$i.txt'),
        # Numbered records made by sed.
        "set -e; mkdir -p /bench/s3; cd /bench/s3; "
        + loop.format(body='seq 1 2000 | sed "s/^/record $i field /" >r$i.txt'),
        # Step one's files read back and rewritten.
        "set -e; mkdir -p /bench/s4; for f in /bench/s1/*.txt; do sed 's/0/o/g; s/9/n/g' \"$f\" >/bench/s4/${f##*/}; done",
        # Numbers again, from a point the variant moves.
        f"set -e; mkdir -p /bench/s5; cd /bench/s5; echo {variant} >variant; "
        + loop.format(body=f"seq $((i*100000+{variant})) $((i*100000+{variant}+4999)) >v$i.txt"),
    ]


def write_files(project, layout, base, variant):
    commands = steps(int(variant))
    base_from = {"image": f"oci:{layout}:latest"}
    os.makedirs(os.path.join(project, "envs"), exist_ok=True)
    os.makedirs(os.path.join(project, "context"), exist_ok=True)
    with open(os.path.join(project, "envs", "base.json"), "w") as out:
        json.dump({"from": base_from}, out, indent=2)
        out.write("\n")
    with open(os.path.join(project, "envs", "bench.json"), "w") as out:
        json.dump({"from": base_from, "steps": [{"run": c} for c in commands]}, out, indent=2)
        out.write("\n")
    with open(os.path.join(project, "context", "Containerfile"), "w") as out:
        out.write(f"FROM {base}\n")
        for c in commands:
            if "\n" in c:
                sys.exit("steps_bench.py: a step must be one line to be a RUN line")
            out.write(f"RUN {c}\n")


def count(counter):
    out = subprocess.run(["sh", "-c", counter], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"steps_bench.py: the counter failed ({out.returncode}): {counter}\n{out.stderr}")
    return int(out.stdout.strip() or 0)


def time_build(results, name, round_, counter, command):
    """Runs `command` once, its output to a log beside the results, and appends its wall time,
    CPU time (user+sys of it and everything it waited for) and the steps it ran."""
    log = os.path.join(results, f"{name}-{round_}.log")
    before_count = count(counter) if counter else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, "wb") as out:
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:
        sys.stderr.write(f"steps_bench.py: {name} (round {round_}) exited {status}: {' '.join(command)}\n")
        sys.stderr.write(open(log, errors="replace").read()[-4000:])
        sys.exit(1)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row = {"name": name, "round": int(round_), "wall": wall, "cpu": cpu}
    if counter:
        row["ran"] = count(counter) - before_count
    with open(os.path.join(results, "times.jsonl"), "a") as out:
        out.write(json.dumps(row) + "\n")
    print(f"  {name:22s} {wall:7.2f} s wall {cpu:7.2f} s CPU"
          + (f"  {row['ran']} step(s) ran" if counter else ""))


# The table's rows: (phase, label), each timed for both tools as TOOL-PHASE.
PHASES = [
    ("full", "(a) full build, empty cache"),
    ("edit", "(b) rebuild, last step edited"),
    ("noop", "(c) rebuild, nothing changed"),
]
TOOLS = ["strata", "buildah", "chroot"]
# Timed for information only, not in the aims: (name, label).
EXTRAS = [("strata-lock", "strata lock, fresh store (before (a), not in it)")]


def summary(results):
    rows = [json.loads(line) for line in open(os.path.join(results, "times.jsonl"))]
    by = {}
    for row in rows:
        by.setdefault(row["name"], {})[row["round"]] = row
    rounds = sorted({row["round"] for row in rows})
    print()
    print(f"Five `run` steps (~12 MB and {FILES} files each) built by strata and by buildah bud --layers, "
          f"{len(rounds)} rounds interleaved (wall seconds; CPU = user+sys)")
    info = os.path.join(results, "info.txt")
    if os.path.exists(info):
        for line in open(info):
            print("  " + line.rstrip())
    print(f"{'variant':50s} {'median':>7s} {'min-max':>13s} {'CPU':>6s} {'ran':>4s} {'runs':>5s}")
    med = {}

    def row(name, label):
        if name not in by:
            return
        walls = [r["wall"] for r in by[name].values()]
        cpus = [r["cpu"] for r in by[name].values()]
        ran = sorted({r["ran"] for r in by[name].values() if "ran" in r})
        med[name] = statistics.median(walls)
        span = f"{min(walls):.3f}-{max(walls):.3f}"
        print(f"{label:50s} {med[name]:7.3f} {span:>13s} {statistics.median(cpus):6.2f} "
              f"{'/'.join(map(str, ran)) or '-':>4s} {len(walls):5d}")

    for phase, label in PHASES:
        for tool in TOOLS:
            row(f"{tool}-{phase}", f"{tool:8s}{label}")
    for name, label in EXTRAS:
        row(name, label)
    print("(ran: the steps that made a layer, each count seen over the rounds; chroot: the same commands\n"
          " by chroot on the base, no layers, no cache: the floor)")

    def ratio(a, b):
        """The ratio of the medians, and the range of the per-round ratios."""
        rs = [by[a][r]["wall"] / by[b][r]["wall"] for r in rounds if r in by[a] and r in by[b]]
        return med[a] / med[b], f"[{min(rs):.3f} .. {max(rs):.3f}]"

    print()
    print("Ratios (of medians; range of the per-round ratios)")
    for phase, label in PHASES:
        if f"strata-{phase}" in med and f"buildah-{phase}" in med:
            value, span = ratio(f"strata-{phase}", f"buildah-{phase}")
            print(f"  {'strata / buildah, ' + label:50s} {value:7.3f}x  {span}")
    for phase, label in PHASES:
        if f"strata-{phase}" in med and f"chroot-{phase}" in med:
            value, span = ratio(f"strata-{phase}", f"chroot-{phase}")
            print(f"  {'strata / chroot, ' + label:50s} {value:7.3f}x  {span}")
    for tool in TOOLS:
        if f"{tool}-edit" in med and f"{tool}-full" in med:
            value, span = ratio(f"{tool}-edit", f"{tool}-full")
            print(f"  {tool + ' (b) / ' + tool + ' (a)':50s} {value:7.3f}x  {span}")
    if "strata-edit" in med and "strata-full" in med:
        value = med["strata-edit"] / med["strata-full"]
        print(f"aim: strata (b) < {AIM_EDIT}x strata (a) (medians): {value:.3f}x, {'met' if value < AIM_EDIT else 'NOT met'}")
    if "strata-noop" in med and "buildah-noop" in med:
        value = med["strata-noop"] / med["buildah-noop"]
        print(f"aim: strata (c) <= {AIM_NOOP}x buildah (c) (medians): {value:.3f}x, {'met' if value <= AIM_NOOP else 'NOT met'}")


def main():
    args = sys.argv[1:]
    if len(args) == 5 and args[0] == "files":
        write_files(*args[1:])
    elif len(args) >= 5 and args[0] == "time" and "--" in args:
        split = args.index("--")
        head, command = args[1:split], args[split + 1:]
        counter = None
        if len(head) == 5 and head[3] == "--ran":
            counter = head[4]
            head = head[:3]
        if len(head) != 3 or not command:
            sys.exit(__doc__)
        time_build(head[0], head[1], head[2], counter, command)
    elif len(args) == 2 and args[0] == "summary":
        summary(args[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
