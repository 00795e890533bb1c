/// A tar entry name cleaned lexically and split into components, relative to the layer
/// root. Names stay raw bytes (Linux file names need not be UTF-8).
struct EntryPath: Hashable {
    /// Each component NUL-terminated, none empty, `.` or `..`.
    var components: [[CChar]]

    /// Cleans `name` like Go's `path.Clean` anchored at the layer root: a leading `/` is
    /// dropped, `.` and empty components vanish, `..` removes the previous component.
    /// Returns nil if a `..` would climb above the root.
    init?(cleaning name: UnsafePointer<CChar>) {
        var components: [[CChar]] = []
        var current: [CChar] = []
        var cursor = name
        while true {
            let byte = cursor.pointee
            if byte == 0x2F || byte == 0 {
                if current == [0x2E, 0x2E] {
                    if components.isEmpty { return nil }
                    components.removeLast()
                } else if !current.isEmpty && current != [0x2E] {
                    components.append(current + [0])
                }
                current.removeAll(keepingCapacity: true)
                if byte == 0 { break }
            } else {
                current.append(byte)
            }
            cursor += 1
        }
        self.components = components
    }

    init(components: [[CChar]]) { self.components = components }

    var isRoot: Bool { components.isEmpty }
    var parent: EntryPath { EntryPath(components: Array(components.dropLast())) }
    /// The last component, NUL-terminated; only for non-root paths.
    var leaf: [CChar] { components.last ?? [0] }

    /// The cleaned path for messages (lossy for non-UTF-8 names).
    var display: String {
        components.map { String(decoding: $0.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            .joined(separator: "/")
    }
}

extension EntryPath {
    private static let usr: [CChar] = Array("usr".utf8CString)
    private static let mergedUsrNames: [[CChar]] = UnpackOptions.mergedUsrDirectories.map { Array($0.utf8CString) }

    /// Whether this is exactly a top-level directory that merged /usr moves (`bin`, `lib64`, …).
    var isMergedUsrDirectory: Bool {
        components.count == 1 && Self.mergedUsrNames.contains(components[0])
    }

    /// The path with a first component of `bin`, `sbin`, `lib`, `lib32`, `lib64` or `libx32`
    /// moved under `usr/`; any other path unchanged.
    func mergingUsr() -> EntryPath {
        guard let first = components.first, Self.mergedUsrNames.contains(first) else { return self }
        return EntryPath(components: [Self.usr] + components)
    }
}

extension Array where Element == CChar {
    /// The bytes of a NUL-terminated name, without the NUL.
    var nameBytes: [UInt8] { dropLast().map { UInt8(bitPattern: $0) } }

    func hasNamePrefix(_ prefix: String) -> Bool {
        nameBytes.starts(with: prefix.utf8)
    }
}
