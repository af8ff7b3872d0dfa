import EvacCoordinator
import EvacCore
import EvacFake
import EvacRun
import Foundation
import Testing

/// The `evac` executable with `--coordinator`, as a second process beside this one, on the demo
/// fleet (libvirt's test driver: it has no migration, so its migrations fail; what is tested is
/// that the processes see each other through the database).
@Suite(.sharedPostgres, .timeLimit(.minutes(3)))
struct CLICoordinatorTests {
    static let evac = PostgresServer.root.appendingPathComponent(".build/debug/evac").path

    @Test func applyStatusAndRollbackThroughTheCoordinatorSeeAnotherProcessesLease() async throws {
        let server = try await PostgresServer.shared()
        let dir = NSTemporaryDirectory() + "evac-cli-coord-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/hosts", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let demo = PostgresServer.root.appendingPathComponent("plans/demo").path
        // A plan name of this test's own, so that tests sharing the database do not meet.
        let t = tag()
        let yaml = try String(contentsOfFile: demo + "/rack12-drain.yaml", encoding: .utf8)
            .replacingOccurrences(of: "name: rack12-demo", with: "name: rack12-\(t)")
        try yaml.write(toFile: dir + "/plan.yaml", atomically: true, encoding: .utf8)
        for h in ["kvm-12a", "kvm-12b", "kvm-13a", "kvm-13b", "kvm-13c"] {
            try FileManager.default.copyItem(atPath: demo + "/hosts/\(h).xml", toPath: dir + "/hosts/\(h).xml")
        }
        let env = ["PGPASSWORD": server.password, "EVAC_STATE_DIR": dir + "/state", "HOME": dir]
        let url = try String(contentsOfFile: server.dir + "/url", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)

        // This process drains kvm-12a for another plan (its run began and holds its lease).
        let other = try plan("other-\(t)", [FakePlan.Move("x-\(t)", from: "kvm-12a", to: "kvm-99-\(t)")])
        let j = try await server.coordinator().journal(for: other, holder: "evac apply (pid 1 on bastion-1)")
        try await begin(j, other)

        let refused = try await run(["apply", dir + "/plan.yaml", "--coordinator", url, "--output", "plain"], env)
        #expect(refused.status == 3, "\(refused.text)")
        #expect(refused.stderr.contains("host kvm-12a is being drained by plan other-\(t)"), "\(refused.text)")

        let fleet = try await run(["status", "--all"], env.merging(["EVAC_COORDINATOR": url]) { $1 })
        #expect(fleet.status == 0, "\(fleet.text)")
        #expect(fleet.stdout.contains("other-\(t)") && fleet.stdout.contains("bastion-1"), "\(fleet.text)")
        #expect(!fleet.text.contains(server.password), "the password is never printed")

        // The other run ends: its leases go. Two more runs hold kvm-13a (they drain it) and all
        // of kvm-13b's memory (a planned migration onto it): this plan places around both, and
        // runs (its migrations fail: the test driver has none).
        try await j.commit(JournalBatch(runID: 1, finishRun: ("2026-12-01T10:00:00.000Z", "allDone")))
        j.close()
        let drains = try plan("drains-\(t)", [FakePlan.Move("y-\(t)", from: "kvm-13a", to: "kvm-98-\(t)")])
        let fills = try plan(
            "fills-\(t)", [FakePlan.Move("z-\(t)", from: "kvm-97-\(t)", to: "kvm-13b", memoryKiB: 64 << 20)])
        let jd = try await server.coordinator().journal(for: drains, holder: "evac apply (pid 2 on bastion-2)")
        try await begin(jd, drains)
        let jf = try await server.coordinator().journal(for: fills, holder: "evac apply (pid 3 on bastion-3)")
        try await begin(jf, fills)
        // The report counts them too (a saved plan file does not: refused with the reason).
        let report = try await run(["plan", dir + "/plan.yaml", "--coordinator", url], env)
        #expect(report.stderr.contains("kvm-13a is being drained by plan drains-\(t)"), "\(report.text)")
        #expect(!report.stdout.contains("→  kvm-13a") && !report.stdout.contains("→  kvm-13b"), "\(report.text)")
        #expect(report.stdout.contains("→  kvm-13c"), "\(report.text)")
        let saved = try await run(["plan", dir + "/plan.yaml", "--coordinator", url, "--output", "json"], env)
        #expect(saved.status == 2 && saved.stderr.contains("not for --output json"), "\(saved.text)")
        let applied = try await run(["apply", dir + "/plan.yaml", "--coordinator", url, "--output", "plain"], env)
        for jj in [jd, jf] {
            try await jj.commit(JournalBatch(runID: 1, finishRun: ("2026-12-01T10:00:00.000Z", "allDone")))
            jj.close()
        }
        #expect(applied.status == 1, "\(applied.text)")
        #expect(applied.stderr.contains("kvm-13a is being drained by plan drains-\(t)"), "\(applied.text)")
        #expect(applied.stderr.contains("of kvm-13b is reserved by other runs' migrations"), "\(applied.text)")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/state")) ?? []
        #expect(!files.contains { $0.hasSuffix(".journal.sqlite") }, "the journal is in the database: \(files)")
        let status = try await run(["status", dir + "/plan.yaml", "--coordinator", url, "--output", "json"], env)
        #expect(status.status == 0, "\(status.text)")
        let decoded = try JSONDecoder().decode(JournalStatus.self, from: Data(status.stdout.utf8))
        #expect(decoded.planName == "rack12-\(t)")
        #expect(decoded.applyCounts.failed > 0 && decoded.applyCounts.done == 0, "\(decoded.applyCounts)")
        #expect(decoded.activeHolder == nil)
        let targets = Set(decoded.apply.map(\.target))
        #expect(!targets.isEmpty && targets.isDisjoint(with: ["kvm-13a", "kvm-13b"]), "\(targets)")
        let held = try await server.coordinator().fleet().reservations.filter { $0.planName == "rack12-\(t)" }
        #expect(held.isEmpty, "failed migrations released their reservations: \(held)")
        // The same command again continues the open run (one plan, one run), placing nothing anew.
        let again = try await run(["apply", dir + "/plan.yaml", "--coordinator", url, "--output", "plain"], env)
        #expect(again.status == 1, "\(again.text)")
        #expect(again.stderr.contains("has a run that is not over; apply continues it"), "\(again.text)")
        #expect(again.stdout.contains("run 2, journal"), "\(again.text)")
        // From "another machine": resume by plan name, with no plan file at hand.
        let resumed = try await run(
            ["resume", "rack12-\(t)", "--coordinator", url, "--output", "plain", "--retry", "none"], env)
        #expect(resumed.status == 1, "\(resumed.text)")
        #expect(resumed.stdout.contains("run 3, journal \(server.url.server) journal rack12-\(t)-"), "\(resumed.text)")
        let rolledBack = try await run(["rollback", "rack12-\(t)", "--coordinator", url, "--output", "plain"], env)
        #expect(rolledBack.status == 0, "\(rolledBack.text)")
        #expect(rolledBack.text.contains("nothing to roll back"), "\(rolledBack.text)")
        let bad = try await run(
            ["status", "--all", "--coordinator", "postgresql://evac:\(server.password)@127.0.0.1/evac"], env)
        #expect(bad.status == 2, "\(bad.text)")
        #expect(!bad.text.contains(server.password), "\(bad.text)")
    }

    /// A rolling cycle's drains take no leases: with a coordinator set, roll is refused (not run
    /// outside the fleet's rules), and its dry run still works.
    @Test func rollIsRefusedWithACoordinatorRatherThanRunUncoordinated() async throws {
        let env = ["HOME": "/nonexistent", "EVAC_COORDINATOR": "postgresql://evac@127.0.0.1:1/evac"]
        let refused = try await run(["roll", "/nonexistent/plan.yaml"], env)
        #expect(refused.status == 2, "\(refused.text)")
        #expect(refused.stderr.contains("evac roll does not run through a coordinator yet"), "\(refused.text)")
        let dry = try await run(["roll", "/nonexistent/plan.yaml", "--dry-run"], env)
        #expect(!dry.stderr.contains("coordinator"), "the dry run is not refused for it: \(dry.text)")
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var text: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
    }

    /// The evac executable with an argument vector (no shell) and only the given environment
    /// (plus PATH), off the cooperative pool.
    func run(_ args: [String], _ env: [String: String]) async throws -> Output {
        try await PostgresServer.offPool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.evac)
            p.arguments = args
            p.environment = env.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a }
            let out = Pipe()
            let err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return Output(
                status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                stderr: String(decoding: e, as: UTF8.self))
        }
    }
}
