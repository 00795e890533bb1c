#!/usr/bin/env bash
# Start-up latency of a session: `strata run ENV -- /bin/true` on the busybox
# environment with everything cached, against bubblewrap on the same root, in
# one run on this machine. Prints medians and the ratio (strata / bwrap).
#
# usage: bench/run-true.sh [--strata PATH] [--baseline PATH] [RUNS]
#   --strata PATH    use this strata binary instead of building the release one
#   --baseline PATH  also time this other strata build (an earlier commit's) in the same
#                    rounds, on its own store: before/after figures from one run
# As root; scripts/setup installs bwrap and hyperfine.
set -euo pipefail
strata= baseline= runs=200
while [ $# -gt 0 ]; do
  case "$1" in
    --strata) strata=$(realpath "$2"); shift 2 ;;
    --baseline) baseline=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) runs=$1; shift ;;
  esac
done
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/strata-bench.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT

if [ -z "$strata" ]; then
  swift build -c release --static-swift-stdlib --package-path "$top" >/dev/null
  strata="$top/.build/release/strata"
fi

mkdir -p "$work/project/envs"
"$top/scripts/busybox-fixture.py" "$work/project/images" >/dev/null
cat > "$work/project/envs/bb.json" <<'JSON'
{"from": {"image": "oci:../images/busybox:latest"}}
JSON
cd "$work/project"
STRATA_ROOT="$work/store" "$strata" lock bb >/dev/null
snapshot=$(STRATA_ROOT="$work/store" "$strata" build bb)
root="$work/store/layers/$(head -1 "$work/store/snapshots/${snapshot#sha256:}" | sed 's/^sha256://')"
STRATA_ROOT="$work/store" "$strata" run bb -- /bin/true
bwrap --unshare-all --bind "$root" / --proc /proc --dev /dev /bin/true
commands=(-n strata "$strata run --root $work/store bb -- /bin/true")
names=(strata)
if [ -n "$baseline" ]; then
  # Its own store (the layout may differ between builds); the lockfile is the same manifest's.
  "$baseline" run --root "$work/store-baseline" bb -- /bin/true
  commands+=(-n baseline "$baseline run --root $work/store-baseline bb -- /bin/true")
  names+=(baseline)
fi
commands+=(-n bwrap "bwrap --unshare-all --bind $root / --proc /proc --dev /dev /bin/true" -n true "/bin/true")
names+=(bwrap true)

# The machines are shared and noisy: alternate short rounds of each command so
# that drift hits all alike, and take medians over all rounds.
rounds=$(( (runs + 39) / 40 ))
for i in $(seq "$rounds"); do
  hyperfine -N --warmup 5 --runs 40 --export-json "$work/round-$i.json" "${commands[@]}" >/dev/null 2>&1
done

python3 - "$work" "$rounds" "${names[@]}" <<'PY'
import json, statistics, sys
work, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
times, cpu = {}, {}
for i in range(1, rounds + 1):
    for r in json.load(open(f"{work}/round-{i}.json"))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
        cpu.setdefault(r["command"], []).append(r["user"] + r["system"])  # each round's mean
med = {name: statistics.median(t) * 1000 for name, t in times.items()}
for name in names:
    t = sorted(times[name])
    c = statistics.median(cpu[name]) * 1000 if cpu.get(name) else float("nan")
    print(f"{name:8s} median {med[name]:6.2f} ms  p10 {t[len(t)//10]*1000:6.2f}  p90 {t[9*len(t)//10]*1000:6.2f}  cpu {c:5.2f} ms (median of the rounds' means)  ({len(t)} runs)")
print(f"ratio strata/bwrap (medians): {med['strata'] / med['bwrap']:.2f}x")
if "baseline" in med:
    print(f"ratio strata/baseline (medians): {med['strata'] / med['baseline']:.2f}x")
PY
