#!/usr/bin/env python3
"""Helpers for bench/debian.sh: a local file:// Debian mirror for the cached
mmdebstrap run, store counts for the sharing check, and the final table.

  debian_bench.py mirror-url
  debian_bench.py local-mirror LOCKFILE STORE MIRROR SUITE OUT
  debian_bench.py count STORE OUT.json [LOCKFILE...]
  debian_bench.py summary WORKDIR
"""
import glob
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import urllib.request


def mirror_url():
    """The first Debian mirror of the host's apt sources: the first URIs: line of
    debian.sources, else the first `deb` line of a one-line .list file."""
    sources = "/etc/apt/sources.list.d/debian.sources"
    if os.path.exists(sources):
        for line in open(sources):
            if line.startswith("URIs:") and line.split()[1:]:
                return line.split()[1]
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        if not os.path.exists(path):
            continue
        for line in open(path):
            words = [w for w in re.sub(r"\[[^]]*\]", "", line).split()]
            if len(words) >= 3 and words[0] == "deb":
                return words[1]
    sys.exit("no Debian mirror in the host's apt sources")


def fetch(url, dest, sha256=None):
    tmp = dest + ".part"
    with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)
    if sha256 and file_sha256(tmp) != sha256:
        os.unlink(tmp)
        sys.exit(f"{url}: sha256 mismatch")
    os.rename(tmp, dest)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hexof(digest):
    return digest.split(":", 1)[1] if ":" in digest else digest


def place(path, blob, url, sha256):
    """Hard-links the store's blob to path (copies across file systems), else downloads it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        return "present"
    if os.path.exists(blob):
        try:
            os.link(blob, path)
        except OSError:
            shutil.copyfile(blob, path)
        return "store"
    fetch(url, path, sha256)
    return "fetched"


def local_mirror(lockfile, store, mirror, suite, out):
    """A file:// mirror holding the archive's current signed InRelease, the
    Packages.xz it names (also under by-hash) and the .debs the lockfile pins:
    mmdebstrap installs from it without the network, as strata builds from its blobs."""
    mirror = mirror.rstrip("/")
    lock = json.load(open(lockfile))["base"]
    dists = os.path.join(out, "dists", suite)
    os.makedirs(dists, exist_ok=True)
    fetch(f"{mirror}/dists/{suite}/InRelease", os.path.join(dists, "InRelease"))
    text = open(os.path.join(dists, "InRelease"), encoding="utf-8", errors="replace").read()
    sha_section = text.split("\nSHA256:\n", 1)[1]
    wanted = {}
    for line in sha_section.splitlines():
        if not line.startswith(" "):
            break
        digest, size, name = line.split()
        wanted[name] = (digest, int(size))
    how = {}
    for index in lock["indexes"]:
        name = index["path"]
        if name not in wanted:
            sys.exit(f"InRelease lists no {name}")
        digest, _ = wanted[name]
        if digest != hexof(index["sha256"]):
            print(f"note: the archive's {name} is not the one the lockfile pins (the archive moved since the lock)",
                  file=sys.stderr)
        path = os.path.join(dists, name)
        how[name] = place(path, os.path.join(store, "blobs/sha256", digest),
                          f"{mirror}/dists/{suite}/{name}", digest)
        byhash = os.path.join(os.path.dirname(path), "by-hash", "SHA256", digest)
        os.makedirs(os.path.dirname(byhash), exist_ok=True)
        if not os.path.exists(byhash):
            os.link(path, byhash)
    counts = {}
    for package in lock["packages"]:
        digest = hexof(package["sha256"])
        source = place(os.path.join(out, package["path"]), os.path.join(store, "blobs/sha256", digest),
                       f"{mirror}/{package['path']}", digest)
        counts[source] = counts.get(source, 0) + 1
    print(f"local mirror: {len(lock['packages'])} .debs ("
          + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + ")")


def count(store, out, lockfiles):
    def files(directory):
        path = os.path.join(store, directory)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []
    blobs = set(files("blobs/sha256"))
    size = int(subprocess.run(["du", "-sb", store], check=True, capture_output=True, text=True).stdout.split()[0])
    # Each layer on its own (du -sb per layer counts its hard links to other layers in full).
    layers = {name: int(subprocess.run(["du", "-sb", os.path.join(store, "layers", name)], check=True,
                                       capture_output=True, text=True).stdout.split()[0])
              for name in files("layers")}
    result = {"blobs": sorted(blobs), "layers": layers, "bytes": size, "locks": {}}
    for lockfile in lockfiles:
        packages = json.load(open(lockfile))["base"]["packages"]
        result["locks"][lockfile] = {
            "packages": len(packages),
            "debs_in_store": sum(hexof(p["sha256"]) in blobs for p in packages),
            "digests": sorted(hexof(p["sha256"]) for p in packages),
            "sizes": {hexof(p["sha256"]): p["size"] for p in packages},
        }
    json.dump(result, open(out, "w"))


def fmt_time(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


def summary(work):
    rows = []

    # Cold builds: cold.tsv holds "kind<TAB>tool<TAB>seconds".
    cold = {}
    path = os.path.join(work, "cold.tsv")
    if os.path.exists(path):
        for line in open(path):
            kind, tool, seconds = line.split("\t")
            cold.setdefault(kind, {}).setdefault(tool, []).append(float(seconds))
    notes = {"download": "strata build, empty store  vs  mmdebstrap from the mirror",
             "cached": "strata build, blobs/ copied in  vs  mmdebstrap from a file:// mirror"}
    for kind, label, aim in (("download", "cold build, downloads", "<= 0.5x"),
                             ("cached", "cold build, .debs cached", "")):
        if kind in cold:
            s = statistics.median(cold[kind].get("strata", [0])) if cold[kind].get("strata") else None
            m = statistics.median(cold[kind].get("mmdebstrap", [0])) if cold[kind].get("mmdebstrap") else None
            n = max(len(v) for v in cold[kind].values())
            rows.append((label, fmt_time(s), fmt_time(m), ratio(s, m), aim, f"{n} runs each; {notes[kind]}"))

    def hyperfine(prefix):
        times = {}
        for name in sorted(glob.glob(os.path.join(work, prefix + "-*.json"))):
            for r in json.load(open(name))["results"]:
                times.setdefault(r["command"], []).extend(r["times"])
        return {k: (statistics.median(v), len(v)) for k, v in times.items()}

    run = hyperfine("run")
    for label, s, b, aim in (("run /bin/true, warm", "strata true", "bwrap true", "<= 1.5x"),
                             ("run python3 -c pass, warm", "strata python3", "bwrap python3", "")):
        if s in run and b in run:
            rows.append((label, fmt_time(run[s][0]), fmt_time(run[b][0]), ratio(run[s][0], run[b][0]), aim,
                         f"{run[s][1]} runs each; bwrap --unshare-all on the unpacked tree"))
    lock = hyperfine("lock")
    if "strata lock" in lock:
        s = lock["strata lock"]
        for name, aim, note in (("apt-get -s", "<= 1x", "host apt, host status, warm caches"),
                                ("apt-get -s empty", "", "host apt, empty dpkg status (resolves all 130)")):
            if name in lock:
                rows.append((f"lock vs {name}", fmt_time(s[0]), fmt_time(lock[name][0]),
                             ratio(s[0], lock[name][0]), aim, f"{s[1]} runs each; {note}"))

    if rows:
        widths = [max(len(r[i]) for r in rows + [("measurement", "strata", "anchor", "ratio", "aim", "")])
                  for i in range(5)]
        header = ("measurement", "strata", "anchor", "ratio", "aim", "")
        print()
        for r in [header] + rows:
            print("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) if i < 5 else c
                            for i, c in enumerate(r)).rstrip())

    before, after = os.path.join(work, "share-before.json"), os.path.join(work, "share-after.json")
    if os.path.exists(before) and os.path.exists(after):
        b, a = json.load(open(before)), json.load(open(after))
        (lockfile, need), = [(k, v) for k, v in b["locks"].items() if k.endswith("share.lock.json")]
        new = [d for d in need["digests"] if d not in set(b["blobs"])]
        new_bytes = sum(need["sizes"][d] for d in new)
        blobs_added = sorted(set(a["blobs"]) - set(b["blobs"]))
        added = sorted(set(a["layers"]) - set(b["layers"]), key=lambda k: -a["layers"][k])
        layers_added = len(added)
        foreign = [d for d in blobs_added if d not in set(need["digests"])]
        print()
        print(f"sharing: second environment (bookworm minbase + python3, curl) built after python-dev in one store")
        print(f"  .debs it needs {need['packages']}, already in the store {need['packages'] - len(new)}, "
              f"new {len(new)} ({new_bytes / 1e6:.1f} MB)")
        print(f"  blobs added {len(blobs_added)}" + (f" ({len(foreign)} not .debs of this lock)" if foreign else "")
              + f", layers added {layers_added}"
              + f" (= {len(new)} new .debs + {layers_added - len(new)} generated)")
        print("  layers added, each on its own (du -sb): "
              + ", ".join(f"{a['layers'][k] / 1e6:.1f} MB" for k in added))
        print(f"  store grew by {(a['bytes'] - b['bytes']) / 1e6:.1f} MB "
              f"(from {b['bytes'] / 1e6:.1f} MB to {a['bytes'] / 1e6:.1f} MB)")
        print("  " + ("OK: only the new .debs were downloaded" if set(blobs_added) == set(new) else "UNEXPECTED: the blobs added are not exactly the new .debs"))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    command, args = sys.argv[1], sys.argv[2:]
    if command == "mirror-url":
        print(mirror_url())
    elif command == "local-mirror":
        local_mirror(*args)
    elif command == "count":
        count(args[0], args[1], args[2:])
    elif command == "summary":
        summary(args[0])
    else:
        sys.exit(__doc__)
