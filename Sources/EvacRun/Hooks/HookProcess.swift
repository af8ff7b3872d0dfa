import Foundation
import Glibc

/// One hook command as it is started: argv (never a shell), its environment, its deadline.
public struct HookInvocation: Sendable {
    /// The program and its arguments, as the plan lists them; the program is looked up in PATH.
    public var argv: [String]
    /// The whole environment of the command (nothing is inherited that is not here).
    public var environment: [String: String]
    /// How long it may run before its process group is killed.
    public var timeoutMs: UInt64
    /// Output (stdout and stderr, interleaved) kept for the journal and the log; the rest is
    /// counted and dropped, from the front (the end of a failing command's output says why).
    public var outputLimit: Int = 16 * 1024
    /// After the deadline: SIGTERM to the process group, then SIGKILL after this.
    public var killGraceMs: UInt64 = 2000
    /// An invocation with the default output limit and kill grace.
    public init(argv: [String], environment: [String: String], timeoutMs: UInt64) {
        self.argv = argv
        self.environment = environment
        self.timeoutMs = timeoutMs
    }
}

/// How a hook command ended.
public struct HookExit: Sendable, Hashable {
    /// Why the command is no longer running.
    public enum Ending: Sendable, Hashable {
        /// It exited with this status.
        case exited(Int32)
        /// It was killed by this signal (not by evac).
        case signalled(Int32)
        /// Killed (with its process group) at its deadline.
        case timedOut
        /// Killed (with its process group) by a forced stop of the run.
        case stopped
        /// posix_spawn failed: no such program, not executable, …
        case couldNotStart(String)
    }
    /// How it ended.
    public var ending: Ending
    /// The captured output, its tail when more than `outputLimit` came.
    public var output: String
    /// Bytes of output dropped beyond `outputLimit`.
    public var droppedBytes: Int
    /// How long it ran.
    public var durationMs: UInt64
    /// The process id it ran as; nil when it could not start.
    public var pid: Int32?

    /// Exit status 0: the only ending the plan's hooks count as success.
    public var succeeded: Bool { ending == .exited(0) }

    /// How it ended, in words for the journal and the log.
    public var summary: String {
        switch ending {
        case .exited(let c): return "exit status \(c)"
        case .signalled(let s): return "killed by signal \(s)"
        case .timedOut: return "timed out; killed with its process group"
        case .stopped: return "killed with its process group by a forced stop"
        case .couldNotStart(let why): return "could not start: \(why)"
        }
    }
}

/// Runs one hook command: posix_spawnp with the argv as given (no shell), in a new process
/// group, stdin from /dev/null, stdout and stderr into one bounded capture, every other
/// descriptor closed, signal dispositions reset. At the deadline the whole group gets SIGTERM,
/// then SIGKILL, by the process id evac started (never by name). Blocking work runs on a
/// thread of its own, not on Swift's cooperative pool.
public enum HookProcess {
    /// `stop`: checked while the command runs; once it returns true the group is killed.
    public static func run(_ inv: HookInvocation, stop: @escaping @Sendable () -> Bool = { false }) async -> HookExit {
        await withCheckedContinuation { (c: CheckedContinuation<HookExit, Never>) in
            let t = Thread { c.resume(returning: runBlocking(inv, stop: stop)) }
            t.name = "evac-hook"
            t.start()
        }
    }

    static func runBlocking(_ inv: HookInvocation, stop: () -> Bool) -> HookExit {
        let clock = ContinuousClock()
        let start = clock.now
        func elapsed() -> UInt64 { UInt64(max(0, (clock.now - start) / .milliseconds(1))) }
        guard let program = inv.argv.first, !program.isEmpty else {
            return HookExit(ending: .couldNotStart("no program"), output: "", droppedBytes: 0, durationMs: 0)
        }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            return HookExit(
                ending: .couldNotStart("pipe: \(String(cString: strerror(errno)))"), output: "", droppedBytes: 0,
                durationMs: 0)
        }
        // Neither end may leak into another child (the write end would keep its reader waiting).
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let spawned = spawn(program: program, inv: inv, writeEnd: fds[1])
        close(fds[1])
        guard case .success(let pid) = spawned else {
            close(fds[0])
            if case .failure(let why) = spawned {
                return HookExit(ending: .couldNotStart(why), output: "", droppedBytes: 0, durationMs: elapsed())
            }
            return HookExit(ending: .couldNotStart("unknown"), output: "", droppedBytes: 0, durationMs: elapsed())
        }
        var capture = BoundedCapture(limit: inv.outputLimit)
        let ending = supervise(pid: pid, readEnd: fds[0], inv: inv, capture: &capture, elapsed: elapsed, stop: stop)
        close(fds[0])
        return HookExit(
            ending: ending, output: capture.text, droppedBytes: capture.dropped, durationMs: elapsed(), pid: pid)
    }

    private enum Spawned { case success(pid_t), failure(String) }

    private static func spawn(program: String, inv: HookInvocation, writeEnd: Int32) -> Spawned {
        var actions = posix_spawn_file_actions_t()
        var attr = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attr)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        // The journal, its lock and libvirt's sockets stay evac's.
        for fd in inheritableDescriptors() where fd != writeEnd { posix_spawn_file_actions_addclose(&actions, fd) }
        // A group of its own, so that a deadline reaches whatever the hook started; signals
        // evac ignores (SIGHUP, SIGPIPE) or blocks are not inherited as ignored or blocked.
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = inv.argv.map { strdup($0) }
        let envp = inv.environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") }
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        var rc = posix_spawnp(&pid, program, &actions, &attr, argv + [nil], envp + [nil])
        // ETXTBSY: the program was just written and another thread's fork still holds it open
        // for writing until its exec; that passes, but on a loaded machine (a CI run of the
        // suite, hooks spawned in parallel) 0.5 s was once not enough: up to 3 s.
        for _ in 0..<60 where rc == ETXTBSY {
            usleep(50_000)
            rc = posix_spawnp(&pid, program, &actions, &attr, argv + [nil], envp + [nil])
        }
        guard rc == 0 else { return .failure("\(program): \(String(cString: strerror(rc)))") }
        return .success(pid)
    }

    /// Descriptors from 3 up that are open without close-on-exec (a child would inherit them).
    /// glibc's posix_spawn_file_actions_addclosefrom_np is not visible to Swift.
    static func inheritableDescriptors() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { Int32($0) }.filter { fd in
            guard fd > 2 else { return false }
            let flags = fcntl(fd, F_GETFD)
            return flags >= 0 && flags & FD_CLOEXEC == 0
        }.sorted()
    }

    /// Reads output and waits for the process until it exits, its deadline passes, or a stop.
    private static func supervise(
        pid: pid_t, readEnd: Int32, inv: HookInvocation, capture: inout BoundedCapture,
        elapsed: () -> UInt64, stop: () -> Bool
    ) -> HookExit.Ending {
        var open = true
        var exitedAt: UInt64?
        var status: Int32 = 0
        while true {
            if open { open = drain(readEnd, into: &capture, waitMs: 50) } else { usleep(20_000) }
            if exitedAt == nil, reap(pid, &status, wait: false) { exitedAt = elapsed() }
            // Once the hook itself exited, output still held open by something it left running
            // is read for a moment only: that is not the hook's output, and not worth waiting for.
            if let at = exitedAt, !open || elapsed() - at > 200 { return decode(status) }
            if exitedAt == nil && elapsed() >= inv.timeoutMs {
                kill(group: pid, grace: inv.killGraceMs, readEnd: readEnd, capture: &capture)
                return .timedOut
            }
            if exitedAt == nil && stop() {
                kill(group: pid, grace: inv.killGraceMs, readEnd: readEnd, capture: &capture)
                return .stopped
            }
        }
    }

    /// SIGTERM to the process group, SIGKILL after `grace`, then reaps the leader.
    private static func kill(group pid: pid_t, grace: UInt64, readEnd: Int32, capture: inout BoundedCapture) {
        _ = Glibc.kill(-pid, SIGTERM)
        var status: Int32 = 0
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(grace))
        while clock.now < deadline {
            _ = drain(readEnd, into: &capture, waitMs: 20)
            if reap(pid, &status, wait: false) {
                // The leader is gone; what it left in its group goes too.
                _ = Glibc.kill(-pid, SIGKILL)
                return
            }
        }
        _ = Glibc.kill(-pid, SIGKILL)
        _ = reap(pid, &status, wait: true)
    }

    private static func reap(_ pid: pid_t, _ status: inout Int32, wait: Bool) -> Bool {
        while true {
            let r = waitpid(pid, &status, wait ? 0 : WNOHANG)
            if r == pid { return true }
            if r == -1 && errno == EINTR { continue }
            // 0: still running; -1 ECHILD: already reaped (cannot happen: evac reaps its own only).
            return r == -1
        }
    }

    private static func decode(_ status: Int32) -> HookExit.Ending {
        let sig = status & 0x7f
        return sig == 0 ? .exited((status >> 8) & 0xff) : .signalled(sig)
    }

    /// Reads what is there within `waitMs`; false at end of file.
    private static func drain(_ fd: Int32, into capture: inout BoundedCapture, waitMs: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = poll(&p, 1, waitMs)
        if n <= 0 { return true }
        var buffer = [UInt8](repeating: 0, count: 8192)
        let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 8192) }
        if got > 0 {
            capture.append(buffer[0..<got])
            return true
        }
        if got < 0 && (errno == EINTR || errno == EAGAIN) { return true }
        return false
    }
}

/// The last `limit` bytes of a stream, and how many came before them.
struct BoundedCapture {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var dropped = 0
    init(limit: Int) { self.limit = max(0, limit) }

    mutating func append(_ chunk: ArraySlice<UInt8>) {
        bytes.append(contentsOf: chunk)
        if bytes.count > limit {
            let extra = bytes.count - limit
            dropped += extra
            bytes.removeFirst(extra)
        }
    }

    /// As text (invalid UTF-8 replaced), prefixed with a note when bytes were dropped.
    var text: String {
        let body = String(decoding: bytes, as: UTF8.self)
        return dropped > 0 ? "[… \(dropped) bytes of output dropped]\n" + body : body
    }
}
