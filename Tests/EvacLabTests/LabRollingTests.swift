import Foundation
import GRDB
import XCTest

/// A full rolling maintenance cycle on the lab (`evac roll`): lab-1…lab-4 one at a time, each
/// drained into the others, its "reboot" a restart of its libvirtd (`scripts/lab
/// restart-host K`, the maintenance hook), evac waiting until it answers again, its guests
/// returned. The process is killed (SIGKILL) in the middle of a batch and `evac roll` run
/// again: the cycle ends with every guest home, every daemon restarted exactly by its hook,
/// and the journal saying every batch is done.
extension LabEndToEndTests {
    static func rollingPlan(in dir: URL) throws -> String {
        let lab = Lab.root.appendingPathComponent("scripts/lab").path
        var y = "version: 1\nname: lab-roll\nhosts:\n"
        for k in 1...Lab.hosts { y += "  lab-\(k): { uri: \"\(Lab.planURI(k))\" }\n" }
        y += "sources: [lab-1, lab-2, lab-3, lab-4]\n"
        y += "targets:\n  - pool: lab\n    hosts: [lab-1, lab-2, lab-3, lab-4]\n"
        y += "constraints: { cpu: compatible, bridges: match }\n"
        y += "parallelism: { total: 4, per-source: 2, per-target: 2 }\n"
        y += "migration: { mode: live, timeout: 2m }\n"
        y += "rolling:\n  at-a-time: 1\n  wait-for-host: 2m\n  return-guests: true\n  maintenance:\n"
        for k in 1...4 {
            y +=
                "    - { name: reboot-lab-\(k), hosts: [lab-\(k)], run: [\(lab), restart-host, \"\(k)\", --dir, \(Lab.dir)], timeout: 2m, on-failure: stop }\n"
        }
        let path = dir.appendingPathComponent("lab-roll.yaml").path
        try y.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The cycle's journal (the one whose name has no batch suffix).
    static func cycleJournal(_ state: URL) throws -> String {
        let files = try FileManager.default.contentsOfDirectory(atPath: state.path)
            .filter { $0.hasPrefix("lab-roll") && !$0.contains("--") && $0.hasSuffix(".journal.sqlite") }
        guard files.count == 1 else { throw LabError("expected one cycle journal in \(state.path), found \(files)") }
        return state.appendingPathComponent(files[0]).path
    }

    func testRollingCycleRestartsEveryHostAndReturnsItsGuestsAfterKill9() throws {
        try Lab.reset()
        let dir = try scratch("roll")
        let state = dir.appendingPathComponent("state")
        let plan = try Self.rollingPlan(in: dir)
        let before = (1...4).map { Lab.daemonPID($0) }

        let check = try evac(["roll", "--dry-run", plan], state: state)
        XCTAssertEqual(check.status, 0, "dry run: \(check)")
        XCTAssertTrue(
            check.stdout.contains("lab-1: 3 guest(s)") && check.stdout.contains("lab-2: 4 guest(s)"), check.stdout)

        // Killed as the fifth migration starts: batch 1's guests are coming back (its return).
        let first = try Lab.start(Lab.evac, ["roll", plan, "--output", "plain"], env: ["EVAC_STATE_DIR": state.path])
        let reached = first.waitUntil(timeout: 180) { out in
            out.split(separator: "\n").filter { $0.contains("running: attempt") }.count >= 5
        }
        XCTAssertTrue(reached, "the cycle reached its fifth migration: \(first.output())")
        kill(first.pid, SIGKILL)
        _ = first.wait()
        let cycle = try Self.cycleJournal(state)
        print("kill -9 at: \(try Self.stages(cycle))")

        let again = try evac(["roll", plan, "--output", "plain"], state: state)
        XCTAssertEqual(again.status, 0, "roll after kill -9: \(again)")
        XCTAssertTrue(again.stderr.contains("continuing the rolling cycle"), again.stderr)

        for (g, home) in Lab.home {
            XCTAssertEqual(Lab.whereIs(g), [home], "\(g) is back on lab-\(home) only")
            XCTAssertEqual(Lab.state(g, on: home), "running", g)
        }
        let after = (1...4).map { Lab.daemonPID($0) }
        for k in 0..<4 {
            XCTAssertNotEqual(before[k], after[k], "lab-\(k + 1)'s libvirtd was restarted by its maintenance hook")
        }
        XCTAssertEqual(try Self.stages(cycle), ["done", "done", "done", "done"])
        let hooks = try Self.read(cycle) { db in
            try Row.fetchAll(db, sql: "SELECT hook, state FROM hooks WHERE point = 'maintenance' ORDER BY hook").map {
                "\($0["hook"] as String)=\($0["state"] as String)"
            }
        }
        XCTAssertEqual(hooks, (1...4).map { "reboot-lab-\($0)=ok" })
        let status = try evac(["status", cycle], state: state)
        XCTAssertTrue(status.stdout.contains("Rolling cycle: 4 of 4 batch(es) done"), status.stdout)
    }

    static func read<T>(_ path: String, _ f: (Database) throws -> T) throws -> T {
        var config = Configuration()
        config.readonly = true
        return try DatabaseQueue(path: path, configuration: config).read(f)
    }

    static func stages(_ path: String) throws -> [String] {
        try read(path) { db in try String.fetchAll(db, sql: "SELECT stage FROM cycle ORDER BY batch") }
    }
}
