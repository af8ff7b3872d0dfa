import Foundation

/// Writes `-o FILE` outputs (plan files, snapshots, reports). They name hosts, guests and URIs,
/// so they are created 0600 whatever the umask (chmod them to share). The bytes go to a new file
/// beside the target, created with `O_EXCL | O_NOFOLLOW` under a random name, which is then
/// renamed over the target: a symlink planted at the target is replaced, never written through,
/// and a reader never sees half a file.
public enum OutputFile {
    public struct Failure: Error, Sendable { public var reason: String }

    public static let mode: mode_t = 0o600

    public static func write(_ data: Data, to path: String) throws(Failure) {
        var st = stat()
        if lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFDIR { throw Failure(reason: "it is a directory") }
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
            ok = data.withUnsafeBytes { buf -> Bool in
                var off = 0
                while off < buf.count {
                    let n = Foundation.write(fd, buf.baseAddress! + off, buf.count - off)
                    if n < 0 { if errno == EINTR { continue }; return false }
                    off += n
                }
                return true
            }
            if !ok { err = errno } else if fsync(fd) != 0 { ok = false; err = errno }
        }
        close(fd)
        if ok, rename(temp, path) != 0 { ok = false; err = errno }
        if !ok {
            unlink(temp)
            throw Failure(reason: String(cString: strerror(err)))
        }
    }
}
