import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// The executor runs every migration with its own options: its group's (`migrationGroup` on
/// the node), or the plan's; a rollback moves the guest back with the same. What reaches the
/// hypervisor is the fault-injection fake's recorded request (the LibvirtHypervisor turns the
/// same request into libvirt's typed parameters).
@Suite struct MigrationGroupRunTests {
    static let mib: UInt64 = 1 << 20

    func plan() throws -> (FakePlan, PlanFile) {
        var fp = FakePlan(moves: [
            FakePlan.Move("db-1", from: "s1", to: "t1"), FakePlan.Move("web-1", from: "s1", to: "t1"),
        ])
        fp.moves[0].migrationGroup = "databases"
        fp.migration.bandwidthBytesPerSec = 200 * Self.mib
        fp.migration.maxDowntimeMs = 300
        var db = fp.migration
        db.bandwidthBytesPerSec = 20 * Self.mib
        db.maxDowntimeMs = 2000
        db.ladder = ConvergenceLadder(maxDowntimeCapMs: 4000, fallback: .skip)
        fp.migrationGroups = [MigrationGroup(name: "databases", guests: ["db-*"], options: db)]
        let plan = try fp.planFile()
        #expect(plan.problems.isEmpty, "\(plan.problems)")
        return (fp, plan)
    }

    @Test func eachMigrationRunsWithItsGroupsOptions() async throws {
        let (fp, plan) = try plan()
        let dir = TempDir()
        let world = fp.world()
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        #expect(result.steps.allSatisfy { $0.state == .done }, "\(result.steps)")
        let byGuest = Dictionary(world.requests.map { ($0.guestName, $0.options) }, uniquingKeysWith: { a, _ in a })
        let db = try #require(byGuest["db-1"])
        let web = try #require(byGuest["web-1"])
        #expect(db.bandwidthBytesPerSec == 20 * Self.mib && db.maxDowntimeMs == 2000)
        #expect(db.ladder?.fallback == .skip)
        #expect(web.bandwidthBytesPerSec == 200 * Self.mib && web.maxDowntimeMs == 300 && web.ladder == nil)

        // Back again: the rollback of each guest uses its options too.
        let back = await Executor(plan: plan, hypervisor: world, journal: j).rollback()
        #expect(back.steps.filter { $0.kind == .rollback }.allSatisfy { $0.state == .done }, "\(back.steps)")
        let rolledBack = world.requests.suffix(2)
        #expect(
            rolledBack.first { $0.guestName == "db-1" }?.options.bandwidthBytesPerSec == 20 * Self.mib,
            "\(rolledBack)")
        #expect(rolledBack.first { $0.guestName == "web-1" }?.options.bandwidthBytesPerSec == 200 * Self.mib)
    }
}
