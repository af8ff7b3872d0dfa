import EvacCoordinator
import EvacCore
import EvacFake
import EvacRun
import Foundation
import Testing

/// The executor with a coordinator, end to end: real executors (one per simulated process, each
/// with its own coordinator connections and holder) on one shared set of hosts (the fake
/// hypervisor, as two evac processes see the same libvirt daemons), their journals, leases and
/// reservations in a real PostgreSQL server.
@Suite(.sharedPostgres, .timeLimit(.minutes(3)))
struct ExecutorCoordinationTests {
    /// Two plans drain different hosts into one target with room for 3 of their 4 guests; the
    /// migrations take long enough that both runs' pre-checks happen before anything lands.
    @Test(arguments: [false, true])
    func twoRunsIntoOneTightTarget(coordinated: Bool) async throws {
        let t = tag()
        let gib: UInt64 = 1_048_576
        let a = move("a1", "srcA", "tight", t) + move("a2", "srcA", "tight", t)
        let b = move("b1", "srcB", "tight", t) + move("b2", "srcB", "tight", t)
        let world = FakePlan(moves: a + b).world(
            hostMemoryKiB: 3 * gib, migrationDelay: .milliseconds(1500))
        let planA = try plan("tightA-\(t)", a)
        let planB = try plan("tightB-\(t)", b)
        let server = try await PostgresServer.shared()

        func executor(_ p: PlanFile) async throws -> (Executor, PostgresJournal?) {
            guard coordinated else { return (Executor(plan: p, hypervisor: world, journal: MemoryJournal()), nil) }
            let j = try await server.coordinator().journal(for: p, holder: "runner of \(p.planName)")
            return (
                Executor(plan: p, hypervisor: world, journal: j, coordinator: PostgresCoordinator(journal: j)), j
            )
        }
        let (ea, ja) = try await executor(planA)
        let (eb, jb) = try await executor(planB)
        async let ra = ea.apply()
        async let rb = eb.apply()
        let results = await [ra, rb]
        ja?.close()
        jb?.close()

        let landed = (a + b).filter { world.whereIs(uuid: $0.uuid)["tight-\(t)"] != nil }
        let used = landed.reduce(UInt64(0)) { $0 + $1.memoryKiB }
        if !coordinated {
            // What the issue reports: each run saw room for its own two, and the target took four.
            #expect(used > 3 * gib, "without a coordinator the target is overcommitted: \(used) KiB on \(3 * gib)")
            return
        }
        #expect(used <= 3 * gib, "\(used) KiB landed on a target of \(3 * gib)")
        #expect(landed.count == 3, "\(results.map(\.status))")
        let blocked = results.flatMap(\.steps).filter { $0.state == .blocked }
        #expect(blocked.count == 1, "\(blocked.map { "\($0.guest): \($0.reason ?? "")" })")
        #expect(blocked.first?.reason?.contains("no room") == true, "\(blocked)")
        // Which run's guest is refused, and whether the other run's guests were still reservations
        // or had already landed (real usage) when it was checked, depends on timing: on a loaded
        // CI machine the first run's 1.5 s migrations ended before the second run's pre-checks.
        // So the reason is not pinned to "reserved by other runs": what is, is that the target
        // is never overcommitted, three land, and the one left was refused for room.
        // Nothing stays reserved once both runs ended.
        let left = try await server.coordinator().fleet().reservations.filter { $0.target == "tight-\(t)" }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func aHostOneRunDrainsIsNeitherATargetNorDrainedByAnother() async throws {
        let t = tag()
        let a = move("a1", "h1", "h2", t)
        let b = move("b1", "h3", "h1", t)
        let c = move("c1", "h1", "h4", t)
        let world = FakePlan(moves: a + b + c).world(migrationDelay: .seconds(6))
        let server = try await PostgresServer.shared()
        let pa = try plan("drainA-\(t)", a)
        let ja = try await server.coordinator().journal(for: pa, holder: "runner A")
        let seen = Recorder()
        let ea = Executor(
            plan: pa, hypervisor: world, journal: ja, observer: seen, coordinator: PostgresCoordinator(journal: ja))
        let running = Task { await ea.apply() }
        // A's migration is in flight: its run began, and it holds h1 for as long as it runs.
        for _ in 0..<1000 where seen.started.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        try #require(!seen.started.isEmpty)

        let pb = try plan("drainB-\(t)", b)
        let jb = try await server.coordinator().journal(for: pb, holder: "runner B")
        let rb = await Executor(plan: pb, hypervisor: world, journal: jb, coordinator: PostgresCoordinator(journal: jb))
            .apply()
        jb.close()
        #expect(rb.steps.first?.state == .blocked)
        #expect(rb.steps.first?.reason?.contains("is being drained by plan drainA-\(t)") == true, "\(rb.steps)")

        let pc = try plan("drainC-\(t)", c)
        let jc = try await server.coordinator().journal(for: pc, holder: "runner C")
        let rc = await Executor(plan: pc, hypervisor: world, journal: jc, coordinator: PostgresCoordinator(journal: jc))
            .apply()
        jc.close()
        #expect(rc.status == .cannotStart)
        #expect(
            rc.message?.contains("host h1-\(t) is being drained by plan drainA-\(t)") == true, "\(rc.message ?? "")")
        #expect(world.whereIs(uuid: c[0].uuid)["h1-\(t)"] != nil, "C moved nothing")

        let ra = await running.value
        ja.close()
        #expect(ra.status == .allDone)
    }

    @Test func aRunWhoseRunnerDiedIsResumedFromAnotherProcessAfterItsLeaseExpired() async throws {
        let t = tag()
        let moves = move("g1", "src", "dst", t) + move("g2", "src", "dst", t)
        let world = FakePlan(moves: moves).world()
        let server = try await PostgresServer.shared()
        let p = try plan("died-\(t)", moves)
        var timing = CoordinatorTiming.testing
        timing.leaseTTL = .seconds(3)
        // The first runner begins and starts g1, then dies: no more writes, no heartbeat.
        let first = try await server.coordinator(timing: timing).journal(for: p, holder: "runner on bastion-1")
        try await begin(first, p)
        let g1 = try await first.steps(kind: .apply)[0]
        try await first.commit(
            JournalBatch(
                runID: 1, transitions: [transition(g1, to: .running)],
                claim: CapacityClaim(target: g1.target, uuid: g1.uuid, memoryKiB: 1, vcpus: 1, seen: nil)))
        first.close()
        // Another machine, before the lease expired: refused, naming the holder.
        let notices = Notices()
        let second = try await server.coordinator(timing: timing, notices: notices)
            .journal(for: p, holder: "runner on bastion-2")
        let early = await Executor(
            plan: p, hypervisor: world, journal: second, coordinator: PostgresCoordinator(journal: second)
        ).resume()
        #expect(early.status == .cannotStart)
        #expect(early.message?.contains("runner on bastion-1") == true, "\(early.message ?? "")")
        try await Task.sleep(for: .seconds(4))
        let late = await Executor(
            plan: p, hypervisor: world, journal: second, coordinator: PostgresCoordinator(journal: second)
        ).resume()
        second.close()
        #expect(late.status == .allDone, "\(late.message ?? "")")
        #expect(notices.all.contains { $0.contains("taking over") && $0.contains("bastion-1") })
        for m in moves { #expect(world.whereIs(uuid: m.uuid) == ["dst-\(t)": .running]) }
        #expect(world.migrationCounts.values.allSatisfy { $0 == 1 }, "no guest moved twice")
    }
}

/// PostgreSQL restarted in the middle of a run (issue item 5), on a server of the test's own.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ExecutorOutageTests {
    @Test func aRestartMidRunStartsNothingWhileDownLetsInFlightFinishAndLosesNothing() async throws {
        let server = try await PostgresServer(tag: "midrun")
        defer { server.down() }
        let t = tag()
        let moves = (1...4).flatMap { move("g\($0)", "src", "dst", t) }
        let world = FakePlan(moves: moves).world(migrationDelay: .milliseconds(1500))
        var fake = FakePlan(moves: moves)
        fake.name = "midrun-\(t)"
        fake.total = 1
        fake.perSource = 1
        fake.perTarget = 1
        let p = try fake.planFile()
        let notices = Notices()
        let j = try await server.coordinator(notices: notices).journal(for: p)
        let seen = Recorder()
        let executor = Executor(
            plan: p, hypervisor: world, journal: j, observer: seen, coordinator: PostgresCoordinator(journal: j))
        let run = Task { await executor.apply() }
        // The first migration is in flight: stop the database under it.
        for _ in 0..<500 where seen.started.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        try await server.stop()
        let startedWhenDown = seen.started.count
        try await Task.sleep(for: .seconds(4))
        // The one in flight finished on the hosts; nothing new started while the database was down.
        #expect(world.migrationCounts.values.reduce(0, +) == startedWhenDown)
        #expect(seen.started.count == startedWhenDown)
        try await server.start()
        let result = await run.value
        j.close()
        #expect(result.status == .allDone, "\(result.message ?? "")")
        for m in moves { #expect(world.whereIs(uuid: m.uuid) == ["dst-\(t)": .running]) }
        #expect(world.migrationCounts.values.allSatisfy { $0 == 1 }, "no guest moved twice")
        let stored = try await server.coordinator().journal(for: p).steps(kind: .apply)
        #expect(stored.map(\.state) == [.done, .done, .done, .done])
        #expect(notices.all.contains { $0.contains("is not answering") && $0.contains("no new migration starts") })
        #expect(notices.all.contains { $0.contains("answers again") })
    }
}

/// One move of a guest of 1 GiB, with the test's tag in every name.
func move(_ guest: String, _ source: String, _ target: String, _ t: String) -> [FakePlan.Move] {
    [FakePlan.Move("\(guest)-\(t)", from: "\(source)-\(t)", to: "\(target)-\(t)", memoryKiB: 1_048_576)]
}

func plan(_ name: String, _ moves: [FakePlan.Move]) throws -> PlanFile {
    var p = FakePlan(moves: moves)
    p.name = name
    return try p.planFile()
}

/// The steps an executor started (journaled `running`), in order.
final class Recorder: RunObserver, Sendable {
    private let list = Locked<[String]>([])
    func handle(_ event: RunEvent) {
        if case .step(let c) = event, c.to == .running { list.withLock { $0.append(c.guest) } }
    }
    var started: [String] { list.withLock { $0 } }
}
