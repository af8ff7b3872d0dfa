import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// The maintenance window: a migration predicted to end after it closes is not started, is
/// journaled with why, and what waits for it stays pending; `late: start` starts it anyway.
@Suite struct WindowTests {
    func plan(late: MaintenanceWindow.Late) throws -> (FakePlan, PlanFile) {
        let fp = FakePlan(moves: [
            .init("short-1", from: "s1", to: "t1"),
            .init("long-1", from: "s1", to: "t2"),
            .init("after-long", from: "s2", to: "t1", after: ["long-1"]),
            .init("short-2", from: "s2", to: "t2"),
        ])
        var plan = try fp.planFile()
        let minutes: [String: Double] = ["short-1": 1, "long-1": 20, "after-long": 1, "short-2": 2]
        for i in plan.graph.nodes.indices {
            plan.graph.nodes[i].predictedDurationMs = (minutes[plan.graph.nodes[i].guest] ?? 0) * 60_000
        }
        plan.window = MaintenanceWindow(durationMs: 10 * 60_000, late: late)
        plan.planHash = plan.computedHash
        #expect(plan.problems.isEmpty)
        return (fp, plan)
    }

    @Test func aMigrationPredictedToEndAfterTheWindowIsLeftWithItsReason() async throws {
        let dir = TempDir()
        let (fp, plan) = try plan(late: .skip)
        let world = fp.world()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        #expect(result.status == .partial)
        #expect(
            result.message?.contains("1 predicted to end after the maintenance window closes") == true,
            "\(result.message ?? "")")
        let byGuest = Dictionary(uniqueKeysWithValues: result.steps.map { ($0.guest, $0) })
        #expect(byGuest["short-1"]?.state == .done)
        #expect(byGuest["short-2"]?.state == .done)
        #expect(byGuest["long-1"]?.state == .pending)
        #expect(byGuest["long-1"]?.reason?.contains("after the maintenance window closes") == true)
        #expect(byGuest["after-long"]?.state == .pending)
        #expect(byGuest["after-long"]?.reason?.contains("waits for a migration the maintenance window left") == true)
        #expect(world.migrationCounts["long-1"] == nil && world.migrationCounts[FakePlan.uuid("long-1")] == nil)
        // What the journal keeps: the reason, for status and for the next resume.
        let status = try JournalStatus.read(path: j.path)
        #expect(status.apply.first { $0.guest == "long-1" }?.reason?.contains("maintenance window") == true)
    }

    @Test func lateStartStartsItAnyway() async throws {
        let dir = TempDir()
        let (fp, plan) = try plan(late: .start)
        let world = fp.world()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        #expect(result.status == .allDone, "\(result.message ?? "")")
    }

    @Test func aWindowEndTimeParsesWithAZoneOnly() {
        #expect(MaintenanceWindow.parseEnd("2026-12-01T18:00:00Z") == 1_796_148_000_000)
        #expect(MaintenanceWindow.parseEnd("2026-12-01T19:00:00+01:00") == 1_796_148_000_000)
        #expect(MaintenanceWindow.parseEnd("2026-12-01 18:00") == nil)
        #expect(MaintenanceWindow.parseEnd("2026-12-01T18:00:00") == nil)
        #expect(MaintenanceWindow(durationMs: 1000).problems.isEmpty == false)
        #expect(MaintenanceWindow(durationMs: 60_000, endsAtMs: 1).problems.isEmpty == false)
    }
}
