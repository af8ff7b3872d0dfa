import Foundation
import GRDB
import XCTest

/// What the fault-matrix tests need beyond `Lab`: a RAM-dirtying guest of their own (on lab-5,
/// which no other test drains), plans that pin each guest to its target, the end-state check,
/// the journal's libvirt errors, and a host whose migration ports are all taken.
enum Faults {
    /// Migrates slowly under a bandwidth cap (it keeps its RAM dirty), so a fault can be
    /// injected while it is in flight. Lives on lab-5, which holds only the shut-off big-1.
    static let dirty = "fault-dirty"
    static let dirtyHome = 5

    /// The dirty guest running on lab-5 and only there, created when it is not (about 3 s;
    /// 13 s where KVM cannot run it and the lab falls back to TCG).
    static func ensureDirtyGuest() throws {
        if Lab.whereIs(dirty) == [dirtyHome], Lab.state(dirty, on: dirtyHome) == "running" { return }
        Lab.removeEverywhere(dirty)
        // 96 MiB: larger than the lab's other guests, so that largest-first places it first.
        let o = try Lab.lab(["guest-dirty", String(dirtyHome), dirty, "96"])
        guard o.status == 0 else { throw LabError("scripts/lab guest-dirty \(dirtyHome) \(dirty) failed: \(o)") }
    }

    struct Move {
        var guest: String
        var from: Int
        var to: Int
    }

    /// Short host deadlines for the suite. `EVAC_FAULT_DEFAULT_DEADLINES=1` leaves them out, to
    /// measure how long evac takes to name a frozen host with the defaults (the tests print it).
    static var connection: String? {
        ProcessInfo.processInfo.environment["EVAC_FAULT_DEFAULT_DEADLINES"] == "1"
            ? nil : "{ connect-timeout: 2s, call-timeout: 3s }"
    }

    /// "… 12.3s after the freeze" for every step event of a JSON Lines output (`--output json`)
    /// that names `host`, with the time the event was written.
    static func timeline(_ jsonLines: String, naming host: String, since start: Date) -> [String] {
        jsonLines.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("\"event\":\"step\""), line.contains(host),
                let obj = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                let data = obj["data"] as? [String: Any], let at = obj["at"] as? String,
                let to = data["to"] as? String, ["blocked", "failed", "pending"].contains(to)
            else { return nil }
            let secs = Journal.date(at).timeIntervalSince(start)
            return String(format: "%@ → %@ %.1fs after the freeze", data["guest"] as? String ?? "?", to, secs)
        }
    }

    /// A plan moving exactly `moves` (each guest pinned to its target), live, under the given
    /// cap, with a short retry back-off and short host deadlines (the defaults are measured
    /// separately: README, "Deadlines").
    static func plan(
        in dir: URL, name: String, _ moves: [Move], perTarget: Int = 1, total: Int = 4,
        bandwidth: String? = "1MiB/s", timeout: String = "2m",
        retry: String = "{ attempts: 2, backoff: 1s }",
        connection: String? = Faults.connection
    ) throws -> String {
        let sources = Set(moves.map(\.from)).sorted()
        let targets = Set(moves.map(\.to)).sorted()
        var y = "version: 1\nname: \(name)\nhosts:\n"
        // qemu+unix, not ssh as the other end-to-end plans: the faults act on a daemon behind its
        // socket (freeze-host SIGSTOPs libvirtd while its socket still accepts, kill-host and
        // stop-host take it away), and the matrix asserts evac's deadlines and messages for that
        // socket; over ssh, sshd and virt-ssh-helper answer in between.
        for k in 1...Lab.hosts { y += "  lab-\(k): { uri: \"\(Lab.uri(k))\" }\n" }
        y += "sources: [\(sources.map { "lab-\($0)" }.joined(separator: ", "))]\n"
        y += "targets: [ { pool: p, hosts: [\(targets.map { "lab-\($0)" }.joined(separator: ", "))] } ]\n"
        y += "select: { include: [\(moves.map { "\"\($0.guest)\"" }.joined(separator: ", "))] }\n"
        y +=
            "constraints: { cpu: compatible, bridges: match, pin: { \(moves.map { "\($0.guest): lab-\($0.to)" }.joined(separator: ", ")) } }\n"
        // The fault tests count on which guest starts first (the largest: see dirtyGuest).
        y += "placement: { order: largest-first }\n"
        y += "parallelism: { total: \(total), per-source: \(total), per-target: \(perTarget) }\n"
        y += "migration:\n  mode: live\n  timeout: \(timeout)\n  retry: \(retry)\n"
        if let bandwidth { y += "  bandwidth: \(bandwidth)\n" }
        if let connection { y += "connection: \(connection)\n" }
        y += "on-failure: continue\n"
        let path = dir.appendingPathComponent("\(name).yaml").path
        try y.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The end state the fault matrix promises, read from libvirt: each guest defined on exactly
    /// one host, one of those allowed, in the given state. libvirt may need a moment after a
    /// daemon comes back (it cleans up an incoming migration it lost): polled for up to `settle`.
    static func assertEachOnce(
        _ expected: [String: (hosts: Set<Int>, state: String)], settle: TimeInterval = 30,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let deadline = Date().addingTimeInterval(settle)
        var seen: [String: [(Int, String)]] = [:]
        while true {
            seen = [:]
            for g in expected.keys { seen[g] = Lab.whereIs(g).map { ($0, Lab.state(g, on: $0) ?? "-") } }
            let ok = expected.allSatisfy { g, want in
                guard let at = seen[g], at.count == 1 else { return false }
                return want.hosts.contains(at[0].0) && at[0].1 == want.state
            }
            if ok { return }
            if Date() >= deadline { break }
            Thread.sleep(forTimeInterval: 0.25)
        }
        for (g, want) in expected.sorted(by: { $0.key < $1.key }) {
            let at = seen[g] ?? []
            XCTAssertEqual(at.count, 1, "\(g) defined on exactly one host, found \(at)", file: file, line: line)
            if let (k, state) = at.first, at.count == 1 {
                XCTAssertTrue(
                    want.hosts.contains(k), "\(g) on lab-\(k), expected one of \(want.hosts.sorted())", file: file,
                    line: line)
                XCTAssertEqual(state, want.state, "\(g) on lab-\(k)", file: file, line: line)
            }
        }
    }

    /// The events of a journal with the hypervisor's error (events.libvirt_error), as JSON.
    static func errors(stateDir: URL) throws -> [(message: String, error: [String: Any])] {
        let journal = try Journal(stateDir: stateDir)
        var config = Configuration()
        config.readonly = true
        let rows = try DatabaseQueue(path: journal.path, configuration: config).read { db in
            try Row.fetchAll(
                db, sql: "SELECT message, libvirt_error FROM events WHERE libvirt_error IS NOT NULL ORDER BY id"
            )
            .map { ($0["message"] as String, $0["libvirt_error"] as String) }
        }
        return rows.map { m, e in (m, (try? JSONSerialization.jsonObject(with: Data(e.utf8))) as? [String: Any] ?? [:])
        }
    }
}

/// Holds every port of the incoming-migration range (libvirt's default 49152–49215) inside a
/// lab host's network namespace, the way other programs on a busy host can: the target daemon
/// then fails a migration with "Unable to find an unused port", a transient failure. Listens
/// from sockets made on a thread that entered the namespace (setns affects only that thread);
/// `release()` closes them. Only the lab's own namespaces are entered.
final class PortBlocker {
    private var fds: [Int32] = []

    init(host k: Int, ports: ClosedRange<UInt16> = 49152...49215) throws {
        let ns = "/run/netns/evac-lab-\(k)"
        let result = Locked<(fds: [Int32], failure: String?)>(([], nil))
        let done = DispatchSemaphore(value: 0)
        // The thread enters the namespace and ends there; the sockets stay in it.
        let cloneNewNet: Int32 = 0x4000_0000 // CLONE_NEWNET, which Glibc does not export to Swift
        let thread = Thread {
            defer { done.signal() }
            let nsfd = open(ns, O_RDONLY | O_CLOEXEC)
            guard nsfd >= 0, evacSetns(nsfd, cloneNewNet) == 0 else {
                result.withLock { $0.failure = "cannot enter \(ns): errno \(errno)" }
                return
            }
            close(nsfd)
            // A port may still be held for a moment by the incoming QEMU of a migration that
            // just ended: those are tried again, for 10 s at most.
            var left = Array(ports)
            let deadline = Date().addingTimeInterval(10)
            while !left.isEmpty {
                var busy: [UInt16] = []
                for port in left {
                    // CLOEXEC: an evac started after this must not inherit (and so keep) the ports.
                    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                    // SO_REUSEADDR as libvirt's port allocator sets it: a port whose last
                    // migration's connections sit in TIME_WAIT (60 s) is free to libvirt, and
                    // without it bind() refused such a port for a minute and failed the test.
                    var one: Int32 = 1
                    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
                    var addr = sockaddr_in()
                    addr.sin_family = sa_family_t(AF_INET)
                    addr.sin_port = port.bigEndian
                    addr.sin_addr = in_addr(s_addr: 0) // INADDR_ANY: what libvirt's allocator tries
                    let bound = withUnsafePointer(to: &addr) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                        }
                    }
                    if bound == 0, listen(fd, 1) == 0 {
                        result.withLock { $0.fds.append(fd) }
                        continue
                    }
                    let err = errno
                    close(fd)
                    guard err == EADDRINUSE, Date() < deadline else {
                        result.withLock { $0.failure = "port \(port) in \(ns): errno \(err)" }
                        return
                    }
                    busy.append(port)
                }
                left = busy
                if !left.isEmpty { Thread.sleep(forTimeInterval: 0.1) }
            }
        }
        thread.start()
        done.wait()
        let (made, failure) = result.withLock { $0 }
        fds = made
        if let failure {
            release()
            throw LabError(failure)
        }
    }

    func release() {
        for fd in fds { close(fd) }
        fds = []
    }

    deinit { release() }
}

/// setns(2), which the Glibc module does not export.
@_silgen_name("setns") private func evacSetns(_ fd: Int32, _ nstype: Int32) -> Int32
