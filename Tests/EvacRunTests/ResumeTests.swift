import EvacCore
import EvacFake
import XCTest

@testable import EvacRun

final class ResumeTests: XCTestCase {
    func testResumeRetriesOnlyNamedFailedStepsAndWhatWaitedForThem() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        world.setFault(guest: "app-2", .fail("boom"))
        world.setFault(guest: "web-1", .fail("boom"))
        let j = try journal(plan, dir)
        defer { j.close() }
        let first = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(first.counts.failed, 2)
        world.setFault(guest: "app-2", nil)
        world.setFault(guest: "web-1", nil)
        let second = await Executor(plan: plan, hypervisor: world, journal: j).resume(retry: .guests(["app-2"]))
        XCTAssertEqual(second.status, .partial)
        for g in ["app-1", "app-2", "app-3", "db-1", "db-2"] { XCTAssertEqual(step(second, g)?.state, .done, g) }
        XCTAssertEqual(step(second, "web-1")?.state, .failed)
        XCTAssertNil(world.migrationCounts[FakePlan.uuid("web-1")])
        let third = await Executor(plan: plan, hypervisor: world, journal: j).resume()
        XCTAssertEqual(third.status, .allDone)
        XCTAssertTrue(world.migrationCounts.values.allSatisfy { $0 == 1 })
        XCTAssertEqual(try JournalStatus.read(path: j.path).runs.count, 3)
    }

    /// Steps left `running` by a crash, each in a different real situation.
    func testReconcileDecidesFromWhereTheGuestIs() async throws {
        let dir = TempDir()
        let fp = FakePlan(moves: [
            .init("landed", from: "s1", to: "t1"), .init("stayed", from: "s1", to: "t1"),
            .init("both", from: "s1", to: "t1"), .init("lost", from: "s1", to: "t1"),
        ])
        let plan = try fp.planFile()
        let world = fp.world()
        let j = try await journalCrashedWhileRunning(plan, dir)
        defer { j.close() }
        let g = { (n: String, s: Guest.State) in
            Guest(uuid: FakePlan.uuid(n), name: n, state: s, memoryKiB: 1 << 20, vcpus: 1)
        }
        world.remove(uuid: FakePlan.uuid("landed"), from: "s1")
        world.place(g("landed", .running), on: "t1")
        world.place(g("both", .paused), on: "t1")
        world.remove(uuid: FakePlan.uuid("lost"), from: "s1")
        let rec = Recorder()
        var noWait = ExecutorOptions()
        noWait.inTransitWait = .zero // "both" stays on both hosts: decide at once
        let r = await Executor(plan: plan, hypervisor: world, journal: j, observer: rec, options: noWait).resume(
            retry: .none)
        XCTAssertEqual(step(r, "landed")?.state, .done)
        XCTAssertEqual(step(r, "landed")?.reason, "completed after the crash (found on t1)")
        XCTAssertEqual(step(r, "stayed")?.state, .done, "went back to pending, then was migrated")
        XCTAssertEqual(world.migrationCounts[FakePlan.uuid("stayed")], 1)
        XCTAssertEqual(step(r, "both")?.state, .failed)
        XCTAssertTrue(step(r, "both")?.reason?.contains("needs attention") ?? false)
        XCTAssertEqual(step(r, "lost")?.state, .failed)
        XCTAssertTrue(step(r, "lost")?.reason?.hasPrefix("guest lost?") ?? false)
        XCTAssertEqual(rec.notices.count, 2)
        XCTAssertNil(world.migrationCounts[FakePlan.uuid("both")])
        XCTAssertNil(world.migrationCounts[FakePlan.uuid("landed")])
        // A retry of everything must still not touch the guest that is on both hosts.
        let again = await Executor(plan: plan, hypervisor: world, journal: j, options: noWait).resume()
        XCTAssertNotEqual(step(again, "both")?.state, .done)
        XCTAssertTrue(
            step(again, "both")?.reason?.contains("needs attention") ?? false, step(again, "both")?.reason ?? "")
        XCTAssertNil(world.migrationCounts[FakePlan.uuid("both")])
    }

    /// A migration that outlived a killed evac: active on the source, paused on the target.
    /// Resume waits for it to land and counts it done, without migrating it again.
    func testReconcileWaitsForAMigrationStillInProgress() async throws {
        try await assertResumeWaitsForTransit(source: nil, target: .paused)
    }

    /// Killed after the switch-over: paused on the source (awaiting libvirt's confirm phase,
    /// which stops and undefines it), running on the target. Resume waits, then counts it done.
    func testReconcileWaitsForAMigrationInItsConfirmPhase() async throws {
        try await assertResumeWaitsForTransit(source: .paused, target: .running)
    }

    private func assertResumeWaitsForTransit(source: Guest.State?, target: Guest.State) async throws {
        let dir = TempDir()
        let fp = FakePlan(moves: [.init("transit", from: "s1", to: "t1")])
        let plan = try fp.planFile()
        let world = fp.world()
        let j = try await journalCrashedWhileRunning(plan, dir)
        defer { j.close() }
        let uuid = FakePlan.uuid("transit")
        if let source {
            world.remove(uuid: uuid, from: "s1")
            world.place(Guest(uuid: uuid, name: "transit", state: source, memoryKiB: 1 << 20, vcpus: 1), on: "s1")
        }
        world.place(Guest(uuid: uuid, name: "transit", state: target, memoryKiB: 1 << 20, vcpus: 1), on: "t1")
        // The daemon-side migration finishes a little later.
        let landing = Task {
            try await Task.sleep(for: .milliseconds(1500))
            world.remove(uuid: uuid, from: "s1")
            world.remove(uuid: uuid, from: "t1")
            world.place(Guest(uuid: uuid, name: "transit", state: .running, memoryKiB: 1 << 20, vcpus: 1), on: "t1")
        }
        let r = await Executor(plan: plan, hypervisor: world, journal: j).resume(retry: .none)
        _ = try await landing.value
        XCTAssertEqual(r.status, .allDone, r.message ?? "")
        XCTAssertEqual(step(r, "transit")?.state, .done)
        XCTAssertEqual(step(r, "transit")?.reason, "completed after the crash (found on t1)")
        XCTAssertNil(world.migrationCounts[uuid], "never migrated again")
    }

    func testRollbackReturnsEveryGuestAndMarksStepsRolledBack() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        world.setFault(guest: "web-1", .fail("boom"))
        let j = try journal(plan, dir)
        defer { j.close() }
        _ = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        let rec = Recorder()
        let back = await Executor(plan: plan, hypervisor: world, journal: j, observer: rec).rollback()
        XCTAssertEqual(back.status, .allDone)
        XCTAssertEqual(back.steps.count, 5, "web-1 never moved: nothing to roll back")
        assertPlaced(fp, world, back: true)
        // Reverse order: db-* (which went last) come back first.
        let order = rec.changes.filter { $0.to == .running }.map(\.guest)
        XCTAssertEqual(Array(order.prefix(2)).sorted(), ["db-1", "db-2"])
        let status = try JournalStatus.read(path: j.path)
        XCTAssertEqual(status.applyCounts.rolledBack, 5)
        XCTAssertEqual(status.rollbackCounts.done, 5)
        XCTAssertEqual(status.runs.map(\.kind), [.apply, .rollback])
    }

    /// bridge-map renames bridges on the way out; the rollback renames them back (the inverse
    /// map), or the guest would come home asking for a bridge its home host does not have.
    func testRollbackUsesTheInverseBridgeMap() async throws {
        let dir = TempDir()
        var fp = FakePlan(moves: [.init("web", from: "s1", to: "t1")])
        fp.bridgeMap = ["br0": "br1", "a": "x", "b": "x"]
        let plan = try fp.planFile()
        let world = fp.world()
        let j = try journal(plan, dir)
        defer { j.close() }
        _ = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        let back = await Executor(plan: plan, hypervisor: world, journal: j).rollback()
        XCTAssertEqual(back.status, .allDone, "\(back.steps)")
        XCTAssertEqual(
            world.requests.map(\.bridgeMap), [["br0": "br1", "a": "x", "b": "x"], ["br1": "br0"]],
            "x came from two bridges: no single way back, left as it is")
    }

    func testRollbackReportsGuestsItCannotReturn() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        let j = try journal(plan, dir)
        defer { j.close() }
        _ = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        world.setFault(guest: "app-3", .fail("unable to connect to server"))
        let back = await Executor(plan: plan, hypervisor: world, journal: j).rollback()
        XCTAssertEqual(back.status, .partial)
        XCTAssertEqual(step(back, "app-3")?.state, .failed)
        XCTAssertEqual(step(back, "app-3")?.reason, "migration failed: unable to connect to server")
    }
}

final class StopTests: XCTestCase {
    func waitUntil(_ cond: @escaping () -> Bool) async {
        for _ in 0..<2000 where !cond() { try? await Task.sleep(for: .milliseconds(5)) }
    }

    func testForcedStopAbortsInFlightBackToPendingAndResumeFinishes() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        for m in fp.moves { world.setFault(guest: m.guest, .hang) }
        let j = try journal(plan, dir)
        defer { j.close() }
        let rec = Recorder()
        let ex = Executor(plan: plan, hypervisor: world, journal: j, observer: rec)
        let run = Task { await ex.apply() }
        await waitUntil { rec.changes.filter { $0.to == .running }.count >= 2 }
        ex.requestStop(graceful: true)
        ex.requestStop(graceful: false)
        let result = await run.value
        XCTAssertEqual(result.status, .interrupted)
        XCTAssertEqual(result.counts.pending, 6)
        XCTAssertEqual(result.steps.filter { $0.reason?.hasPrefix("aborted by operator") ?? false }.count, 2)
        assertPlaced(fp, world, back: true)
        for m in fp.moves { world.setFault(guest: m.guest, nil) }
        let resumed = await Executor(plan: plan, hypervisor: world, journal: j).resume(retry: .none)
        XCTAssertEqual(resumed.status, .allDone)
        assertPlaced(fp, world)
    }

    func testGracefulStopLetsInFlightFinish() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world(migrationDelay: .milliseconds(100))
        let j = try journal(plan, dir)
        defer { j.close() }
        let rec = Recorder()
        let ex = Executor(plan: plan, hypervisor: world, journal: j, observer: rec)
        let run = Task { await ex.apply() }
        await waitUntil { rec.changes.contains { $0.to == .running } }
        ex.requestStop(graceful: true)
        let result = await run.value
        XCTAssertEqual(result.status, .interrupted)
        XCTAssertGreaterThanOrEqual(result.counts.done, 1)
        XCTAssertEqual(result.counts.failed, 0)
        XCTAssertEqual(result.counts.done + result.counts.pending, 6)
        XCTAssertTrue(
            result.steps.filter { $0.state == .pending }.allSatisfy {
                $0.reason == "not started: interrupted by operator"
            })
    }
}
