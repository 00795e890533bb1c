import Glibc
import StrataOS

/// `strata` with `STRATA_HOST=unix://PATH`: the command runs in that daemon (`strata
/// serve`), on its store, in this directory with these variables; `strata-serve client`
/// (beside strata, where SwiftNIO lives) relays stdio and the exit status. Daemonless
/// otherwise: the same engine either way, so the results are the same.
enum RemoteInvocation {
    static func exec(host: String, _ words: [String]) -> Never {
        guard host.hasPrefix("unix://"), host.count > 7 else {
            StrataCommand.fail("STRATA_HOST=\(host) is not a daemon address: give unix:///PATH/TO/strata.sock, or unset it to run without a daemon", code: 2)
        }
        var executable = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &executable, executable.count - 1)
        guard length > 0 else { StrataCommand.fail("/proc/self/exe: \(SystemError.text(errno))", code: 1) }
        let strata = String(decoding: executable[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let client = String(strata[..<(strata.lastIndex(of: "/") ?? strata.startIndex)]) + "/strata-serve"
        let argv = (["strata-serve", "client", "--socket", String(host.dropFirst(7)), "--"] + words).map { strdup($0) } + [nil]
        execv(client, argv)
        StrataCommand.fail("cannot reach the daemon through \(client): \(SystemError.text(errno)); install strata-serve beside strata, or unset STRATA_HOST", code: 1)
    }
}
