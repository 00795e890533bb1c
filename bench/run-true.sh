#!/usr/bin/env bash
# Start-up latency of a session: `strata run ENV -- /bin/true` on the busybox
# environment with everything cached, against bubblewrap on the same root, in
# one run on this machine. Prints medians and the ratio (strata / bwrap).
#
# usage: bench/run-true.sh [RUNS]       (as root; scripts/setup installs bwrap and hyperfine)
set -euo pipefail
runs=${1:-200}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/strata-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

swift build -c release --static-swift-stdlib --package-path "$top" >/dev/null
strata="$top/.build/release/strata"

mkdir -p "$work/project/envs"
"$top/scripts/busybox-fixture.py" "$work/project/images" >/dev/null
cat > "$work/project/envs/bb.json" <<'JSON'
{"from": {"image": "oci:../images/busybox:latest"}}
JSON
export STRATA_ROOT="$work/store"
cd "$work/project"
"$strata" lock bb >/dev/null
snapshot=$("$strata" build bb)
root="$STRATA_ROOT/layers/$(head -1 "$STRATA_ROOT/snapshots/${snapshot#sha256:}" | sed 's/^sha256://')"
"$strata" run bb -- /bin/true
bwrap --unshare-all --bind "$root" / --proc /proc --dev /dev /bin/true

# The machines are shared and noisy: alternate short rounds of each command so
# that drift hits both alike, and take medians over all rounds.
rounds=$(( (runs + 39) / 40 ))
for i in $(seq "$rounds"); do
  hyperfine -N --warmup 5 --runs 40 --export-json "$work/round-$i.json" \
    -n strata "$strata run bb -- /bin/true" \
    -n bwrap "bwrap --unshare-all --bind $root / --proc /proc --dev /dev /bin/true" \
    -n true "/bin/true" >/dev/null 2>&1
done

python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
times = {}
for i in range(1, int(sys.argv[2]) + 1):
    for r in json.load(open(f"{sys.argv[1]}/round-{i}.json"))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
med = {name: statistics.median(t) * 1000 for name, t in times.items()}
for name in ("strata", "bwrap", "true"):
    t = sorted(times[name])
    print(f"{name:7s} median {med[name]:6.2f} ms  p10 {t[len(t)//10]*1000:6.2f}  p90 {t[9*len(t)//10]*1000:6.2f}  ({len(t)} runs)")
print(f"ratio strata/bwrap (medians): {med['strata'] / med['bwrap']:.2f}x")
PY
