import Glibc
import StrataDebian
import StrataEnvironment
import StrataModel
import StrataOS
import StrataSandbox
import StrataSessions
import StrataStore

extension Builder {
    /// Runs the maintainer scripts the way dpkg would on a fresh system — every `preinst
    /// install` in install order, then `dpkg --configure -a`, which configures in dependency
    /// order — in a session over the unpacked packages, and keeps what they wrote as the
    /// configured layer. Services are kept from starting by a `policy-rc.d` that says no;
    /// the result is normalized (no logs, caches or timestamps newer than the epoch) so
    /// the same packages configure to the same tree.
    func configure(_ debian: LockedDebian, environment: LoadedEnvironment) throws(StrataError) {
        if debian.variant == "extract" {
            do { try store.publishLayer(key: debian.configuredKey) { (_) throws(StoreError) -> [String] in [] } } catch {
                throw .store(error)
            }
            return
        }
        let below = Array(debian.layerKeys.dropLast())
        let epoch = try Self.sourceDateEpoch(debian, context: context)
        // Maintainer scripts ask `ischroot` whether they run in a live system: in a session
        // it says no, and libc6's postinst then tries to re-exec init and sleeps a second.
        // This is an installation into a fresh tree, as in a chroot, so it answers yes —
        // bind-mounted over the real one, so the configured layer does not record it.
        var mounts: [SessionMount] = []
        let ischroot = store.temporaryPath("ischroot")
        defer { unlink(ischroot) }
        let hasIschroot = debian.packages.contains {
            access(store.layerPath(LayerKeys.debianPackage($0.sha256)) + "/usr/bin/ischroot", F_OK) == 0
        }
        if hasIschroot {
            do { try Store.createLayerFile(ischroot, contents: Array("#!/bin/sh\nexit 0\n".utf8), mode: 0o755) } catch { throw .store(error) }
            mounts.append(.bind(source: ischroot, target: "/usr/bin/ischroot", readOnly: true))
        }
        let step = LayerStep(
            key: debian.configuredKey, below: below, argv: ["/bin/sh", "-c", Self.configureScript(debian)],
            environment: [
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LC_ALL=C", "LANG=C", "LANGUAGE=C",
                "DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true", "SOURCE_DATE_EPOCH=\(epoch)",
            ],
            mounts: mounts, epoch: epoch, leftovers: Self.configureLeftovers, log: Self.configureLog,
            label: environment.paths.name + "+configure")
        if case .failure(let failure) = try run(step) {
            throw .configure(reason: "the configure script exited with status \(failure.status)", log: failure.log)
        }
    }

    static let configureLog = "/var/log/strata-configure.log"

    /// Files the scripts leave that differ from run to run and describe no state.
    static let configureLeftovers = [
        configureLog, "/var/log/dpkg.log", "/var/log/alternatives.log", "/var/log/apt/history.log",
        "/var/log/apt/term.log", "/var/cache/ldconfig/aux-cache", "/var/lib/dpkg/status-old",
        "/var/lib/dpkg/diversions-old", "/var/lib/dpkg/statoverride-old", "/var/cache/debconf/config.dat-old",
        "/var/cache/debconf/templates.dat-old", "/var/cache/debconf/passwords.dat-old", "/var/lib/dpkg/lock",
        "/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/triggers/Lock",
    ]

    /// The request's `SOURCE_DATE_EPOCH` when set, else the release's date: both are the
    /// same on every machine.
    static func sourceDateEpoch(_ debian: LockedDebian, context: RequestContext) throws(StrataError) -> Int64 {
        if let value = try context.sourceDateEpoch() { return value }
        return ReleaseFile.seconds(debian.date) ?? 0
    }

    /// The shell script the configure session runs (dash or whichever `/bin/sh` the packages gave).
    static func configureScript(_ debian: LockedDebian) -> String {
        var script = """
        exec </dev/null >\(configureLog) 2>&1
        set -e
        printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        run_preinst() {
          for f in "/var/lib/dpkg/info/$1.preinst" "/var/lib/dpkg/info/$1:$2.preinst"; do
            [ -x "$f" ] || continue
            echo "preinst $1"
            DPKG_MAINTSCRIPT_PACKAGE="$1" DPKG_MAINTSCRIPT_ARCH="$2" DPKG_MAINTSCRIPT_NAME=preinst DPKG_ROOT= "$f" install
          done
        }

        """
        for package in debian.packages {
            let arch = package.architecture == "all" ? debian.architecture : package.architecture
            script += "run_preinst \(package.name) \(arch)\n"
        }
        script += """
        dpkg --configure -a
        if [ -x /sbin/ldconfig ]; then /sbin/ldconfig; fi
        rm -f /usr/sbin/policy-rc.d
        if [ -e /etc/machine-id ]; then : >/etc/machine-id; fi
        echo configured

        """
        return script
    }
}
