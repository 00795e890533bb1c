#!/usr/bin/env bash
# Confinement cost: warm `strata run bb -- /bin/true` on the busybox environment with Docker's
# default confinement, against bubblewrap and runc on the same root, in one run on this machine;
# then what each part of strata's confinement costs, as deltas between variants:
#   seccomp    bb (default profile, cached BPF) - bb-unconfined ("seccomp": "unconfined")
#   cgroups    bb-limits ("limits": {"pids": 512, "memory": "1g"}) - bb
#   namespaces `unshare -mpfiun --mount-proc chroot ROOT` and plain `chroot ROOT` as floors
#   compile    a few cold runs after clearing STORE/cache/seccomp (libseccomp's compile), reported
#              beside warm runs of the same invocation
# plus, when perf is installed, CPU time per tool (perf stat task-clock) and where a strata run
# spends its time (phases between scheduler and syscall tracepoints, from perf record).
# Prints one table (median ms, ratio vs bwrap); the aim is strata <= 1.5x bwrap.
#
# runc: `runc spec`, then rootfs ROOT (read-write), terminal false, args ["/bin/true"], and a
# cgroup namespace added so its namespaces match strata's. Its default spec has no seccomp
# profile and 3 capabilities: lighter than strata's confinement. `runc run` without --keep
# deletes the container when it exits, so one id (unique to this script run) is reused run
# after run, with runc's state under the work dir. crun is tried once and skipped if it fails
# (it refuses hybrid cgroups).
#
# usage: bench/sandbox.sh [--runs N] [--cold N] [--strata PATH]
#   --runs N       timed warm runs of each command (default 200; rounds of 40, --warmup 20 each)
#   --cold N       cold (seccomp compile) runs (default 5)
#   --strata PATH  use this strata binary instead of building the release one
# As root. Installs hyperfine, bubblewrap, runc and busybox-static with apt-get when missing.
# About a minute at the defaults on a quiet machine, plus the release build.
set -euo pipefail

runs=200 cold=5 strata=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --cold) cold=$2; shift 2 ;;
    --strata) strata=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/sandbox.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench/sandbox.sh: run as root (sessions mount and create cgroups)" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
lib="$top/bench/lib/sandbox_bench.py"
work=$(mktemp -d /tmp/strata-bench-sandbox.XXXXXX)
results="$work/results"
mkdir -p "$results"
cid="strata-bench-$$"
# Everything but the results goes; --one-file-system never recurses into a mount a failure left.
cleanup() {
  if command -v runc >/dev/null && [ -d "$work/runc-state" ]; then
    runc --root "$work/runc-state" delete -f "$cid" >/dev/null 2>&1 || true
  fi
  if command -v crun >/dev/null && [ -d "$work/crun-state" ]; then
    crun --root "$work/crun-state" delete -f "$cid" >/dev/null 2>&1 || true
  fi
  find "$work" -mindepth 1 -maxdepth 1 ! -name results -exec rm -rf --one-file-system {} +
}
trap cleanup EXIT

missing=()
for p in hyperfine bubblewrap runc busybox-static; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for t in hyperfine bwrap runc unshare chroot python3; do
  command -v "$t" >/dev/null || { echo "bench/sandbox.sh: $t is not on PATH; install it and retry" >&2; exit 2; }
done

if [ -z "$strata" ]; then
  echo "building strata (release, static Swift stdlib)..."
  swift build -c release --static-swift-stdlib --package-path "$top" >/dev/null
  strata="$top/.build/release/strata"
fi

# The environments: one image, three confinements. Each is locked and built into a private
# store (passed with --root everywhere, so no other store is ever touched).
store="$work/store"
project="$work/project"
mkdir -p "$project/envs"
python3 "$top/scripts/busybox-fixture.py" "$project/images" >/dev/null
from='"from": {"image": "oci:../images/busybox:latest"}'
echo "{$from}" >"$project/envs/bb.json"
echo "{$from, \"security\": {\"seccomp\": \"unconfined\"}}" >"$project/envs/bb-unconfined.json"
echo "{$from, \"limits\": {\"pids\": 512, \"memory\": \"1g\"}}" >"$project/envs/bb-limits.json"
cd "$project"
for env in bb bb-unconfined bb-limits; do
  "$strata" lock --root "$store" "$env" >/dev/null
  "$strata" build --root "$store" "$env" >/dev/null
done

# The other tools' root: the fixture's rootfs tar, unpacked.
root="$work/rootfs"
mkdir -p "$root"
tar -C "$root" -xzpf "$project/images/busybox-rootfs.tar.gz" --numeric-owner
bundle="$work/bundle"
mkdir -p "$bundle"
(cd "$bundle" && runc spec)
python3 "$lib" runc-config "$bundle/config.json" "$root"

run="$strata run --root $store"
names=(strata strata-unconfined strata-limits bwrap runc unshare chroot true)
cmds=(
  "$run bb -- /bin/true"
  "$run bb-unconfined -- /bin/true"
  "$run bb-limits -- /bin/true"
  "bwrap --unshare-all --die-with-parent --ro-bind $root / --proc /proc --dev /dev --tmpfs /tmp /bin/true"
  "runc --root $work/runc-state run --bundle $bundle $cid"
  "unshare -mpfiun --mount-proc chroot $root /bin/true"
  "chroot $root /bin/true"
  "/bin/true"
)
if ! command -v crun >/dev/null; then
  echo "crun: not installed, skipped (apt-get install crun to try it)" | tee "$results/crun.txt"
elif crun --root "$work/crun-state" run --bundle "$bundle" "$cid" >"$work/crun.out" 2>&1; then
  names+=(crun); cmds+=("crun --root $work/crun-state run --bundle $bundle $cid")
else
  echo "crun: fails here, skipped: $(tr '\n' ' ' <"$work/crun.out")" | tee "$results/crun.txt"
fi

# One untimed run of each: a command that fails is named here rather than inside hyperfine.
for i in "${!names[@]}"; do
  # shellcheck disable=SC2086 # the commands are word lists without quoting, as hyperfine -N splits them
  if ! ${cmds[$i]} >"$work/check.out" 2>&1; then
    echo "bench/sandbox.sh: ${names[$i]} failed: ${cmds[$i]}" >&2; cat "$work/check.out" >&2; exit 1
  fi
done

# The machines are shared and noisy: alternate short rounds of every command so that drift
# hits them alike, and take medians over all rounds.
rounds=$(( (runs + 39) / 40 ))
echo "warm runs: $rounds rounds of 40 (after 20 warm-up runs) of ${#names[@]} commands..."
for r in $(seq "$rounds"); do
  args=()
  for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
  hyperfine -N --warmup 20 --runs 40 --export-json "$results/warm-$r.json" "${args[@]}" >/dev/null 2>&1 \
    || { echo "bench/sandbox.sh: hyperfine failed in round $r; rerun it by hand:" >&2
         hyperfine -N --runs 2 "${args[@]}" >&2; exit 1; }
done

# Cold: the seccomp program compiled by libseccomp, the cache removed before each run; warm
# runs of the same command interleaved in the same invocation for the delta.
echo "cold runs: $cold with $store/cache/seccomp cleared before each..."
hyperfine -N --warmup 2 --runs "$cold" --export-json "$results/cold.json" \
  --prepare "rm -rf $store/cache/seccomp" --prepare "true" \
  -n strata-cold "$run bb -- /bin/true" -n strata-warm "$run bb -- /bin/true" >/dev/null 2>&1

# CPU time of each command and its children (what the wall time hides on 2 busy cores).
perf_ok=
command -v perf >/dev/null && perf stat -e task-clock -- /bin/true >/dev/null 2>&1 && perf_ok=1
if [ -n "$perf_ok" ]; then
  echo "CPU time: perf stat, 30 runs of each..."
  for i in "${!names[@]}"; do
    # shellcheck disable=SC2086
    perf stat -x, -r 30 -e task-clock -o "$results/perf-${names[$i]}.csv" -- ${cmds[$i]} >/dev/null 2>&1 \
      || echo "  perf stat failed for ${names[$i]}; its CPU time is left out"
  done
else
  echo "perf: not installed or not allowed here; CPU times left out (apt-get install linux-perf)"
fi

# Phases of a strata run from kernel tracepoints (perf record does not stop the traced
# processes, unlike strace, so the timeline stays close to an untraced run): 30 runs in one
# recording, split at each exec of strata.
if [ -n "$perf_ok" ]; then
  echo "phases: perf record of 30 strata runs..."
  events=sched:sched_process_exec,sched:sched_process_exit,sched:sched_process_fork
  events+=,syscalls:sys_enter_clone,syscalls:sys_enter_pivot_root,syscalls:sys_enter_seccomp
  events+=,syscalls:sys_exit_wait4
  # shellcheck disable=SC2016,SC2086 # the loop is sh's; the command is a word list
  if perf record -q -o "$work/phases.data" -e "$events" -- \
       sh -c 'i=0; while [ $i -lt 30 ]; do "$@" >/dev/null || exit 1; i=$((i + 1)); done' sh \
       $run bb -- /bin/true >"$work/perf-record.out" 2>&1; then
    perf script -i "$work/phases.data" -F comm,pid,tid,time,event,trace >"$results/phases.txt" 2>/dev/null
  else
    echo "  perf record failed, phases left out: $(head -3 "$work/perf-record.out" | tr '\n' ' ')"
  fi
fi

python3 "$lib" summary "$results" | tee "$results/summary.txt"
echo "raw hyperfine JSON, perf output, and this table: $results"
