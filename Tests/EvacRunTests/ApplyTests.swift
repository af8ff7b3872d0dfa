import XCTest
import EvacCore
@testable import EvacRun
import EvacFake

final class ApplyTests: XCTestCase {
    func testAppliesEveryMigrationWithinLimits() async throws {
        let dir = TempDir()
        var fp = FakePlan(moves: (1...24).map { i in
            FakePlan.Move("g\(i)", from: "s\(i % 3)", to: "t\(i % 4)", groups: i % 5 == 0 ? ["five"] : [])
        })
        fp.total = 5; fp.perSource = 2; fp.perTarget = 2; fp.groupLimits = ["five": 1]
        let plan = try fp.planFile()
        let world = fp.world(migrationDelay: .milliseconds(2))
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(result.status, .allDone, result.message ?? "")
        assertPlaced(fp, world)
        let peaks = world.peaks
        XCTAssertLessThanOrEqual(peaks.total, 5)
        XCTAssertGreaterThan(peaks.total, 1, "migrations should overlap")
        for (_, n) in peaks.perSource { XCTAssertLessThanOrEqual(n, 2) }
        for (_, n) in peaks.perTarget { XCTAssertLessThanOrEqual(n, 2) }
        XCTAssertEqual(peaks.perGroup["five"], 1)
        XCTAssertTrue(world.migrationCounts.values.allSatisfy { $0 == 1 })
        let status = try JournalStatus.read(path: j.path)
        XCTAssertEqual(status.applyCounts.done, 24)
        XCTAssertEqual(status.runs.last?.exitStatus, "all-done")
    }
}
