import CLinux
import Glibc

/// A new pseudo-terminal pair from the host's devpts: the master to read and write, the
/// slave to give a process as its terminal. Both close-on-exec and not the caller's
/// controlling terminal.
public enum PseudoTerminal {
    public static func open(rows: UInt16? = nil, columns: UInt16? = nil) throws(SystemError) -> (master: Int32, slave: Int32) {
        let master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw SystemError("posix_openpt", path: "/dev/ptmx") }
        guard grantpt(master) == 0, unlockpt(master) == 0 else {
            let error = SystemError("unlockpt", path: "/dev/ptmx")
            close(master)
            throw error
        }
        var name = [CChar](repeating: 0, count: 128)
        guard ptsname_r(master, &name, UInt(name.count)) == 0 else {
            let error = SystemError("ptsname", path: "/dev/ptmx")
            close(master)
            throw error
        }
        let path = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let slave = Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard slave >= 0 else {
            let error = SystemError("open", path: path)
            close(master)
            throw error
        }
        if let rows, let columns { resize(master, rows: rows, columns: columns) }
        return (master, slave)
    }

    /// Sets the window size (the process on the slave reads it on SIGWINCH).
    public static func resize(_ fd: Int32, rows: UInt16, columns: UInt16) {
        var window = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(fd, UInt(TIOCSWINSZ), &window)
    }
}
