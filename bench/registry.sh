#!/usr/bin/env bash
# Registry push and pull: a 210 MB image of five layers sent to and fetched from a local
# docker-registry by `strata push`/`strata pull` against `skopeo copy` of the same image, in one
# run on this machine. The image is made once (untimed, from a fixed seed, so the same in every
# run): five tar+gzip layers (gzip level 1) of 40 MiB of random bytes each, which gzip cannot
# shrink, a config listing their diff_ids and a manifest, as an OCI layout tagged "bench";
# `strata load` stores it (from a tar of the layout) and skopeo reads the layout. Each round
# times, in both tools and in an order that rotates from round to round:
#   (a) push cold    into a registry of its own with empty storage, on a port not used before in
#                    the run (so no blob is there and neither tool knows of one to mount;
#                    strata's cache/registry-blobs is removed first too)
#   (b) push warm    the same push again: every blob is there
#   (c) pull cold    from a registry holding the image into an empty strata store or an OCI
#                    layout that does not exist yet, on the same file system
#   (d) pull warm    the same pull again: the store or layout has every blob
# with `sync` (untimed) before each. Blobs are copied as they are (skopeo with
# --preserve-digests); every run must end at the layout's manifest digest. Prints one table:
# medians with min-max (wall seconds), CPU seconds (user+sys), the blobs each run added, the
# ratios strata/skopeo, and the aims: cold push and cold pull at most 1.0x skopeo's, and a push
# of an unchanged image under 0.1 s.
#
# usage: bench/registry.sh [--rounds N] [--strata PATH]
#   --rounds N     rounds (default 5)
#   --strata PATH  use this strata binary (and the strata-fetch beside it) instead of building
#                  the release ones (into .build-bench, so as not to share .build)
# As root. Installs docker-registry and skopeo with apt-get when missing. The registries are
# Debian's docker-registry (the CNCF distribution registry) on 127.0.0.1, each with a
# temporary config and storage, stopped at the end. About a minute at the defaults on a quiet
# 2-core machine, plus the release build; needs ~2 GB of /tmp.
set -euo pipefail

rounds=5 strata=
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) [ $# -ge 2 ] || { echo "bench/registry.sh: --rounds needs a number" >&2; exit 2; }; rounds=$2; shift 2 ;;
    --strata) [ $# -ge 2 ] || { echo "bench/registry.sh: --strata needs a path" >&2; exit 2; }; strata=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/registry.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench/registry.sh: $rounds is not a positive whole number" >&2; exit 2; }
[ -z "$strata" ] || [ -x "$strata" ] || { echo "bench/registry.sh: $strata is not an executable" >&2; exit 2; }
[ -z "$strata" ] || [ -x "$(dirname "$strata")/strata-fetch" ] \
  || { echo "bench/registry.sh: there is no strata-fetch beside $strata, and strata runs the one beside it" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench/registry.sh: run as root (strata and skopeo are measured as root runs them)" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
lib="$top/bench/lib/registry_bench.py"
work=$(mktemp -d /tmp/strata-bench-registry.XXXXXX)
results="$work/results"
mkdir -p "$results"
registries=()  # the PIDs of the registries this script started and has not stopped
stop_registry() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=() p
  for p in "${registries[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  registries=("${kept[@]}")
}
# The registries go first, then everything but the results, which are printed and then removed
# too unless STRATA_BENCH_KEEP=1.
cleanup() {
  status=$?
  for pid in "${registries[@]}"; do stop_registry "$pid"; done
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
trap 'echo "bench/registry.sh: line $LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR

missing=()
for p in docker-registry skopeo; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for t in docker-registry skopeo python3 sync; do
  command -v "$t" >/dev/null || { echo "bench/registry.sh: $t is not on PATH; install it and retry" >&2; exit 2; }
done

if [ -z "$strata" ]; then
  # Both: strata runs the strata-fetch in the directory of its own executable.
  echo "building strata and strata-fetch (release, into .build-bench)..."
  for product in strata strata-fetch; do
    swift build -c release --static-swift-stdlib --product "$product" --package-path "$top" --scratch-path "$top/.build-bench" >"$work/swift-build.log" 2>&1 \
      || { echo "bench/registry.sh: swift build of $product failed:" >&2; tail -n 30 "$work/swift-build.log" >&2; exit 1; }
  done
  strata="$top/.build-bench/release/strata"
  if commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null); then
    [ -z "$(git -C "$top" status --porcelain --untracked-files=no -- Sources Package.swift)" ] || commit="$commit + uncommitted changes"
    echo "strata built from $commit" >>"$results/info.txt"
  fi
fi

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/info.txt"
echo "skopeo $(skopeo --version | cut -d' ' -f3), docker-registry $(docker-registry --version | cut -d' ' -f3); strata $strata" >>"$results/info.txt"

# A registry with empty storage in DIR, on a port this run has not used; sets reg_port and
# reg_pid. The config is the integration tests' (TestRegistry.swift).
start_registry() {
  local dir=$1
  mkdir -p "$dir/data"
  reg_port=$(python3 "$lib" port "$work/ports")
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$reg_port
EOF
  docker-registry serve "$dir/config.yml" </dev/null >"$dir/registry.log" 2>&1 &
  reg_pid=$!
  registries+=("$reg_pid")
  python3 "$lib" wait "$reg_port" "$reg_pid" "$dir/registry.log"
}
# The blobs a registry in DIR holds, and those of a store or layout in DIR.
registry_blobs() { echo "find '$1/data/docker/registry/v2/blobs' -name data -type f 2>/dev/null | wc -l"; }
layout_blobs() { echo "find '$1/blobs/sha256' -type f 2>/dev/null | wc -l"; }

# The image: the layout for skopeo, a tar of it for `strata load` (removed once loaded).
echo "making the image (untimed)..."
layout="$work/image"
digest=$(python3 "$lib" layout "$layout" "$work/image.tar" "$results")
store="$work/store"
"$strata" load --root "$store" --tag bench:latest "$work/image.tar" >/dev/null
rm "$work/image.tar"
echo "image: manifest $digest" >>"$results/info.txt"

# The registry every round pulls from, filled once by skopeo (untimed).
start_registry "$work/registry-pull"
pull_pid=$reg_pid
pull_ref="127.0.0.1:$reg_port/bench/img:1"
skopeo copy -q --preserve-digests --dest-tls-verify=false --digestfile "$work/pull-registry.digest" "oci:$layout:bench" "docker://$pull_ref"
[ "$(cat "$work/pull-registry.digest")" = "$digest" ] \
  || { echo "bench/registry.sh: skopeo stored the image in the pull registry as $(cat "$work/pull-registry.digest"), not $digest" >&2; exit 1; }

timed() { sync; python3 "$lib" time "$results" "$@"; }

for r in $(seq "$rounds"); do
  echo "round $r of $rounds"
  # Each tool's push goes to a registry of its own, empty and on a new port; strata forgets
  # where it pushed before.
  declare -A push_port=() push_pid=()
  for tool in strata skopeo; do
    start_registry "$work/registry-$tool-$r"
    push_port[$tool]=$reg_port push_pid[$tool]=$reg_pid
  done
  rm -rf "$store/cache/registry-blobs"

  # The two tools, started one further along each round, so that drift on a shared machine
  # (and a warmer or colder page cache) does not always favour the same one.
  tools=(strata skopeo)
  for operation in push-cold push-warm pull-cold pull-warm; do
    for i in "${!tools[@]}"; do
      tool=${tools[$(( (i + r - 1) % ${#tools[@]} ))]}
      name="$tool-$operation"
      case "$operation" in
        push-*)
          ref="127.0.0.1:${push_port[$tool]}/bench/img:1"
          counter=$(registry_blobs "$work/registry-$tool-$r") ;;
        pull-*)
          dest="$work/pull-$tool-$r"
          counter=$(layout_blobs "$dest") ;;
      esac
      case "$tool-$operation" in
        strata-push-*) timed "$name" "$r" --count "$counter" --expect "$digest" -- "$strata" push --root "$store" bench:latest "$ref" ;;
        skopeo-push-*) timed "$name" "$r" --count "$counter" --expect "$digest" --digest-file "$results/$name-$r.digest" \
                         -- skopeo copy --preserve-digests --dest-tls-verify=false --digestfile "$results/$name-$r.digest" "oci:$layout:bench" "docker://$ref" ;;
        strata-pull-*) timed "$name" "$r" --count "$counter" --expect "$digest" -- "$strata" pull --root "$dest" "$pull_ref" ;;
        skopeo-pull-*) timed "$name" "$r" --count "$counter" --expect "$digest" --digest-file "$results/$name-$r.digest" \
                         -- skopeo copy --preserve-digests --src-tls-verify=false --digestfile "$results/$name-$r.digest" "docker://$pull_ref" "oci:$dest:bench" ;;
      esac
    done
    if [ "$operation" = push-warm ]; then
      for tool in strata skopeo; do
        stop_registry "${push_pid[$tool]}"
        rm -rf --one-file-system "$work/registry-$tool-$r"
      done
    fi
  done

  if [ "$r" = 1 ]; then
    # Both pulls must hold the layout's blobs, byte for byte the same names: nothing recompressed.
    want=$(cd "$layout/blobs/sha256" && ls | sort)
    for tool in strata skopeo; do
      have=$(cd "$work/pull-$tool-1/blobs/sha256" && ls | sort)
      [ "$have" = "$want" ] \
        || { echo "bench/registry.sh: $tool's pull holds other blobs than the image's:" >&2; diff <(echo "$want") <(echo "$have") >&2 || true; exit 1; }
    done
    echo "both pulls hold the image's $(echo "$want" | wc -l) blobs, digests unchanged" >>"$results/info.txt"
  fi
  rm -rf --one-file-system "$work/pull-strata-$r" "$work/pull-skopeo-$r"
done
stop_registry "$pull_pid"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/info.txt"

python3 "$lib" summary "$results" | tee "$results/summary.txt"
