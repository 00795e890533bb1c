#!/usr/bin/env bash
# Commit cost: `strata commit` of a session that wrote ~200 MB across ~5,000 files, against
# `buildah commit` of the same change and `tar -c | gzip` of the session's upper dir, in one
# run on this machine. Each round makes the change anew in both tools and times, in an order
# that rotates from round to round:
#   strata commit                      layer kept as a tar in the store (the default)
#   strata commit --compression gzip   and --compression zstd: layer compressed at commit
#   buildah commit                     overlay storage under the work dir (vfs if overlay fails)
#   tar -C UPPER -cf - . | gzip        the floor for "archive and compress the change"
# then what makes the image leave the store compressed:
#   strata image save --format oci     compresses the tar layer (gzip) on its first save
#   buildah push oci-archive:          compresses on push
# The change: deterministic files (a mix of random bytes, text and padded records that gzip
# shrinks about 2.5x) in one directory per 100 files, plus a few symlinks, made once in
# WORK/data and copied with `cp -a` into the session (bound read-only at /data) and into
# buildah's mounted container, then `sync`, untimed. Prints one table: medians with min-max
# (wall seconds), CPU seconds (user+sys), output sizes (a commit's: its top layer blob), and
# ratios; the aim is strata commit <= 0.5x buildah commit.
#
# usage: bench/commit.sh [--rounds N] [--files N] [--megabytes N] [--strata PATH]
#   --rounds N     rounds (default 5)
#   --files N      files in the change (default 5000)
#   --megabytes N  their total size in MB (default 200)
#   --strata PATH  use this strata binary instead of building the release one
# As root. Installs buildah and busybox-static with apt-get when missing. About 6 minutes at
# the defaults on a quiet 2-core machine, plus the release build; needs ~1 GB of /tmp a round.
set -euo pipefail

rounds=5 files=5000 megabytes=200 strata=
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    --megabytes) megabytes=$2; shift 2 ;;
    --strata) strata=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/commit.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$rounds" "$files" "$megabytes"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench/commit.sh: $n is not a positive whole number" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench/commit.sh: run as root (sessions and buildah mount overlays)" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
lib="$top/bench/lib/commit_bench.py"
work=$(mktemp -d /tmp/strata-bench-commit.XXXXXX)
results="$work/results"
mkdir -p "$results"
buildah_root="$work/buildah/root" buildah_run="$work/buildah/run" driver=overlay
bah() { buildah --root "$buildah_root" --runroot "$buildah_run" --storage-driver "$driver" "$@"; }
# Everything but the results goes. buildah's containers are removed first (that unmounts
# them); its overlay driver bind-mounts its own directory, which is unmounted after, with
# anything else a failure left mounted under the work dir, deepest first, so that
# --one-file-system can then remove the whole tree.
cleanup() {
  if command -v buildah >/dev/null && [ -d "$buildah_root" ]; then
    bah rm -a >/dev/null 2>&1 || true
    bah rmi -a -f >/dev/null 2>&1 || true
  fi
  { findmnt -rn -o TARGET | grep "^$work/" || true; } | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  find "$work" -mindepth 1 -maxdepth 1 ! -name results -exec rm -rf --one-file-system {} +
}
trap cleanup EXIT

missing=()
for p in buildah busybox-static; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for t in buildah tar gzip python3 findmnt; do
  command -v "$t" >/dev/null || { echo "bench/commit.sh: $t is not on PATH; install it and retry" >&2; exit 2; }
done

if [ -z "$strata" ]; then
  echo "building strata (release)..."
  swift build -c release --product strata --package-path "$top" >/dev/null
  strata="$top/.build/release/strata"
fi

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/info.txt"
echo "making the change: $files files, $megabytes MB..."
python3 "$lib" data "$work/data" --files "$files" --megabytes "$megabytes" | tee -a "$results/info.txt"

# strata: a private store, the busybox environment with the data bound read-only at /data.
export STRATA_ROOT="$work/store"
layout="$work/images/busybox"
python3 "$top/scripts/busybox-fixture.py" "$work/images" >/dev/null
mkdir -p "$work/project/envs"
cat >"$work/project/envs/bench.json" <<EOF
{"from": {"image": "oci:$layout:latest"},
 "mounts": [{"type": "bind", "source": "$work/data", "target": "/data", "readonly": true}]}
EOF
cd "$work/project"
"$strata" lock bench >/dev/null
"$strata" build bench >/dev/null
# `strata rm` frees each round's session when this strata has it; else they go with the work dir.
strata_rm=
"$strata" --help | grep -qE '^ +rm +' && strata_rm=1

# buildah: its own storage under the work dir, the same busybox image as the base. Pulled by
# a relative path: buildah names the image after the layout's path, and mktemp's capitals
# would make that name invalid.
pull_base() { (cd "$work/images" && bah pull -q oci:busybox:latest) 2>"$work/buildah-pull-$driver.err"; }
if ! base=$(pull_base); then
  echo "buildah: pulling the base into overlay storage failed ($(tr '\n' ' ' <"$work/buildah-pull-overlay.err")); trying vfs" | tee -a "$results/info.txt"
  bah rmi -a -f >/dev/null 2>&1 || true
  { findmnt -rn -o TARGET | grep "^$buildah_root" || true; } | sort -r | xargs -r umount -l
  rm -rf --one-file-system "$work/buildah"
  driver=vfs
  base=$(pull_base) || { echo "bench/commit.sh: buildah cannot pull $layout with vfs storage either:" >&2; cat "$work/buildah-pull-vfs.err" >&2; exit 1; }
fi
echo "buildah $(buildah --version | cut -d' ' -f3), storage driver $driver" >>"$results/info.txt"

# The session's upper dir, found by the name line in its record.
upper_of() {
  local record
  record=$(grep -lx "name=$1" "$STRATA_ROOT"/sessions/*/record) || { echo "bench/commit.sh: no session named $1 in $STRATA_ROOT/sessions" >&2; return 1; }
  echo "$(dirname "$record")/upper"
}

timed=(strata-commit strata-commit-gzip strata-commit-zstd buildah-commit tar-gzip)
for r in $(seq "$rounds"); do
  echo "round $r of $rounds: copying the change into a strata session and a buildah container..."
  session="r$r"
  # The round number makes each round's layer new to the store, so nothing is deduplicated.
  "$strata" run --name "$session" bench -- sh -c "mkdir /change && cp -a /data/. /change/ && echo $r >/change/.round"
  upper=$(upper_of "$session")
  container=$(bah from -q "$base")
  mnt=$(bah mount "$container")
  mkdir "$mnt/change" && cp -a "$work/data/." "$mnt/change/" && echo "$r" >"$mnt/change/.round"
  sync

  # The same five steps every round, started one further along each time, so that drift on a
  # shared machine (and a warmer or colder page cache) does not always hit the same one.
  for i in "${!timed[@]}"; do
    step=${timed[$(( (i + r - 1) % ${#timed[@]} ))]}
    case "$step" in
      strata-commit*)
        compression=${step#strata-commit}; compression=${compression#-}
        image="bench:$r${compression:+-$compression}"
        python3 "$lib" time "$results" "$step" "$r" -- "$strata" commit "$session" --tag "$image" --compression "${compression:-none}"
        python3 "$lib" layer-size "$results" "$step" "$r" "$strata" "$image" ;;
      buildah-commit) python3 "$lib" time "$results" "$step" "$r" -- buildah --root "$buildah_root" --runroot "$buildah_run" --storage-driver "$driver" commit -q "$container" "bench:$r" ;;
      tar-gzip)
        python3 "$lib" time "$results" "$step" "$r" --size "$work/out.tar.gz" -- sh -c 'tar -C "$1" -cf - . | gzip >"$2"' sh "$upper" "$work/out.tar.gz"
        rm -f "$work/out.tar.gz" ;;
    esac
  done
  python3 "$lib" time "$results" strata-export "$r" --size "$work/export.tar" -- "$strata" image save "bench:$r" --format oci -o "$work/export.tar"
  python3 "$lib" time "$results" buildah-push "$r" --size "$work/push.tar" -- buildah --root "$buildah_root" --runroot "$buildah_run" --storage-driver "$driver" push -q "bench:$r" "oci-archive:$work/push.tar"
  rm -f "$work/export.tar" "$work/push.tar"

  # Free the round's space; what cannot be freed goes with the work dir.
  bah rm "$container" >/dev/null
  bah rmi "bench:$r" >/dev/null
  "$strata" image rm "bench:$r" "bench:$r-gzip" "bench:$r-zstd" >/dev/null || true
  [ -z "$strata_rm" ] || "$strata" rm "$session" >/dev/null || true
done
[ -n "$strata_rm" ] || echo "strata has no rm command yet: the sessions stayed until the end" >>"$results/info.txt"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/info.txt"

python3 "$lib" summary "$results" | tee "$results/summary.txt"
echo "per-step logs, times.jsonl and this table: $results"
