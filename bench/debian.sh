#!/usr/bin/env bash
# Debian benchmarks (issue 3), side by side in one run on this machine:
#   1. cold build of envs/python-dev.json from its committed lockfile into an empty store,
#      against `mmdebstrap --variant=minbase --include=python3,git,ca-certificates` from the same
#      mirror; then both again with the .debs already local (strata: a warm store's blobs/ copied
#      into the new store; mmdebstrap: a file:// mirror holding the archive's signed InRelease,
#      its Packages.xz and the locked .debs);
#   2. warm `strata run python-dev -- /bin/true` (and `python3 -c pass`) against bwrap on an
#      unpacked copy of the same tree;
#   3. `strata lock python-dev --update` with the index cached in the store, against
#      `apt-get install -s python3 git ca-certificates` (host apt, warm caches);
#   4. a second environment (python3, curl) built after python-dev in the same store: what it
#      downloaded and unpacked, and how much the store grew.
# Prints medians and ratios (strata / anchor), then one table.
#
# The mirror is the host's: strata reads the apt sources itself; mmdebstrap gets the first URIs:
# of /etc/apt/sources.list.d/debian.sources (or $STRATA_DEBIAN_MIRROR's first entry).
#
# usage: bench/debian.sh [--runs N] [--run-runs N] [--lock-runs N] [--only LIST]
#   --runs N       cold builds of each tool, per kind (default 3; alternated)
#   --run-runs N   warm runs of each command (default 200; in rounds of 40)
#   --lock-runs N  locks / apt-get -s of each (default 10; in rounds of 5)
#   --only LIST    comma-separated subset of cold,cached,run,lock,share (default: all)
#   --strata PATH  use this strata binary instead of building the release one (for testing)
# As root. Installs mmdebstrap, bubblewrap and hyperfine with apt-get when missing.
# About 10 minutes at the defaults (mostly the cold builds).
set -euo pipefail

runs=3 run_runs=200 lock_runs=10 only=cold,cached,run,lock,share strata=
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --run-runs) run_runs=$2; shift 2 ;;
    --lock-runs) lock_runs=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --strata) strata=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/debian.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
want() { [[ ",$only," == *",$1,"* ]]; }
[ "$(id -u)" = 0 ] || { echo "bench/debian.sh: run as root" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
lib="$top/bench/lib/debian_bench.py"
work=$(mktemp -d /tmp/strata-bench-debian.XXXXXX)
# --one-file-system: never recurse into a session or chroot mount left behind by a failure.
trap 'rm -rf --one-file-system "$work"' EXIT

missing=()
for p in mmdebstrap bubblewrap hyperfine; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mirror=${STRATA_DEBIAN_MIRROR:-}
mirror=${mirror%%[ ,]*}
[ -n "$mirror" ] || mirror=$(python3 "$lib" mirror-url)
suite=bookworm

if [ -z "$strata" ]; then
  echo "building strata (release, static Swift stdlib)..."
  swift build -c release --static-swift-stdlib --package-path "$top" >/dev/null
  strata="$top/.build/release/strata"
fi

# A private project: a copy of the manifest and its committed lockfile (never rewritten here),
# plus the sharing environment.
project="$work/project"
mkdir -p "$project/envs" "$project/lockfiles"
cp "$top/envs/python-dev.json" "$project/envs/"
cp "$top/lockfiles/python-dev.lock.json" "$project/lockfiles/"
cat > "$project/envs/share.json" <<JSON
{"from": {"debian": {"suite": "$suite", "variant": "minbase"}}, "packages": ["python3", "curl"]}
JSON
cd "$project"
lock="$project/lockfiles/python-dev.lock.json"
npkgs=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["base"]["packages"]))' "$lock")
echo "python-dev: $npkgs locked packages; mirror: the host's apt sources (mmdebstrap gets the same URL)"

now() { date +%s%N; }
seconds() { python3 -c "import sys; print((int(sys.argv[2]) - int(sys.argv[1])) / 1e9)" "$1" "$2"; }
warm="$work/warm"   # the store every later step uses: python-dev built in it

# strata_cold KIND STORE: one timed `strata build` into STORE; appends to cold.tsv.
strata_cold() {
  local kind=$1 store=$2 t0 t1
  t0=$(now)
  if ! "$strata" build --frozen --root "$store" python-dev >"$work/strata.out" 2>"$work/strata.err"; then
    echo "strata build failed:" >&2; cat "$work/strata.err" >&2; exit 1
  fi
  t1=$(now)
  printf '%s\tstrata\t%s\n' "$kind" "$(seconds "$t0" "$t1")" >>"$work/cold.tsv"
  printf '  %-8s strata     %6.2f s\n' "$kind" "$(seconds "$t0" "$t1")"
}
# mmdebstrap_cold KIND DIR MIRROR [OPTIONS...]: one timed mmdebstrap into DIR.
mmdebstrap_cold() {
  local kind=$1 dir=$2 from=$3 t0 t1; shift 3
  t0=$(now)
  if ! mmdebstrap --quiet --variant=minbase --include=python3,git,ca-certificates "$@" \
       "$suite" "$dir" "$from" >"$work/mmdebstrap.log" 2>&1; then
    echo "mmdebstrap failed:" >&2; cat "$work/mmdebstrap.log" >&2; exit 1
  fi
  t1=$(now)
  printf '%s\tmmdebstrap\t%s\n' "$kind" "$(seconds "$t0" "$t1")" >>"$work/cold.tsv"
  printf '  %-8s mmdebstrap %6.2f s  (%s packages)\n' "$kind" "$(seconds "$t0" "$t1")" \
    "$(chroot "$dir" dpkg-query -W | wc -l)"
  rm -rf --one-file-system "$dir"
}

# 1a. Cold, downloading everything. The first strata store is kept as the warm store.
if want cold; then
  echo "cold build, downloading every .deb ($runs runs each, alternated):"
  for i in $(seq "$runs"); do
    store="$work/cold-store"
    if [ $((i % 2)) = 1 ]; then
      strata_cold download "$store"; mmdebstrap_cold download "$work/mm" "$mirror"
    else
      mmdebstrap_cold download "$work/mm" "$mirror"; strata_cold download "$store"
    fi
    if [ -d "$warm" ]; then rm -rf --one-file-system "$store"; else mv "$store" "$warm"; fi
  done
fi
if ! [ -d "$warm" ] && { want cached || want run || want lock || want share; }; then
  echo "building python-dev into the warm store (untimed)..."
  "$strata" build --frozen --root "$warm" python-dev >/dev/null
fi

# 1b. Cold, with the .debs already local: nothing comes from the network on either side.
if want cached; then
  echo "cold build, .debs already local ($runs runs each, alternated):"
  echo "  strata: the warm store's blobs/ copied into an empty store before timing"
  echo "  mmdebstrap: file:// mirror with the archive's signed InRelease, Packages.xz and the locked .debs"
  python3 "$lib" local-mirror "$lock" "$warm" "$mirror" "$suite" "$work/mirror" | sed 's/^/  /'
  for i in $(seq "$runs"); do
    store="$work/cached-store"
    mkdir -p "$store/blobs"
    cp -a "$warm/blobs/." "$store/blobs/"
    mm=(cached "$work/mm" "file://$work/mirror" --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount)
    if [ $((i % 2)) = 1 ]; then
      strata_cold cached "$store"; mmdebstrap_cold "${mm[@]}"
    else
      mmdebstrap_cold "${mm[@]}"; strata_cold cached "$store"
    fi
    rm -rf --one-file-system "$store"
  done
fi

# 2. Warm start-up. The bwrap tree is the session's own root, copied out through tar.
if want run; then
  echo "warm run ($run_runs runs of each, in rounds of 40):"
  tree="$work/tree"
  mkdir -p "$tree"
  "$strata" run --root "$warm" python-dev -- tar -C / -cf - --one-file-system --numeric-owner . \
    | tar -C "$tree" -xpf - --numeric-owner
  mkdir -p "$tree/proc" "$tree/dev" "$tree/sys" "$tree/tmp"
  echo "  tree: $(du -sh "$tree" | cut -f1), $(find "$tree" | wc -l) entries"
  bw="bwrap --unshare-all --bind $tree / --proc /proc --dev /dev"
  run="$strata run --root $warm python-dev --"
  $run /bin/true
  $bw /bin/true
  $run /usr/bin/python3 -c pass
  $bw /usr/bin/python3 -c pass
  # The machines are shared and noisy: alternate short rounds so drift hits both alike.
  for i in $(seq $(( (run_runs + 39) / 40 ))); do
    hyperfine -N --warmup 5 --runs 40 --export-json "$work/run-$i.json" \
      -n "strata true" "$run /bin/true" -n "bwrap true" "$bw /bin/true" \
      -n "strata python3" "$run /usr/bin/python3 -c pass" -n "bwrap python3" "$bw /usr/bin/python3 -c pass" \
      >/dev/null 2>&1
  done
fi

# 3. Lock with the index cached (the first --update fetches it; InRelease is fetched every time).
if want lock; then
  echo "lock ($lock_runs runs of each, in rounds of 5):"
  lockproj="$work/lockproj"
  mkdir -p "$lockproj/envs" "$lockproj/lockfiles"
  cp "$project/envs/python-dev.json" "$lockproj/envs/"
  cp "$lock" "$lockproj/lockfiles/"
  cd "$lockproj"
  "$strata" lock --root "$warm" python-dev --update >/dev/null
  if ! cmp -s "$lock" "$lockproj/lockfiles/python-dev.lock.json"; then
    echo "  note: the archive moved since the committed lockfile; --update changes it:"
    "$strata" lock diff "$lock" "$lockproj/lockfiles/python-dev.lock.json" | sed 's/^/    /'
  fi
  : >"$work/empty-status"
  for i in $(seq $(( (lock_runs + 4) / 5 ))); do
    hyperfine -N --warmup 1 --runs 5 --export-json "$work/lock-$i.json" \
      -n "strata lock" "$strata lock --root $warm python-dev --update" \
      -n "apt-get -s" "apt-get install -s python3 git ca-certificates" \
      -n "apt-get -s empty" "apt-get install -s -o Dir::State::status=$work/empty-status python3 git ca-certificates" \
      >/dev/null 2>&1
  done
  cd "$project"
fi

# 4. Sharing: a second environment in the same store takes only the .debs it does not share.
if want share; then
  echo "sharing: lock and build envs/share.json (python3, curl) in the store python-dev is in:"
  "$strata" lock --root "$warm" share >/dev/null   # fetches the index unless step 3 cached it
  python3 "$lib" count "$warm" "$work/share-before.json" "$project/lockfiles/share.lock.json"
  t0=$(now)
  "$strata" build --frozen --root "$warm" share >/dev/null
  t1=$(now)
  python3 "$lib" count "$warm" "$work/share-after.json" "$project/lockfiles/share.lock.json"
  printf '  strata build share: %.2f s\n' "$(seconds "$t0" "$t1")"
  "$strata" run --root "$warm" share -- /usr/bin/python3 -c 'import ssl; print("  python3 in share: ok")'
fi

python3 "$lib" summary "$work"
