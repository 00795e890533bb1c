#!/usr/bin/env bash
# Store size and gc benchmarks (issue 15), strata against podman on the same environments, in one
# run on this machine:
#   1. In a fresh store, `strata lock ENV` then `strata build ENV` (both timed, once) for the
#      example environments (busybox, busybox-tar, busybox-steps: the image fixture made by
#      scripts/busybox-fixture.py; python-dev with its committed lockfile) and ten variants of
#      python-dev: its manifest with one or two more bookworm main packages each (v01-curl ...
#      v10-xz-utils below), resolved against the archive today.
#   2. `du -sb` of the store against the union of distinct packages the lockfiles pin: the
#      distinct .debs by sha256 (plus the busybox environments' OCI, copy and tar layers),
#      (a) the sum of their .deb (blob) sizes, (b) the sum of their unpacked sizes, du -sb of
#      each one's layer in STORE/layers (dpkg-deb -x of its blob if that layer is not found
#      under the key bench/lib/store_bench.py computes); the ratios store/(b) and store/((a)+(b))
#      (the aim: the store is at most the union plus 10%); the store's bytes by kind (blobs,
#      package layers, per-environment layers, flattened layers, records); `strata system df`
#      and `strata system df -v`.
#   3. The same environments as podman images, layered the way a careful Docker user shares
#      them: base = `mmdebstrap --variant=minbase bookworm` of the same mirror, `podman import`ed;
#      python-dev = FROM base, RUN apt-get update && apt-get install -y --no-install-recommends
#      python3 git ca-certificates (python-dev locks without recommends); each variant = FROM
#      python-dev, RUN apt-get update && apt-get install -y --no-install-recommends EXTRA. Every
#      RUN ends with `apt-get clean && rm -rf /var/lib/apt/lists/*` (so lists are fetched again
#      in each variant: keeping them in python-dev would put ~50 MB of lists, bookworm main's
#      Packages decompressed, into every image's base, and no careful Dockerfile does that).
#      The busybox ones: the fixture's OCI layout pulled (busybox-base), FROM it + COPY
#      examples/hello; FROM busybox + the three RUN steps (a cache mount for /cache); FROM
#      scratch + ADD busybox-rootfs.tar.gz. Metadata-only lines (ENV, WORKDIR) are left out:
#      they hold no bytes. Private storage (a storage.conf and containers.conf in the temp dir),
#      runc, --network host for the builds. Reports `podman system df` (and -v; it counts a
#      shared layer once per image), the distinct layers' diff-size sum, du -sb of podman's
#      storage, and podman/strata.
#   4. gc and prune on the same content (a sync before each one-shot removal):
#      (0) the first `strata gc` and `podman image prune -f` after the builds, once: what the
#          builds left that nothing needs (the store's size after it is reported too);
#      (i) idle (nothing to remove): hyperfine -N, RUNS runs after one warm-up, of `strata gc`,
#          `strata prune -f`, `podman image prune -f` and `podman system prune -f`; medians;
#      (ii) five variants removed (v06..v10): strata: their lockfiles deleted, then one timed
#          `strata gc`; podman: one timed `podman rmi` of the five images (which already frees
#          their layers), then one timed `podman image prune -f`; wall time by date +%s%N, and
#          the entries (files, directories, links) each side unlinked;
#      (iii) `strata fsck` of the full store (FSCK_RUNS runs) when this strata has it (its
#          --help shows a fsck usage line; else skipped), against `podman system check` when
#          this podman has it (4.3 has not).
#   5. One table with all the figures.
#
# usage: bench/store.sh [--strata PATH] [--runs N] [--fsck-runs N] [--keep]
#   --strata PATH    use this strata binary (strata-fetch beside it) instead of building the
#                    release ones (into .build-bench)
#   --runs N         hyperfine runs of each idle gc/prune (default 10)
#   --fsck-runs N    runs of strata fsck (default 3)
#   --keep           keep the temp dir (the store, podman's storage unmounted, the logs)
# As root. Installs podman, mmdebstrap, hyperfine, runc and uidmap with apt-get when missing.
# The mirror is the host's: strata reads the apt sources itself; mmdebstrap gets the first URIs:
# of /etc/apt/sources.list.d/debian.sources. About 8 minutes with a built strata (a first release
# build into .build-bench takes 15-20 more).
set -euo pipefail

strata= runs=10 fsck_runs=3 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --strata) strata=$(realpath "$2"); shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --fsck-runs) fsck_runs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/store.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bench/store.sh: run as root" >&2; exit 2; }

top=$(cd "$(dirname "$0")/.." && pwd)
lib="$top/bench/lib/store_bench.py"
# Lower case: podman names the pulled busybox image after the layout's path, and refuses capitals.
work="/tmp/strata-bench-store-$$"
mkdir -m 0700 "$work"
cleanup() {
  set +e
  # podman leaves its overlay home bind-mounted on itself (and perhaps layer mounts): unmount
  # what is mounted under the temp dir, deepest first, before removing it.
  if [ -f "$work/podman/containers.conf" ]; then
    CONTAINERS_CONF="$work/podman/containers.conf" CONTAINERS_STORAGE_CONF="$work/podman/storage.conf" \
      podman umount -a >/dev/null 2>&1
  fi
  findmnt -rn -o TARGET | grep "^$work/" | sort -r | while read -r m; do umount "$m" || umount -l "$m"; done
  if [ "$keep" = 1 ]; then
    echo "kept: $work"
  else
    # --one-file-system: never recurse into a mount left behind by a failure.
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT

missing=()
for p in podman mmdebstrap hyperfine runc uidmap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -z "$strata" ]; then
  echo "building strata and strata-fetch (release, static Swift stdlib, into .build-bench)..."
  for product in strata strata-fetch; do
    swift build -c release --static-swift-stdlib --product "$product" \
      --package-path "$top" --scratch-path "$top/.build-bench" >/dev/null
  done
  strata="$top/.build-bench/release/strata"
fi
[ -x "$(dirname "$strata")/strata-fetch" ] || { echo "bench/store.sh: no strata-fetch beside $strata" >&2; exit 2; }

mirror=$(python3 "$lib" mirror-url)
suite=bookworm
store="$work/store"
facts="$work/facts.tsv"
: >"$facts"
fact() { printf '%s\t%s\n' "$1" "$2" >>"$facts"; }
now() { date +%s%N; }
seconds() { python3 -c "import sys; print((int(sys.argv[2]) - int(sys.argv[1])) / 1e9)" "$1" "$2"; }
# section TITLE: a heading.
section() { printf '\n== %s\n' "$1"; }
# show CMD...: runs CMD, its output indented; on failure prints it and stops the benchmark.
show() {
  local out
  if ! out=$("$@" 2>&1); then
    echo "bench/store.sh: failed: $*" >&2
    printf '%s\n' "$out" | sed 's/^/  /' >&2
    exit 1
  fi
  printf '%s\n' "$out" | sed 's/^/  /'
}

# The variants: NAME and the extra packages (bookworm main).
variants=(
  "v01-curl:curl"
  "v02-make:make"
  "v03-jq:jq"
  "v04-less:less"
  "v05-vim-tiny:vim-tiny"
  "v06-zip:zip unzip"
  "v07-wget:wget"
  "v08-file:file"
  "v09-patch:patch"
  "v10-xz-utils:xz-utils bzip2"
)
removed=(v06-zip v07-wget v08-file v09-patch v10-xz-utils)

# A private project: the example manifests and their committed lockfiles, the busybox fixture
# (images/), the copied tree (examples/hello), and the variants' manifests.
project="$work/project"
mkdir -p "$project/envs" "$project/lockfiles" "$project/examples"
cp "$top"/envs/{busybox,busybox-tar,busybox-steps,python-dev}.json "$project/envs/"
cp "$top"/lockfiles/{busybox,busybox-tar,busybox-steps,python-dev}.lock.json "$project/lockfiles/"
cp -a "$top/examples/hello" "$project/examples/"
(cd "$project" && python3 "$top/scripts/busybox-fixture.py" images >/dev/null)
for v in "${variants[@]}"; do
  name=${v%%:*} extra=${v#*:}
  python3 - "$top/envs/python-dev.json" "$project/envs/$name.json" $extra <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
manifest["packages"] = manifest["packages"] + sys.argv[3:]
json.dump(manifest, open(sys.argv[2], "w"), indent=2)
PY
done
envs=(busybox busybox-tar busybox-steps python-dev)
for v in "${variants[@]}"; do envs+=("${v%%:*}"); done
fact envs "${#envs[@]}"
fact runs "$runs"
cd "$project"

# 1. strata: lock and build each environment in a fresh store.
section "strata: lock + build ${#envs[@]} environments into a fresh store (the mirror: the host's apt sources)"
total0=$(now)
for env in "${envs[@]}"; do
  t0=$(now)
  if ! "$strata" lock --root "$store" "$env" >"$work/lock.out" 2>&1; then
    echo "bench/store.sh: failed: strata lock --root STORE $env" >&2; sed 's/^/  /' "$work/lock.out" >&2; exit 1
  fi
  t1=$(now)
  if ! "$strata" build --frozen --root "$store" "$env" >"$work/build.out" 2>&1; then
    echo "bench/store.sh: failed: strata build --frozen --root STORE $env" >&2; sed 's/^/  /' "$work/build.out" >&2; exit 1
  fi
  t2=$(now)
  n=$(python3 -c 'import json,sys; b=json.load(open(sys.argv[1]))["base"]; print(len(b.get("packages", [])))' \
      "lockfiles/$env.lock.json")
  printf '  %-14s lock %6.2f s  build %6.2f s  %3s .debs  store %s\n' "$env" "$(seconds "$t0" "$t1")" \
    "$(seconds "$t1" "$t2")" "$n" "$(du -sh "$store" | cut -f1)"
done
total1=$(now)
fact strata_build_s "$(seconds "$total0" "$total1")"
for f in python-dev busybox busybox-tar busybox-steps; do
  cmp -s "$top/lockfiles/$f.lock.json" "lockfiles/$f.lock.json" || echo "  note: strata lock changed the committed lockfiles/$f.lock.json"
done
echo "  check: $("$strata" run --frozen --root "$store" v01-curl -- curl --version | head -1)"

# 2. The store against the union of what the lockfiles pin.
section "strata store against the union of distinct packages"
du -sb "$store" | awk '{printf "  du -sb STORE: %d bytes (%.1f MB)\n", $1, $1 / 1e6}'
python3 "$lib" union "$store" "$top" "$work/union.json" lockfiles/*.lock.json
section "strata system df"
show "$strata" system df --root "$store"
section "strata system df -v"
show "$strata" system df -v --root "$store"

# 3. podman, in its own storage under the temp dir.
section "podman: the same environments as images (private storage, runc, --network host)"
pdir="$work/podman"
mkdir -p "$pdir/root" "$pdir/run" "$pdir/tmp" "$pdir/networks" "$pdir/ctx"
cat >"$pdir/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$pdir/root"
runroot = "$pdir/run"
EOF
cat >"$pdir/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "none"
tmp_dir = "$pdir/tmp"
[network]
network_config_dir = "$pdir/networks"
EOF
export CONTAINERS_CONF="$pdir/containers.conf" CONTAINERS_STORAGE_CONF="$pdir/storage.conf"
pbuild=(podman build --pull=never --network host --runtime runc
        --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --layers)
# image NAME CONTEXT: builds CONTEXT/Containerfile as localhost/NAME, timed, log in the temp dir.
image() {
  local name=$1 ctx=$2 t0 t1
  t0=$(now)
  if ! "${pbuild[@]}" -t "localhost/$name" -f "$ctx/Containerfile" "$ctx" >"$pdir/$name.log" 2>&1; then
    echo "bench/store.sh: failed: podman build -t localhost/$name (Containerfile:)" >&2
    sed 's/^/    /' "$ctx/Containerfile" >&2; tail -20 "$pdir/$name.log" | sed 's/^/  /' >&2; exit 1
  fi
  t1=$(now)
  printf '  %-14s build %6.2f s\n' "$name" "$(seconds "$t0" "$t1")"
}
ptotal0=$(now)
t0=$(now)
mmdebstrap --quiet --variant=minbase "$suite" "$pdir/base.tar" "$mirror" >"$pdir/mmdebstrap.log" 2>&1 \
  || { echo "bench/store.sh: mmdebstrap failed:" >&2; cat "$pdir/mmdebstrap.log" >&2; exit 1; }
podman import -q "$pdir/base.tar" localhost/base >/dev/null
rm -f "$pdir/base.tar"
t1=$(now)
printf '  %-14s mmdebstrap + podman import %6.2f s\n' base "$(seconds "$t0" "$t1")"
clean='apt-get clean && rm -rf /var/lib/apt/lists/*'
mkdir -p "$pdir/ctx/python-dev"
cat >"$pdir/ctx/python-dev/Containerfile" <<EOF
FROM localhost/base
RUN apt-get update && apt-get install -y --no-install-recommends python3 git ca-certificates && $clean
EOF
image python-dev "$pdir/ctx/python-dev"
for v in "${variants[@]}"; do
  name=${v%%:*} extra=${v#*:}
  mkdir -p "$pdir/ctx/$name"
  cat >"$pdir/ctx/$name/Containerfile" <<EOF
FROM localhost/python-dev
RUN apt-get update && apt-get install -y --no-install-recommends $extra && $clean
EOF
  image "$name" "$pdir/ctx/$name"
done
podman pull -q "oci:$project/images/busybox:latest" >"$pdir/pull.out"
podman tag "$(tail -1 "$pdir/pull.out")" localhost/busybox-base
mkdir -p "$pdir/ctx/busybox" "$pdir/ctx/busybox-steps" "$pdir/ctx/busybox-tar"
cp -a "$project/examples/hello" "$pdir/ctx/busybox/"
printf 'FROM localhost/busybox-base\nCOPY hello /opt/hello\n' >"$pdir/ctx/busybox/Containerfile"
image busybox "$pdir/ctx/busybox"
cat >"$pdir/ctx/busybox-steps/Containerfile" <<'EOF'
FROM localhost/busybox
RUN mkdir -p /opt/site && for i in 1 2 3; do echo "page $i" > /opt/site/$i.html; done
WORKDIR /opt/site
RUN ["/bin/sh", "-c", "ls /opt/site > /opt/site/index.txt"]
WORKDIR /
RUN --mount=type=cache,target=/cache cat /opt/site/index.txt >> /cache/seen; wc -l < /cache/seen
EOF
image busybox-steps "$pdir/ctx/busybox-steps"
cp "$project/images/busybox-rootfs.tar.gz" "$pdir/ctx/busybox-tar/"
printf 'FROM scratch\nADD busybox-rootfs.tar.gz /\nCMD ["/bin/sh"]\n' >"$pdir/ctx/busybox-tar/Containerfile"
image busybox-tar "$pdir/ctx/busybox-tar"
ptotal1=$(now)
fact podman_build_s "$(seconds "$ptotal0" "$ptotal1")"
echo "  check: $(podman run --rm --network none --runtime runc localhost/v01-curl curl --version | head -1)"
fact images "$(podman images -q --filter dangling=false | wc -l)"
section "podman system df"
show podman system df
section "podman system df -v (images)"
podman system df -v 2>&1 | sed -n '/^REPOSITORY/,/^Containers space/p' | sed '$d; /^$/d; s/^/  /'
pdf=$(podman system df --format '{{.Type}}\t{{.Size}}' | awk -F'\t' '$1 == "Images" {print $2}')
fact podman_df_images "$(python3 "$lib" bytes "$pdf")"
# podman system df sums every image's full size (a shared layer once per image that has it);
# the distinct layers' bytes are their diff-size (uncompressed tar) in containers/storage.
fact podman_layers "$(python3 "$lib" podman-layers "$pdir/root")"
pdu=$(du -sb "$pdir/root" | cut -f1)
fact podman_du "$pdu"
awk -v n="$pdu" 'BEGIN {printf "  du -sb of podman storage: %d bytes (%.1f MB)\n", n, n / 1e6}'

# entries DIR: how many files, directories and links are under DIR (what a removal unlinks).
entries() { find "$1" | wc -l; }

# 4. gc and prune. First one of each right after the builds: what the builds left unreferenced.
section "first gc/prune after the builds (one shot each, after sync)"
sync
t0=$(now); "$strata" gc --root "$store" >"$work/gc0.out" 2>&1 || { cat "$work/gc0.out" >&2; exit 1; }; t1=$(now)
printf '  strata gc %.3f s: %s\n' "$(seconds "$t0" "$t1")" "$(tail -1 "$work/gc0.out")"
grep -v '^freed\|^nothing' "$work/gc0.out" | awk '{print $1}' | sort | uniq -c | sed 's/^ */    removed: /'
t0=$(now); podman image prune -f >"$work/prune0.out" 2>&1 || { cat "$work/prune0.out" >&2; exit 1; }; t1=$(now)
printf '  podman image prune -f %.3f s: %d images removed\n' "$(seconds "$t0" "$t1")" "$(grep -c . "$work/prune0.out" || true)"
settled=$(du -sb "$store" | cut -f1)
fact store_settled "$settled"
printf '  du -sb STORE after it: %d bytes (%.1f MB)\n' "$settled" "$(python3 -c "print($settled / 1e6)")"

section "idle gc/prune: nothing to remove ($runs runs each after a warm-up, hyperfine -N)"
echo "  the warm-up runs said:"
show "$strata" gc --root "$store"
show "$strata" prune -f --root "$store"
show podman image prune -f
show podman system prune -f
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/idle.json" \
  -n "strata gc" "$strata gc --root $store" \
  -n "strata prune -f" "$strata prune -f --root $store" \
  -n "podman image prune -f" "podman image prune -f" \
  -n "podman system prune -f" "podman system prune -f" 2>&1 \
  | grep -E '^(Benchmark|  Time|  Range)' | sed 's/^/  /'

section "fsck of the full store"
# An unknown subcommand's --help prints strata's own help and exits 0: look at the usage line.
if "$strata" fsck --help 2>/dev/null | grep '^USAGE: strata fsck' >/dev/null; then
  if out=$("$strata" fsck --root "$store" 2>&1); then fact fsck_result "no problems"; else fact fsck_result "found problems (exit 1)"; fi
  printf '%s\n' "$out" | tail -5 | sed 's/^/  strata fsck: /'
  fsck_cmds=(-n "strata fsck" "$strata fsck --root $store")
  if podman system --help 2>/dev/null | grep -E '^ +check ' >/dev/null; then
    fsck_cmds+=(-n "podman system check" "podman system check")
  else
    echo "  podman $(podman --version | awk '{print $3}') has no 'podman system check': strata fsck alone"
  fi
  hyperfine -N -i --warmup 0 --runs "$fsck_runs" --export-json "$work/fsck.json" "${fsck_cmds[@]}" 2>&1 \
    | grep -E '^(Benchmark|  Time|  Range)' | sed 's/^/  /'
  fact fsck_runs "$fsck_runs"
else
  echo "  this strata has no 'strata fsck' (strata fsck --help shows no fsck usage): skipped"
  fact fsck_result "not in this strata"
fi

section "remove five variants (${removed[*]}) and collect"
before=$(du -sb "$store" | cut -f1) nbefore=$(entries "$store")
for name in "${removed[@]}"; do rm "lockfiles/$name.lock.json"; done
sync
t0=$(now)
"$strata" gc --root "$store" >"$work/gc5.out" 2>&1 || { echo "bench/store.sh: failed: strata gc" >&2; cat "$work/gc5.out" >&2; exit 1; }
t1=$(now)
after=$(du -sb "$store" | cut -f1) nafter=$(entries "$store")
fact gc5_s "$(seconds "$t0" "$t1")"
fact strata_freed "$((before - after))"
fact strata_unlinked "$((nbefore - nafter))"
printf '  strata gc: %.3f s; du -sb went %d -> %d (-%d bytes), %d entries unlinked; it said:\n    %s\n' \
  "$(seconds "$t0" "$t1")" "$before" "$after" "$((before - after))" "$((nbefore - nafter))" "$(tail -1 "$work/gc5.out")"
pbefore=$(du -sb "$pdir/root" | cut -f1) npbefore=$(entries "$pdir/root")
sync
images=()
for name in "${removed[@]}"; do images+=("localhost/$name"); done
t0=$(now)
podman rmi "${images[@]}" >"$work/rmi.out" 2>&1 || { echo "bench/store.sh: failed: podman rmi" >&2; cat "$work/rmi.out" >&2; exit 1; }
t1=$(now)
podman image prune -f >"$work/prune5.out" 2>&1
t2=$(now)
pafter=$(du -sb "$pdir/root" | cut -f1) npafter=$(entries "$pdir/root")
fact rmi5_s "$(seconds "$t0" "$t1")"
fact prune5_s "$(seconds "$t1" "$t2")"
fact podman_freed "$((pbefore - pafter))"
fact podman_unlinked "$((npbefore - npafter))"
printf '  podman rmi: %.3f s; image prune -f after it: %.3f s (%d images); du -sb went %d -> %d (-%d bytes), %d entries unlinked\n' \
  "$(seconds "$t0" "$t1")" "$(seconds "$t1" "$t2")" "$(grep -c . "$work/prune5.out" || true)" \
  "$pbefore" "$pafter" "$((pbefore - pafter))" "$((npbefore - npafter))"
section "strata system df, after"
show "$strata" system df --root "$store"
section "podman system df, after"
show podman system df

python3 "$lib" summary "$work"
