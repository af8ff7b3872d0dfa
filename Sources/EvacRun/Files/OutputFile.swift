import Foundation

/// Writes `-o FILE` outputs (plan files, snapshots, reports). They name hosts, guests and URIs,
/// so they are created 0600 whatever the umask (chmod them to share). The bytes go to a new file
/// beside the target, created with `O_EXCL | O_NOFOLLOW` under a random name, which is then
/// renamed over the target: a symlink planted at the target is replaced, never written through,
/// and a reader never sees half a file.
public enum OutputFile {
    /// Why an output file was not written: the system's error text, or what is at the path instead.
    public struct Failure: Error, Sendable { public var reason: String }

    /// The permissions of every output file: read and write for evac's user only.
    public static let mode: mode_t = 0o600

    /// Writes `data` to `path` whole (new file, fsync, rename over it), or in place when `path` is
    /// a terminal, a pipe or /dev/null.
    public static func write(_ data: Data, to path: String) throws(Failure) {
        var st = stat()
        if lstat(path, &st) == 0 {
            let type = st.st_mode & S_IFMT
            if type == S_IFDIR { throw Failure(reason: "it is a directory") }
            // A stream (`-o /dev/null`, `-o /dev/stdout`, a FIFO, a terminal) is written in place:
            // a rename over it would replace the device itself — run as root, `evac plan -o
            // /dev/null` once turned the machine's /dev/null into a regular file.
            if type != S_IFREG {
                if let stream = try openStream(path) { return try writeAll(data, to: stream, closing: true) }
                if type == S_IFIFO { throw Failure(reason: "it is a FIFO with no reader") }
                if type != S_IFLNK {
                    throw Failure(reason: "it is not a regular file, a terminal, a pipe or /dev/null")
                }
            }
        }
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        var fd: Int32 = -1
        var temp = ""
        for _ in 0..<16 {
            temp = (dir.isEmpty ? "" : dir + "/") + ".\(base).\(UInt64.random(in: 0...UInt64.max)).tmp"
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw Failure(reason: String(cString: strerror(errno))) }
        var ok = fchmod(fd, mode) == 0
        var err = ok ? 0 : errno
        if ok {
            ok = writeAll(data, fd)
            if !ok {
                err = errno
            } else if fsync(fd) != 0 {
                ok = false
                err = errno
            }
        }
        close(fd)
        if ok, rename(temp, path) != 0 {
            ok = false
            err = errno
        }
        if !ok {
            unlink(temp)
            throw Failure(reason: String(cString: strerror(err)))
        }
    }

    /// The stream at `path` (through a symlink such as /dev/stdout), opened for writing without
    /// blocking on a FIFO with no reader; nil when it is anything else (a regular file, a block
    /// device, another character device), so that a symlink planted towards a disk is replaced,
    /// never written through.
    private static func openStream(_ path: String) throws(Failure) -> Int32? {
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            return nil
        }
        let type = st.st_mode & S_IFMT
        var null = stat()
        let isNull = type == S_IFCHR && stat("/dev/null", &null) == 0 && null.st_rdev == st.st_rdev
        guard type == S_IFIFO || type == S_IFSOCK || isNull || (type == S_IFCHR && isatty(fd) == 1) else {
            close(fd)
            return nil
        }
        // Back to blocking writes: a pipe that is full must wait, not fail.
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        return fd
    }

    private static func writeAll(_ data: Data, to fd: Int32, closing: Bool) throws(Failure) {
        defer { if closing { close(fd) } }
        guard writeAll(data, fd) else { throw Failure(reason: String(cString: strerror(errno))) }
    }

    private static func writeAll(_ data: Data, _ fd: Int32) -> Bool {
        data.withUnsafeBytes { buf -> Bool in
            guard let base = buf.baseAddress else { return true }
            var off = 0
            while off < buf.count {
                let n = Foundation.write(fd, base + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                off += n
            }
            return true
        }
    }
}
