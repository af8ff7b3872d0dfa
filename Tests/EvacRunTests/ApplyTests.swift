import EvacCore
import EvacFake
import XCTest

@testable import EvacRun

final class ApplyTests: XCTestCase {
    func testAppliesEveryMigrationWithinLimits() async throws {
        let dir = TempDir()
        var fp = FakePlan(
            moves: (1...24).map { i in
                FakePlan.Move("g\(i)", from: "s\(i % 3)", to: "t\(i % 4)", groups: i % 5 == 0 ? ["five"] : [])
            })
        fp.total = 5
        fp.perSource = 2
        fp.perTarget = 2
        fp.groupLimits = ["five": 1]
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

final class OrderAndFailureTests: XCTestCase {
    func testPlanOrderWinsAmongReadyAndAfterRulesHold() async throws {
        let dir = TempDir()
        var fp = smallPlan()
        fp.total = 1
        let plan = try fp.planFile()
        let world = fp.world()
        let j = try journal(plan, dir)
        defer { j.close() }
        let rec = Recorder()
        let result = await Executor(plan: plan, hypervisor: world, journal: j, observer: rec).apply()
        XCTAssertEqual(result.status, .allDone)
        let started = rec.changes.filter { $0.to == .running }.map(\.guest)
        XCTAssertEqual(started, ["app-1", "app-2", "app-3", "db-1", "db-2", "web-1"])
    }

    func testDependentsOfAFailedMigrationAreBlocked() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        world.setFault(guest: "app-2", .fail("internal error: qemu unexpectedly closed the monitor"))
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(result.status, .partial)
        XCTAssertEqual(step(result, "app-2")?.state, .failed)
        XCTAssertEqual(
            step(result, "app-2")?.reason, "migration failed: internal error: qemu unexpectedly closed the monitor")
        for g in ["db-1", "db-2"] {
            XCTAssertEqual(step(result, g)?.state, .blocked)
            XCTAssertEqual(step(result, g)?.reason, "waits for app-2, which failed")
        }
        XCTAssertEqual(step(result, "web-1")?.state, .done)
        XCTAssertEqual(world.whereIs(uuid: FakePlan.uuid("app-2")), ["src-b": .running])
        let events = try JournalStatus.events(path: j.path, kind: .apply, id: 2)
        XCTAssertEqual(events.map(\.to), ["running", "failed"])
        // The hypervisor's error, whole and typed, in events.libvirt_error.
        let record = try JSONDecoder().decode(
            HypervisorError.self, from: Data((events.last?.hypervisorError ?? "").utf8))
        XCTAssertEqual(
            record,
            HypervisorError(
                .migrationFailed, host: "src-b", uri: "qemu+ssh://root@src-b/system",
                "internal error: qemu unexpectedly closed the monitor"))
    }

    func testOnFailureStopStartsNothingNew() async throws {
        let dir = TempDir()
        var fp = smallPlan()
        fp.total = 1
        fp.onFailure = .stop
        let plan = try fp.planFile()
        let world = fp.world()
        world.setFault(guest: "app-1", .fail("boom"))
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(result.status, .partial)
        XCTAssertEqual(result.counts.failed, 1)
        XCTAssertEqual(world.migrationCounts.count, 0)
        XCTAssertEqual(step(result, "app-2")?.state, .pending)
        XCTAssertEqual(step(result, "app-2")?.reason, "not started: on-failure stop after app-1 failed")
    }
}

final class CheckTests: XCTestCase {
    func testFailedPreChecksBlockWithReasons() async throws {
        let dir = TempDir()
        var fp = FakePlan(moves: [
            .init("gone", from: "s1", to: "t1"),
            .init("big", from: "s1", to: "t2", memoryKiB: 64 << 20),
            .init("nic", from: "s2", to: "t1", nics: [GuestNIC(kind: .bridge, source: "br9")]),
            .init("mapped", from: "s2", to: "t1", nics: [GuestNIC(kind: .bridge, source: "br-old")]),
            .init("cpu", from: "s2", to: "t3"),
            .init("stopped", from: "s1", to: "t1", mode: .offline),
            .init("fine", from: "s1", to: "t1"),
        ])
        fp.reserveKiB = 4 << 20
        fp.bridgeMap = ["br-old": "br1"]
        let plan = try fp.planFile()
        let world = fp.world(hostMemoryKiB: 32 << 20)
        world.remove(uuid: FakePlan.uuid("gone"), from: "s1")
        world.setCPUVerdict(target: "t3", .incompatible)
        // "stopped" is planned offline but was started since the plan was made.
        world.place(
            Guest(uuid: FakePlan.uuid("stopped"), name: "stopped", state: .running, memoryKiB: 1 << 20, vcpus: 1),
            on: "s1")
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(result.status, .partial)
        func reason(_ g: String) -> String { step(result, g)?.reason ?? "" }
        XCTAssertEqual(step(result, "gone")?.state, .blocked)
        XCTAssertTrue(reason("gone").contains("is no longer on s1"), reason("gone"))
        XCTAssertTrue(
            reason("big").contains(
                "target t2 has no room: guest needs 64.0 GiB, 28.0 GiB free after the 4.0 GiB reserve"), reason("big"))
        XCTAssertEqual(reason("nic"), "target t1: bridge br9 missing (filter bridge)")
        XCTAssertEqual(step(result, "mapped")?.state, .done)
        XCTAssertTrue(reason("cpu").contains("CPU of t3 is incompatible"), reason("cpu"))
        XCTAssertTrue(reason("stopped").contains("is running on s1; the plan moves it offline"), reason("stopped"))
        XCTAssertEqual(step(result, "fine")?.state, .done)
        XCTAssertEqual(world.migrationCounts.count, 2)
    }

    /// Placement's storage filter runs again before the migration, on the live target: a
    /// target that lost the shared pool since the plan was made blocks the guest on it.
    func testPreCheckRunsThePlacementFiltersOnTheLiveTarget() async throws {
        let dir = TempDir()
        let fp = FakePlan(moves: [.init("nfs", from: "s1", to: "t1"), .init("nfs2", from: "s1", to: "t2")])
        let plan = try fp.planFile()
        let world = fp.world()
        let nfs = StoragePoolInfo(name: "nfs", type: "netfs", targetPath: "/srv/nfs", shared: true)
        for (name, host) in [("nfs", "s1"), ("nfs2", "s1")] {
            world.place(
                Guest(
                    uuid: FakePlan.uuid(name), name: name, state: .running, memoryKiB: 1 << 20, vcpus: 1,
                    disks: [GuestDisk(kind: .file, target: "vda", source: "/srv/nfs/\(name).qcow2", shared: true)]),
                on: host)
        }
        world.setStoragePools([nfs], on: "s1")
        world.setStoragePools([nfs], on: "t2")
        world.setStoragePools(
            [StoragePoolInfo(name: "nfs", type: "dir", targetPath: "/srv/nfs", shared: false)], on: "t1")
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(step(result, "nfs")?.state, .blocked)
        XCTAssertEqual(
            step(result, "nfs")?.reason,
            "target t1: no shared pool at /srv/nfs (the guest's disks are on shared pool nfs there on its source) (filter storage)"
        )
        XCTAssertEqual(step(result, "nfs2")?.state, .done)
    }

    func testInFlightMigrationsCountAgainstTargetRoom() async throws {
        let dir = TempDir()
        // Two 10 GiB guests to one 16 GiB target, both in flight at once: the second must not fit.
        var fp = FakePlan(moves: [
            .init("a", from: "s1", to: "t1", memoryKiB: 10 << 20),
            .init("b", from: "s2", to: "t1", memoryKiB: 10 << 20),
        ])
        fp.total = 2
        fp.perSource = 1
        fp.perTarget = 2
        let plan = try fp.planFile()
        let world = fp.world(hostMemoryKiB: 16 << 20, migrationDelay: .milliseconds(20))
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        // Whichever passed its check first runs; the other sees it and is blocked.
        XCTAssertEqual(result.steps.map(\.state).sorted { $0.rawValue < $1.rawValue }, [.blocked, .done])
        let blocked = result.steps.first { $0.state == .blocked }
        XCTAssertTrue(
            blocked?.reason?.hasSuffix("and 1 other migration committed to it") ?? false, blocked?.reason ?? "")
        XCTAssertEqual(world.migrationCounts.count, 1)
    }

    func testTimeoutAndProgressTimeoutAbortAndLeaveGuestOnSource() async throws {
        let dir = TempDir()
        var fp = FakePlan(moves: [
            .init("hangs", from: "s1", to: "t1"), .init("stalls", from: "s2", to: "t2"),
            .init("ok", from: "s1", to: "t2"),
        ])
        fp.migration.timeout = .fixed(milliseconds: 150)
        fp.migration.progressTimeoutMs = 60
        let plan = try fp.planFile()
        let world = fp.world()
        world.setFault(guest: "hangs", .hang)
        world.setFault(guest: "stalls", .stall)
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(step(result, "hangs")?.state, .failed)
        // A hang reports no samples at all: the progress timeout catches it first.
        XCTAssertEqual(step(result, "hangs")?.reason, "no progress for 60ms")
        XCTAssertEqual(step(result, "stalls")?.reason, "no progress for 60ms")
        XCTAssertEqual(step(result, "ok")?.state, .done)
        XCTAssertEqual(world.whereIs(uuid: FakePlan.uuid("hangs")), ["s1": .running])
        XCTAssertEqual(world.whereIs(uuid: FakePlan.uuid("stalls")), ["s2": .running])
    }

    func testFixedTimeout() async throws {
        let dir = TempDir()
        var fp = FakePlan(moves: [.init("hangs", from: "s1", to: "t1")])
        fp.migration.timeout = .perGiB(milliseconds: 40)
        let plan = try fp.planFile()
        let world = fp.world()
        world.setFault(guest: "hangs", .hang)
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(step(result, "hangs")?.reason, "timed out after 40ms")
        XCTAssertEqual(world.whereIs(uuid: FakePlan.uuid("hangs")), ["s1": .running])
    }

    func testPostCopyOnTimeoutAndAfterFirstPass() async throws {
        for policy in [MigrationOptions.PostCopy.onTimeout, .afterFirstPass] {
            let dir = TempDir()
            var fp = FakePlan(moves: [.init("big", from: "s1", to: "t1")])
            fp.migration.postCopy = policy
            fp.migration.timeout = .fixed(milliseconds: 50)
            let plan = try fp.planFile()
            let world = fp.world()
            world.setFault(guest: "big", .needsPostCopy)
            let j = try journal(plan, dir)
            defer { j.close() }
            let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
            XCTAssertEqual(result.status, .allDone, "\(policy): \(result.steps)")
            XCTAssertEqual(world.postCopyRequests, [FakePlan.uuid("big")])
        }
    }

    /// after-first-pass switches once the first pass is over (libvirt's memory_iteration 2),
    /// never during it (iteration 1), and with no timeout to force it.
    func testPostCopyAfterFirstPassWaitsForTheSecondIteration() async throws {
        let dir = TempDir()
        var fp = FakePlan(moves: [.init("big", from: "s1", to: "t1")])
        fp.migration.postCopy = .afterFirstPass
        let plan = try fp.planFile()
        let world = fp.world()
        world.setFault(guest: "big", .needsPostCopy)
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(result.status, .allDone, "\(result.steps)")
        XCTAssertEqual(world.postCopyIterations, [FakePlan.uuid("big"): 2], "switched during the first pass")
    }

    func testUnreachableTargetBlocksItsMigrationsOthersSucceed() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        world.setReachable("dst-b", false)
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(result.status, .partial)
        for g in ["app-2", "app-3", "web-1"] {
            XCTAssertEqual(step(result, g)?.state, .blocked)
            XCTAssertEqual(
                step(result, g)?.reason,
                "target dst-b (qemu+ssh://root@dst-b/system) unreachable: cannot connect: Connection refused")
        }
        XCTAssertEqual(step(result, "app-1")?.state, .done)
        XCTAssertEqual(step(result, "db-1")?.reason, "waits for app-2, which is blocked")
    }

    func testUnreachableSourceCannotStart() async throws {
        let dir = TempDir()
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        world.setReachable("src-a", false)
        let j = try journal(plan, dir)
        defer { j.close() }
        let result = await Executor(plan: plan, hypervisor: world, journal: j).apply()
        XCTAssertEqual(result.status, .cannotStart)
        XCTAssertTrue(
            result.message?.contains("src-a (qemu+ssh://root@src-a/system) unreachable") ?? false, result.message ?? "")
        XCTAssertEqual(world.migrationCounts.count, 0)
    }
}
