import EvacCoordinator
import EvacCore
import EvacRun
import Foundation
import Testing

/// Everything that shares one server; the outage tests (OutageTests) start their own.
@Suite(.sharedPostgres, .timeLimit(.minutes(3)))
struct CoordinatorTests {
    // MARK: journal

    @Test func journalRoundTripMatchesWhatWasCommitted() async throws {
        let t = tag()
        let plan = try testPlan("roundtrip", [("g1", "src", "dst", 512), ("g2", "src", "dst", 256)], tag: t)
        let coordinator = try await PostgresServer.shared().coordinator()
        let j = try await coordinator.journal(for: plan)
        try await begin(j, plan)
        var steps = try await j.steps(kind: .apply)
        #expect(steps.map(\.guest) == ["g1-\(t)", "g2-\(t)"])
        #expect(steps.allSatisfy { $0.state == .pending })
        try await j.commit(JournalBatch(runID: 1, transitions: [transition(steps[0], to: .failed, "it broke")]))
        try await j.commit(
            JournalBatch(
                runID: 1, transitions: [transition(steps[1], to: .skipped)],
                finishRun: ("2026-12-01T10:01:00.000Z", "partial")))
        steps = try await j.steps(kind: .apply)
        #expect(steps.map(\.state) == [.failed, .skipped])
        #expect(steps[0].reason == nil)
        let runs = try await j.runs()
        #expect(runs.count == 1)
        #expect(runs[0].exitStatus == "partial")
        let status = try await coordinator.status(planName: plan.planName, planHash: plan.planHash)
        #expect(status.applyCounts.failed == 1)
        #expect(status.activeHolder == nil, "the run ended: its lease is released")
        let stored = try await coordinator.storedPlan(journal: j.key)
        #expect(stored.planHash == plan.planHash)
        j.close()
    }

    @Test func manyConcurrentCommitsAllLand() async throws {
        let t = tag()
        let moves = (1...64).map { ("g\($0)", "src", "dst", UInt64(64)) }
        let plan = try testPlan("group", moves, tag: t)
        let j = try await PostgresServer.shared().coordinator().journal(for: plan)
        try await begin(j, plan)
        let steps = try await j.steps(kind: .apply)
        try await withThrowingTaskGroup(of: Void.self) { g in
            for s in steps {
                g.addTask { try await j.commit(JournalBatch(runID: 1, transitions: [transition(s, to: .failed)])) }
            }
            try await g.waitForAll()
        }
        #expect(try await j.steps(kind: .apply).allSatisfy { $0.state == .failed })
        j.close()
    }

    @Test func hookRowsAndPassesRoundTripAndAReplacedRowMovesLast() async throws {
        let t = tag()
        let plan = try testPlan("hooks", [("g1", "src", "dst", 64)], tag: t)
        let coordinator = try await PostgresServer.shared().coordinator()
        let j = try await coordinator.journal(for: plan)
        try await begin(j, plan)
        func hook(_ name: String, _ state: HookRecord.State, at started: String) -> HookRecord {
            HookRecord(
                point: .beforeMigration, hook: name, scope: "apply:1", pass: 1, runID: 1, state: state,
                subject: "g1-\(t)", exitStatus: state == .ok ? 0 : nil, started: started)
        }
        let at = "2026-12-01T10:00:00.000Z"
        try await j.commit(JournalBatch(runID: 1, hooks: [hook("lb-out", .running, at: at), hook("dns", .ok, at: at)]))
        try await j.commit(
            JournalBatch(
                runID: 1, hooks: [hook("lb-out", .ok, at: at)],
                passes: [HookPass(scope: "apply:1", closed: 1, attemptAtClose: 2)]))
        let state = try await j.hookState()
        #expect(state.records.count == 2)
        #expect(state.records.values.allSatisfy { $0.state == .ok && $0.exitStatus == 0 })
        #expect(state.passes["apply:1"] == HookPass(scope: "apply:1", closed: 1, attemptAtClose: 2))
        // Oldest first, a replaced row after the others of its time (as SQLite's rowid order).
        let status = try await coordinator.status(planName: plan.planName, planHash: plan.planHash)
        #expect(status.hooks?.map(\.hook) == ["dns", "lb-out"])
        j.close()
    }

    @Test func progressSamplesAreOneRowPerStepAndTheLatestWins() async throws {
        let t = tag()
        let plan = try testPlan("progress", [("g1", "src", "dst", 64), ("g2", "src", "dst", 64)], tag: t)
        let j = try await PostgresServer.shared().coordinator().journal(for: plan)
        try await begin(j, plan)
        func sample(_ id: Int, attempt: Int, remaining: UInt64) -> ProgressRecord {
            ProgressRecord(
                kind: .apply, id: id, runID: 1, attempt: attempt, at: "2026-12-01T10:00:0\(attempt).000Z",
                progress: MigrationProgress(
                    elapsedMs: 1000, dataTotal: 1 << 30, dataProcessed: (1 << 30) - remaining,
                    dataRemaining: remaining, memoryBps: 1 << 20, iteration: 1, dirtyRate: 10))
        }
        let steps = try await j.steps(kind: .apply)
        try await j.recordProgress([sample(steps[0].id, attempt: 1, remaining: 900)])
        try await j.recordProgress([
            sample(steps[0].id, attempt: 2, remaining: 100), sample(steps[1].id, attempt: 1, remaining: 7),
        ])
        let kept = try await j.progress()
        #expect(kept.count == 2, "one row per step, however many samples")
        #expect(kept.first { $0.id == steps[0].id }?.attempt == 2)
        #expect(kept.first { $0.id == steps[0].id }?.progress.dataRemaining == 100)
        #expect(kept.first { $0.id == steps[1].id }?.progress.dataRemaining == 7)
        j.close()
    }

    // MARK: leases

    @Test func onePlanRunsInOneProcessAtATime() async throws {
        let t = tag()
        let plan = try testPlan("one-run", [("g1", "src", "dst", 64)], tag: t)
        let server = try await PostgresServer.shared()
        // Two processes (two coordinators, two connections) begin the same plan at once.
        let a = try await server.coordinator().journal(for: plan, holder: "runner-a")
        let b = try await server.coordinator().journal(for: plan, holder: "runner-b")
        async let ra: Error? = {
            do {
                try await begin(a, plan)
                return nil
            } catch { return error }
        }()
        async let rb: Error? = {
            do {
                try await begin(b, plan, insert: false)
                return nil
            } catch { return error }
        }()
        let results = await [ra, rb]
        let refused = results.compactMap { $0 }
        #expect(refused.count == 1, "exactly one of two concurrent begins wins: \(results)")
        if case .leased(let m)? = refused.first as? CoordinatorError {
            #expect(m.contains("is being run by runner-"))
        } else {
            Issue.record("expected a lease refusal, got \(String(describing: refused.first))")
        }
        a.close()
        b.close()
    }

    @Test func aDrainedHostCannotBeDrainedAgainNorTargeted() async throws {
        let t = tag()
        let server = try await PostgresServer.shared()
        let a = try testPlan("drain-a", [("g1", "rack1", "pool1", 64)], tag: t)
        // Plan B wants to drain rack1 too; plan C would move a guest onto rack1.
        let b = try testPlan("drain-b", [("g2", "rack1", "pool1", 64)], tag: t)
        let c = try testPlan("drain-c", [("g3", "other", "rack1", 64)], tag: t)
        let ja = try await server.coordinator().journal(for: a, holder: "runner-a")
        try await begin(ja, a)
        let jb = try await server.coordinator().journal(for: b)
        await #expect {
            try await begin(jb, b)
        } throws: { e in
            guard case .leased(let m) = e as? CoordinatorError else { return false }
            return m.contains("host rack1-\(t) is being drained by plan drain-a-\(t)")
        }
        let jc = try await server.coordinator().journal(for: c)
        try await begin(jc, c)
        let held = try await PostgresCoordinator(journal: jc).commitments(on: "rack1-\(t)")
        #expect(held.drainedBy?.contains("drain-a-\(t)") == true, "\(held)")
        // And the drain cannot start while another plan has migrations planned onto its host.
        let d = try testPlan("drain-d", [("g4", "other2", "pool2", 64)], tag: t)
        let e = try testPlan("drain-e", [("g5", "pool2", "pool3", 64)], tag: t)
        let jd = try await server.coordinator().journal(for: d)
        try await begin(jd, d)
        let je = try await server.coordinator().journal(for: e)
        await #expect {
            try await begin(je, e)
        } throws: { err in
            guard case .leased(let m) = err as? CoordinatorError else { return false }
            return m.contains("host pool2-\(t) is a target of plan drain-d-\(t)")
        }
        // Once A ends, B may drain rack1.
        try await ja.commit(JournalBatch(runID: 1, finishRun: ("2026-12-01T10:05:00.000Z", "interrupted")))
        let jb2 = try await server.coordinator().journal(for: b)
        try await begin(jb2, b)
        for j in [ja, jb, jc, jd, je, jb2] { j.close() }
    }

    @Test func anExpiredLeaseIsTakenOverAndTheOldRunnerIsFenced() async throws {
        let t = tag()
        let plan = try testPlan("takeover", [("g1", "src", "dst", 64), ("g2", "src", "dst", 64)], tag: t)
        var timing = CoordinatorTiming.testing
        timing.leaseTTL = .seconds(3)
        let server = try await PostgresServer.shared()
        let old = try await server.coordinator(timing: timing).journal(for: plan, holder: "runner-old")
        try await begin(old, plan)
        let steps = try await old.steps(kind: .apply)
        // The old runner stops renewing (as after kill -9: no heartbeat, no more writes).
        old.close()
        let notices = Notices()
        let new = try await server.coordinator(timing: timing, notices: notices).journal(
            for: plan, holder: "runner-new")
        await #expect(throws: CoordinatorError.self, "refused while the old lease is live") {
            try await begin(new, plan, id: 2, insert: false)
        }
        // Wait for the expiry on the database's clock (the TTL is 3 s).
        var taken = false
        for _ in 0..<100 where !taken {
            try await Task.sleep(for: .milliseconds(200))
            do {
                try await begin(new, plan, id: 2, insert: false)
                taken = true
            } catch CoordinatorError.leased {}
        }
        #expect(taken, "the lease is taken over after it expired")
        #expect(notices.all.contains { $0.contains("taking over plan \(plan.planName)'s lease from runner-old") })
        try await new.commit(JournalBatch(runID: 2, transitions: [transition(steps[0], to: .failed)]))
        new.close()
    }

    // MARK: reservations

    @Test func concurrentRunsNeverOvercommitATarget() async throws {
        let t = tag()
        let server = try await PostgresServer.shared()
        // Six plans, each draining its own host, 4 guests of 1 GiB each onto one target with
        // room for 10 GiB: started at once, each step's pre-check and start race the others'.
        let capacity: UInt64 = 10 * 1_048_576
        var plans: [PlanFile] = []
        for r in 1...6 {
            plans.append(
                try testPlan("race\(r)", (1...4).map { ("r\(r)g\($0)", "src\(r)", "tight", UInt64(1024)) }, tag: t))
        }
        var journals: [PostgresJournal] = []
        for p in plans {
            let j = try await server.coordinator().journal(for: p)
            try await begin(j, p)
            journals.append(j)
        }
        let outcomes = try await withThrowingTaskGroup(of: (Int, [Bool], Int).self) { g in
            for (i, j) in journals.enumerated() {
                g.addTask {
                    let coordinator = PostgresCoordinator(journal: j)
                    let own = Locked<UInt64>(0)
                    var started: [Bool] = []
                    var retries = 0
                    for s in try await j.steps(kind: .apply) {
                        let ok = try await startStep(
                            s, memoryKiB: 1_048_576, capacityKiB: capacity, ownInFlightKiB: { own.withLock { $0 } },
                            journal: j, coordinator: coordinator, retries: &retries)
                        if ok { own.withLock { $0 += 1_048_576 } }
                        started.append(ok)
                    }
                    return (i, started, retries)
                }
            }
            var all: [(Int, [Bool], Int)] = []
            for try await o in g { all.append(o) }
            return all.sorted { $0.0 < $1.0 }
        }
        let reservations = try await server.coordinator().fleet().reservations.filter { $0.target == "tight-\(t)" }
        let inFlight = reservations.filter { $0.state == "in-flight" }
        let total = inFlight.reduce(Int64(0)) { $0 + $1.memoryKiB }
        #expect(total <= Int64(capacity), "in flight onto the target: \(total) KiB of \(capacity)")
        #expect(inFlight.count == outcomes.reduce(0) { $0 + $1.1.filter { $0 }.count })
        // The first plan admitted was promised its room: every later run counted its planned
        // migrations, so all four of its started.
        #expect(outcomes[0].1 == [true, true, true, true], "\(outcomes)")
        #expect(reservations.allSatisfy { $0.state == "in-flight" }, "blocked steps released their planned room")
        print(
            "concurrent claims: \(inFlight.count) started, \(outcomes.reduce(0) { $0 + $1.2 }) re-checks after a change"
        )
        for j in journals { j.close() }
    }

    @Test func aStepThatLandsOrFailsReleasesItsReservation() async throws {
        let t = tag()
        let server = try await PostgresServer.shared()
        let plan = try testPlan(
            "release", [("g1", "src", "dst", 512), ("g2", "src", "dst", 256), ("g3", "src", "dst", 128)], tag: t)
        let j = try await server.coordinator().journal(for: plan)
        try await begin(j, plan)
        let coordinator = try server.coordinator()
        func held() async throws -> [String: String] {
            Dictionary(
                try await coordinator.fleet().reservations.filter { $0.target == "dst-\(t)" }.map {
                    ($0.guest, $0.state)
                },
                uniquingKeysWith: { a, _ in a })
        }
        #expect(try await held() == ["g1-\(t)": "planned", "g2-\(t)": "planned", "g3-\(t)": "planned"])
        let steps = try await j.steps(kind: .apply)
        let pc = PostgresCoordinator(journal: j)
        var retries = 0
        for s in steps {
            #expect(
                try await startStep(
                    s, memoryKiB: 1, capacityKiB: .max / 2, ownInFlightKiB: { 0 }, journal: j, coordinator: pc,
                    retries: &retries))
        }
        #expect(Set(try await held().values) == ["in-flight"])
        let running = try await j.steps(kind: .apply)
        let before = try await pc.commitments(on: "dst-\(t)").version
        try await j.commit(JournalBatch(runID: 1, transitions: [transition(running[0], to: .done)]))
        try await j.commit(JournalBatch(runID: 1, transitions: [transition(running[1], to: .failed)]))
        // Aborted by the operator: pending again, its room stays planned for the resume.
        try await j.commit(JournalBatch(runID: 1, transitions: [transition(running[2], to: .pending)]))
        #expect(try await held() == ["g3-\(t)": "planned"])
        let after = try await pc.commitments(on: "dst-\(t)").version
        #expect(after.map { $0 > before ?? 0 } == true, "a landing changes the target's version")
        try await j.commit(JournalBatch(runID: 1, finishRun: ("2026-12-01T10:09:00.000Z", "interrupted")))
        #expect(try await held().isEmpty, "the end of the run releases what it still had planned")
        let fleet = try await coordinator.fleet().runs.first { $0.planName == plan.planName }
        #expect(fleet?.holder == nil)
        #expect(fleet?.lastRun?.exitStatus == "interrupted")
        j.close()
    }

    @Test func laterRunsCountEarlierRunsPlannedRoomAndNotTheOtherWay() async throws {
        let t = tag()
        let server = try await PostgresServer.shared()
        let first = try testPlan("early", [("a1", "s1", "pool", 2048)], tag: t)
        let second = try testPlan("late", [("b1", "s2", "pool", 1024)], tag: t)
        let j1 = try await server.coordinator().journal(for: first)
        try await begin(j1, first)
        let j2 = try await server.coordinator().journal(for: second)
        try await begin(j2, second)
        let seenByLate = try await PostgresCoordinator(journal: j2).commitments(on: "pool-\(t)")
        let seenByEarly = try await PostgresCoordinator(journal: j1).commitments(on: "pool-\(t)")
        #expect(seenByLate.entries.map(\.guest) == ["a1-\(t)"])
        #expect(seenByLate.memoryKiB == 2048 * 1024)
        #expect(seenByEarly.entries.isEmpty, "an earlier run does not wait for a later one's plan")
        j1.close()
        j2.close()
    }
}
