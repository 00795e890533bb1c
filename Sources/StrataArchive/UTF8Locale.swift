import Glibc

/// Runs `body` with the calling thread's character type set to UTF-8.
///
/// libarchive converts PAX names (always UTF-8) to the locale's charset; in the C locale a
/// Swift process starts in, every non-ASCII name would come with a conversion warning
/// and PAX output would fall back to `hdrcharset=BINARY`. Only this thread's locale
/// changes, and only for the duration of `body`.
func withUTF8Locale<R>(_ body: () throws(ArchiveError) -> R) throws(ArchiveError) -> R {
    guard let utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil) else { return try body() }
    let previous = uselocale(utf8)
    defer {
        uselocale(previous)
        freelocale(utf8)
    }
    return try body()
}
