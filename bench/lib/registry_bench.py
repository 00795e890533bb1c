#!/usr/bin/env python3
"""Helpers for bench/registry.sh: the benchmark's image as an OCI layout, a port and a wait for
a registry, timing one push or pull, and the final table.

  registry_bench.py layout LAYOUT ARCHIVE RESULTS
  registry_bench.py port USED
  registry_bench.py wait PORT PID LOG
  registry_bench.py time RESULTS NAME ROUND [--count COUNTER] [--expect DIGEST [--digest-file FILE]] -- COMMAND...
  registry_bench.py summary RESULTS

`layout` writes the image (LAYERS layers of LAYER_BYTES random bytes each, from SEED, so the
same in every run) as an OCI layout in LAYOUT tagged "bench", and the same layout as a tar in
ARCHIVE (what `strata load` reads); it writes RESULTS/image.json and prints the manifest's
digest. `port` prints a port nothing listens on that is not in the file USED (one a line), and
adds it there: a registry on a port used before in the run would let a tool's record of where
blobs were (strata's cache/registry-blobs, skopeo's blob info cache) offer mounts. `wait`
returns when the registry PID started answers /v2/ on PORT. `time` runs COMMAND once; with
`--count COUNTER` it runs the shell command COUNTER before and after and records the
difference of the numbers it prints (the blobs the command added where it wrote); with
`--expect DIGEST` the command's output (or FILE, when it wrote one) must name DIGEST.
"""
import gzip
import hashlib
import io
import json
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request

# The aims (medians): cold push and cold pull at most this times skopeo's, and a push of an
# image the registry has whole under this many seconds.
AIM_COLD = 1.0
AIM_WARM_PUSH = 0.1

SEED = 20240613
LAYERS = 5
LAYER_BYTES = 40 << 20  # random bytes in each layer's tar (gzip cannot shrink them)
FILES = 8  # files in each layer, LAYER_BYTES / FILES each
MTIME = 1700000000  # every tar entry's mtime, so that the tars are the same in every run

LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def write_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as out:
        out.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def layer_tar(rng, n):
    """Layer N's tar: a directory of FILES files of random bytes, entries in a fixed order
    with fixed owners, modes and times."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo(f"layer{n}")
        directory.type, directory.mode, directory.mtime = tarfile.DIRTYPE, 0o755, MTIME
        tar.addfile(directory)
        for f in range(FILES):
            data = rng.randbytes(LAYER_BYTES // FILES)
            entry = tarfile.TarInfo(f"layer{n}/file{f}.bin")
            entry.size, entry.mode, entry.mtime = len(data), 0o644, MTIME
            tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


def make_layout(layout, archive, results):
    """The image: LAYERS tar+gzip layers (gzip level 1, no name and mtime 0 in its header, as
    registries' images mostly are), a config listing their diff_ids, a manifest, and
    index.json naming the manifest "bench"."""
    rng = random.Random(SEED)
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    layers, diff_ids = [], []
    for n in range(LAYERS):
        tar = layer_tar(rng, n)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        layers.append({"mediaType": LAYER_TYPE, **write_blob(layout, gzip.compress(tar, compresslevel=1, mtime=0))})
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    config = {
        "architecture": arch, "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"registry bench layer {n}"} for n in range(LAYERS)],
    }
    config_descriptor = {"mediaType": CONFIG_TYPE, **write_blob(layout, canonical(config))}
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": config_descriptor, "layers": layers}
    manifest_descriptor = {"mediaType": MANIFEST_TYPE, **write_blob(layout, canonical(manifest))}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{**manifest_descriptor, "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}
    with open(os.path.join(layout, "index.json"), "wb") as out:
        out.write(canonical(index))
    with open(os.path.join(layout, "oci-layout"), "wb") as out:
        out.write(canonical({"imageLayoutVersion": "1.0.0"}))
    with tarfile.open(archive, "w") as tar:
        for name in ["oci-layout", "index.json", "blobs"]:
            tar.add(os.path.join(layout, name), arcname=name)
    total = sum(layer["size"] for layer in layers) + config_descriptor["size"] + manifest_descriptor["size"]
    with open(os.path.join(results, "image.json"), "w") as out:
        json.dump({"manifest": manifest_descriptor["digest"], "layers": [layer["size"] for layer in layers],
                   "bytes": total, "blobs": len(layers) + 2}, out)
        out.write("\n")
    print(manifest_descriptor["digest"])


def free_port(used):
    taken = set(open(used).read().split()) if os.path.exists(used) else set()
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if str(port) not in taken:
            with open(used, "a") as out:
                out.write(f"{port}\n")
            print(port)
            return
    sys.exit("registry_bench.py: found no free port that this run had not used")


def wait_registry(port, pid, log):
    for _ in range(200):
        if not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(") ")[-1].startswith("Z"):
            sys.exit(f"registry_bench.py: docker-registry (pid {pid}) exited before it answered on port {port}:\n"
                     + open(log, errors="replace").read()[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.05)
    sys.exit(f"registry_bench.py: docker-registry (pid {pid}) did not answer on port {port} within 10 s")


def count(counter):
    out = subprocess.run(["sh", "-c", counter], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"registry_bench.py: the counter failed ({out.returncode}): {counter}\n{out.stderr}")
    return int(out.stdout.strip() or 0)


def time_command(results, name, round_, counter, expect, digest_file, command):
    """Runs `command` once, its output to a log beside the results, and appends its wall time,
    CPU time (user+sys of it and everything it waited for) and the blobs it added."""
    log = os.path.join(results, f"{name}-{round_}.log")
    before_count = count(counter) if counter else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, "wb") as out:
        status = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:
        sys.stderr.write(f"registry_bench.py: {name} (round {round_}) exited {status}: {' '.join(command)}\n")
        sys.stderr.write(open(log, errors="replace").read()[-4000:])
        sys.exit(1)
    if expect:
        said = open(digest_file if digest_file else log, errors="replace").read()
        if expect not in said:
            sys.exit(f"registry_bench.py: {name} (round {round_}) did not copy the image as it is: its digest is not "
                     f"{expect} ({digest_file or log}):\n{said[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row = {"name": name, "round": int(round_), "wall": wall, "cpu": cpu}
    if counter:
        row["blobs"] = count(counter) - before_count
    with open(os.path.join(results, "times.jsonl"), "a") as out:
        out.write(json.dumps(row) + "\n")
    print(f"  {name:22s} {wall:7.3f} s wall {cpu:7.2f} s CPU"
          + (f"  {row['blobs']} new blob(s)" if counter else ""))


# The table's rows: (operation, label), each timed for both tools as TOOL-OPERATION.
OPERATIONS = [
    ("push-cold", "push, empty registry"),
    ("push-warm", "push again, every blob there"),
    ("pull-cold", "pull into an empty store/layout"),
    ("pull-warm", "pull again, every blob there"),
]
TOOLS = ["strata", "skopeo"]


def summary(results):
    rows = [json.loads(line) for line in open(os.path.join(results, "times.jsonl"))]
    image = json.load(open(os.path.join(results, "image.json")))
    by = {}
    for row in rows:
        by.setdefault(row["name"], {})[row["round"]] = row
    rounds = sorted({row["round"] for row in rows})
    mb = image["bytes"] / 1e6
    print()
    print(f"A {mb:.0f} MB image ({len(image['layers'])} tar+gzip layers of {image['layers'][0] / 1e6:.1f} MB, "
          f"{image['blobs']} blobs with config and manifest) pushed to and pulled from docker-registry on 127.0.0.1 "
          f"by strata and by skopeo copy, {len(rounds)} rounds interleaved (wall seconds; CPU = user+sys)")
    info = os.path.join(results, "info.txt")
    if os.path.exists(info):
        for line in open(info):
            print("  " + line.rstrip())
    print(f"{'operation':42s} {'median':>7s} {'min-max':>13s} {'MB/s':>6s} {'CPU':>6s} {'blobs':>5s} {'runs':>5s}")
    med = {}

    def row(name, label):
        if name not in by:
            return
        walls = [r["wall"] for r in by[name].values()]
        cpus = [r["cpu"] for r in by[name].values()]
        blobs = sorted({r["blobs"] for r in by[name].values() if "blobs" in r})
        med[name] = statistics.median(walls)
        span = f"{min(walls):.3f}-{max(walls):.3f}"
        rate = f"{mb / med[name]:6.0f}" if name.endswith("-cold") else f"{'-':>6s}"
        print(f"{label:42s} {med[name]:7.3f} {span:>13s} {rate} {statistics.median(cpus):6.2f} "
              f"{'/'.join(map(str, blobs)) or '-':>5s} {len(walls):5d}")

    for operation, label in OPERATIONS:
        for tool in TOOLS:
            row(f"{tool}-{operation}", f"{tool:8s}{label}")
    print("(MB/s: the image's bytes over the median; blobs: the blobs each run added to the registry\n"
          " or to the store/layout, each count seen over the rounds)")

    def ratio(a, b):
        """The ratio of the medians, and the range of the per-round ratios."""
        rs = [by[a][r]["wall"] / by[b][r]["wall"] for r in rounds if r in by[a] and r in by[b]]
        return med[a] / med[b], f"[{min(rs):.3f} .. {max(rs):.3f}]"

    print()
    print("Ratios strata / skopeo (of medians; range of the per-round ratios)")
    for operation, label in OPERATIONS:
        if f"strata-{operation}" in med and f"skopeo-{operation}" in med:
            value, span = ratio(f"strata-{operation}", f"skopeo-{operation}")
            print(f"  {label:40s} {value:7.3f}x  {span}")
    for operation, label in [("push-cold", "push"), ("pull-cold", "pull")]:
        if f"strata-{operation}" in med and f"skopeo-{operation}" in med:
            value = med[f"strata-{operation}"] / med[f"skopeo-{operation}"]
            print(f"aim: strata cold {label} <= {AIM_COLD}x skopeo's (medians): {value:.3f}x, "
                  f"{'met' if value <= AIM_COLD else 'NOT met'}")
    if "strata-push-warm" in med:
        value = med["strata-push-warm"]
        print(f"aim: strata push of an unchanged image < {AIM_WARM_PUSH} s (median): {value:.3f} s, "
              f"{'met' if value < AIM_WARM_PUSH else 'NOT met'}")


def main():
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "layout":
        make_layout(*args[1:])
    elif len(args) == 2 and args[0] == "port":
        free_port(args[1])
    elif len(args) == 4 and args[0] == "wait":
        wait_registry(*args[1:])
    elif len(args) >= 5 and args[0] == "time" and "--" in args:
        split = args.index("--")
        head, command = args[1:split], args[split + 1:]
        options = {}
        while len(head) > 3 and head[3] in ("--count", "--expect", "--digest-file") and len(head) > 4:
            options[head[3]] = head[4]
            head = head[:3] + head[5:]
        if len(head) != 3 or not command or ("--digest-file" in options and "--expect" not in options):
            sys.exit(__doc__)
        time_command(head[0], head[1], head[2], options.get("--count"), options.get("--expect"),
                     options.get("--digest-file"), command)
    elif len(args) == 2 and args[0] == "summary":
        summary(args[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
