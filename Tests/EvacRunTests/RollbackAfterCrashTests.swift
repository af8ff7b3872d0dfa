import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// Every row of RollbackPreflight's table, on the fake hypervisor: a journal as a crash (or a
/// failure) leaves it, the guest put where the row says, then `rollback` or `resume`, and the
/// end state read from the world and from the journal.
@Suite struct RollbackAfterCrashTests {
    /// One guest, "g", from s1 to t1.
    static var fp: FakePlan { FakePlan(moves: [.init("g", from: "s1", to: "t1")]) }
    static let uuid = FakePlan.uuid("g")
    var uuid: String { Self.uuid }

    /// A journal whose apply step for g is in `apply` (attempted `attempt` times) and, when
    /// given, whose rollback step is in `rollback` (with a rollback run row).
    struct Setup: @unchecked Sendable {
        let dir = TempDir()
        let plan: PlanFile
        let world: FakeHypervisor
        let path: String

        init(apply: StepState, attempt: Int = 1, rollback: StepState? = nil, reason: String? = nil) async throws {
            plan = try RollbackAfterCrashTests.fp.planFile()
            world = RollbackAfterCrashTests.fp.world()
            path = JournalLocation.journalPath(for: plan, stateDirectory: dir.path)
            let j = try SQLiteJournal(path: path, plan: plan)
            defer { j.close() }
            var a = plan.applySpecs()[0].newRecord()
            a.state = apply
            a.attempt = attempt
            a.reason = reason
            try await j.commit(
                JournalBatch(
                    runID: 1,
                    beginRun: RunRecord(
                        id: 1, kind: .apply, planHash: plan.planHash,
                        planName: plan.planName, started: "x", command: "test"), insertSteps: [a]))
            if let rollback {
                var r = plan.rollbackSpecs(ids: [1])[0].newRecord()
                r.state = rollback
                r.attempt = rollback == .pending ? 0 : 1
                try await j.commit(
                    JournalBatch(
                        runID: 2,
                        beginRun: RunRecord(
                            id: 2, kind: .rollback, planHash: plan.planHash,
                            planName: plan.planName, started: "x", command: "test"), insertSteps: [r]))
            }
        }

        var uuid: String { RollbackAfterCrashTests.uuid }
        func put(_ state: Guest.State, on host: String) {
            world.place(
                Guest(uuid: uuid, name: "g", state: state, persistent: true, memoryKiB: 1 << 20, vcpus: 1), on: host)
        }
        func moveToTarget() {
            world.remove(uuid: uuid, from: "s1")
            put(.running, on: "t1")
        }

        func executor(_ rec: Recorder = Recorder(), wait: Duration = .zero) throws -> (Executor, SQLiteJournal) {
            var o = ExecutorOptions()
            o.inTransitWait = wait
            let j = try SQLiteJournal(path: path, plan: plan)
            return (Executor(plan: plan, hypervisor: world, journal: j, observer: rec, options: o), j)
        }
        func rollback(_ rec: Recorder = Recorder(), wait: Duration = .zero) async throws -> RunResult {
            let (e, j) = try executor(rec, wait: wait)
            defer { j.close() }
            return await e.rollback()
        }
        func resume(_ rec: Recorder = Recorder()) async throws -> RunResult {
            let (e, j) = try executor(rec)
            defer { j.close() }
            return await e.resume()
        }
        var status: JournalStatus { get throws { try JournalStatus.read(path: path) } }
        var standing: RunStanding {
            get throws {
                let s = try status
                return RunStanding.of(runs: s.runs, apply: s.apply, rollback: s.rollback)
            }
        }
        var at: [String: Guest.State] { world.whereIs(uuid: uuid) }
        var migrations: Int { world.migrationCounts[uuid] ?? 0 }
    }

    // MARK: apply steps a crash or a failure left unsettled, no rollback yet

    @Test("apply running, guest landed on the target after the crash: rollback returns it")
    func runningLanded() async throws {
        let s = try await Setup(apply: .running)
        s.moveToTarget()
        let rec = Recorder()
        let r = try await s.rollback(rec)
        #expect(r.status == .allDone, "\(r.message ?? "")")
        #expect(s.at == ["s1": .running])
        #expect(s.migrations == 1, "one migration: the way back")
        // The run's start comes first, so a display knows the apply-step events are not its own.
        if case .runStarted(let start) = rec.all.first {
            #expect(start.kind == .rollback)
        } else {
            Issue.record("\(rec.all.first.map { "\($0)" } ?? "none")")
        }
        #expect(
            rec.changes.contains {
                $0.kind == .apply && $0.to == .done && $0.message.hasPrefix("reconcile: completed after the crash")
            })
        let st = try s.status
        #expect(st.apply.map(\.state) == [.rolledBack])
        #expect(st.rollback.map(\.state) == [.done])
        #expect(try s.standing == .rolledBack("its rollback returned all 1 guest(s) it moved"))
        let events = try JournalStatus.events(path: s.path, kind: .apply, id: 1).map(\.message)
        #expect(events.contains("reconcile: completed after the crash (found on t1)"), "\(events)")
    }

    @Test("apply running, guest still on its source: nothing to roll back, the step is pending again")
    func runningHome() async throws {
        let s = try await Setup(apply: .running)
        let r = try await s.rollback()
        #expect(r.status == .allDone)
        #expect(r.message == "nothing to roll back: no guest of this plan is on its target")
        #expect(s.at == ["s1": .running])
        #expect(s.migrations == 0)
        #expect(try s.status.apply.map(\.state) == [.pending])
        #expect(try s.standing == .rolledBack("its rollback found no guest of the plan away from its source"))
    }

    @Test("apply running, migration still copying when the rollback starts: it waits, then returns the guest")
    func runningInTransit() async throws {
        let s = try await Setup(apply: .running)
        s.put(.paused, on: "t1") // incoming on the target, still active on the source
        let landing = Task {
            try await Task.sleep(for: .milliseconds(1200))
            s.moveToTarget()
        }
        let r = try await s.rollback(wait: .seconds(30))
        try await landing.value
        #expect(r.status == .allDone, "\(r.message ?? "")")
        #expect(s.at == ["s1": .running])
        #expect(s.migrations == 1)
        #expect(try s.status.apply.map(\.state) == [.rolledBack])
    }

    @Test("apply running, the target does not answer: blocked, the rollback is partial; once it answers, done")
    func runningTargetDown() async throws {
        let s = try await Setup(apply: .running)
        s.moveToTarget()
        s.world.setReachable("t1", false)
        let rec = Recorder()
        let first = try await s.rollback(rec)
        #expect(first.status == .partial, "never all-done while a guest's whereabouts are unknown")
        #expect(
            rec.notices.contains {
                $0.hasPrefix("g: cannot tell where g is: t1") && $0.hasSuffix("rollback again when it answers")
            },
            "\(rec.notices)")
        #expect(try s.status.apply.map(\.state) == [.blocked])
        #expect(try s.standing == .rollingBack)
        #expect(s.at == ["t1": .running], "nothing moved")

        s.world.setReachable("t1", true)
        let second = try await s.rollback()
        #expect(second.status == .allDone, "\(second.message ?? "")")
        #expect(s.at == ["s1": .running])
        #expect(try s.status.apply.map(\.state) == [.rolledBack])
        #expect(try s.standing.isOver)
    }

    @Test(
        "an attempted step (failed, blocked or pending again) whose guest is on the target is returned",
        arguments: [StepState.failed, .blocked, .pending])
    func attemptedButLanded(state: StepState) async throws {
        let s = try await Setup(
            apply: state, reason: "post-check: guest g is still on s1 (shut off) after the migration")
        s.moveToTarget()
        let r = try await s.rollback()
        #expect(r.status == .allDone, "\(r.message ?? "")")
        #expect(s.at == ["s1": .running])
        #expect(try s.status.apply.map(\.state) == [.rolledBack])
    }

    @Test(
        "an attempted step whose guest is on its source is left as it is",
        arguments: [StepState.failed, .blocked, .pending])
    func attemptedAndHome(state: StepState) async throws {
        let s = try await Setup(apply: state, reason: "migration failed: boom")
        let r = try await s.rollback()
        #expect(r.status == .allDone)
        #expect(s.migrations == 0)
        let a = try s.status.apply[0]
        #expect(a.state == state && a.reason == "migration failed: boom", "the failure stays recorded")
    }

    @Test("a failed step whose target does not answer and whose guest is not on its source: partial")
    func attemptedUnknown() async throws {
        let s = try await Setup(apply: .failed, reason: "migration failed: connection reset")
        s.moveToTarget()
        s.world.setReachable("t1", false)
        let r = try await s.rollback()
        #expect(r.status == .partial)
        #expect(try s.standing == .rollingBack)
        // A failed step whose guest is seen running on its source is accounted for, target or not.
        let home = try await Setup(apply: .failed, reason: "migration failed: connection reset")
        home.world.setReachable("t1", false)
        #expect(try await home.rollback().status == .allDone)
    }

    @Test("guest active on both hosts, or on neither: reported every time, never all-done")
    func bothOrNeither() async throws {
        let both = try await Setup(apply: .running)
        both.put(.running, on: "t1")
        for _ in 0..<2 {
            let r = try await both.rollback()
            #expect(r.status == .partial)
            #expect(both.migrations == 0, "evac does not touch a guest on two hosts")
        }
        #expect(try both.status.apply[0].reason?.contains("needs attention") == true)

        let lost = try await Setup(apply: .running)
        lost.world.remove(uuid: uuid, from: "s1")
        let rec = Recorder()
        #expect(try await lost.rollback(rec).status == .partial)
        #expect(rec.notices.contains { $0.contains("guest lost?") }, "\(rec.notices)")
        #expect(try await lost.rollback().status == .partial, "still unaccounted for on the second rollback")
    }

    @Test("a step never started (attempt 0) is not the plan's doing, wherever its guest is")
    func neverStarted() async throws {
        let s = try await Setup(apply: .pending, attempt: 0)
        s.moveToTarget() // moved by someone else
        let r = try await s.rollback()
        #expect(r.status == .allDone)
        #expect(s.at == ["t1": .running], "left where the operator put it")
        #expect(try s.status.apply[0].state == .pending)
    }

    // MARK: apply done, rollback in every state

    @Test("apply done, guest already back home: the rollback step is done without a migration")
    func doneButHome() async throws {
        let s = try await Setup(apply: .done)
        let r = try await s.rollback()
        #expect(r.status == .allDone)
        #expect(s.migrations == 0)
        #expect(try s.status.apply.map(\.state) == [.rolledBack])
        #expect(try s.status.rollback.first?.reason == "found on s1")
    }

    @Test(
        "apply done, rollback running: guest still on the target → migrated back; already home → done",
        arguments: [false, true])
    func rollbackRunning(landed: Bool) async throws {
        let s = try await Setup(apply: .done, rollback: .running)
        if !landed { s.moveToTarget() }
        let r = try await s.rollback()
        #expect(r.status == .allDone, "\(r.message ?? "")")
        #expect(s.at == ["s1": .running])
        #expect(s.migrations == (landed ? 0 : 1))
        let st = try s.status
        #expect(st.apply.map(\.state) == [.rolledBack], "the reconcile marks the apply step too")
        #expect(st.rollback.first?.reason == (landed ? "completed after the crash (found on s1)" : nil))
        #expect(try s.standing.isOver)
    }

    @Test("apply done, rollback running, migration back still copying: waits, then done")
    func rollbackInTransit() async throws {
        let s = try await Setup(apply: .done, rollback: .running)
        s.world.remove(uuid: uuid, from: "s1")
        s.put(.running, on: "t1")
        s.put(.paused, on: "s1")
        let landing = Task {
            try await Task.sleep(for: .milliseconds(1200))
            s.world.remove(uuid: uuid, from: "t1")
            s.put(.running, on: "s1")
        }
        let r = try await s.rollback(wait: .seconds(30))
        try await landing.value
        #expect(r.status == .allDone)
        #expect(s.migrations == 0)
        #expect(try s.status.apply.map(\.state) == [.rolledBack])
    }

    @Test("apply done, rollback failed or blocked: retried", arguments: [StepState.failed, .blocked])
    func rollbackRetried(state: StepState) async throws {
        let s = try await Setup(apply: .done, rollback: state)
        s.moveToTarget()
        let r = try await s.rollback()
        #expect(r.status == .allDone)
        #expect(s.at == ["s1": .running])
        #expect(try s.status.apply.map(\.state) == [.rolledBack])
    }

    @Test("a journal from before the rule (rollback done, apply still done) is repaired and over")
    func legacyRepair() async throws {
        let s = try await Setup(apply: .done, rollback: .done)
        #expect(try s.standing == .rollingBack, "apply says done: not over yet")
        let r = try await s.rollback()
        #expect(r.status == .allDone)
        #expect(s.migrations == 0)
        #expect(try s.status.apply.map(\.state) == [.rolledBack])
        #expect(try s.standing.isOver)
    }

    // MARK: resume

    @Test("resume of a journal whose rollback is unfinished continues the rollback, never the apply")
    func resumeContinuesRollback() async throws {
        let s = try await Setup(apply: .done, rollback: .pending)
        s.moveToTarget()
        let rec = Recorder()
        let r = try await s.resume(rec)
        #expect(r.status == .allDone)
        #expect(s.at == ["s1": .running], "the guest went home, not forward")
        #expect(r.steps.map(\.kind) == [.rollback])
        #expect(rec.notices.first?.contains("resume continues the rollback") == true, "\(rec.notices)")
        #expect(try s.status.runs.last?.kind == .rollback)
    }

    @Test("resume of a journal whose rollback is complete refuses: nothing to resume")
    func resumeAfterCompleteRollback() async throws {
        let s = try await Setup(apply: .done)
        s.moveToTarget()
        #expect(try await s.rollback().status == .allDone)
        let r = try await s.resume()
        #expect(r.status == .cannotStart)
        #expect(r.message?.hasPrefix("nothing to resume: the run of fake-plan is over") == true, "\(r.message ?? "")")
        #expect(s.at == ["s1": .running])
        #expect(s.migrations == 1, "the way back only")
    }
}
