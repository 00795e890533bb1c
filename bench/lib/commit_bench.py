#!/usr/bin/env python3
"""Helpers for bench/commit.sh: the session's change, timing one step, and the final table.

  commit_bench.py data DIR --files N --megabytes M
  commit_bench.py time RESULTS VARIANT ROUND [--size FILE] -- COMMAND...
  commit_bench.py layer-size RESULTS VARIANT ROUND STRATA IMAGE
  commit_bench.py summary RESULTS
"""
import array
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import zlib

AIM = 0.5  # strata commit may take at most this fraction of buildah commit's wall time

# A fixed mtime for the generated tree: `cp -a` keeps it, so every round's change looks alike.
MTIME = 1_700_000_000
BLOCK = 4096

# Real layers mix machine code (barely compressible), text and tables or padding (very
# compressible). Blocks of each, in this proportion, make gzip -6 shrink the tree about
# 2.5x and zstd -3 about 2.7x, and make the compressors find matches as they would in text,
# not only runs.
KINDS = (("random", 20), ("text", 50), ("records", 30))


def vocabulary():
    """256 made-up words, and every pair of them as a phrase (with a line break now and then),
    so text is a C-speed join of phrases picked by random 16-bit numbers."""
    syllables = [b"ka", b"to", b"ri", b"men", b"sa", b"lo", b"ne", b"di",
                 b"vu", b"pe", b"ra", b"is", b"on", b"ex", b"al", b"ut"]
    words = []
    for i in range(256):
        r = random.Random(i)
        words.append(b"".join(r.choice(syllables) for _ in range(r.randint(1, 4))))
    return [words[i >> 8] + b" " + words[i & 255] + (b"\n" if i % 13 == 0 else b" ") for i in range(65536)]


PHRASES = vocabulary()


def block(rng, kind):
    if kind == "random":
        return rng.randbytes(BLOCK)
    if kind == "text":
        picks = array.array("H")
        picks.frombytes(rng.randbytes(BLOCK // 4 + 2))
        return b"".join(map(PHRASES.__getitem__, picks))[:BLOCK]
    # Fixed-width records: a counter-like byte repeated, then zero padding.
    seeds = rng.randbytes(BLOCK // 32)
    return b"".join(b"\x00\x00\x00\x01" + seeds[i:i + 1] * 4 + bytes(24) for i in range(len(seeds)))


def content(index, size):
    """The bytes of file `index`: the same for the same index and size, whatever else is made."""
    rng = random.Random(1_000_003 * index + 5)
    names = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    out = bytearray()
    while len(out) < size:
        out += block(rng, rng.choices(names, weights)[0])
    return bytes(out[:size])


def make_data(target, files, megabytes):
    """`files` files in about one directory per 100, sizes spread around the mean (0.25x to
    1.75x), `megabytes` MB (10^6 bytes) in all, a few symlinks; every mtime fixed."""
    if os.path.exists(target):
        sys.exit(f"commit_bench.py: {target} exists; give a new directory")
    rng = random.Random(5)
    directories = max(1, files // 100)
    mean = megabytes * 1_000_000 / files
    weights = [rng.uniform(0.25, 1.75) for _ in range(files)]
    scale = megabytes * 1_000_000 / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    os.makedirs(target)
    sample, sampled = bytearray(), 0
    for i, size in enumerate(sizes):
        directory = os.path.join(target, f"d{i % directories:03d}")
        os.makedirs(directory, exist_ok=True)
        data = content(i, size)
        path = os.path.join(directory, f"f{i:05d}.bin")
        with open(path, "wb") as out:
            out.write(data)
        os.utime(path, (MTIME, MTIME))
        if i % 20 == 0:
            sample += data
    links = 0
    for d in range(directories):
        directory = os.path.join(target, f"d{d:03d}")
        # A relative link to a file beside it, as lib/libfoo.so -> libfoo.so.1 would be.
        first = sorted(os.listdir(directory))[0]
        os.symlink(first, os.path.join(directory, "current"))
        os.utime(os.path.join(directory, "current"), (MTIME, MTIME), follow_symlinks=False)
        links += 1
    os.symlink("d000", os.path.join(target, "latest"))
    os.symlink("missing/target", os.path.join(target, "dangling"))
    for name in ("latest", "dangling"):
        os.utime(os.path.join(target, name), (MTIME, MTIME), follow_symlinks=False)
    links += 2
    for d in range(directories):
        os.utime(os.path.join(target, f"d{d:03d}"), (MTIME, MTIME))
    os.utime(target, (MTIME, MTIME))
    sampled = len(sample)
    ratio = sampled / len(zlib.compress(bytes(sample), 6)) if sampled else 0
    print(f"data: {files} files ({mean / 1000:.0f} KB on average), {sum(sizes) / 1e6:.0f} MB, "
          f"{directories} directories, {links} symlinks; zlib -6 of a 1-in-20 sample shrinks it {ratio:.2f}x")


def time_step(results, variant, round_, size_path, command):
    """Runs `command` once, its output to a log beside the results, and appends its wall time,
    CPU time (user+sys of it and everything it waited for) and optional output size."""
    log = os.path.join(results, f"{variant}-{round_}.log")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, "wb") as out:
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:
        sys.stderr.write(f"commit_bench.py: {variant} (round {round_}) exited {status}: {' '.join(command)}\n")
        sys.stderr.write(open(log, errors="replace").read()[-4000:])
        sys.exit(1)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row = {"variant": variant, "round": int(round_), "wall": wall, "cpu": cpu}
    if size_path:
        row["bytes"] = os.path.getsize(size_path)
    with open(os.path.join(results, "times.jsonl"), "a") as out:
        out.write(json.dumps(row) + "\n")
    print(f"  {variant:26s} {wall:7.2f} s wall {cpu:7.2f} s CPU"
          + (f"  {row['bytes'] / 1e6:7.1f} MB" if size_path else ""))


def layer_size(results, variant, round_, strata, image):
    """Records the size of the top layer blob of `image` (the session's change, as committed)
    as the output of `variant` in this round."""
    inspected = subprocess.run([strata, "image", "inspect", image], capture_output=True, text=True)
    if inspected.returncode != 0:
        sys.exit(f"commit_bench.py: strata image inspect {image} failed: {inspected.stderr.strip()}")
    size = json.loads(inspected.stdout)[0]["Layers"][-1]["Size"]
    with open(os.path.join(results, "sizes.jsonl"), "a") as out:
        out.write(json.dumps({"variant": variant, "round": int(round_), "bytes": size}) + "\n")


# The table's rows, in order, with the names commit.sh times them under.
VARIANTS = [
    ("strata-commit", "strata commit (tar in store)"),
    ("strata-commit-gzip", "strata commit --compression gzip"),
    ("strata-commit-zstd", "strata commit --compression zstd"),
    ("buildah-commit", "buildah commit"),
    ("tar-gzip", "tar -c UPPER | gzip"),
    ("strata-export", "strata export (compress)"),
    ("buildah-push", "buildah push (compress)"),
]


def summary(results):
    rows = [json.loads(line) for line in open(os.path.join(results, "times.jsonl"))]
    by = {}
    for row in rows:
        by.setdefault(row["variant"], {})[row["round"]] = row
    sizes_path = os.path.join(results, "sizes.jsonl")
    for line in open(sizes_path) if os.path.exists(sizes_path) else []:
        size = json.loads(line)
        if size["round"] in by.get(size["variant"], {}):
            by[size["variant"]][size["round"]]["bytes"] = size["bytes"]
    rounds = sorted({row["round"] for row in rows})
    print()
    print(f"Commit of one session's change, {len(rounds)} rounds interleaved (seconds; CPU = user+sys)")
    info = os.path.join(results, "info.txt")
    if os.path.exists(info):
        for line in open(info):
            print("  " + line.rstrip())
    print(f"{'variant':34s} {'median':>7s} {'min-max':>13s} {'CPU':>7s} {'output MB':>10s} {'runs':>5s}")
    med = {}
    for name, label in VARIANTS:
        if name not in by:
            continue
        walls = [r["wall"] for r in by[name].values()]
        cpus = [r["cpu"] for r in by[name].values()]
        sizes = [r["bytes"] for r in by[name].values() if "bytes" in r]
        med[name] = statistics.median(walls)
        span = f"{min(walls):.2f}-{max(walls):.2f}"
        size = f"{statistics.median(sizes) / 1e6:.1f}" if sizes else "-"
        print(f"{label:34s} {med[name]:7.2f} {span:>13s} {statistics.median(cpus):7.2f} {size:>10s} {len(walls):5d}")

    def per_round(parts_a, parts_b):
        """Each round's ratio of summed wall times, where the round has every part."""
        out = []
        for r in rounds:
            if all(r in by.get(p, {}) for p in parts_a + parts_b):
                a = sum(by[p][r]["wall"] for p in parts_a)
                b = sum(by[p][r]["wall"] for p in parts_b)
                out.append(a / b)
        return out

    print()
    print("Ratios (of medians; range of the per-round ratios)")
    ratios = [
        ("strata commit / buildah commit", ["strata-commit"], ["buildah-commit"]),
        ("strata commit / tar | gzip", ["strata-commit"], ["tar-gzip"]),
        ("strata commit gzip / buildah commit", ["strata-commit-gzip"], ["buildah-commit"]),
        ("strata commit zstd / buildah commit", ["strata-commit-zstd"], ["buildah-commit"]),
        ("strata export / buildah push", ["strata-export"], ["buildah-push"]),
        ("strata commit+export / buildah commit+push", ["strata-commit", "strata-export"],
         ["buildah-commit", "buildah-push"]),
    ]
    for label, a, b in ratios:
        if not all(p in med for p in a + b):
            continue
        ratio = sum(med[p] for p in a) / sum(med[p] for p in b)
        rs = per_round(a, b)
        span = f"[{min(rs):.2f} .. {max(rs):.2f}]" if rs else ""
        print(f"  {label:44s} {ratio:6.2f}x  {span}")
    if "strata-commit" in med and "buildah-commit" in med:
        ratio = med["strata-commit"] / med["buildah-commit"]
        print(f"aim: strata commit <= {AIM}x buildah commit (medians): {ratio:.2f}x, "
              f"{'met' if ratio <= AIM else 'NOT met'}")


def main():
    args = sys.argv[1:]
    if len(args) == 6 and args[0] == "data" and args[2] == "--files" and args[4] == "--megabytes":
        make_data(args[1], int(args[3]), float(args[5]))
    elif len(args) >= 5 and args[0] == "time" and "--" in args:
        split = args.index("--")
        head, command = args[1:split], args[split + 1:]
        size_path = None
        if len(head) == 5 and head[3] == "--size":
            size_path = head[4]
            head = head[:3]
        if len(head) != 3 or not command:
            sys.exit(__doc__)
        time_step(head[0], head[1], head[2], size_path, command)
    elif len(args) == 6 and args[0] == "layer-size":
        layer_size(*args[1:])
    elif len(args) == 2 and args[0] == "summary":
        summary(args[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
