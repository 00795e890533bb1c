#!/usr/bin/env python3
"""Generate a small signed Debian archive for strata's tests (issue 3).

usage: debian-test-archive.py [options] OUTDIR

Writes, with relative paths only (so `python3 -m http.server -d OUTDIR` serves it as a mirror):

  OUTDIR/pool/main/<letter>/<source>/<name>_<version>_<arch>.deb   built with dpkg-deb
  OUTDIR/dists/SUITE/main/binary-amd64/Packages{,.xz}             apt-ftparchive packages
  OUTDIR/dists/SUITE/Release, InRelease, Release.gpg              apt-ftparchive release + gpg
  OUTDIR/keyring.gpg                                              the signing key's public key
  OUTDIR/key-id                                                   its fingerprint

options:
  --suite NAME          suite (default: testing); the codename is --codename (default: strata)
  --date EPOCH          the Release `Date` (default: $SOURCE_DATE_EPOCH, else 2026-01-01 00:00 UTC)
  --valid-days N        `Valid-Until` = Date + N days (default 36500); 0 writes no Valid-Until
  --by-hash             `Acquire-By-Hash: yes` and copies under …/by-hash/SHA256/<hex>
  --other-keyring       also OUTDIR/other-keyring.gpg: a different throwaway key (for "unknown key")
  --expired             also dists/expired/: the same indexes, signed, with Valid-Until in the past
  --tampered            also dists/SUITE/InRelease.tampered: one byte of the signed text changed
  --extras              all three of the above
  --next                also OUTDIR/next/: the archive's next state (see NEXT_PACKAGES), a complete
                        archive of its own (pool, dists/SUITE) signed by the same key and dated one
                        day later, for `strata lock --update` and `strata lock diff`; OUTDIR/next is
                        a second mirror URL when OUTDIR is served; and OUTDIR/gone/, the next state
                        without zlib1g 1:1.2.13.dfsg-1 (a pinned version the archive dropped)

The .debs, Packages and Release are byte-identical from run to run for the same options (fixed
mtimes, sorted paragraphs); the key and so the signatures are new on every run. Needs only Python 3
and dpkg-deb, apt-ftparchive, gpg, xz (all installed by scripts/setup).
"""
import argparse, hashlib, os, shutil, subprocess, sys, tempfile, time

# The table of packages. Every relation form issue 3's resolver must handle appears at least once:
# all five operators, alternatives, virtual packages (plain and versioned Provides), Pre-Depends,
# Multi-Arch same/foreign/allowed and `:any`, Conflicts, Breaks, Essential and Priority required.
PACKAGES = [
    dict(Package="base-files", Version="13.1", Architecture="amd64", Essential="yes", Priority="required",
         Section="admin", files={"etc/debian_version": "strata-test\n"}),
    dict(Package="libc6", Version="2.36-9+deb12u1", Architecture="amd64", Priority="required",
         MultiArch="same", Section="libs", Depends="libgcc-s1",
         files={"usr/lib/x86_64-linux-gnu/libc.so.6": "not really libc\n"}),
    dict(Package="libgcc-s1", Version="12.2.0-14", Architecture="amd64", Priority="required",
         MultiArch="same", Section="libs", Provides="libgcc1 (= 1:12.2.0-14)",
         Breaks="libgcc1 (<< 1:10)", files={"usr/lib/x86_64-linux-gnu/libgcc_s.so.1": "x\n"}),
    dict(Package="dash", Version="0.5.12-2", Architecture="amd64", Essential="yes", Priority="required",
         Section="shells", PreDepends="libc6 (>= 2.34)", Provides="sh",
         files={"usr/bin/dash": "#!/bin/sh\n"},
         scripts={"postinst": "#!/bin/sh\nset -e\n[ \"$1\" = configure ] || exit 0\nln -sf dash /usr/bin/sh\n",
                  "preinst": "#!/bin/sh\nset -e\nexit 0\n"}),
    dict(Package="python3-minimal", Version="3.11.2-1+b1", Architecture="amd64", Priority="optional",
         Section="python", MultiArch="allowed",
         PreDepends="libc6 (>= 2.36)", Depends="libexpat1 (>> 2.4~), zlib1g (>= 1:1.2.0) | libz-ng (= 2.0)",
         Provides="python3-any (= 3.11.2-1+b1), python3-embed",
         files={"usr/bin/python3": "#!/bin/sh\necho python\n"},
         scripts={"postinst": "#!/bin/sh\nset -e\necho configuring python3-minimal\n"}),
    dict(Package="libexpat1", Version="2.5.0-1", Architecture="amd64", MultiArch="same", Section="libs",
         Depends="libc6 (>= 2.25)", files={"usr/lib/x86_64-linux-gnu/libexpat.so.1": "x\n"}),
    dict(Package="zlib1g", Version="1:1.2.13.dfsg-1", Architecture="amd64", MultiArch="same", Priority="required",
         Section="libs", Depends="libc6 (>= 2.14)", Provides="libz1",
         files={"usr/lib/x86_64-linux-gnu/libz.so.1": "x\n"}),
    dict(Package="libz-ng", Version="2.0", Architecture="amd64", Section="libs", Conflicts="zlib1g (<= 1:1.2.11)",
         files={"usr/lib/x86_64-linux-gnu/libz-ng.so.2": "x\n"}),
    dict(Package="make", Version="4.3-4.1", Architecture="amd64", MultiArch="foreign", Section="devel",
         Depends="libc6 (>= 2.34)", Recommends="make-doc", Suggests="make-doc",
         files={"usr/bin/make": "#!/bin/sh\n"}),
    dict(Package="make-doc", Version="4.3-1~bpo11+1", Architecture="all", Section="doc",
         files={"usr/share/doc/make/manual.txt": "make\n"}),
    dict(Package="tool", Version="1.0~rc1-1", Architecture="amd64", Section="utils",
         Depends="python3-minimal:any (>= 3.11), make:any, sh, libgcc1 (>= 1:12), mail-transport-agent | postfix",
         Conflicts="old-tool, tool-legacy (<< 1.0)", Breaks="make (<< 4.0)", Replaces="old-tool",
         files={"usr/bin/tool": "#!/bin/sh\n"}),
    dict(Package="mta", Version="1.0", Architecture="all", Section="mail", Provides="mail-transport-agent",
         Conflicts="mail-transport-agent", Replaces="mail-transport-agent",
         files={"usr/sbin/sendmail": "#!/bin/sh\n"}),
    dict(Package="postfix", Version="3.7.11-0+deb12u1", Architecture="amd64", Section="mail",
         Provides="mail-transport-agent", Conflicts="mail-transport-agent",
         Depends="libc6 (>= 2.34), base-files (>= 12)", files={"usr/sbin/postfix": "#!/bin/sh\n"}),
    dict(Package="broken", Version="0.1", Architecture="amd64", Section="misc",
         Depends="does-not-exist (>= 1)", files={"usr/share/broken": "x\n"}),
]

# The archive's next state (--next): every package above stays (so old pins still resolve), and
#   make 4.4.1-2       newer; it needs the new libgc1, so `--update make` moves make and adds libgc1
#   libgc1 1:8.2.2-3   new (Multi-Arch same)
#   zlib1g -3          newer; moves only on a full `--update`
#   python3-minimal    3.11.4-1, newer, no longer depends on libexpat1 (a full update removes it)
#   splitusr 1.0-1     new: ships /bin, /sbin and /lib files, which merged-/usr puts under /usr
NEXT_PACKAGES = PACKAGES + [
    dict(Package="make", Version="4.4.1-2", Architecture="amd64", MultiArch="foreign", Section="devel",
         Depends="libc6 (>= 2.36), libgc1 (>= 1:8.2)", Recommends="make-doc",
         files={"usr/bin/make": "#!/bin/sh\necho make 4.4\n"}),
    dict(Package="libgc1", Version="1:8.2.2-3", Architecture="amd64", MultiArch="same", Section="libs",
         Depends="libc6 (>= 2.34)", files={"usr/lib/x86_64-linux-gnu/libgc.so.1": "x\n"}),
    dict(Package="zlib1g", Version="1:1.2.13.dfsg-3", Architecture="amd64", MultiArch="same", Priority="required",
         Section="libs", Depends="libc6 (>= 2.14)", Provides="libz1",
         files={"usr/lib/x86_64-linux-gnu/libz.so.1": "x3\n"}),
    dict(Package="python3-minimal", Version="3.11.4-1", Architecture="amd64", Priority="optional",
         Section="python", MultiArch="allowed",
         PreDepends="libc6 (>= 2.36)", Depends="zlib1g (>= 1:1.2.0) | libz-ng (= 2.0)",
         Provides="python3-any (= 3.11.4-1), python3-embed",
         files={"usr/bin/python3": "#!/bin/sh\necho python 3.11.4\n"}),
    dict(Package="splitusr", Version="1.0-1", Architecture="amd64", Section="utils",
         files={"bin/splitusr": "#!/bin/sh\necho split\n", "sbin/splitusrd": "#!/bin/sh\n",
                "lib/x86_64-linux-gnu/libsplitusr.so.1": "split lib\n"}),
]

# The next state after the archive dropped zlib1g's older version (--next, OUTDIR/gone): a lock
# that pinned it cannot keep that pin, and must say so.
GONE_PACKAGES = [p for p in NEXT_PACKAGES if (p["Package"], p["Version"]) != ("zlib1g", "1:1.2.13.dfsg-1")]

# dpkg's field names for the table's Python-friendly keys.
FIELD_NAMES = {"MultiArch": "Multi-Arch", "PreDepends": "Pre-Depends"}
FIELD_ORDER = ["Package", "Version", "Architecture", "Multi-Arch", "Essential", "Priority", "Section",
               "Maintainer", "Installed-Size", "Pre-Depends", "Depends", "Recommends", "Suggests",
               "Conflicts", "Breaks", "Replaces", "Provides", "Description"]
DEFAULT_DATE = 1767225600  # 2026-01-01 00:00:00 UTC


def run(args, **kw):
    return subprocess.run(args, check=True, **kw)


def build_deb(spec, out, epoch):
    """Builds one .deb into the pool and returns its path relative to `out`."""
    name, version, arch = spec["Package"], spec["Version"], spec["Architecture"]
    source_dir = ("lib" + name[3]) if name.startswith("lib") else name[0]
    file_version = version.split(":", 1)[-1]  # pool file names carry no epoch
    rel = os.path.join("pool", "main", source_dir, name, f"{name}_{file_version}_{arch}.deb")
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        for path, text in spec.get("files", {}).items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
            os.chmod(full, 0o755 if text.startswith("#!") else 0o644)
        os.makedirs(os.path.join(root, "DEBIAN"), exist_ok=True)
        fields = {"Maintainer": "strata tests <tests@strata.invalid>", "Installed-Size": "1",
                  "Description": f"{name} for strata's tests\n generated by scripts/debian-test-archive.py"}
        for key, value in spec.items():
            if key not in ("files", "scripts"):
                fields[FIELD_NAMES.get(key, key)] = value
        with open(os.path.join(root, "DEBIAN", "control"), "w") as f:
            for key in FIELD_ORDER:
                if key in fields:
                    f.write(f"{key}: {fields[key]}\n")
        for script, text in spec.get("scripts", {}).items():
            path = os.path.join(root, "DEBIAN", script)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        # Same bytes every run: fixed modes (above), fixed mtimes, root ownership, SOURCE_DATE_EPOCH.
        for dirpath, dirnames, filenames in os.walk(root):
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
            for entry in dirnames + filenames:
                os.utime(os.path.join(dirpath, entry), (epoch, epoch), follow_symlinks=False)
        os.chmod(root, 0o755)
        os.utime(root, (epoch, epoch))
        os.makedirs(os.path.join(out, os.path.dirname(rel)), exist_ok=True)
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
        run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, os.path.join(out, rel)],
            env=env, stdout=subprocess.DEVNULL)
    return rel


def sorted_paragraphs(text):
    """apt-ftparchive lists in directory order; sort by package and version for stable bytes."""
    paragraphs = [p.strip("\n") for p in text.split("\n\n") if p.strip()]
    def key(p):
        fields = dict(line.split(": ", 1) for line in p.splitlines() if ": " in line and not line.startswith(" "))
        return (fields.get("Package", ""), fields.get("Version", ""), fields.get("Architecture", ""))
    return "".join(p + "\n\n" for p in sorted(paragraphs, key=key))


def rfc2822(epoch):
    return time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime(epoch))


def write_suite(out, suite, codename, date, valid_until, by_hash, gpg):
    """Writes dists/SUITE: Packages (+ .xz), Release, InRelease and Release.gpg."""
    dist = os.path.join(out, "dists", suite)
    binary = os.path.join(dist, "main", "binary-amd64")
    os.makedirs(binary, exist_ok=True)
    # Run from OUTDIR so that `Filename:` is relative to the archive root, as on a mirror.
    packages = run(["apt-ftparchive", "packages", "pool/main"], cwd=out, capture_output=True, text=True).stdout
    with open(os.path.join(binary, "Packages"), "w") as f:
        f.write(sorted_paragraphs(packages))
    with open(os.path.join(binary, "Packages.xz"), "wb") as f:
        run(["xz", "-9", "--check=crc64", "-c", os.path.join(binary, "Packages")], stdout=f)
    if by_hash:
        hashes = os.path.join(binary, "by-hash", "SHA256")
        os.makedirs(hashes, exist_ok=True)
        for name in ("Packages", "Packages.xz"):
            with open(os.path.join(binary, name), "rb") as f:
                data = f.read()
            with open(os.path.join(hashes, hashlib.sha256(data).hexdigest()), "wb") as f:
                f.write(data)
    options = {"Origin": "strata", "Label": "strata tests", "Suite": suite, "Codename": codename,
               "Date": rfc2822(date), "Architectures": "amd64", "Components": "main",
               "Description": "strata's generated test archive"}
    if valid_until is not None:
        # apt-ftparchive writes Valid-Until only when ValidTime is set (relative to the real
        # clock); the explicit value then replaces what it computed.
        options["ValidTime"] = "86400"
        options["Valid-Until"] = rfc2822(valid_until)
    if by_hash:
        options["Acquire-By-Hash"] = "yes"
    args = ["apt-ftparchive"]
    for key, value in options.items():
        args += ["-o", f"APT::FTPArchive::Release::{key}={value}"]
    # Only the indexes: not by-hash copies, nor an old Release of a previous run.
    args += ["-o", "APT::FTPArchive::Release::Default-Patterns=false",
             "-o", "APT::FTPArchive::Release::Patterns::=Packages",
             "-o", "APT::FTPArchive::Release::Patterns::=Packages.xz",
             "release", "."]
    release = run(args, cwd=dist, capture_output=True).stdout
    with open(os.path.join(dist, "Release"), "wb") as f:
        f.write(release)
    for name in ("InRelease", "Release.gpg"):
        if os.path.exists(os.path.join(dist, name)):
            os.remove(os.path.join(dist, name))
    gpg(["--clearsign", "--output", os.path.join(dist, "InRelease"), os.path.join(dist, "Release")])
    gpg(["--detach-sign", "--armor", "--output", os.path.join(dist, "Release.gpg"), os.path.join(dist, "Release")])
    return dist


def make_key(home, uid):
    """A throwaway ed25519 signing key without passphrase in GNUPGHOME `home`; returns its fingerprint."""
    os.makedirs(home, mode=0o700, exist_ok=True)
    env = dict(os.environ, GNUPGHOME=home)
    run(["gpg", "--batch", "--quiet", "--passphrase", "", "--quick-generate-key", uid, "ed25519", "sign", "never"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listing = run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env,
                  capture_output=True, text=True).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def export_key(home, fingerprint, path):
    with open(path, "wb") as f:
        run(["gpg", "--batch", "--export", fingerprint], env=dict(os.environ, GNUPGHOME=home), stdout=f)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir")
    parser.add_argument("--suite", default="testing")
    parser.add_argument("--codename", default="strata")
    parser.add_argument("--date", type=int, default=int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_DATE)))
    parser.add_argument("--valid-days", type=int, default=36500)
    parser.add_argument("--by-hash", action="store_true")
    parser.add_argument("--other-keyring", action="store_true")
    parser.add_argument("--expired", action="store_true")
    parser.add_argument("--tampered", action="store_true")
    parser.add_argument("--extras", action="store_true")
    parser.add_argument("--next", action="store_true")
    opts = parser.parse_args()
    if opts.extras:
        opts.other_keyring = opts.expired = opts.tampered = True
    out = os.path.abspath(opts.outdir)
    os.makedirs(out, exist_ok=True)
    if os.path.exists(os.path.join(out, "pool")):
        shutil.rmtree(os.path.join(out, "pool"))  # a rerun must not list stale .debs

    for spec in PACKAGES:
        build_deb(spec, out, opts.date)

    # The keys live in a temporary GNUPGHOME (short path: gpg-agent's socket path is limited).
    with tempfile.TemporaryDirectory(prefix="strata-gpg-") as tmp:
        home = os.path.join(tmp, "main")
        fingerprint = make_key(home, "strata test archive <archive@strata.invalid>")

        def gpg(args):
            run(["gpg", "--batch", "--yes", "--quiet", "--local-user", fingerprint, "--digest-algo", "SHA256"] + args,
                env=dict(os.environ, GNUPGHOME=home))

        valid_until = opts.date + opts.valid_days * 86400 if opts.valid_days > 0 else None
        dist = write_suite(out, opts.suite, opts.codename, opts.date, valid_until, opts.by_hash, gpg)
        export_key(home, fingerprint, os.path.join(out, "keyring.gpg"))
        with open(os.path.join(out, "key-id"), "w") as f:
            f.write(fingerprint + "\n")

        if opts.expired:
            # Dated a month before the earlier of --date and now, valid for one day: expired either way.
            date = min(opts.date, int(time.time())) - 30 * 86400
            write_suite(out, "expired", "expired", date, date + 86400, opts.by_hash, gpg)
        if opts.tampered:
            with open(os.path.join(dist, "InRelease"), "rb") as f:
                data = bytearray(f.read())
            # One byte of the signed text: a digit of the first SHA256 entry's size becomes another.
            at = data.index(b"\nSHA256:\n") + len(b"\nSHA256:\n")
            at = data.index(b" ", data.index(b" ", at) + 1) + 1
            while data[at] == 0x20:
                at += 1
            data[at] = ord("1") if data[at] != ord("1") else ord("2")
            with open(os.path.join(dist, "InRelease.tampered"), "wb") as f:
                f.write(data)
        if opts.next:
            following = os.path.join(out, "next")
            os.makedirs(following, exist_ok=True)
            if os.path.exists(os.path.join(following, "pool")):
                shutil.rmtree(os.path.join(following, "pool"))
            for spec in NEXT_PACKAGES:
                build_deb(spec, following, opts.date)  # unchanged packages: the same bytes as above
            next_until = opts.date + 86400 + opts.valid_days * 86400 if opts.valid_days > 0 else None
            write_suite(following, opts.suite, opts.codename, opts.date + 86400, next_until, opts.by_hash, gpg)
            shutil.copyfile(os.path.join(out, "keyring.gpg"), os.path.join(following, "keyring.gpg"))
            gone = os.path.join(out, "gone")
            os.makedirs(gone, exist_ok=True)
            if os.path.exists(os.path.join(gone, "pool")):
                shutil.rmtree(os.path.join(gone, "pool"))
            for spec in GONE_PACKAGES:
                build_deb(spec, gone, opts.date)
            write_suite(gone, opts.suite, opts.codename, opts.date + 2 * 86400, next_until, opts.by_hash, gpg)
            shutil.copyfile(os.path.join(out, "keyring.gpg"), os.path.join(gone, "keyring.gpg"))
        if opts.other_keyring:
            other = os.path.join(tmp, "other")
            other_fpr = make_key(other, "strata other key <other@strata.invalid>")
            export_key(other, other_fpr, os.path.join(out, "other-keyring.gpg"))
        # gpg-agent outlives gpg; stop the ones started here before their home is removed.
        for h in [home] + ([os.path.join(tmp, "other")] if opts.other_keyring else []):
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=dict(os.environ, GNUPGHOME=h),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
