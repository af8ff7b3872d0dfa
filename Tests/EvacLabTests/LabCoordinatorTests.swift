import Foundation
import XCTest

/// The coordinator on the lab (issue 12, item 6), on the class's lab and a PostgreSQL server of
/// the test's own (`scripts/pg-test-server`: loopback, its own data directory, stopped by PID).
extension LabEndToEndTests {
    /// A coordinated apply killed with kill -9 mid-migration is resumed from a second state
    /// directory (another bastion): refused while the dead runner's lease is live, taken over
    /// once it expired, and every guest lands once, on its target only.
    func testCoordinatedRunnerKilledIsResumedFromASecondStateDirectoryAfterItsLease() throws {
        let (dir, server) = try coordinatedStart("coord-kill")
        defer { server.down() }
        let plan = try Lab.writePlan(in: dir, name: "e2e-coord-kill", perTarget: 2, bandwidth: "1MiB/s")
        var env = server.env
        env["EVAC_LEASE_TTL"] = "6s"
        let first = dir.appendingPathComponent("bastion-1").path
        let second = dir.appendingPathComponent("bastion-2").path

        let apply = try Lab.start(
            Lab.evac, ["apply", plan, "--output", "plain"], env: env.merging(["EVAC_STATE_DIR": first]) { $1 })
        XCTAssertTrue(
            apply.waitUntil(timeout: 60) { $0.contains("running: attempt") },
            "apply started a migration: \(apply.output())")
        kill(apply.pid, SIGKILL)
        _ = apply.wait()

        // At once, from the other bastion: the dead runner's lease still holds the plan.
        let early = try Lab.run(
            Lab.evac, ["resume", "e2e-coord-kill", "--output", "plain"],
            env: env.merging(["EVAC_STATE_DIR": second]) { $1 })
        XCTAssertNotEqual(early.status, 0, "a resume within the dead runner's lease is refused: \(early)")
        XCTAssertTrue(early.stderr.contains("is being run by"), "the refusal names the holder: \(early)")

        Thread.sleep(forTimeInterval: 7)
        let resume = try Lab.run(
            Lab.evac, ["resume", "e2e-coord-kill", "--output", "plain"],
            env: env.merging(["EVAC_STATE_DIR": second]) { $1 })
        XCTAssertEqual(resume.status, 0, "resume from the second state directory: \(resume)")
        XCTAssertTrue(resume.stderr.contains("taking over"), "it says it took the lease over: \(resume)")
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: second + "/e2e-coord-kill"),
            "no journal file: the journal is the database's")

        _ = try assertCoordinatedLanded("e2e-coord-kill", env: env.merging(["EVAC_STATE_DIR": second]) { $1 })
    }

    /// PostgreSQL stopped under a coordinated apply: no migration starts while it is down, the
    /// ones in flight finish, evac says it waits, and once the server is back the run goes on
    /// and every guest lands (nothing lost).
    func testPostgresRestartedMidRunStartsNothingWhileDownAndLosesNothing() throws {
        let (dir, server) = try coordinatedStart("coord-restart")
        defer { server.down() }
        let plan = try Lab.writePlan(in: dir, name: "e2e-coord-restart", perTarget: 1, bandwidth: "8MiB/s")
        let env = server.env.merging(["EVAC_STATE_DIR": dir.appendingPathComponent("state").path]) { $1 }
        let apply = try Lab.start(Lab.evac, ["apply", plan, "--output", "plain"], env: env)
        XCTAssertTrue(
            apply.waitUntil(timeout: 60) { $0.contains("running: attempt") },
            "apply started a migration: \(apply.output())")
        try server.run("stop")
        let down = Date()
        Thread.sleep(forTimeInterval: 10)
        let back = Date()
        try server.run("start")
        let out = apply.wait()
        XCTAssertEqual(out.status, 0, "the run went on after the restart: \(out)")
        XCTAssertTrue(out.stderr.contains("is not answering"), "evac said it waits: \(out)")
        XCTAssertTrue(out.stderr.contains("answers again"), "and that it goes on: \(out)")

        let steps = try assertCoordinatedLanded("e2e-coord-restart", env: env)
        for s in steps {
            // `started` is written in the transaction that marks the step running: none while down.
            if let started = s.started.map(Journal.date) {
                XCTAssertFalse(
                    started > down && started < back, "\(s.guest) started at \(started) while the database was down")
            }
        }
        print("restart: steps started \(steps.compactMap(\.started).sorted()), database down \(down) to \(back)")
    }

    /// Two plans drain lab-1 and lab-2 into one tight pool (lab-3, lab-4, each with room for
    /// 170 MiB), the second started while the first's migrations wait in a before-migration hook
    /// (pre-checks passed, nothing on the targets yet): the instant the issue describes, when
    /// libvirt lists none of the first run's guests on the targets.
    /// Without a coordinator both place their 96 MiB guest on lab-3 and both pre-checks pass:
    /// 192 MiB land on room for 170.
    func testTwoPlansIntoATightPoolWithoutACoordinatorOvercommitATarget() throws {
        let landed = try twoPlansIntoATightPool(coordinated: false)
        let over = landed.filter { $0.value > Self.tightRoomMiB }
        XCTAssertFalse(over.isEmpty, "without a coordinator a target is overcommitted: \(landed) MiB")
    }

    /// The same two plans with the coordinator: the second run's placement counts the first's
    /// reservations, so it places around them; no target holds more than its room and every guest
    /// lands.
    func testTwoPlansIntoATightPoolWithACoordinatorNeverOvercommitAndAllLand() throws {
        let landed = try twoPlansIntoATightPool(coordinated: true)
        for (k, mib) in landed { XCTAssertLessThanOrEqual(mib, Self.tightRoomMiB, "lab-\(k) got \(mib) MiB") }
        XCTAssertEqual(landed.values.reduce(0, +), 320, "all four guests landed on the pool: \(landed)")
    }

    private static let tightRoomMiB = 170
    private static let tightGuests: [String: Int] = ["web-1": 64, "web-2": 96, "app-1": 64, "app-2": 96]

    /// Runs both plans; returns the MiB of the four guests on each target host afterwards.
    private func twoPlansIntoATightPool(coordinated: Bool) throws -> [Int: Int] {
        let tag = coordinated ? "tight-coord" : "tight-plain"
        try Lab.reset()
        let dir = try scratch(tag)
        let server =
            try coordinated ? LabPostgres(NSTemporaryDirectory() + "evac-pg-lab-\(UUID().uuidString.prefix(8))") : nil
        defer { server?.down() }
        // The hosts report the machine's memory, which grows under virtio-mem during a session:
        // the reserve leaves each target room for 170 MiB as it reports now.
        let memory = try [3, 4].map(Self.nodeMemoryKiB).min() ?? 0
        let reserve = "\(memory - UInt64(Self.tightRoomMiB) * 1024)KiB"
        let marker = dir.appendingPathComponent("first-run-checked").path
        func plan(_ name: String, source: Int, guests: [String], touch: Bool) throws -> String {
            var hooks = "hooks:\n  before-migration:\n"
            if touch { hooks += "    - { name: checked, run: [\"/usr/bin/touch\", \"\(marker)\"] }\n" }
            hooks += "    - { name: wait, run: [\"/bin/sleep\", \"8\"] }\n"
            return try Lab.writePlan(
                in: dir, name: name, sources: [source], targets: [3, 4], include: guests, memoryReserve: reserve,
                extra: hooks)
        }
        let planA = try plan("e2e-\(tag)-a", source: 1, guests: ["web-1", "web-2"], touch: true)
        let planB = try plan("e2e-\(tag)-b", source: 2, guests: ["app-1", "app-2"], touch: false)
        let env = (server?.env ?? [:]).merging(["EVAC_STATE_DIR": dir.appendingPathComponent("state").path]) { $1 }

        let first = try Lab.start(Lab.evac, ["apply", planA, "--output", "plain"], env: env)
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: marker) { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: marker), "the first run passed its pre-checks: \(first.output())")
        let second = try Lab.run(Lab.evac, ["apply", planB, "--output", "plain"], env: env)
        let one = first.wait()
        print("tight pool (\(tag)), reserve \(reserve):\n\(one.stderr)\n\(second.stderr)")
        XCTAssertEqual(one.status, 0, "first run: \(one)")
        XCTAssertEqual(second.status, 0, "second run: \(second)")

        var landed: [Int: Int] = [:]
        for (guest, mib) in Self.tightGuests {
            let at = Lab.whereIs(guest)
            XCTAssertEqual(at.count, 1, "\(guest) is defined on one host only: \(at)")
            XCTAssertTrue(at.allSatisfy { [3, 4].contains($0) }, "\(guest) landed in the pool: \(at)")
            for k in at { landed[k, default: 0] += mib }
        }
        print(
            "tight pool (\(tag)): MiB per target \(landed.sorted { $0.key < $1.key }), room \(Self.tightRoomMiB) each")
        return landed
    }

    /// `virsh nodeinfo`'s memory size of lab-K: what evac reads as the host's memory.
    private static func nodeMemoryKiB(_ k: Int) throws -> UInt64 {
        let o = try Lab.run(Lab.virsh, ["-c", Lab.uri(k), "nodeinfo"])
        let line = o.stdout.split(separator: "\n").first { $0.hasPrefix("Memory size:") }
        let kib = line?.split(separator: " ").dropFirst(2).first.flatMap { UInt64($0) }
        guard let kib else { throw LabError("no memory size in virsh nodeinfo of lab-\(k): \(o)") }
        return kib
    }

    /// The lab as `up` leaves it, a scratch directory and a PostgreSQL server in a directory of
    /// its own (not the scratch one: the server runs as nobody, who must reach it).
    private func coordinatedStart(_ tag: String) throws -> (URL, LabPostgres) {
        try Lab.reset()
        let dir = try scratch(tag)
        return (dir, try LabPostgres(NSTemporaryDirectory() + "evac-pg-lab-\(UUID().uuidString.prefix(8))"))
    }

    /// The run's steps from the coordinator (`evac status --output json`), each done, its guest
    /// defined on its target only.
    private func assertCoordinatedLanded(
        _ name: String, env: [String: String], line: UInt = #line
    ) throws -> [CoordinatedStatus.Step] {
        let status = try Lab.run(Lab.evac, ["status", name, "--output", "json"], env: env)
        XCTAssertEqual(status.status, 0, "\(status)", line: line)
        let steps = try JSONDecoder().decode(CoordinatedStatus.self, from: Data(status.stdout.utf8)).apply
        XCTAssertEqual(Set(steps.map(\.guest)), Set(Lab.home.keys), "every scenario guest has a step", line: line)
        for s in steps {
            XCTAssertEqual(s.state, "done", "\(s.guest): \(s.reason ?? "")", line: line)
            XCTAssertEqual(
                Lab.whereIs(s.guest), [Int(s.target.dropFirst(4)) ?? -1], "\(s.guest) only on \(s.target)", line: line)
        }
        return steps
    }
}

/// The part of `evac status --output json` this test reads.
private struct CoordinatedStatus: Decodable {
    struct Step: Decodable {
        var guest: String
        var target: String
        var state: String
        var reason: String?
        var started: String?
    }
    var apply: [Step]
}

/// A PostgreSQL server of the test's own, through scripts/pg-test-server (up prints its URL).
struct LabPostgres {
    let dir: String
    let env: [String: String]

    init(_ dir: String) throws {
        self.dir = dir
        let up = try Lab.run("/bin/bash", [Self.script, "up", dir])
        guard up.status == 0 else { throw LabError("scripts/pg-test-server up failed: \(up)") }
        let password = try String(contentsOfFile: dir + "/password", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        env = [
            "EVAC_COORDINATOR": up.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "PGPASSWORD": password,
        ]
    }

    static var script: String { Lab.root.appendingPathComponent("scripts/pg-test-server").path }

    func run(_ command: String) throws {
        let o = try Lab.run("/bin/bash", [Self.script, command, dir])
        guard o.status == 0 else { throw LabError("scripts/pg-test-server \(command) failed: \(o)") }
    }

    func down() { _ = try? Lab.run("/bin/bash", [Self.script, "down", dir]) }
}
