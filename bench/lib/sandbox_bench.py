#!/usr/bin/env python3
"""Helpers for bench/sandbox.sh: the runc bundle's config.json and the final table.

  sandbox_bench.py runc-config CONFIG.json ROOTFS
  sandbox_bench.py summary RESULTS
"""
import glob
import json
import os
import re
import statistics
import sys

AIM = 1.5  # strata's warm start-up may cost at most this many times bwrap's


def runc_config(path, rootfs):
    """`runc spec`'s default, made to run /bin/true on ROOTFS without a terminal, read-write,
    with a cgroup namespace as strata's sessions have."""
    config = json.load(open(path))
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    config["root"] = {"path": rootfs, "readonly": False}
    namespaces = config["linux"].setdefault("namespaces", [])
    if not any(n["type"] == "cgroup" for n in namespaces):
        namespaces.append({"type": "cgroup"})
    with open(path + ".tmp", "w") as out:
        json.dump(config, out, indent=2)
    os.rename(path + ".tmp", path)


def ms(seconds):
    return seconds * 1000


def warm_times(results):
    """All warm timings per command, and each round's median per command."""
    times, rounds = {}, []
    for path in sorted(glob.glob(os.path.join(results, "warm-*.json")),
                       key=lambda p: int(re.search(r"warm-(\d+)", p).group(1))):
        medians = {}
        for r in json.load(open(path))["results"]:
            times.setdefault(r["command"], []).extend(r["times"])
            medians[r["command"]] = statistics.median(r["times"])
        rounds.append(medians)
    return times, rounds


def cpu_ms(results, name):
    """perf stat's mean task-clock (ms of CPU, children included) for a command, or None."""
    path = os.path.join(results, f"perf-{name}.csv")
    if not os.path.exists(path):
        return None
    for line in open(path):
        fields = line.strip().split(",")
        if len(fields) > 2 and fields[2] == "task-clock":
            try:
                return float(fields[0])
            except ValueError:
                return None
    return None


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


EVENT = re.compile(r"^\s*(.+?)\s+(\d+)/(\d+)\s+(\d+\.\d+):\s+(\S+):\s*(.*)$")
CLONE_NEWNS = 0x00020000


def runs_of(trace):
    """`perf script` lines of a recording of many `strata run`s, split into one list of
    (pid, seconds, event, details) per run, each starting at the exec of strata."""
    runs = []
    for line in open(trace):
        m = EVENT.match(line)
        if not m:
            continue
        tid, ts, event, rest = int(m.group(3)), float(m.group(4)), m.group(5), m.group(6)
        if event == "sched:sched_process_exec" and re.search(r"filename=\S*/strata\b", rest):
            runs.append([])
        if runs:
            runs[-1].append((tid, ts, event, rest))
    return runs


def phases(run):
    """The consecutive phases of one run in ms (and the total last), or None when the run
    lacks one of the marks."""
    top = run[0][0]
    marks, init, cmd, exits = {"start": run[0][1]}, None, None, {}
    for tid, ts, event, rest in run[1:]:
        if event == "syscalls:sys_enter_clone" and tid == top and "clone" not in marks:
            flags = re.search(r"clone_flags: (0x[0-9a-f]+)", rest)
            if flags and int(flags.group(1), 16) & CLONE_NEWNS:
                marks["clone"] = ts
        elif event == "sched:sched_process_fork" and tid == top and "clone" in marks and "forked" not in marks:
            marks["forked"], init = ts, int(re.search(r"child_pid=(\d+)", rest).group(1))
        elif event == "syscalls:sys_enter_pivot_root" and tid == init and "pivot" not in marks:
            marks["pivot"] = ts
        elif event == "syscalls:sys_enter_seccomp" and "pivot" in marks and "seccomp" not in marks:
            marks["seccomp"] = ts
        elif event == "sched:sched_process_exec" and "pivot" in marks and "exec" not in marks:
            marks["exec"], cmd = ts, tid
        elif event == "sched:sched_process_exit":
            exits[tid] = ts
        elif event == "syscalls:sys_exit_wait4" and tid == top and init in exits and "reaped" not in marks:
            marks["reaped"] = ts
    if cmd not in exits or init not in exits or top not in exits:
        return None
    marks.update(cmd_exit=exits[cmd], init_exit=exits[init], end=exits[top])
    order = ["start", "clone", "forked", "pivot", "seccomp", "exec", "cmd_exit", "init_exit", "reaped", "end"]
    if any(k not in marks for k in order) or sorted(order, key=marks.get) != order:
        return None
    return [ms(marks[b] - marks[a]) for a, b in zip(order, order[1:])] + [ms(marks["end"] - marks["start"])]


PHASES = [
    "host: Swift start-up, manifest, lockfile, store, session dir, cached BPF",
    "clone with 6 namespaces (kernel creates them)",
    "overlay root, /proc /dev /sys /tmp, masked paths, pivot_root",
    "PID 1 forks the command; user, capabilities, no_new_privs, rlimits",
    "seccomp filter loaded, execve",
    "the command (/bin/true) runs",
    "PID 1 reaps it and starts to exit",
    "PID 1's exit: its mount namespace (the session's mounts) torn down",
    "host: session removed (record, upper, work dirs), exit",
]


def summary(results):
    times, rounds = warm_times(results)
    if not times:
        sys.exit(f"no warm-*.json in {results}")
    med = {name: ms(statistics.median(t)) for name, t in times.items()}
    bwrap = med.get("bwrap")
    print()
    print("Warm start-up of /bin/true, same busybox root (median over all rounds, ms)")
    print(f"{'tool / variant':20s} {'median':>7s} {'p10':>7s} {'p90':>7s} {'vs bwrap':>9s} {'CPU ms':>7s} {'runs':>5s}")
    for name, t in times.items():
        cpu = cpu_ms(results, name)
        ratio = f"{med[name] / bwrap:.2f}x" if bwrap else "-"
        print(f"{name:20s} {med[name]:7.2f} {ms(percentile(t, 0.1)):7.2f} {ms(percentile(t, 0.9)):7.2f} "
              f"{ratio:>9s} {(f'{cpu:.2f}' if cpu is not None else '-'):>7s} {len(t):5d}")
    crun = os.path.join(results, "crun.txt")
    if os.path.exists(crun):
        print(open(crun).read().strip())
    if bwrap and "strata" in med:
        ratio = med["strata"] / bwrap
        verdict = "met" if ratio <= AIM else "NOT met"
        print(f"aim: strata <= {AIM}x bwrap (medians): {ratio:.2f}x, {verdict}")

    def delta(a, b):
        if a not in med or b not in med:
            return None
        per_round = [r[a] - r[b] for r in rounds if a in r and b in r]
        return med[a] - med[b], ms(min(per_round)), ms(max(per_round))

    print()
    print("Cost of each part (difference of medians; range of the per-round differences)")
    rows = [
        ("seccomp (cached program loaded, filter on)", "strata", "strata-unconfined"),
        ("cgroups (pids 512, memory 1g: create, join, remove)", "strata-limits", "strata"),
        ("strata unconfined over the unshare floor", "strata-unconfined", "unshare"),
        ("namespaces + proc mount (unshare over chroot)", "unshare", "chroot"),
        ("chroot over plain exec", "chroot", "true"),
        ("strata over bwrap", "strata", "bwrap"),
    ]
    for label, a, b in rows:
        d = delta(a, b)
        if d is not None:
            print(f"  {label:52s} {d[0]:+7.2f} ms  [{d[1]:+.2f} .. {d[2]:+.2f}]")

    cold = os.path.join(results, "cold.json")
    if os.path.exists(cold):
        c = {r["command"]: r["times"] for r in json.load(open(cold))["results"]}
        if "strata-cold" in c and "strata-warm" in c:
            cm, wm = ms(statistics.median(c["strata-cold"])), ms(statistics.median(c["strata-warm"]))
            print(f"  {'seccomp compile (cache cleared), ' + str(len(c['strata-cold'])) + ' cold runs':52s} "
                  f"{cm - wm:+7.2f} ms  (cold {cm:.2f}, warm {wm:.2f}; "
                  f"cold runs {', '.join(f'{ms(t):.1f}' for t in c['strata-cold'])})")

    trace = os.path.join(results, "phases.txt")
    if os.path.exists(trace):
        runs = runs_of(trace)
        parsed = [p for p in map(phases, runs) if p is not None]
        if parsed:
            print()
            print(f"Where a strata run goes (perf record tracepoints, median of {len(parsed)} of {len(runs)} runs)")
            print(f"  {'median':>7s} {'p90':>7s}  ms")
            for i, label in enumerate(PHASES + ["exec of strata to its exit, traced"]):
                column = [p[i] for p in parsed]
                print(f"  {statistics.median(column):7.2f} {percentile(column, 0.9):7.2f}  {label}")
            if "strata" in med:
                print(f"  {med['strata']:7.2f}          untraced wall-clock median, from the table")
        else:
            print(f"\nphases: none of the {len(runs)} recorded runs had every mark; left out")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "runc-config":
        runc_config(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "summary":
        summary(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
