import Glibc
import StrataOS

extension StoreError {
    /// A failed system call, as the store reports it.
    init(_ error: SystemError) { self = .io(path: error.path, reason: error.operation + ": " + error.reason) }

    /// The system call `operation` on `path` failed with `code`.
    static func system(_ path: String, _ operation: String, _ code: Int32 = errno) -> StoreError {
        StoreError(SystemError(operation, path: path, errno: code))
    }
}

/// Runs OS plumbing (StrataOS), its failure as the store's error.
func io<T>(_ body: @autoclosure () throws(SystemError) -> T) throws(StoreError) -> T {
    do { return try body() } catch { throw StoreError(error) }
}
