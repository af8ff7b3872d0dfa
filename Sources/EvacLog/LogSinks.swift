import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Log lines on standard error (`--verbose`).
public struct StandardErrorSink: LogSink {
    public init() {}
    public func write(line: String) { LogFile.standardError.append(line) }
}

/// Log lines appended to a file (`--log-file`).
public struct FileSink: LogSink {
    let file: LogFile
    /// Opens (creating 0600) `path` for appending; refuses a symlink.
    public init(path: String) throws(LogFileError) { file = try LogFile(path: path) }
    public func write(line: String) { file.append(line) }
}

public struct LogFileError: Error, CustomStringConvertible {
    public var description: String
}

/// A file descriptor that log lines are appended to, whole lines at a time. A failed write
/// (disk full, a terminal that went away with its ssh session) is dropped: logging must never
/// stop a drain. Sole owner of its descriptor, closed in deinit.
final class LogFile: @unchecked Sendable {
    static let standardError = LogFile(descriptor: STDERR_FILENO, owned: false)

    private let fd: Int32
    private let owned: Bool
    private let lock = NSLock()

    init(descriptor: Int32, owned: Bool) {
        fd = descriptor
        self.owned = owned
    }

    /// O_NOFOLLOW: a log file named in a shared directory must not be redirected through a
    /// symlink someone planted; 0600: logs name hosts and guests.
    convenience init(path: String) throws(LogFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let why = errno == ELOOP ? "it is a symbolic link" : String(cString: strerror(errno))
            throw LogFileError(description: "cannot open log file \(path): \(why)")
        }
        self.init(descriptor: fd, owned: true)
    }

    func append(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        lock.lock()
        defer { lock.unlock() }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }

    deinit { if owned { close(fd) } }
}

/// UTC timestamps with milliseconds for log lines (the journal's format).
enum LogClock {
    static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var secs = ts.tv_sec
        var t = tm()
        gmtime_r(&secs, &t)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
            t.tm_hour, t.tm_min, t.tm_sec, Int(ts.tv_nsec / 1_000_000))
    }
}
