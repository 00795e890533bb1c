#!/usr/bin/env python3
"""Helpers for bench/store.sh: the union of distinct packages the lockfiles pin, a breakdown
of the store's bytes by what they are, podman's sizes, and the final table.

  store_bench.py mirror-url
  store_bench.py union STORE TOP OUT.json LOCKFILE...
  store_bench.py bytes TEXT                 (podman's "1.2GB" -> 1200000000)
  store_bench.py podman-layers GRAPHROOT    (the distinct layers' diff-size sum)
  store_bench.py summary WORKDIR

Sizes are apparent bytes as `du -sb` counts them: every file, directory and symlink by its
st_size, a file with several hard links once per tree walked.
"""
import hashlib
import json
import os
import re
import stat
import statistics
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from debian_bench import mirror_url  # noqa: E402  (the same mirror the other benchmarks use)


def hexof(digest):
    return digest.split(":", 1)[1] if ":" in digest else digest


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def tree_bytes(path, seen=None):
    """du -sb of one tree: a hard-linked file once (within `seen`, a set of (dev, ino))."""
    seen = set() if seen is None else seen

    def size(st):
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in seen:
                return 0
            seen.add(key)
        return st.st_size

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    total = size(st)
    if not stat.S_ISDIR(st.st_mode):
        return total
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            total += size(os.lstat(os.path.join(directory, name)))
    return total


def duplicate_bytes(trees):
    """Bytes of regular files (by content, each inode once) that another of `trees` holds
    too: what sharing identical files between these layers would save."""
    seen_inodes, seen_content, duplicate = set(), set(), 0
    for tree in trees:
        for directory, _, files in os.walk(tree):
            for name in files:
                path = os.path.join(directory, name)
                st = os.lstat(path)
                if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in seen_inodes:
                    continue
                seen_inodes.add((st.st_dev, st.st_ino))
                h = hashlib.sha256()
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                key = (os.path.relpath(path, tree), st.st_mode, h.hexdigest())
                if key in seen_content:
                    duplicate += st.st_size
                else:
                    seen_content.add(key)
    return duplicate


def du_sb(path):
    return int(subprocess.run(["du", "-sb", path], check=True, capture_output=True, text=True).stdout.split()[0])


def key_format(top):
    """LayerKeys.format of the source tree (the binary under test was built from it)."""
    path = os.path.join(top, "Sources/StrataModel/LayerKeys.swift")
    try:
        match = re.search(r'static let format = "([^"]*)"', open(path).read())
    except OSError:
        match = None
    return match.group(1) if match else "3"


def deb_layer_key(fmt, digest):
    return sha(f"strata deb layer {fmt} sha256:{hexof(digest)}")


def debian_stack_keys(fmt, base):
    """LayerKeys.debianStack: skeleton, one layer per package, dpkg status, configured."""
    packages = base["packages"]
    arch = base["architecture"]

    def debian_set(kind):
        text = f"{kind} {fmt} {arch}\n"
        for p in packages:
            text += f"{p['name']}:{p['architecture']}={p['version']} sha256:{hexof(p['sha256'])}\n"
        return sha(text)

    skeleton = sha(f"strata merged-usr skeleton {fmt}")
    return [skeleton] + [deb_layer_key(fmt, p["sha256"]) for p in packages] + \
        [debian_set("strata dpkg status"), debian_set("strata configured")]


def flattened_key(keys):
    chain = "sha256:" + keys[0]
    for key in keys[1:]:
        chain = "sha256:" + sha(f"{chain} sha256:{key}")
    return sha(f"strata flattened {chain}")


def unpacked_by_dpkg(blob):
    with tempfile.TemporaryDirectory(prefix="strata-bench-deb.") as tmp:
        subprocess.run(["dpkg-deb", "-x", blob, tmp], check=True)
        os.chmod(tmp, 0o755)
        return tree_bytes(tmp)


def union(store, top, out, lockfiles):
    fmt = key_format(top)
    layers_dir = os.path.join(store, "layers")
    blobs_dir = os.path.join(store, "blobs", "sha256")
    present = set(os.listdir(layers_dir)) if os.path.isdir(layers_dir) else set()
    debs = {}      # sha256 hex -> {name, version, size}
    others = {}    # diff id hex -> {blob, size, what}
    env_layers, flat_layers = set(), set()
    for lockfile in lockfiles:
        lock = json.load(open(lockfile))
        base = lock.get("base", {})
        if base.get("type") == "debian":
            for p in base["packages"]:
                debs.setdefault(hexof(p["sha256"]), {"name": p["name"], "version": p["version"], "size": p["size"]})
            keys = debian_stack_keys(fmt, base)
            env_layers.update([keys[0]] + keys[-2:])
            flat_layers.add(flattened_key(keys))
        for layer in lock.get("layers", []):
            if "diffID" in layer:
                others.setdefault(hexof(layer["diffID"]), {"blob": hexof(layer["digest"]), "size": layer["size"],
                                                           "what": layer["source"]["type"]})
    # (b): each package's layer on its own; dpkg-deb -x of its blob when the layer is not
    # under the key this source tree computes (another key format, or a layer missing).
    method = {"layer": 0, "dpkg-deb": 0}
    for digest, p in debs.items():
        key = deb_layer_key(fmt, digest)
        p["layer"] = key
        if key in present:
            p["unpacked"] = tree_bytes(os.path.join(layers_dir, key))
            method["layer"] += 1
        else:
            p["unpacked"] = unpacked_by_dpkg(os.path.join(blobs_dir, digest))
            method["dpkg-deb"] += 1
    for diff_id, o in others.items():
        o["stored_blob"] = os.path.exists(os.path.join(blobs_dir, o["blob"]))
        o["unpacked"] = tree_bytes(os.path.join(layers_dir, diff_id))
    package_keys = {p["layer"] for p in debs.values()}

    # The store's bytes by kind, each inode once, claimed by the first kind that reaches it:
    # blobs, package layers, other pinned layers, per-environment Debian layers, flattened
    # layers (hard links to the packages' files: what is left is their own directories), the
    # other layers (run steps, the empty layer), then every other top-level entry.
    seen = set()
    kinds = {}

    def add(kind, path):
        kinds[kind] = kinds.get(kind, 0) + tree_bytes(path, seen)

    def ordered_layers():
        groups = [("layers: one per .deb", package_keys), ("layers: OCI/copy/tar (pinned)", set(others)),
                  ("layers: per-env Debian (skeleton, dpkg status, configured)", env_layers),
                  ("layers: flattened Debian bases (dirs; files are links)", flat_layers)]
        rest = sorted(present - set().union(*[g for _, g in groups]))
        return [(kind, sorted(g & present)) for kind, g in groups] + [("layers: other (run steps, empty)", rest)]

    top_entries = sorted(os.listdir(store))
    kinds["store: directory entries"] = os.lstat(store).st_size
    if os.path.isdir(blobs_dir):
        for name in sorted(os.listdir(blobs_dir)):
            add("blobs: .debs" if name in debs else "blobs: other (indexes, OCI, tars)", os.path.join(blobs_dir, name))
        # The directories themselves.
        kinds["store: directory entries"] += os.lstat(os.path.join(store, "blobs")).st_size + os.lstat(blobs_dir).st_size
    for kind, names in ordered_layers():
        kinds.setdefault(kind, 0)
        for name in names:
            add(kind, os.path.join(layers_dir, name))
    if os.path.isdir(layers_dir):
        kinds["store: directory entries"] += os.lstat(layers_dir).st_size
    for name in top_entries:
        if name not in ("blobs", "layers"):
            add(name + ("/" if os.path.isdir(os.path.join(store, name)) else ""), os.path.join(store, name))
    counts = {kind: len(names) for kind, names in ordered_layers()}
    per_env = [os.path.join(layers_dir, k) for k in sorted(env_layers & present)]
    per_env_duplicate = duplicate_bytes(per_env)
    result = {
        "store": du_sb(store),
        "key_format": fmt,
        "method": method,
        "lockfiles": len(lockfiles),
        "debs": len(debs),
        "debs_bytes": sum(p["size"] for p in debs.values()),
        "debs_unpacked": sum(p["unpacked"] for p in debs.values()),
        "others": len(others),
        "others_bytes": sum(o["size"] for o in others.values() if o["stored_blob"]),
        "others_unpacked": sum(o["unpacked"] for o in others.values()),
        "kinds": kinds,
        "layer_counts": counts,
        "walked": sum(kinds.values()),
        "per_env_duplicate": per_env_duplicate,
    }
    json.dump(result, open(out, "w"), indent=1)
    mb = lambda n: f"{n / 1e6:9.2f} MB"  # noqa: E731
    print(f"  {len(lockfiles)} lockfiles pin {len(debs)} distinct .debs (by sha256) and {len(others)} other layers")
    print(f"  .debs: {mb(result['debs_bytes'])} as .debs, {mb(result['debs_unpacked'])} unpacked "
          f"({method['layer']} from their layer in the store, {method['dpkg-deb']} by dpkg-deb -x)")
    print(f"  other layers: {mb(result['others_bytes'])} as stored blobs, {mb(result['others_unpacked'])} unpacked")
    print(f"  the store by kind (each inode once; a walk of {mb(result['walked'])} against du -sb {mb(result['store'])}):")
    for kind, n in kinds.items():
        count = f" ({counts[kind]})" if kind in counts else ""
        print(f"    {kind + count:62s} {mb(n)}")
        if kind.startswith("layers: per-env"):
            print(f"      {'of which files the same (path, mode, content) as in another':60s} {mb(per_env_duplicate)}")


def parse_bytes(text):
    """podman's human sizes (units.HumanSize: powers of 1000): "1.2GB", "512kB", "0B"."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([kKMGTP]?)B?\s*(\(.*\))?\s*", text)
    if not match:
        sys.exit(f"cannot read a size from {text!r}")
    scale = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}[match.group(2)]
    return int(float(match.group(1)) * scale)


def load_tsv(path):
    rows = {}
    if os.path.exists(path):
        for line in open(path):
            key, value = line.rstrip("\n").split("\t", 1)
            rows[key] = value
    return rows


def medians(path):
    if not os.path.exists(path):
        return {}
    return {r["command"]: statistics.median(r["times"]) for r in json.load(open(path))["results"]}


def fmt_time(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_bytes(n):
    return "-" if n is None else f"{n / 1e6:.1f} MB"


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


def summary(work):
    u = json.load(open(os.path.join(work, "union.json")))
    facts = load_tsv(os.path.join(work, "facts.tsv"))
    idle = medians(os.path.join(work, "idle.json"))
    fsck = medians(os.path.join(work, "fsck.json"))
    num = lambda k: float(facts[k]) if k in facts else None  # noqa: E731
    store = u["store"]
    a, b = u["debs_bytes"] + u["others_bytes"], u["debs_unpacked"] + u["others_unpacked"]
    rows = []

    def row(label, value, note=""):
        rows.append((label, value, note))

    row("environments (strata lockfiles / podman images)", f"{facts.get('envs', '-')} / {facts.get('images', '-')}")
    row("strata store, du -sb", fmt_bytes(store))
    row("union: distinct .debs by sha256", str(u["debs"]), f"+ {u['others']} OCI/copy/tar layers")
    row("  (a) their .deb / blob bytes", fmt_bytes(a), f".debs {fmt_bytes(u['debs_bytes'])}")
    row("  (b) unpacked (du -sb of each one's layer)", fmt_bytes(b), f".debs {fmt_bytes(u['debs_unpacked'])}")
    row("  (a)+(b)", fmt_bytes(a + b))
    row("store / (b)", ratio(store, b))
    row("store / ((a)+(b))", ratio(store, a + b), "aim: <= 1.10x")
    row("store - ((a)+(b))", fmt_bytes(store - (a + b)), "see the store-by-kind list above")
    settled = num("store_settled")
    row("strata store after the first gc, du -sb", fmt_bytes(settled))
    row("  / ((a)+(b))", ratio(settled, a + b), "aim: <= 1.10x")
    pdf, pdu = num("podman_df_images"), num("podman_du")
    row("podman system df, images", fmt_bytes(pdf), "each image in full: shared layers counted per image")
    row("podman distinct layers (diff-size sum)", fmt_bytes(num("podman_layers")),
        ratio(num("podman_layers"), b) + " of (b)")
    row("podman storage, du -sb", fmt_bytes(pdu))
    row("podman df / strata store", ratio(pdf, store))
    row("podman du / strata store", ratio(pdu, store), f"strata / podman: {ratio(store, pdu)}")
    row("cold builds, all environments: strata lock+build", fmt_time(num("strata_build_s")))
    row("cold builds, all images: podman build (+import, pull)", fmt_time(num("podman_build_s")),
        ratio(num("podman_build_s"), num("strata_build_s")) + " of strata")
    sg, sp = idle.get("strata gc"), idle.get("strata prune -f")
    pi, ps = idle.get("podman image prune -f"), idle.get("podman system prune -f")
    runs = facts.get("runs", "?")
    row(f"idle strata gc (median of {runs})", fmt_time(sg), "aim: < 1 s")
    row("idle strata prune -f", fmt_time(sp))
    row("idle podman image prune -f", fmt_time(pi), ratio(pi, sg) + " of strata gc")
    row("idle podman system prune -f", fmt_time(ps), ratio(ps, sp) + " of strata prune -f")
    g5, r5, p5 = num("gc5_s"), num("rmi5_s"), num("prune5_s")
    su, pu = num("strata_unlinked"), num("podman_unlinked")
    row("5 variants removed: strata gc", fmt_time(g5),
        f"freed {fmt_bytes(num('strata_freed'))}, {su:.0f} entries unlinked" if su is not None else "")
    row("  podman rmi (5 images)", fmt_time(r5))
    row("  podman image prune -f after it", fmt_time(p5))
    row("  podman rmi + prune / strata gc", ratio((r5 or 0) + (p5 or 0) if r5 is not None else None, g5),
        f"freed {fmt_bytes(num('podman_freed'))}, {pu:.0f} entries unlinked" if pu is not None else "")
    if fsck.get("strata fsck") is not None:
        row(f"strata fsck (median of {facts.get('fsck_runs', '?')})", fmt_time(fsck["strata fsck"]),
            facts.get("fsck_result", ""))
    else:
        row("strata fsck", "-", facts.get("fsck_result", "not in this strata"))
    if fsck.get("podman system check") is not None:
        row("podman system check", fmt_time(fsck["podman system check"]),
            ratio(fsck["podman system check"], fsck.get("strata fsck")) + " of strata fsck")
    else:
        row("podman system check", "-", "not in this podman")
    width = max(len(r[0]) for r in rows)
    print()
    print("=" * (width + 36))
    for label, value, note in rows:
        print(f"{label:{width}s}  {value:>12s}  {note}")
    print("=" * (width + 36))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "mirror-url":
        print(mirror_url())
    elif cmd == "union":
        union(args[0], args[1], args[2], args[3:])
    elif cmd == "bytes":
        print(parse_bytes(args[0]))
    elif cmd == "podman-layers":
        layers = json.load(open(os.path.join(args[0], "overlay-layers", "layers.json")))
        print(sum(layer.get("diff-size", 0) for layer in layers))
    elif cmd == "summary":
        summary(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
