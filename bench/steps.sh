#!/usr/bin/env bash
# Build steps: an environment of five `run` steps built by `strata build` against the same
# five RUN lines built by `buildah bud --layers`, on the same busybox base, in one run on this
# machine. Each step writes 300 deterministic files (~12 MB) with busybox tools (seq, yes,
# head, sed). Each round times, in both tools and in an order that rotates from round to round:
#   (a) full build from an empty cache   strata: a fresh store, the manifest locked and the
#                                        base imported (untimed); buildah: every image but
#                                        the base removed
#   (b) rebuild after editing the last step (its numbers start elsewhere, so all its files
#       change): strata re-locks the changed manifest itself, inside the timed build
#   (c) rebuild with nothing changed (everything cached; nothing should run)
# and, as the floor of (a) and (b), the same commands run one by one by chroot in a buildah
# container of the base (no layers, no cache), with `sync` (untimed) before each. The trees
# both tools built are checked to be alike after round 1. Prints one table: medians with
# min-max (wall seconds), CPU seconds (user+sys), the steps each build ran, the ratios
# strata/buildah, and the aims: strata (b) < 0.1x strata (a), strata (c) <= 0.05x buildah (c).
#
# usage: bench/steps.sh [--rounds N] [--strata PATH]
#   --rounds N     rounds (default 5)
#   --strata PATH  use this strata binary instead of building the release one
#                  (into .build-bench, so as not to share .build)
# As root. Installs buildah and busybox-static with apt-get when missing. buildah's storage
# is overlay under the work dir (vfs if overlay fails); its RUN steps get --network none, as
# strata's steps have no network. About 3 minutes at the defaults on a quiet 2-core machine,
# plus the release build; needs ~1 GB of /tmp.
set -euo pipefail

rounds=5 strata=
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) [ $# -ge 2 ] || { echo "bench/steps.sh: --rounds needs a number" >&2; exit 2; }; rounds=$2; shift 2 ;;
    --strata) [ $# -ge 2 ] || { echo "bench/steps.sh: --strata needs a path" >&2; exit 2; }; strata=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/steps.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench/steps.sh: $rounds is not a positive whole number" >&2; exit 2; }
[ -z "$strata" ] || [ -x "$strata" ] || { echo "bench/steps.sh: $strata is not an executable" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench/steps.sh: run as root (strata's sessions and buildah mount overlays)" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
lib="$top/bench/lib/steps_bench.py"
work=$(mktemp -d /tmp/strata-bench-steps.XXXXXX)
results="$work/results"
mkdir -p "$results"
buildah_root="$work/buildah/root" buildah_run="$work/buildah/run" driver=overlay
bah() { buildah --root "$buildah_root" --runroot "$buildah_run" --storage-driver "$driver" "$@"; }
# Unmounts whatever is mounted under DIR (a failure's leftovers, buildah's overlay driver's
# bind mount of its own directory), deepest first, so that --one-file-system can remove it.
unmount_under() {
  { findmnt -rn -o TARGET | grep "^$1/" || true; } | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
}
# Everything goes but the results, which are printed and then removed too unless
# STRATA_BENCH_KEEP=1. buildah's containers are removed first (that unmounts them).
cleanup() {
  status=$?
  if command -v buildah >/dev/null && [ -d "$buildah_root" ]; then
    bah rm -a >/dev/null 2>&1 || true
    bah rmi -a -f >/dev/null 2>&1 || true
  fi
  unmount_under "$work"
  if [ "${STRATA_BENCH_KEEP:-}" = 1 ]; then
    find "$work" -mindepth 1 -maxdepth 1 ! -name results -exec rm -rf --one-file-system {} +
    echo "results kept in $results"
  else
    if [ "$status" != 0 ] && [ -d "$results" ]; then
      # A failure's logs are worth seeing before they go.
      for f in "$results"/*.log; do [ -e "$f" ] && { echo "--- $f (last lines)"; tail -n 20 "$f"; }; done >&2
    fi
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
trap 'echo "bench/steps.sh: line $LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR

missing=()
for p in buildah busybox-static; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for t in buildah python3 findmnt sync; do
  command -v "$t" >/dev/null || { echo "bench/steps.sh: $t is not on PATH; install it and retry" >&2; exit 2; }
done

if [ -z "$strata" ]; then
  echo "building strata (release, into .build-bench)..."
  swift build -c release --static-swift-stdlib --product strata --package-path "$top" --scratch-path "$top/.build-bench" >"$work/swift-build.log" 2>&1 \
    || { echo "bench/steps.sh: swift build failed:" >&2; tail -n 30 "$work/swift-build.log" >&2; exit 1; }
  strata="$top/.build-bench/release/strata"
  if commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null); then
    [ -z "$(git -C "$top" status --porcelain --untracked-files=no -- Sources Package.swift)" ] || commit="$commit + uncommitted changes"
    echo "strata built from $commit" >>"$results/info.txt"
  fi
fi

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/info.txt"
layout="$work/images/busybox"
python3 "$top/scripts/busybox-fixture.py" "$work/images" >/dev/null

# buildah: its own storage under the work dir, the busybox image as the base. Pulled by a
# relative path: buildah names the image after the layout's path, and mktemp's capitals
# would make that name invalid.
pull_base() { (cd "$work/images" && bah pull -q oci:busybox:latest) 2>"$work/buildah-pull-$driver.err"; }
if ! base=$(pull_base); then
  echo "buildah: pulling the base into overlay storage failed ($(tr '\n' ' ' <"$work/buildah-pull-overlay.err")); trying vfs" | tee -a "$results/info.txt"
  bah rmi -a -f >/dev/null 2>&1 || true
  unmount_under "$work/buildah"
  rm -rf --one-file-system "$work/buildah"
  driver=vfs
  base=$(pull_base) || { echo "bench/steps.sh: buildah cannot pull $layout with vfs storage either:" >&2; cat "$work/buildah-pull-vfs.err" >&2; exit 1; }
fi
echo "buildah $(buildah --version | cut -d' ' -f3), storage driver $driver; strata $strata" >>"$results/info.txt"

project="$work/project"
files() { python3 "$lib" files "$project" "$layout" "$base" "$1"; }
mkdir -p "$project"
cd "$project"

# What made a layer: strata's records of run steps in the round's store; buildah's images
# (each cached RUN line is one, tagged or not).
strata_count='find "$STRATA_ROOT/cache/run-steps" -type f 2>/dev/null | wc -l'
buildah_count="buildah --root '$buildah_root' --runroot '$buildah_run' --storage-driver '$driver' images -a -q --no-trunc | wc -l"
buildah_bud=(buildah --root "$buildah_root" --runroot "$buildah_run" --storage-driver "$driver"
             bud --layers --network none -q -t bench:latest -f "$project/context/Containerfile" "$project/context")
strata_build=("$strata" build bench -q)

# buildah back to the base alone: its containers, then every image but the base (the
# tagged one first, so that its parents are dangling), then a check.
buildah_reset() {
  bah rm -a >/dev/null
  bah rmi -f bench:latest >/dev/null 2>&1 || true
  local ids
  ids=$(bah images -a -q --no-trunc | grep -v "${base#sha256:}" || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || bah rmi -f $ids >/dev/null
  ids=$(bah images -a -q --no-trunc)
  [ "$(echo "$ids" | wc -l)" = 1 ] && [[ "$ids" == *"${base#sha256:}"* ]] \
    || { echo "bench/steps.sh: buildah still has images other than the base: $ids" >&2; exit 1; }
}

# A digest of the tree the steps made (/bench): names and contents, in byte order.
tree_digest='cd /bench && find . -type f | LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done | md5sum | cut -d" " -f1'

timed() { sync; python3 "$lib" time "$results" "$@"; }
# The floor's run: each command by the base's /bin/sh in a chroot of MNT.
# shellcheck disable=SC2016
floor_run='set -e; mnt=$1; shift; for c in "$@"; do chroot "$mnt" /bin/sh -c "$c"; done'


for r in $(seq "$rounds"); do
  echo "round $r of $rounds"
  # strata: a fresh store with the base in it and the manifest locked; buildah: the base alone.
  export STRATA_ROOT="$work/store-$r"
  files 0
  "$strata" lock base >/dev/null
  "$strata" build base -q >/dev/null
  timed strata-lock "$r" -- "$strata" lock bench
  buildah_reset

  # The floor: the same commands run by chroot in a container of the base, no layers made.
  floor=$(bah from -q "$base")
  floor_mnt=$(bah mount "$floor")

  # The three, started one further along each round, so that drift on a shared machine (and
  # a warmer or colder page cache) does not always hit the same one.
  tools=(strata buildah chroot)
  for phase in full edit noop; do
    # The edit: the last step's numbers start r further on, new to both caches.
    [ "$phase" != edit ] || files "$r"
    mapfile -t commands < <(sed -n 's/^RUN //p' "$project/context/Containerfile")
    for i in "${!tools[@]}"; do
      tool=${tools[$(( (i + r - 1) % ${#tools[@]} ))]}
      case "$tool" in
        strata) timed "strata-$phase" "$r" --ran "$strata_count" -- "${strata_build[@]}" ;;
        buildah) timed "buildah-$phase" "$r" --ran "$buildah_count" -- "${buildah_bud[@]}" ;;
        chroot)
          case "$phase" in
            full) timed chroot-full "$r" -- bash -c "$floor_run" floor "$floor_mnt" "${commands[@]}" ;;
            edit) timed chroot-edit "$r" -- bash -c "$floor_run" floor "$floor_mnt" "${commands[-1]}" ;;
          esac ;;
      esac
    done
  done
  bah rm "$floor" >/dev/null

  if [ "$r" = 1 ]; then
    # Both tools must have made the same tree, or the race is not a fair one.
    s=$("$strata" run bench -- sh -c "$tree_digest")
    container=$(bah from -q bench:latest)
    mnt=$(bah mount "$container")
    b=$(chroot "$mnt" /bin/sh -c "$tree_digest")
    size=$(du -sm "$mnt/bench" | cut -f1)
    nfiles=$(find "$mnt/bench" -type f | wc -l)
    bah rm "$container" >/dev/null
    if [ "$s" = "$b" ]; then
      echo "the steps' tree (/bench): $nfiles files, $size MB, the same in both tools (md5 $s)" >>"$results/info.txt"
    else
      echo "bench/steps.sh: the trees differ: strata's /bench is $s, buildah's $b" >&2
      exit 1
    fi
  fi
  unmount_under "$STRATA_ROOT"
  rm -rf --one-file-system "$STRATA_ROOT"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/info.txt"

python3 "$lib" summary "$results" | tee "$results/summary.txt"
