#!/usr/bin/env bash
# Start-up latency of a rootless session: an unprivileged user's warm `strata run bb -- /bin/true`
# on the busybox environment (its own store in ~/.local/share/strata, joining the user namespace
# the first strata left its `strata-userns` keeper in), against rootful strata on root's own
# store, bubblewrap as the same user on the same root, and rootless podman, in one run on this
# machine. Prints one table (median, min-max ms) and the ratios; the aims are rootless/rootful
# <= 1.2x and podman/rootless >= 20x.
#
# What is timed (hyperfine -N, so no shell of hyperfine's own):
#   floor-user     setpriv --reuid=U --regid=U --init-groups --reset-env /bin/sh -c 'cd P && exec /bin/true'
#   rootless       the same wrapper, exec STRATA run bb -- /bin/true              (P: the user's project)
#   bwrap          the same wrapper, exec bwrap --unshare-all --ro-bind ROOTFS / --proc /proc
#                  --dev /dev --tmpfs /tmp /bin/true        (ROOTFS: busybox-rootfs.tar.gz extracted)
#   podman         the same wrapper, XDG_RUNTIME_DIR set, exec podman --storage-driver overlay
#                  --events-backend none run --rm --network none IMG /bin/true
#   floor-root     setpriv --reuid=0 --regid=0 --init-groups --reset-env /bin/sh -c 'cd R && exec /bin/true'
#   rootful-wrap   that wrapper, exec STRATA run --root STORE bb -- /bin/true     (R: root's copy)
#   rootful        STRATA run --root STORE bb -- /bin/true, plain, from R
# Ratios compare wrapped with wrapped (the same setpriv + sh on both sides), and "net" ratios
# subtract each side's wrapper floor first. The rounds: RUNS/20 hyperfine calls of 20 runs
# (--warmup 5) of all but podman, each followed by one of podman with its share of PODMAN runs
# (--warmup 2), so that drift on a shared machine hits all alike; medians over all rounds.
#
# usage: bench/rootless.sh [--strata PATH] [--runs N] [--podman-runs N]
#   --strata PATH     use this strata binary (strata-fetch beside it) instead of building the
#                     release ones (into .build-bench)
#   --runs N          timed runs of each command but podman (default 100)
#   --podman-runs N   timed runs of podman (default 20; it takes 200-400 ms a run)
# As root. Makes a throwaway user strata-bench-PID (useradd gives it a subuid range), and
# removes it, its processes (the keeper, podman's pause process) and its files at the end.
# Needs hyperfine, bubblewrap, podman, uidmap and busybox-static (scripts/setup, apt-get).
set -euo pipefail

strata= runs=100 podman_runs=20
while [ $# -gt 0 ]; do
  case "$1" in
    --strata) strata=$(realpath "$2"); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --podman-runs) podman_runs=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/rootless.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench/rootless.sh: run as root (it makes and removes a user)" >&2; exit 2; }
for tool in hyperfine bwrap podman setpriv useradd newuidmap; do
  command -v "$tool" >/dev/null || { echo "bench/rootless.sh: $tool is missing" >&2; exit 2; }
done

top=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$strata" ]; then
  for product in strata strata-fetch; do
    swift build -c release --static-swift-stdlib --product "$product" \
      --package-path "$top" --scratch-path "$top/.build-bench" >/dev/null
  done
  strata="$top/.build-bench/release/strata"
fi
[ -x "$(dirname "$strata")/strata-fetch" ] || { echo "bench/rootless.sh: no strata-fetch beside $strata" >&2; exit 2; }

user="strata-bench-$$"
# Lower case: podman names the pulled image after the layout's path, and refuses capitals.
work="/tmp/strata-bench-rootless-$$"
mkdir -m 0755 "$work"
results=$(mktemp -d /tmp/strata-bench-rootless-results.XXXXXX)
uid=
cleanup() {
  set +e
  if [ -n "$uid" ]; then
    # Every process of the user: its strata-userns keeper, podman's pause process, leftovers.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pkill -KILL -u "$uid" 2>/dev/null
      pgrep -u "$uid" >/dev/null || break
      sleep 0.2
    done
    userdel -r "$user" 2>/dev/null
    # podman's and others' per-uid directories in /tmp (the runtime dir among them).
    find /tmp -mindepth 1 -maxdepth 1 -uid "$uid" -exec rm -rf --one-file-system {} +
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

useradd -m -s /bin/bash "$user"
uid=$(id -u "$user")
grep -q "^$user:" /etc/subuid || echo "bench/rootless.sh: note: $user has no /etc/subuid range (strata maps one id)" >&2
as_user=(setpriv --reuid="$uid" --regid="$uid" --init-groups --reset-env)
as_root=(setpriv --reuid=0 --regid=0 --init-groups --reset-env)
runtime="/tmp/strata-bench-runtime-$uid"
install -d -m 0700 -o "$uid" -g "$uid" "$runtime"

# The binaries where the user can run them; the fixture in the project (images/), one copy
# owned by the user and one by root; the busybox root extracted for bwrap.
chmod 0755 "$work"
install -d -m 0755 "$work/bin"
install -m 0755 "$strata" "$(dirname "$strata")/strata-fetch" "$work/bin/"
bin="$work/bin"
project="$work/project" rootproject="$work/project-root" rootfs="$work/rootfs"
mkdir -p "$project/envs"
"$top/scripts/busybox-fixture.py" "$project/images" >/dev/null
cat > "$project/envs/bb.json" <<'JSON'
{"from": {"image": "oci:../images/busybox:latest"}}
JSON
cp -a "$project" "$rootproject"
chown -R "$uid:$uid" "$project"
mkdir -m 0755 "$rootfs"
tar -xzf "$project/images/busybox-rootfs.tar.gz" -C "$rootfs"
chmod 0755 "$rootfs"

# A command as the user, from the project: setpriv, then sh cd-ing there and exec-ing it.
user_sh() { printf '%s ' "${as_user[@]}"; printf "/bin/sh -c 'cd %s && %s'" "$project" "$1"; }
root_sh() { printf '%s ' "${as_root[@]}"; printf "/bin/sh -c 'cd %s && %s'" "$rootproject" "$1"; }
run_user() { "${as_user[@]}" /bin/sh -c "cd $project && export XDG_RUNTIME_DIR=$runtime && $1"; }

bwrap_cmd="bwrap --unshare-all --ro-bind $rootfs / --proc /proc --dev /dev --tmpfs /tmp /bin/true"
podman_flags="--storage-driver overlay --events-backend none"

# Warm-up, with errors shown: the user's lock, build and first run (which leaves the keeper),
# root's on its own store, bwrap, and podman's pull and first run.
run_user "$bin/strata lock bb" >/dev/null
run_user "$bin/strata build bb" >/dev/null
if ! out=$(run_user "$bin/strata run bb -- /bin/true" 2>&1); then
  echo "bench/rootless.sh: rootless strata run failed:" >&2
  printf '%s\n' "$out" >&2
  exit 1
fi
[ -z "$out" ] || printf 'rootless strata run said: %s\n' "$out" >&2
home=$(getent passwd "$user" | cut -d: -f6)
if keeper=$(cut -d' ' -f1 "$home/.local/state/strata/userns" 2>/dev/null); then
  echo "keeper: pid $keeper ($(ps -o comm= -p "$keeper" || echo gone)); timed rootless runs join its namespace"
else
  echo "bench/rootless.sh: note: no keeper record in $home/.local/state/strata: every rootless run makes its own namespace" >&2
fi
(cd "$rootproject" && "$bin/strata" lock --root "$work/store-root" bb >/dev/null \
  && "$bin/strata" build --root "$work/store-root" bb >/dev/null \
  && "$bin/strata" run --root "$work/store-root" bb -- /bin/true)
run_user "$bwrap_cmd"
image=$(run_user "podman $podman_flags pull -q oci:$project/images/busybox:latest" | tail -1)
run_user "podman $podman_flags run --rm --network none $image /bin/true"

commands=(
  -n floor-user "$(user_sh "exec /bin/true")"
  -n rootless "$(user_sh "exec $bin/strata run bb -- /bin/true")"
  -n floor-root "$(root_sh "exec /bin/true")"
  -n rootful-wrap "$(root_sh "exec $bin/strata run --root $work/store-root bb -- /bin/true")"
  -n rootful "$bin/strata run --root $work/store-root bb -- /bin/true"
  -n bwrap "$(user_sh "exec $bwrap_cmd")"
)
podman_command=(-n podman "$(user_sh "export XDG_RUNTIME_DIR=$runtime && exec podman $podman_flags run --rm --network none $image /bin/true")")
printf '%s\n' "timed:" "${commands[@]}" "${podman_command[@]}" | grep -v '^-n$' > "$results/commands.txt"

cd "$rootproject"
rounds=$(( (runs + 19) / 20 ))
for i in $(seq "$rounds"); do
  hyperfine -N --warmup 5 --runs 20 --export-json "$results/round-$i.json" "${commands[@]}" >/dev/null 2>&1
  share=$(( (podman_runs * i + rounds - 1) / rounds - (podman_runs * (i - 1) + rounds - 1) / rounds ))
  if [ "$share" -gt 0 ]; then
    hyperfine -N --warmup 2 --runs "$share" --export-json "$results/podman-$i.json" "${podman_command[@]}" >/dev/null 2>&1
  fi
done

python3 - "$results" <<'PY'
import glob, json, statistics, sys
results = sys.argv[1]
times = {}
for path in sorted(glob.glob(f"{results}/*.json")):
    for r in json.load(open(path))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
med = {n: statistics.median(t) * 1000 for n, t in times.items()}
for n in ["floor-user", "rootless", "floor-root", "rootful-wrap", "rootful", "bwrap", "podman"]:
    t = times[n]
    print(f"{n:13s} median {med[n]:7.2f} ms  min-max {min(t)*1000:7.2f}-{max(t)*1000:7.2f}  ({len(t)} runs)")
def ratio(label, a, b, fa, fb):
    net = (med[a] - med[fa]) / (med[b] - med[fb])
    print(f"{label:34s} {med[a] / med[b]:6.2f}x   net of wrapper floors {net:6.2f}x")
ratio("rootless / rootful (both wrapped)", "rootless", "rootful-wrap", "floor-user", "floor-root")
print(f"{'rootless net / rootful plain':34s} {(med['rootless'] - med['floor-user']) / med['rootful']:6.2f}x")
ratio("podman / rootless", "podman", "rootless", "floor-user", "floor-user")
ratio("rootless / bwrap", "rootless", "bwrap", "floor-user", "floor-user")
PY
echo "hyperfine JSON and the exact commands: $results"
