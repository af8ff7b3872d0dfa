import EvacCore
import EvacFake
import GRDB
import XCTest

@testable import EvacRun

final class JournalTests: XCTestCase {
    func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
    }

    func testJournalIsPrivateWALAndLockedAgainstASecondWriter() async throws {
        let dir = TempDir()
        let plan = try smallPlan().planFile()
        let old = umask(0o022)
        defer { umask(old) }
        let j = try journal(plan, dir)
        let result = await Executor(plan: plan, hypervisor: smallPlan().world(), journal: j).apply()
        XCTAssertEqual(result.status, .allDone)
        XCTAssertTrue(j.path.hasSuffix("/fake-plan-\(plan.planHash.prefix(12)).journal.sqlite"))
        XCTAssertEqual(mode(j.path), 0o600)
        XCTAssertEqual(mode(j.path + "-wal"), 0o600)
        XCTAssertEqual(mode(j.path + ".lock"), 0o600)

        // A second writer (separate descriptor, same process) is refused, naming the holder.
        XCTAssertThrowsError(try journal(plan, dir)) { e in
            guard case JournalError.locked(_, let holder) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(holder.hasPrefix("pid \(getpid()) on \(ProcessInfo.processInfo.hostName), since "), holder)
            // The whole command line (the lock file is read up to 4 KiB; a test runner's is longer).
            XCTAssertTrue(
                holder.contains(": " + CommandLine.arguments.joined(separator: " ").prefix(2000)),
                "the command line: \(holder.prefix(300))")
            XCTAssertTrue("\(e)".hasPrefix("journal \(j.path) is locked by "), "\(e)")
        }
        XCTAssertNotNil(JournalLock.currentHolder(journalPath: j.path))
        let mode = try await DatabaseQueue(path: j.path).read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(mode, "wal")
        let journalMode = try await j.pragma("journal_mode")
        let synchronous = try await j.pragma("synchronous")
        XCTAssertEqual(journalMode, "wal")
        XCTAssertEqual(synchronous, "2", "synchronous=FULL on the writing connection")
        j.close()
        XCTAssertNil(JournalLock.currentHolder(journalPath: j.path))
        // Released: a new writer gets in, and status reads it.
        let again = try journal(plan, dir)
        again.close()
        let status = try JournalStatus.read(path: j.path)
        XCTAssertEqual(status.applyCounts.done, 6)
        XCTAssertEqual(status.planHash, plan.planHash)
    }

    func testAFreshApplyRefusesAJournalWithARunAndAnotherPlanIsRefused() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        let j = try journal(plan, dir)
        _ = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        let second = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(second.status, .cannotStart)
        XCTAssertTrue(second.message?.contains("use resume") ?? false)
        j.close()
        var other = fp
        other.total = 3
        let otherPlan = try other.planFile()
        XCTAssertThrowsError(try SQLiteJournal(path: j.path, plan: otherPlan)) { e in
            guard case JournalError.otherPlan = e else { return XCTFail("\(e)") }
        }
        XCTAssertNoThrow(try SQLiteJournal(path: j.path, plan: otherPlan, force: true).close())
    }

    func testJSONLinesObserverWritesOneObjectPerEvent() throws {
        let change = StepChange(
            kind: .apply, id: 1, guest: "db-1", source: "a", target: "b", from: .pending, to: .running,
            attempt: 1, message: "attempt 1")
        let line = try XCTUnwrap(JSONLinesObserver.line(.step(change)))
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(obj["event"] as? String, "step")
        XCTAssertEqual((obj["data"] as? [String: Any])?["to"] as? String, "running")
        XCTAssertFalse(line.contains("\n"))
    }
}

final class CrashTests: XCTestCase {
    /// Kill the process at every journal write of a run, resume, and check the world.
    func testCrashAtEveryJournalWriteThenResumeMovesEachGuestExactlyOnce() async throws {
        var k = 1
        var crashes = 0
        while k < 200 {
            let dir = TempDir()
            let fp = smallPlan()
            let plan = try fp.planFile()
            let world = fp.world(migrationDelay: .milliseconds(1))
            let crash = CrashSwitch(at: k, world: world)
            let j = try journal(plan, dir, hook: crash.hook)
            let first = await Executor(plan: plan, hypervisor: world, journal: j).apply()
            j.close()
            guard crash.tripped else {
                XCTAssertEqual(first.status, .allDone)
                break
            }
            crashes += 1
            if first.status != .journalFailed && first.status != .cannotStart { XCTFail("k=\(k): \(first.status)") }
            world.restart()
            let j2 = try journal(plan, dir)
            let rec = Recorder()
            let resumed = await Executor(plan: plan, hypervisor: world, journal: j2, observer: rec).resume()
            j2.close()
            XCTAssertEqual(
                resumed.status, .allDone,
                "k=\(k): \(resumed.steps.map { "\($0.guest) \($0.state) \($0.reason ?? "")" })")
            assertPlaced(fp, world)
            for m in fp.moves {
                XCTAssertEqual(
                    world.migrationCounts[m.uuid], 1,
                    "k=\(k): \(m.guest) migrated \(world.migrationCounts[m.uuid] ?? 0) times")
            }
            XCTAssertTrue(rec.notices.isEmpty, "k=\(k): \(rec.notices)")
            k += 1
        }
        XCTAssertGreaterThan(crashes, 8, "a 6-guest run has at least 2 writes per migration")
        print("crash points tried: \(crashes)")
    }

    func testCrashDuringRollbackThenRollbackAgainReturnsEveryGuest() async throws {
        var k = 1
        while k < 200 {
            let dir = TempDir()
            let fp = smallPlan()
            let plan = try fp.planFile()
            let world = fp.world(migrationDelay: .milliseconds(1))
            let j = try journal(plan, dir)
            let applied = await Executor(plan: plan, hypervisor: world, journal: j).apply()
            XCTAssertEqual(applied.status, .allDone)
            j.close()
            let crash = CrashSwitch(at: k, world: world)
            let jr = try journal(plan, dir, hook: crash.hook)
            _ = await Executor(plan: plan, hypervisor: world, journal: jr).rollback()
            jr.close()
            guard crash.tripped else { break }
            world.restart()
            let j2 = try journal(plan, dir)
            let back = await Executor(plan: plan, hypervisor: world, journal: j2).rollback()
            j2.close()
            XCTAssertEqual(
                back.status, .allDone, "k=\(k): \(back.steps.map { "\($0.guest) \($0.state) \($0.reason ?? "")" })")
            assertPlaced(fp, world, back: true)
            XCTAssertTrue(world.migrationCounts.values.allSatisfy { $0 == 2 }, "k=\(k): \(world.migrationCounts)")
            k += 1
        }
        XCTAssertGreaterThan(k, 8)
    }
}
