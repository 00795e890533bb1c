import Glibc

/// The bytes that removing (or owning) a set of trees accounts for, each inode once.
///
/// Hard links matter: a flattened layer is hard links to its stack's files, so its bytes
/// are freed only when every link to them goes. Sizes are apparent (`st_size`, as `du -b`
/// counts them), directories included.
struct InodeTally {
    private struct Key: Hashable { var device: UInt64; var inode: UInt64 }
    private struct Inode { var links: Int; var seen: Int; var bytes: Int64; var owner: Int }
    private var inodes: [Key: Inode] = [:]
    /// Bytes of directories, which are never hard-linked, by owner.
    private var directoryBytes: [Int: Int64] = [:]

    /// Counts an entry of the tree of `owner` (an index the caller chose).
    mutating func add(_ info: stat, owner: Int) {
        if (info.st_mode & S_IFMT) == S_IFDIR {
            directoryBytes[owner, default: 0] += Int64(info.st_size)
            return
        }
        let key = Key(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        if inodes[key] != nil {
            inodes[key]?.seen += 1
        } else {
            inodes[key] = Inode(links: Int(info.st_nlink), seen: 1, bytes: Int64(info.st_size), owner: owner)
        }
    }

    /// Bytes per owner of the inodes whose every link was counted: what removing all the
    /// trees frees. An inode shared by several owners goes to the first that counted it.
    func freedBytes() -> [Int: Int64] {
        var result = directoryBytes
        for inode in inodes.values where inode.seen >= inode.links { result[inode.owner, default: 0] += inode.bytes }
        return result
    }

    /// Bytes per owner of every inode counted, shared ones to the first owner: what the
    /// trees take together.
    func totalBytes() -> [Int: Int64] {
        var result = directoryBytes
        for inode in inodes.values { result[inode.owner, default: 0] += inode.bytes }
        return result
    }
}
