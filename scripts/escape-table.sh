#!/usr/bin/env bash
# escape-table.sh: the escape-and-privilege table of scripts/escape/probe.c under
# one or more runtimes, one table after another, then a side-by-side summary.
#
# usage: scripts/escape-table.sh RUNTIME...
#   strata ENV   `strata run ENV` in the current project (ENV needs /bin/sh, cat, chmod
#                and a writable /tmp: the probe arrives on standard input). The strata
#                binary is $STRATA, else `strata` on PATH, else this checkout's .build/debug/strata.
#   runc         a busybox root under `runc spec` adjusted to Docker's defaults: its 14
#                capabilities, masked and read-only paths, writable root, no
#                no_new_privs, and Docker's seccomp profile when one is at hand
#                ($DOCKER_SECCOMP_PROFILE, or Debian's golang-github-docker-docker-dev,
#                installed, or fetched once with `apt-get download` into ~/.cache/strata-escape);
#                without it the table says so.
#   bwrap        bwrap --unshare-all --die-with-parent --ro-bind ROOT / --proc /proc
#                --dev /dev --tmpfs /tmp (the tmpfs gives mknod and chroot a writable place).
#                Run as root, bwrap keeps every capability inside its user namespace.
# Example: scripts/escape-table.sh strata bb runc bwrap
# Exit status 0 iff every table has no FAIL row. Run as root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2; exit 2; }

runtimes=()
strata_env=""
while [ $# -gt 0 ]; do
    case "$1" in
        strata) [ $# -ge 2 ] || usage; strata_env=$2; runtimes+=(strata); shift 2 ;;
        runc|bwrap) runtimes+=("$1"); shift ;;
        -h|--help) usage ;;
        *) echo "escape-table.sh: unknown runtime '$1'" >&2; usage ;;
    esac
done
[ ${#runtimes[@]} -gt 0 ] || usage
command -v cc >/dev/null || { echo "escape-table.sh: cc is missing: apt-get install gcc libc6-dev" >&2; exit 1; }

work=$(mktemp -d /tmp/strata-escape.XXXXXX)
host_pid=""
runc_id="strata-escape-$$"
cleanup() {
    [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null || true
    if [ -d "$work/runc" ]; then runc delete --force "$runc_id" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cc -static -O2 -o "$work/probe" "$here/escape/probe.c"
# A host process and a host file the probe must neither trace nor see.
sleep 3600 &
host_pid=$!
echo "host marker $$" > "$work/host-marker"
probe_args=(--host-pid "$host_pid" --host-marker "$work/host-marker")

busybox_root() {
    if [ ! -d "$work/root" ]; then
        python3 "$here/busybox-fixture.py" "$work/fixture" >/dev/null
        mkdir "$work/root"
        tar -xzf "$work/fixture/busybox-rootfs.tar.gz" -C "$work/root"
        cp "$work/probe" "$work/root/probe"
    fi
    cp -a "$work/root" "$1"
}

strata_binary() {
    if [ -n "${STRATA:-}" ]; then echo "$STRATA"
    elif command -v strata >/dev/null; then command -v strata
    else echo "$repo/.build/debug/strata"
    fi
}

run_strata() {
    local strata
    strata=$(strata_binary)
    echo "# strata: $strata run $strata_env"
    # The probe travels on standard input, so ENV's own manifest and lockfile are used unchanged.
    "$strata" run "$strata_env" -- /bin/sh -c \
        'cat > /tmp/strata-escape-probe && chmod 755 /tmp/strata-escape-probe && exec /tmp/strata-escape-probe "$@"' \
        probe "${probe_args[@]}" < "$work/probe"
}

# Docker's profile as the Debian package of moby ships it (20.10 here): no install,
# the one file out of the .deb, kept in a cache (the download can take minutes).
docker_profile() {
    local installed=/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json
    local cached=${XDG_CACHE_HOME:-$HOME/.cache}/strata-escape/docker-seccomp-default.json
    if [ -n "${DOCKER_SECCOMP_PROFILE:-}" ]; then
        [ -f "$DOCKER_SECCOMP_PROFILE" ] || { echo "escape-table.sh: DOCKER_SECCOMP_PROFILE=$DOCKER_SECCOMP_PROFILE is not a file" >&2; exit 1; }
        echo "$DOCKER_SECCOMP_PROFILE"; return
    fi
    if [ -f "$installed" ]; then echo "$installed"; return; fi
    if [ -s "$cached" ]; then echo "$cached"; return; fi
    mkdir -p "$work/deb" "$(dirname "$cached")"
    if (cd "$work/deb" && timeout 300 apt-get download golang-github-docker-docker-dev >/dev/null 2>&1); then
        dpkg-deb --fsys-tarfile "$work"/deb/*.deb | tar -xO ".$installed" > "$work/docker-default.json" 2>/dev/null &&
            [ -s "$work/docker-default.json" ] && mv "$work/docker-default.json" "$cached" && { echo "$cached"; return; }
    fi
    echo ""
}

run_runc() {
    command -v runc >/dev/null || { echo "# runc: not installed (apt-get install runc)"; return 1; }
    local bundle=$work/runc profile
    mkdir "$bundle"
    busybox_root "$bundle/rootfs"
    (cd "$bundle" && runc spec)
    profile=$(docker_profile) || return 1
    if [ -n "$profile" ]; then echo "# runc: Docker's seccomp profile from $profile"
    else echo "# runc: NO seccomp filter (runc's default spec has none and no Docker profile was found)"
    fi
    python3 - "$bundle/config.json" "$profile" "${probe_args[@]}" <<'EOF'
import json, os, sys
path, profile, args = sys.argv[1], sys.argv[2], sys.argv[3:]
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE"]
c = json.load(open(path))
p = c["process"]
p.update(terminal=False, args=["/probe"] + args, noNewPrivileges=False)
p["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
c["root"]["readonly"] = False
c["hostname"] = "escape-probe"
# moby daemon/pkg/oci/defaults.go
c["linux"]["maskedPaths"] = ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
                             "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                             "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"]
c["linux"]["readonlyPaths"] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
if profile:
    # Docker's format has conditions (capabilities, architectures, kernel) that the
    # runtime spec lacks: resolve them here for this machine and Docker's capabilities.
    d = json.load(open(profile))
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    kernel = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
    def applies(rule):
        inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
        if any(cap not in caps for cap in inc.get("caps") or []): return False
        if inc.get("arches") and arch not in inc["arches"]: return False
        if inc.get("minKernel") and kernel < tuple(int(x) for x in inc["minKernel"].split(".")[:2]): return False
        if any(cap in caps for cap in exc.get("caps") or []): return False
        if arch in (exc.get("arches") or []): return False
        return True
    arches = []
    for entry in d.get("archMap") or []:
        if entry["architecture"] == {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64"}.get(arch):
            arches = [entry["architecture"]] + entry.get("subArchitectures", [])
    rules = []
    for rule in d["syscalls"]:
        if not applies(rule): continue
        out = {"names": rule["names"], "action": rule["action"]}
        if rule.get("errnoRet") is not None: out["errnoRet"] = rule["errnoRet"]
        if rule.get("args"): out["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op") if k in a} for a in rule["args"]]
        rules.append(out)
    seccomp = {"defaultAction": d["defaultAction"], "architectures": arches, "syscalls": rules}
    if d.get("defaultErrnoRet") is not None: seccomp["defaultErrnoRet"] = d["defaultErrnoRet"]
    c["linux"]["seccomp"] = seccomp
else:
    c["linux"].pop("seccomp", None)
json.dump(c, open(path, "w"), indent=1)
EOF
    runc run --bundle "$bundle" "$runc_id" < /dev/null
}

run_bwrap() {
    command -v bwrap >/dev/null || { echo "# bwrap: not installed (apt-get install bubblewrap)"; return 1; }
    busybox_root "$work/bwrap-root"
    echo "# bwrap: --unshare-all --die-with-parent --ro-bind ROOT / --proc /proc --dev /dev --tmpfs /tmp"
    bwrap --unshare-all --die-with-parent --ro-bind "$work/bwrap-root" / --proc /proc --dev /dev --tmpfs /tmp \
        -- /probe "${probe_args[@]}" < /dev/null
}

status=0
for runtime in "${runtimes[@]}"; do
    echo "== $runtime =="
    # A probe that exits non-zero has FAIL rows; the table is what matters, so go on.
    "run_$runtime" > "$work/out-$runtime" 2> "$work/err-$runtime" || status=1
    grep '^#' "$work/out-$runtime" || true
    awk -F'\t' '!/^#/ { printf "%-18s %-5s %s\n%25s expected: %s\n", $1, $2, $3, "", $4 }' "$work/out-$runtime"
    if ! grep -q "$(printf '\t')" "$work/out-$runtime"; then
        echo "(no table: the probe did not run)"
        sed 's/^/  stderr: /' "$work/err-$runtime" | tail -20
        status=1
    fi
    echo
done

if [ ${#runtimes[@]} -gt 1 ]; then
    echo "== side by side =="
    files=()
    for runtime in "${runtimes[@]}"; do files+=("$work/out-$runtime"); done
    awk -F'\t' -v names="${runtimes[*]}" '
        BEGIN { for (i = 1; i < ARGC; i++) column[ARGV[i]] = i }
        /^#/ || NF < 2 { next }
        { if (!($1 in seen)) { seen[$1] = 1; order[++rows] = $1 } verdict[$1, column[FILENAME]] = $2 }
        END {
            n = split(names, header, " ")
            printf "%-18s", "row"; for (i = 1; i <= n; i++) printf " %-8s", header[i]; printf "\n"
            for (r = 1; r <= rows; r++) {
                printf "%-18s", order[r]
                for (i = 1; i <= n; i++) { v = verdict[order[r], i]; printf " %-8s", v == "" ? "-" : v }
                printf "\n"
            }
        }' "${files[@]}"
fi
exit $status
