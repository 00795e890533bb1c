#!/usr/bin/env python3
"""Make a minimal busybox root filesystem from the host's busybox-static, as a
gzip tarball and as a one-layer OCI image layout, deterministically (same
busybox binary -> same bytes). Used by the example environment and the tests.

usage: busybox-fixture.py OUTDIR        writes OUTDIR/busybox-rootfs.tar.gz
                                        and OUTDIR/busybox (an OCI layout, tag "latest")
"""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile

BUSYBOX = "/bin/busybox"


def rootfs_tar() -> bytes:
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout.split()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, kind, mode, data=b"", link=""):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, 0, 0, 0
            info.uname = info.gname = ""
            info.linkname = link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        for d in ["bin", "dev", "etc", "proc", "root", "sys", "tmp", "usr", "usr/bin", "var", "work"]:
            add(d, tarfile.DIRTYPE, 0o1777 if d == "tmp" else (0o700 if d == "root" else 0o755))
        with open(BUSYBOX, "rb") as f:
            add("bin/busybox", tarfile.REGTYPE, 0o755, f.read())
        for applet in sorted(set(applets)):
            if applet != "busybox":
                add("bin/" + applet, tarfile.SYMTYPE, 0o777, link="busybox")
        add("etc/passwd", tarfile.REGTYPE, 0o644, b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        add("etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\nnogroup:x:65534:\n")
    return out.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def blob(layout: str, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def main(outdir: str) -> None:
    os.makedirs(outdir, exist_ok=True)
    tar = rootfs_tar()
    layer = gz(tar)
    with open(os.path.join(outdir, "busybox-rootfs.tar.gz"), "wb") as f:
        f.write(layer)
    layout = os.path.join(outdir, "busybox")
    os.makedirs(layout, exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    layer_desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **blob(layout, layer)}
    config = {
        "architecture": "amd64" if os.uname().machine == "x86_64" else os.uname().machine,
        "os": "linux",
        "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
        "history": [{"created_by": "busybox-fixture.py", "created": "1970-01-01T00:00:00Z"}],
        "created": "1970-01-01T00:00:00Z",
    }
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(layout, canonical(config))}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": [layer_desc]}
    manifest_desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", **blob(layout, canonical(manifest)),
                     "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    with open(os.path.join(layout, "index.json"), "wb") as f:
        f.write(canonical({"schemaVersion": 2, "manifests": [manifest_desc]}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
