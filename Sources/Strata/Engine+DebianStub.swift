import StrataModel
// Temporary while the .deb layer code lands.
extension Engine {
    func buildDebian(_ debian: LockedDebian, environment: LoadedEnvironment) throws(StrataError) -> (unpacked: Int, warnings: [String]) {
        throw .usage("not yet")
    }
}
