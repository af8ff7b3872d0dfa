import Foundation

/// An exclusive `flock` on `<journal>.lock`, held for the life of this object. The lock file
/// (0600) names the holder (pid, host, start time, command line) so that a second writer can
/// say who is in the way. The kernel drops the lock when the process dies (kill -9 included),
/// so a stale file never blocks: only a live holder does.
/// Sole owner of its file descriptor; closed in `release()` or deinit.
public final class JournalLock: @unchecked Sendable {
    /// The lock file, `<journal>.lock`, named in the refusal a second writer gets.
    public let path: String
    private var fd: Int32

    /// Who holds the lock, as written into the lock file for the next process that finds it taken.
    public struct Holder: Sendable {
        /// The holding process.
        public var pid: Int32
        /// The host it runs on (a state directory on shared storage can be locked from another host).
        public var host: String
        /// When it took the lock.
        public var since: String
        /// Its whole command line, so the operator sees which plan and options the other run has.
        public var command: String
        /// This process, now.
        public static func current() -> Holder {
            Holder(
                pid: getpid(), host: ProcessInfo.processInfo.hostName, since: Timestamp.now(),
                command: CommandLine.arguments.joined(separator: " "))
        }
        var text: String { "pid=\(pid)\nhost=\(host)\nsince=\(since)\ncommand=\(command)\n" }
        /// "pid 1234 on host, since …: /usr/bin/evac apply plans/x.yaml" — the whole command
        /// line, so the operator sees which plan file and options the other run was given.
        var summary: String {
            "pid \(pid) on \(host), since \(since): \(command.isEmpty ? "(no command line recorded)" : command)"
        }
        static func parse(_ text: String) -> Holder? {
            var kv: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                kv[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
            guard let pid = kv["pid"].flatMap(Int32.init) else { return nil }
            return Holder(pid: pid, host: kv["host"] ?? "?", since: kv["since"] ?? "?", command: kv["command"] ?? "")
        }
    }

    /// Takes the lock or throws `.locked` naming the holder.
    public init(journalPath: String, holder: Holder = .current()) throws(JournalError) {
        path = journalPath + ".lock"
        // Never through a symlink: the file is chmod'ed, truncated and written below.
        fd = try StateFiles.open(path, flags: O_RDWR, create: true)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK && Self.heldByThisProcess(fd) {
            // This process released it: a child being spawned at that instant (between fork and
            // exec) still shares the descriptor, and with it the lock, for a moment.
            for _ in 0..<100 {
                usleep(10_000)
                if flock(fd, LOCK_EX | LOCK_NB) == 0 { break }
            }
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            let text = Self.readAll(fd)
            close(fd)
            fd = -1
            if err == EWOULDBLOCK {
                let who = Holder.parse(text)?.summary ?? "another process (no holder recorded)"
                throw .locked(path: journalPath, holder: who)
            }
            throw .io(path: path, "flock: \(String(cString: strerror(err)))")
        }
        // We hold it: umask may have widened nothing but an old file may have other bits.
        fchmod(fd, 0o600)
        let bytes = Array(holder.text.utf8)
        guard ftruncate(fd, 0) == 0, pwrite(fd, bytes, bytes.count, 0) == bytes.count else {
            let msg = String(cString: strerror(errno))
            close(fd)
            fd = -1
            throw .io(path: path, "cannot record the lock holder: \(msg)")
        }
        fsync(fd)
    }

    /// Whether the holder recorded in the lock file is this process.
    private static func heldByThisProcess(_ fd: Int32) -> Bool {
        Holder.parse(readAll(fd))?.pid == getpid()
    }

    private static func readAll(_ fd: Int32) -> String {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = pread(fd, &buf, buf.count, 0)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
    }

    /// Drops the lock. The file stays (removing it would race with a new holder's open).
    public func release() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}
