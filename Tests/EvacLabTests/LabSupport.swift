import Foundation
import GRDB
import XCTest

/// Paths, processes and lab state for the end-to-end tests. No shell anywhere: every command is
/// an executable with an argument vector.
enum Lab {
    /// The repository root (this file is Tests/EvacLabTests/LabSupport.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// A lab directory of its own, so a lab a user keeps in /tmp/evac-lab is never reused.
    /// (Only one lab can run per machine: if another is up, `up` fails and says so.)
    static let dir = "/tmp/evac-lab-e2e"
    /// lab-1…5, and lab-6 (TCG only: no guests of the scenario, a target only where a test says).
    static let hosts = 6
    /// Where every guest of scenario `default` starts (the state each test begins from).
    static let home: [String: Int] = [
        "web-1": 1, "web-2": 1, "db-1": 1,
        "app-1": 2, "app-2": 2, "app-3": 2, "cache-1": 2,
    ]
    static let virsh = "/usr/bin/virsh"

    /// The machine has one lab (fixed namespaces evac-lab-K, bridge evlab0), and the test
    /// class begins with `scripts/lab down`: a second test process (or a demo) run at the same
    /// time took the first one's lab away mid-test, and both failed in ways that looked like
    /// evac's. Whoever runs the lab holds this lock for as long (the tests, `scripts/demo`,
    /// `scripts/bench-lab`); a second one waits its turn.
    static let lockPath = "/tmp/evac-lab.lock"

    /// Takes the lab lock, waiting for another holder; returns the descriptor to keep open.
    /// Close-on-exec, so that no daemon the lab starts inherits the lock.
    static func takeLock() throws -> Int32 {
        let fd = open(lockPath, O_CREAT | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LabError("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            print("waiting for the lab: another process holds \(lockPath)")
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    let e = errno
                    close(fd)
                    throw LabError("cannot lock \(lockPath): \(String(cString: strerror(e)))")
                }
            }
        }
        return fd
    }

    static func uri(_ k: Int) -> String { "qemu+unix:///system?socket=\(dir)/hosts/lab-\(k)/run/libvirt-sock" }

    /// How the end-to-end tests' plans reach the hosts (issue 15): by default as an operator
    /// reaches real ones, `qemu+ssh://root@10.213.0.K/system` (evac's own connections and each
    /// source daemon's peer-to-peer one over ssh; evac always runs as the lab's operator,
    /// `start`). `EVAC_LAB_TRANSPORT=unix` opts out to the qemu+unix sockets. The fault matrix
    /// keeps the sockets by design in either mode (a frozen daemon behind its socket is what it
    /// tests), and so do the lab's own checks (`virsh` in `state`, `reset`, the forced migrations).
    static let overSSH = ProcessInfo.processInfo.environment["EVAC_LAB_TRANSPORT"] != "unix"

    /// Host lab-K as the end-to-end tests' plans name it (see `overSSH`).
    static func planURI(_ k: Int) -> String { overSSH ? sshURI(k) : uri(k) }

    /// The built `evac` executable next to the test bundle.
    static var evac: String {
        var d = Bundle(for: Marker.self).bundleURL
        while d.path != "/" && !FileManager.default.fileExists(atPath: d.appendingPathComponent("evac").path) {
            d.deleteLastPathComponent()
        }
        return d.appendingPathComponent("evac").path
    }
    private final class Marker {}

    struct Output: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
    }

    /// Runs an executable and waits; output goes to temporary files (no pipe can fill up).
    @discardableResult
    static func run(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> Output {
        try start(exe, args, env: env).wait()
    }

    /// A child started with posix_spawn and reaped with waitpid (Foundation's Process left the
    /// lab's `up` unreaped here and waitUntilExit never returned).
    final class Running {
        let pid: pid_t
        let out: String, err: String
        private var status: Int32?
        init(pid: pid_t, out: String, err: String) {
            self.pid = pid
            self.out = out
            self.err = err
        }
        // The captured output lives only as long as this handle: a suite run spawns thousands.
        deinit {
            unlink(out)
            unlink(err)
        }

        var isRunning: Bool { reap(block: false) == nil }

        private func reap(block: Bool) -> Int32? {
            if let status { return status }
            var raw: Int32 = 0
            while true {
                let r = waitpid(pid, &raw, block ? 0 : WNOHANG)
                if r == pid { break }
                if r == 0 { return nil }
                if errno == EINTR { continue }
                status = -1
                return status
            }
            let sig = raw & 0x7f
            status = sig == 0 ? (raw >> 8) & 0xff : 128 + sig
            return status
        }

        func output() -> Output {
            Output(
                status: status ?? -1,
                stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
        }
        func wait() -> Output {
            _ = reap(block: true)
            return output()
        }
        /// Waits until stdout contains `text`; false on timeout or exit.
        func waitFor(_ text: String, timeout: TimeInterval) -> Bool {
            waitUntil(timeout: timeout) { $0.contains(text) }
        }

        /// Waits until `reached(stdout)` holds while the child still runs; false on timeout or exit.
        func waitUntil(timeout: TimeInterval, _ reached: (String) -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if reached((try? String(contentsOfFile: out, encoding: .utf8)) ?? "") { return isRunning }
                if !isRunning { return false }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return false
        }
    }

    /// Starts `exe`; evac itself runs as the lab's operator (`scripts/lab operator -- evac …`), whose
    /// ssh clients use the lab's key and known_hosts (qemu+unix URIs work there too). That command
    /// ends by exec'ing evac in the same process, so the PID (signals, lock holder) is evac's.
    static func start(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> Running {
        if exe == evac {
            return try spawn(
                root.appendingPathComponent("scripts/lab").path, ["operator", "--dir", dir, "--", exe] + args, env: env)
        }
        return try spawn(exe, args, env: env)
    }

    private static func spawn(_ exe: String, _ args: [String], env: [String: String]) throws -> Running {
        var e = ProcessInfo.processInfo.environment
        e["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin:" + (e["PATH"] ?? "")
        for (k, v) in env { e[k] = v }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("evac-e2e-\(UUID().uuidString)").path
        let out = tmp + ".out"
        let err = tmp + ".err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([exe] + args).map { strdup($0) } + [nil]
        let envp = e.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
        guard rc == 0 else { throw LabError("cannot run \(exe): \(String(cString: strerror(rc)))") }
        return Running(pid: pid, out: out, err: err)
    }

    /// `scripts/lab COMMAND ARGS… --dir DIR`.
    @discardableResult
    static func lab(_ args: [String]) throws -> Output {
        try run(root.appendingPathComponent("scripts/lab").path, args + ["--dir", dir])
    }

    // MARK: guests

    /// `virsh domstate` of a guest on lab-K: "running", "shut off", … or nil when not defined there.
    static func state(_ guest: String, on k: Int) -> String? {
        guard let o = try? run(virsh, ["-q", "-c", uri(k), "domstate", guest]), o.status == 0 else { return nil }
        let s = o.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? nil : s
    }

    /// The hosts (1…5) where the guest is defined.
    static func whereIs(_ guest: String) -> [Int] {
        (1...hosts).filter { state(guest, on: $0) != nil }
    }

    /// Live-migrates a guest with virsh (p2p, persistent, undefine source), with `extra` flags
    /// (e.g. `--copy-storage-all`).
    static func virshMigrate(_ guest: String, from: Int, to: Int, extra: [String] = []) throws -> Output {
        try run(
            virsh,
            ["-c", uri(from), "migrate", "--live", "--p2p", "--persistent", "--undefinesource"] + extra + [
                guest, uri(to),
            ])
    }

    /// Destroys and undefines a guest on every host.
    static func removeEverywhere(_ guest: String) {
        for k in 1...hosts {
            _ = try? run(virsh, ["-q", "-c", uri(k), "destroy", guest])
            _ = try? run(virsh, ["-q", "-c", uri(k), "undefine", guest])
        }
    }

    /// Brings the lab back to scenario `default` as `up` left it: every daemon running, every
    /// guest running on its home host only (moved back with virsh, in parallel), no extra
    /// guests. Falls back to `down` + `up` when a guest is lost or duplicated.
    static func reset(extraGuests: [String] = []) throws {
        for k in 1...hosts where daemonPID(k).map({ kill($0, 0) != 0 }) ?? true {
            let o = try lab(["start-host", String(k)])
            if o.status != 0 { return try restart(reason: "start-host \(k) failed: \(o)") }
        }
        for g in extraGuests { removeEverywhere(g) }
        var moves: [(String, Int, Int)] = []
        for (g, h) in home.sorted(by: { $0.key < $1.key }) {
            let at = whereIs(g)
            if at == [h], state(g, on: h) == "running" { continue }
            if at.count == 1, at[0] != h, state(g, on: at[0]) == "running" {
                moves.append((g, at[0], h))
                continue
            }
            return try restart(reason: "\(g) is on \(at) in state \(at.map { state(g, on: $0) ?? "-" })")
        }
        let failures = Locked<[String]>([])
        let planned = moves
        DispatchQueue.concurrentPerform(iterations: planned.count) { i in
            let (g, from, to) = planned[i]
            let o = try? virshMigrate(g, from: from, to: to)
            if o?.status != 0 { failures.withLock { $0.append("\(g): \(o?.description ?? "?")") } }
        }
        let f = failures.withLock { $0 }
        if !f.isEmpty { try restart(reason: "moving back failed: \(f)") }
    }

    static func restart(reason: String) throws {
        print("lab reset by down+up: \(reason)")
        try lab(["down"])
        let o = try lab(["up"])
        if o.status != 0 { throw LabError("scripts/lab up failed: \(o)") }
    }

    static func daemonPID(_ k: Int) -> Int32? {
        guard let s = try? String(contentsOfFile: "\(dir)/hosts/lab-\(k)/libvirtd.pid", encoding: .utf8) else {
            return nil
        }
        return Int32(s.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: plans

    /// A plan over the lab's hosts, written to `dir/name.yaml`.
    static func writePlan(
        in dir: URL, name: String, sources: [Int] = [1, 2], targets: [Int] = [3, 4],
        include: [String]? = nil, perTarget: Int = 2, perSource: Int = 2, total: Int = 4,
        bandwidth: String? = nil, timeout: String = "2m", memoryReserve: String? = nil, extra: String = "",
        migrationExtra: String = "", uri: (Int) -> String = Lab.planURI
    ) throws -> String {
        var y = "version: 1\nname: \(name)\nhosts:\n"
        for k in 1...hosts { y += "  lab-\(k): { uri: \"\(uri(k))\" }\n" }
        y += "sources: [\(sources.map { "lab-\($0)" }.joined(separator: ", "))]\n"
        y += "targets:\n  - pool: lab-targets\n    hosts: [\(targets.map { "lab-\($0)" }.joined(separator: ", "))]\n"
        if let include { y += "select: { include: [\(include.map { "\"\($0)\"" }.joined(separator: ", "))] }\n" }
        y +=
            "constraints: { cpu: compatible, bridges: match\(memoryReserve.map { ", memory-reserve: \($0)" } ?? "") }\n"
        y += "placement: { order: largest-first }\n"
        y += "parallelism: { total: \(total), per-source: \(perSource), per-target: \(perTarget) }\n"
        y += "migration:\n  mode: live\n  max-downtime: 300ms\n  timeout: \(timeout)\n"
        if let bandwidth { y += "  bandwidth: \(bandwidth)\n" }
        y += migrationExtra
        y += "on-failure: continue\n" + extra
        let path = dir.appendingPathComponent("\(name).yaml").path
        try y.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func tempDir(_ tag: String) throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent(
            "evac-e2e-\(tag)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
}

struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func withLock<R>(_ f: (inout T) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return f(&value)
    }
}

// MARK: journal

struct JournalEvent {
    var kind: String, migrationID: Int?, at: Date, from: String?, to: String?, message: String
}

struct JournalStep {
    var kind: String, id: Int, guest: String, source: String, target: String, state: String, attempt: Int,
        reason: String?
}

/// Reads a run journal (SQLite) read-only.
struct Journal {
    let path: String

    /// The one open journal in a state directory (closed ones are `….closed-<time>.journal.sqlite`).
    init(stateDir: URL) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: stateDir.path)
            .filter { $0.hasSuffix(".journal.sqlite") && !$0.contains(".closed-") }
        guard files.count == 1 else { throw LabError("expected one journal in \(stateDir.path), found \(files)") }
        path = stateDir.appendingPathComponent(files[0]).path
    }

    private func read<T>(_ f: (Database) throws -> T) throws -> T {
        var config = Configuration()
        config.readonly = true
        return try DatabaseQueue(path: path, configuration: config).read(f)
    }

    func events() throws -> [JournalEvent] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT kind, migration_id, at, from_state, to_state, message FROM events ORDER BY id"
            ).map {
                JournalEvent(
                    kind: $0["kind"], migrationID: $0["migration_id"], at: Self.date($0["at"]),
                    from: $0["from_state"], to: $0["to_state"], message: $0["message"])
            }
        }
    }

    func steps() throws -> [JournalStep] {
        try read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT kind, migration_id, guest, source, target, state, attempt, reason FROM steps ORDER BY kind, migration_id"
            ).map {
                JournalStep(
                    kind: $0["kind"], id: $0["migration_id"], guest: $0["guest"], source: $0["source"],
                    target: $0["target"], state: $0["state"], attempt: $0["attempt"], reason: $0["reason"])
            }
        }
    }

    static func date(_ s: String) -> Date {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s) ?? .distantPast
    }
}
