import StrataDebian
import StrataModel

/// Where a Debian source's packages come from, in order: the request's own mirrors
/// (`--mirror`), `STRATA_DEBIAN_MIRROR` (space- or comma-separated), the manifest's
/// `mirror`, the host's apt sources for the suite, Debian's own archive. The first of
/// these that names any mirror gives the list. A lockfile never names one.
public enum DebianMirrors {
    public static func list(_ source: Manifest.DebianSource, override: [String], context: RequestContext) -> [String] {
        if !override.isEmpty { return override }
        if let variable = context.variables["STRATA_DEBIAN_MIRROR"] {
            let list = variable.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            if !list.isEmpty { return list }
        }
        if let mirrors = source.mirrors, !mirrors.isEmpty { return mirrors }
        let host = AptSources.mirrors(forSuite: source.suite)
        if !host.isEmpty { return host }
        return ["http://deb.debian.org/debian"]
    }
}
