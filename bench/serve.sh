#!/usr/bin/env bash
# The Docker-compatible daemon's latency: `docker run --rm busybox true` (the real docker CLI)
# through `strata serve`, against the same through `podman system service` (podman's
# Docker-compatible socket) on the same image, in one run on this machine:
#   1. The busybox fixture (scripts/busybox-fixture.py): its rootfs tarball `strata import`ed
#      into a fresh store as busybox:latest (CMD ["sh"]), its OCI layout pulled into podman's
#      private storage and tagged docker.io/library/busybox:latest.
#   2. Both daemons started on sockets in the temp dir: `strata serve --socket` (STRATA_ROOT =
#      the fresh store) and `podman system service --time=0` (storage.conf and containers.conf
#      in the temp dir: overlay, runc, cgroupfs, events to a file, nofile/nproc ulimits the
#      container may set; its default network, the CNI bridge, as a docker user gets it).
#   3. A few warm-up runs each, then RUNS sequential runs of each, interleaved (strata, podman,
#      podman --network host, strata, ...): medians, p10/p90. The third series, podman with the
#      host's network (what strata's containers share), is for information only.
#   4. CONCURRENT (50) runs started at once against each daemon, wall clock until all have
#      ended, ROUNDS (3) rounds each, interleaved: medians; every run must exit 0 and leave no
#      container behind.
#   5. The summary, with the ratios strata/podman (the aim: at most 0.3x podman's latency).
#
# usage: bench/serve.sh [--strata PATH] [--no-host-net] [--warmup N] [--rounds N]
#                       [--concurrent N] [--keep] [RUNS]
#   --strata PATH    use this strata binary (strata-serve beside it) instead of building the
#                    release ones (strata, strata-serve, strata-fetch into .build-bench)
#   --no-host-net    skip the informative podman --network host series
#   --warmup N       warm-up runs of each series (default 3)
#   --rounds N       rounds of concurrent runs (default 3)
#   --concurrent N   runs started at once in each round (default 50)
#   --keep           keep the temp dir (daemon logs; podman's storage is reset either way)
#   RUNS             sequential runs of each series (default 30)
# As root, with podman, runc, docker (the CLI), curl and python3. About 2 minutes with a
# built strata at the defaults (a first release build into .build-bench takes 15-20 more).
# podman's CNI bridge (cni-podman0), its CNI-FORWARD/CNI-ADMIN iptables chains and the CNI
# plugins' state (/var/lib/cni) are removed afterwards if they were not there before.
set -euo pipefail

strata= runs=30 warmup=3 rounds=3 concurrent=50 host_net=1 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --strata) strata=$(realpath "$2"); shift 2 ;;
    --no-host-net) host_net=0; shift ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --concurrent) concurrent=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench/serve.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) runs=$1; shift ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench/serve.sh: run as root" >&2; exit 2; }
for tool in podman docker curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/serve.sh: $tool is not installed" >&2; exit 2; }
done

top=$(cd "$(dirname "$0")/.." && pwd)
lib="$top/bench/lib/serve_bench.py"
# Lower case and short: podman names an image pulled from an OCI layout after its path (and
# refuses capitals), and a UNIX socket's path has at most 107 bytes.
work="/tmp/strata-bench-serve-$$"
mkdir -m 0700 "$work"
pdir="$work/podman"
strata_pid= podman_pid=
had_bridge=0 had_chains=0 had_cni_state=0
ip link show cni-podman0 >/dev/null 2>&1 && had_bridge=1
[ -e /var/lib/cni ] && had_cni_state=1
if command -v iptables >/dev/null && iptables -S CNI-FORWARD >/dev/null 2>&1; then had_chains=1; fi

# stop PID NAME: SIGTERM, up to 10 s for it to end, then SIGKILL.
stop() {
  local pid=$1 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "bench/serve.sh: $2 did not stop on SIGTERM in 10 s: killed" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
}
cleanup() {
  set +e
  if [ -n "$podman_pid" ]; then
    podman rm -fa >/dev/null 2>&1
  fi
  stop "$strata_pid" "strata serve"
  stop "$podman_pid" "podman system service"
  if [ -f "$pdir/containers.conf" ]; then
    podman rm -fa >/dev/null 2>&1
    podman system reset -f >/dev/null 2>&1
  fi
  # Unmount whatever is still mounted under the temp dir (overlay layers, a daemon's leftovers),
  # deepest first, before removing it.
  findmnt -rn -o TARGET | grep "^$work/" | sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
  if [ "$had_bridge" = 0 ] && ip link show cni-podman0 >/dev/null 2>&1; then ip link delete cni-podman0; fi
  if [ "$had_chains" = 0 ] && command -v iptables >/dev/null && iptables -S CNI-FORWARD >/dev/null 2>&1; then
    iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null
    iptables -F CNI-FORWARD; iptables -X CNI-FORWARD
    iptables -F CNI-ADMIN 2>/dev/null; iptables -X CNI-ADMIN 2>/dev/null
  fi
  # The CNI plugins' state (host-local's address leases) when there was none before.
  if [ "$had_cni_state" = 0 ]; then rm -rf --one-file-system /var/lib/cni; fi
  if [ "$keep" = 1 ]; then
    echo "kept: $work"
  else
    # --one-file-system: never recurse into a mount left behind by a failure.
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$strata" ]; then
  echo "building strata, strata-serve and strata-fetch (release, static Swift stdlib, into .build-bench)..."
  for product in strata strata-serve strata-fetch; do
    swift build -c release --static-swift-stdlib --product "$product" \
      --package-path "$top" --scratch-path "$top/.build-bench" >/dev/null
  done
  strata="$top/.build-bench/release/strata"
fi
[ -x "$(dirname "$strata")/strata-serve" ] || { echo "bench/serve.sh: no strata-serve beside $strata" >&2; exit 2; }

# Neither the caller's docker config (contexts, credential helpers) nor a strata daemon of theirs.
unset STRATA_HOST DOCKER_CONTEXT DOCKER_HOST
export DOCKER_CONFIG="$work/docker"
mkdir -p "$DOCKER_CONFIG"
echo '{}' >"$DOCKER_CONFIG/config.json"  # podman reads it too (for auth), and fails when it is missing

# fail MESSAGE [LOG]: one clear line (and the log's tail, indented), then exit 1.
fail() {
  echo "bench/serve.sh: $1" >&2
  if [ -n "${2:-}" ] && [ -s "$2" ]; then tail -15 "$2" | sed 's/^/  /' >&2; fi
  exit 1
}
# wait_ping NAME PID SOCKET LOG: until the daemon's /_ping says OK (30 s at most).
wait_ping() {
  local i
  for i in $(seq 300); do
    [ "$(curl -s --max-time 1 --unix-socket "$3" http://d/_ping 2>/dev/null)" = OK ] && return 0
    kill -0 "$2" 2>/dev/null || fail "$1 did not start: it exited ($(wait "$2"; echo "status $?"))" "$4"
    sleep 0.1
  done
  fail "$1 did not start: no OK from $3/_ping in 30 s" "$4"
}

echo "fixture: scripts/busybox-fixture.py"
python3 "$top/scripts/busybox-fixture.py" "$work/fixture" >/dev/null

# strata: the rootfs imported into a fresh store, the daemon on it.
export STRATA_ROOT="$work/store"
"$strata" import "$work/fixture/busybox-rootfs.tar.gz" busybox:latest --change 'CMD ["sh"]' \
  >"$work/import.log" 2>&1 || fail "strata import of the busybox rootfs failed:" "$work/import.log"
"$strata" serve --socket "$work/strata.sock" >"$work/strata-serve.log" 2>&1 &
strata_pid=$!
wait_ping "strata serve" "$strata_pid" "$work/strata.sock" "$work/strata-serve.log"
echo "strata serve: $strata, pid $strata_pid, on $work/strata.sock"

# podman: private storage and configuration under the temp dir.
mkdir -p "$pdir/root" "$pdir/run" "$pdir/tmp" "$pdir/networks"
cat >"$pdir/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$pdir/root"
runroot = "$pdir/run"
EOF
# The ulimits: podman's default nofile (1048576) and nproc exceed this machine's hard limits,
# and runc fails to set them ("error setting rlimit type 7: operation not permitted").
cat >"$pdir/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$pdir/tmp"
[network]
network_config_dir = "$pdir/networks"
EOF
export CONTAINERS_CONF="$pdir/containers.conf" CONTAINERS_STORAGE_CONF="$pdir/storage.conf"
id=$(podman pull -q "oci:$work/fixture/busybox:latest" 2>"$work/podman-pull.log" | tail -1) \
  || fail "podman pull of the busybox OCI layout failed:" "$work/podman-pull.log"
podman tag "$id" docker.io/library/busybox:latest
podman system service --time=0 "unix://$pdir/podman.sock" >"$work/podman-service.log" 2>&1 &
podman_pid=$!
wait_ping "podman system service" "$podman_pid" "$pdir/podman.sock" "$work/podman-service.log"
echo "podman system service: $(podman --version), pid $podman_pid, on $pdir/podman.sock"
echo "docker CLI: $(docker --version)"

series=("strata=$work/strata.sock" "podman=$pdir/podman.sock")
[ "$host_net" = 1 ] && series+=("podman=$pdir/podman.sock,--network,host")
echo "timing: $runs sequential runs and $rounds rounds of $concurrent concurrent runs per series..."
echo
python3 "$lib" --runs "$runs" --warmup "$warmup" --rounds "$rounds" --concurrent "$concurrent" \
  --image busybox "${series[@]}"
