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

    /// The report's verdict is the executor's: the plan report walks the predicted schedule
    /// with the executor's start rule (`Timeline.windowed`), and a run whose migrations take
    /// their predicted durations (the fake plays them on a clock the executor's window reads, one
    /// migration at a time, so no wall clock is involved) starts exactly the migrations it names
    /// inside the window. The up-front schedule would name only the first: the long one holds the
    /// only slot there, while the executor frees it by not starting it.
    @Test func theReportsInsideSetIsWhatTheExecutorStarts() async throws {
        let ms: [String: Double] = ["a": 500, "long": 60_000, "c": 500, "d": 2000, "late": 2500, "f": 200]
        var fp = FakePlan(moves: ["a", "long", "c", "d", "late", "f"].map { FakePlan.Move($0, from: "s1", to: "t1") })
        fp.total = 1
        fp.perSource = 1
        fp.perTarget = 1
        var plan = try fp.planFile()
        for i in plan.graph.nodes.indices { plan.graph.nodes[i].predictedDurationMs = ms[plan.graph.nodes[i].guest] }
        let closesMs = 5000.0
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        plan.window = MaintenanceWindow(endsAtMs: 1_800_000_000_000 + Int64(closesMs))
        plan.planHash = plan.computedHash
        #expect(plan.problems.isEmpty, "\(plan.problems)")
        let durations = plan.graph.nodes.map { $0.predictedDurationMs ?? 0 }
        let window = try #require(plan.window)
        #expect(window.closesMs(runStart: start) == closesMs)
        let predicted = Timeline.windowed(plan.graph, durationsMs: durations, window: window, closesMs: closesMs)
        let names = Dictionary(uniqueKeysWithValues: plan.graph.nodes.map { ($0.id, $0.guest) })
        let inside = Set(predicted.started.compactMap { names[$0.id] })
        #expect(inside == ["a", "c", "d", "f"], "\(predicted)")
        #expect(Set(predicted.refused.compactMap { names[$0.id] }) == ["long", "late"])
        let upFront = Timeline.schedule(plan.graph, durationsMs: durations).entries.filter { $0.endMs <= closesMs }
        #expect(upFront.count == 1, "the old verdict differed: \(upFront)")

        let world = fp.world()
        for (g, d) in ms { world.setPlayedDuration(guest: g, ms: d) }
        var options = ExecutorOptions()
        options.clock = { start.addingTimeInterval(world.playedMs / 1000) }
        let dir = TempDir()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j, options: options).apply()
        let started = Set(result.steps.filter { $0.attempt > 0 }.map(\.guest))
        #expect(started == inside, "\(result.steps.map { "\($0.guest)=\($0.state) \($0.reason ?? "")" })")
        #expect(
            result.steps.filter { $0.state == .pending }.allSatisfy {
                $0.reason?.contains("maintenance window") == true
            })
    }
}
