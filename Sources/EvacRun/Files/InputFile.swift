import Foundation

/// Reads an input file (plan, plan file, snapshot) with a size cap and a message that says what
/// is wrong with the path: a directory, a FIFO (opened without blocking), a device, a socket, a
/// symlink loop, no permission, or too large. Symlinks to regular files are followed: input
/// files are the operator's, not state evac keeps.
public enum InputFile {
    /// Why an input file cannot be read, with its path.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// The file as the operator named it.
        public var path: String
        /// What is wrong with it (no such file, a directory, too large, …).
        public var reason: String
        /// "path: reason", the form of evac's other file errors.
        public var description: String { "\(path): \(reason)" }
    }

    /// The file's bytes, or why they cannot be read. `what` names the file in messages ("plan").
    public static func read(_ path: String, what: String, limit: Int) throws(Failure) -> [UInt8] {
        func fail(_ why: String) -> Failure { Failure(path: path, reason: "\(what) \(why)") }
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw fail(openFailure(errno)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fail("cannot be examined: \(String(cString: strerror(errno)))") }
        if let kind = notRegular(st.st_mode) { throw fail("is \(kind), not a regular file") }
        guard st.st_size <= limit else { throw fail("is \(st.st_size) bytes; evac reads at most \(limit >> 20) MiB") }
        // What fstat promised (and a byte, to see the end) is read into memory that is not zeroed
        // first: zeroing a 100 MB snapshot was 1.5 % of `evac plan`'s CPU.
        var n = 0
        var readError: Int32 = 0
        var atEnd = false
        var out = [UInt8](unsafeUninitializedCapacity: Int(clamping: st.st_size) + 1) { buf, initialized in
            (n, atEnd, readError) = readAll(fd, into: UnsafeMutableRawBufferPointer(buf))
            initialized = n
        }
        // Read to the end (the file may have grown since fstat), never past the cap.
        while !atEnd, readError == 0 {
            guard out.count <= limit else { throw fail("is more than \(limit >> 20) MiB") }
            out.append(contentsOf: [UInt8](repeating: 0, count: max(4096, out.count)))
            let got = out.withUnsafeMutableBytes {
                readAll(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[n...]))
            }
            (atEnd, readError) = (got.atEnd, got.error)
            n += got.count
            out.removeSubrange(n...)
        }
        if readError != 0 { throw fail("cannot be read: \(String(cString: strerror(readError)))") }
        guard n <= limit else { throw fail("is more than \(limit >> 20) MiB") }
        out.removeSubrange(n...) // in place: no second copy of a 100 MB snapshot
        return out
    }

    /// Reads until `buffer` is full, the end of the file (`atEnd`) or an error (its errno).
    private static func readAll(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer
    ) -> (count: Int, atEnd: Bool, error: Int32) {
        var n = 0
        while n < buffer.count {
            let got = Foundation.read(fd, buffer.baseAddress! + n, buffer.count - n)
            if got < 0 {
                if errno == EINTR { continue }
                return (n, false, errno)
            }
            if got == 0 { return (n, true, 0) }
            n += got
        }
        return (n, false, 0)
    }

    static func openFailure(_ err: Int32) -> String {
        switch err {
        case ENOENT: return "does not exist"
        case ELOOP: return "is a symbolic link loop (or a chain of more than 40 links)"
        case EACCES, EPERM: return "cannot be read: permission denied"
        case ENOTDIR: return "does not exist (a component of the path is not a directory)"
        case ENAMETOOLONG: return "has a path that is too long"
        case ENXIO: return "is a socket or a device with nothing behind it"
        default: return "cannot be opened: \(String(cString: strerror(err)))"
        }
    }

    /// A word for a file type that is not a regular file, or nil for a regular file.
    static func notRegular(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }
}
