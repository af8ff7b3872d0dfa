import EvacCoordinator
import EvacRun
import Foundation
import Testing

/// A PostgreSQL server of the suite's own (`scripts/pg-test-server`: initdb into a directory of
/// its own as an unprivileged user, loopback only, password authentication), started once per
/// test process for the tests that share it, and stopped by PID when the suite ends. Tests that
/// stop or freeze a server start one of their own.
final class PostgresServer: Sendable {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = root.appendingPathComponent("scripts/pg-test-server").path

    let dir: String
    let url: CoordinatorURL
    let password: String

    init(tag: String) async throws {
        let dir = NSTemporaryDirectory() + "evac-pg-\(tag)-\(UUID().uuidString.prefix(8))"
        self.dir = dir
        let out = try await Self.offPool { try Self.run(["up", dir]) }
        guard out.status == 0 else { throw ServerError("scripts/pg-test-server up failed: \(out.text)") }
        guard case .success(let u) = CoordinatorURL.parse(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw ServerError("bad URL from pg-test-server: \(out.stdout)") }
        url = u
        password = try String(contentsOfFile: dir + "/password", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A coordinator on this server with the password in PGPASSWORD (as an operator sets it).
    func coordinator(timing: CoordinatorTiming = .testing, notices: Notices? = nil) throws -> Coordinator {
        try Coordinator(
            url: url, environment: ["PGPASSWORD": password, "HOME": "/nonexistent"], timing: timing,
            notice: { notices?.add($0) })
    }

    func stop() async throws { try await check(["stop", dir]) }
    func start() async throws { try await check(["start", dir]) }
    func crash() async throws { try await check(["crash", dir]) }
    func freeze() async throws { try await check(["freeze", dir]) }
    func thaw() async throws { try await check(["thaw", dir]) }
    func down() { _ = try? Self.run(["down", dir]) }

    private func check(_ args: [String]) async throws {
        let o = try await Self.offPool { try Self.run(args) }
        guard o.status == 0 else { throw ServerError("pg-test-server \(args[0]) failed: \(o.text)") }
    }

    /// Runs blocking work (the script, waited for with waitpid) on a thread of its own: on the
    /// cooperative pool (one thread per core) a few of these at once would stall every other
    /// test's tasks, the database clients' included.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            Thread.detachNewThread { c.resume(with: Result { try work() }) }
        }
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var text: String { "exit \(status)\n\(stdout)\n\(stderr)" }
    }

    /// The script with an argument vector (no shell), output through temporary files;
    /// posix_spawn and waitpid (Foundation's Process can miss the exit of a child whose own
    /// child, the postmaster, lives on).
    static func run(_ args: [String]) throws -> Output {
        let tmp = NSTemporaryDirectory() + "evac-pg-out-\(UUID().uuidString)"
        let out = tmp + ".out"
        let err = tmp + ".err"
        defer {
            unlink(out)
            unlink(err)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = (["/bin/bash", script] + args).map { strdup($0) } + [nil]
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, envp)
        guard rc == 0 else { throw ServerError("cannot run \(script): \(String(cString: strerror(rc)))") }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
        return Output(
            status: (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f),
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// The server the tests share, started on first use (once, however many tests ask at once).
    static func shared() async throws -> PostgresServer {
        let starting: Task<PostgresServer, any Error> = sharedStart.withLock { t in
            if let t { return t }
            let made = Task {
                let server = try await PostgresServer(tag: "shared")
                sharedServer.withLock { $0 = server }
                return server
            }
            t = made
            // Also at exit, should the suite's scope not end normally.
            atexit { PostgresServer.sharedServer.withLock { $0?.down() } }
            return made
        }
        return try await starting.value
    }
    static let sharedServer = Locked<PostgresServer?>(nil)
    static let sharedStart = Locked<Task<PostgresServer, any Error>?>(nil)
}

/// Starts nothing itself: stops the shared server (by PID) once every test of the suites it is
/// attached to has run (counted: suites run at the same time, and the last one out stops it).
struct SharedPostgres: SuiteTrait, TestScoping {
    static let users = Locked(0)

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        Self.users.withLock { $0 += 1 }
        defer {
            let last = Self.users.withLock {
                $0 -= 1
                return $0 == 0
            }
            if last {
                PostgresServer.sharedServer.withLock {
                    $0?.down()
                    $0 = nil
                }
                PostgresServer.sharedStart.withLock { $0 = nil }
            }
        }
        try await function()
    }
}

extension Trait where Self == SharedPostgres {
    static var sharedPostgres: Self { SharedPostgres() }
}

struct ServerError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The coordinator's notices (waiting, recovered, taken over), for assertions.
final class Notices: Sendable {
    private let list = Locked<[String]>([])
    func add(_ s: String) { list.withLock { $0.append(s) } }
    var all: [String] { list.withLock { $0 } }
}

extension CoordinatorTiming {
    /// Short waits, so that a test of an outage or an expiry takes seconds.
    static var testing: CoordinatorTiming {
        var t = CoordinatorTiming()
        t.attempt = .seconds(5)
        t.outage = .seconds(60)
        t.leaseTTL = .seconds(60)
        return t
    }
}
