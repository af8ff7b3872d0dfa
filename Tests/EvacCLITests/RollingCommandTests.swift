import EvacCore
import EvacFake
import EvacRun
import Foundation
import Testing

/// `evac roll` and the commands around a rolling plan, without hosts: what is refused, and what
/// `evac status` shows of a cycle's journal (batches and hooks).
@Suite struct RollingCommandTests {
    @Test func planAndApplyRefuseARollingPlanAndRollRefusesAPlainOne() throws {
        for command in ["plan", "apply"] {
            let r = try runEvac([command, "plans/lab/rolling.yaml"])
            #expect(r.status == 2, "\(command): \(r.stderr)")
            #expect(r.stderr.contains("is a rolling cycle") && r.stderr.contains("evac roll --dry-run"), "\(r.stderr)")
        }
        let r = try runEvac(["roll", "plans/maintenance-drain.yaml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("has no rolling: section"), "\(r.stderr)")
        #expect(try runEvac(["validate", "plans/lab/rolling.yaml"]).status == 0)
    }

    /// A cycle journal as `evac roll` leaves it after batch 1 and a failed maintenance command
    /// of batch 2: status says which batch is where and shows the hook with its output tail.
    @Test func statusShowsTheCycleAndItsHooks() async throws {
        let dir = NSTemporaryDirectory() + "evac-roll-status-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var fp = FakePlan(moves: [])
        fp.name = "rack-roll"
        let plan = try fp.planFile()
        let path = JournalLocation.journalPath(for: plan, stateDirectory: dir)
        let j = try SQLiteJournal(path: path, plan: plan)
        try await j.commit(
            JournalBatch(
                runID: 1,
                beginRun: RunRecord(
                    id: 1, kind: .apply, planHash: plan.planHash, planName: plan.planName,
                    started: Timestamp.now(), command: "evac roll"),
                hooks: [
                    HookRecord(
                        point: .maintenance, hook: "upgrade", scope: "host:kvm-1", pass: 1, runID: 1, state: .ok,
                        subject: "kvm-1", exitStatus: 0, started: Timestamp.now(), message: "ok in 3s"),
                    HookRecord(
                        point: .maintenance, hook: "upgrade", scope: "host:kvm-2", pass: 1, runID: 1, state: .failed,
                        subject: "kvm-2", exitStatus: 4, started: Timestamp.now(),
                        output: "fetching\napt: held packages\n", message: "exit status 4 after 2s"),
                ],
                cycle: [
                    CycleRecord(batch: 1, hosts: ["kvm-1"], stage: .done, updated: Timestamp.now()),
                    CycleRecord(batch: 2, hosts: ["kvm-2"], stage: .maintenance, updated: Timestamp.now()),
                    CycleRecord(batch: 3, hosts: ["kvm-3"], stage: .pending, updated: Timestamp.now()),
                ]))
        j.close()
        let s = try runEvac(["status", path])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stdout.contains("Rolling cycle: 1 of 3 batch(es) done, now: kvm-2 maintenance"), "\(s.stdout)")
        #expect(s.stdout.contains("Hooks: 1 ok, 1 failed"), "\(s.stdout)")
        #expect(s.stdout.contains("exit status 4 after 2s | apt: held packages"), "\(s.stdout)")
        let json = try runEvac(["status", path, "--output", "json"])
        #expect(json.stdout.contains("\"stage\" : \"maintenance\""), "\(json.stdout)")
    }
}
