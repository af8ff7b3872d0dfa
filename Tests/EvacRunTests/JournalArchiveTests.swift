import EvacCore
import EvacFake
import Foundation
import XCTest

@testable import EvacRun

final class JournalArchiveTests: XCTestCase {
    /// apply → complete rollback → the journal is closed, archived 0600 with its history, and the
    /// same plan applies again from scratch on a fresh journal.
    func testCompleteRollbackClosesTheJournalAndThePlanRunsAgain() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        let path = JournalLocation.journalPath(for: plan, stateDirectory: dir.path)
        do {
            let j = try journal(plan, dir)
            defer { j.close() }
            let first = await Executor(plan: plan, hypervisor: world, journal: j).apply()
            XCTAssertEqual(first.status, .allDone)
            XCTAssertNil(JournalArchive.closedReason(try JournalStatus.read(path: path)), "guests are on their targets")
            let back = await Executor(plan: plan, hypervisor: world, journal: j).rollback()
            XCTAssertEqual(back.status, .allDone)
        }
        assertPlaced(fp, world, back: true)
        let before = try JournalStatus.read(path: path)
        XCTAssertEqual(JournalArchive.closedReason(before), "its rollback returned all 6 guest(s) it moved")

        let kept = try JournalArchive.archive(path: path, now: Date(timeIntervalSince1970: 1_800_000_000))
        XCTAssertTrue(kept.hasSuffix(".closed-20270115T080000Z.journal.sqlite"), kept)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"))
        let mode = (try FileManager.default.attributesOfItem(atPath: kept)[.posixPermissions] as? Int) ?? 0
        XCTAssertEqual(mode, 0o600)
        let archived = try JournalStatus.read(path: kept)
        XCTAssertEqual(archived.runs.map(\.kind), [.apply, .rollback])
        XCTAssertEqual(archived.rollbackCounts.done, 6)
        XCTAssertEqual(archived.applyCounts.rolledBack, 6)

        let j2 = try journal(plan, dir)
        let again = await Executor(plan: plan, hypervisor: world, journal: j2).apply()
        j2.close()
        XCTAssertEqual(again.status, .allDone)
        assertPlaced(fp, world)
        XCTAssertTrue(
            world.migrationCounts.values.allSatisfy { $0 == 3 }, "\(world.migrationCounts): apply, rollback, apply")
        let fresh = try JournalStatus.read(path: path)
        XCTAssertEqual(fresh.runs.map(\.kind), [.apply])
        XCTAssertNil(JournalArchive.closedReason(fresh))
    }

    /// A rollback that could not return every guest keeps the journal open for `rollback` again.
    func testIncompleteRollbackKeepsTheJournal() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        let j = try journal(plan, dir)
        defer { j.close() }
        _ = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        world.setFault(guest: "web-1", .fail("boom"))
        let back = await Executor(plan: plan, hypervisor: world, journal: j).rollback()
        XCTAssertEqual(back.status, .partial)
        XCTAssertNil(JournalArchive.closedReason(try JournalStatus.read(path: j.path)))
        // Nor is an apply that never got rolled back, or a crash that left a step running.
        var s = try JournalStatus.read(path: j.path)
        s.rollback = []
        XCTAssertNil(JournalArchive.closedReason(s))
    }

    func testArchiveNamesDoNotCollide() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        var names: [String] = []
        for _ in 0..<2 {
            let j = try journal(plan, dir)
            j.close()
            names.append(try JournalArchive.archive(path: j.path, now: at))
        }
        XCTAssertEqual(Set(names).count, 2, "\(names)")
        XCTAssertTrue(names[1].hasSuffix(".closed-20270115T080000Z-2.journal.sqlite"), names[1])
    }
}
