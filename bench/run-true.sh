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

hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/times.json" \
  -n strata "$strata run bb -- /bin/true" \
  -n bwrap "bwrap --unshare-all --bind $root / --proc /proc --dev /dev /bin/true" \
  -n true "/bin/true" >/dev/null

python3 - "$work/times.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = {name: results[name]["median"] * 1000 for name in results}
for name in ("strata", "bwrap", "true"):
    print(f"{name:7s} median {med[name]:7.2f} ms  (mean {results[name]['mean']*1000:.2f}, stddev {results[name]['stddev']*1000:.2f})")
print(f"ratio strata/bwrap: {med['strata'] / med['bwrap']:.2f}x")
PY
