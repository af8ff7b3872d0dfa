import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// The follower shows what a run journals besides its transitions: the latest progress sample
/// of each running step (only for the attempt that took it) and each hook's start and end with
/// the decision the plan's policy gives. The test writes the journal itself, one stage at a
/// time, and waits for the follower to have shown each before going on: no timing involved.
@Suite struct FollowerProgressTests {
    final class Recorder: RunObserver, @unchecked Sendable {
        private let events = Locked<[RunEvent]>([])
        func handle(_ event: RunEvent) { events.withLock { $0.append(event) } }
        var all: [RunEvent] { events.withLock { $0 } }
        var samples: [ProgressSample] { all.compactMap { if case .progress(let p) = $0 { p } else { nil } } }
        var hooks: [HookOutcome] { all.compactMap { if case .hook(let h) = $0 { h } else { nil } } }
    }

    @Test func progressSamplesAndHooksReachTheFollower() async throws {
        let dir = TempDir()
        var fp = FakePlan(moves: [.init("web-1", from: "s1", to: "t1"), .init("db-1", from: "s1", to: "t1")])
        var hooks = HookSet()
        hooks.beforeMigration = [HookSpec(name: "lb-drain", run: ["/bin/true"], onFailure: .skip)]
        fp.hooks = hooks
        let plan = try fp.planFile()
        let journal = try SQLiteJournal(
            path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        defer { journal.close() }
        let steps = plan.graph.nodes.map {
            StepRecord(kind: .apply, id: $0.id, guest: $0.guest, uuid: $0.uuid, source: $0.source, target: $0.target)
        }
        try await journal.commit(
            JournalBatch(
                runID: 1,
                beginRun: RunRecord(
                    id: 1, kind: .apply, planHash: plan.planHash, planName: plan.planName, started: Timestamp.now(),
                    command: "test"),
                insertSteps: steps))
        let follower = try JournalFollower(path: journal.path)
        #expect(follower.plan?.planHash == plan.planHash)
        let seen = Recorder()
        let following = Task { try await follower.follow(seen, interval: .milliseconds(20)) }

        // A hook that fails, and the plan says skip: the follower says so.
        var hook = HookRecord(
            point: .beforeMigration, hook: "lb-drain", scope: "apply:1", pass: 1, runID: 1, state: .running,
            subject: "web-1", started: "2026-01-01T00:00:00.000Z")
        try await journal.commit(JournalBatch(runID: 1, hooks: [hook]))
        try await waitFor { seen.hooks.count == 1 }
        hook.state = .failed
        hook.exitStatus = 2
        hook.finished = "2026-01-01T00:00:00.400Z"
        hook.message = "exit status 2 after 400ms"
        try await journal.commit(JournalBatch(runID: 1, hooks: [hook]))
        try await waitFor { seen.hooks.count == 2 }
        #expect(seen.hooks.map(\.state) == [.running, .failed])
        #expect(seen.hooks.last?.decision == .skip)
        #expect(seen.hooks.last?.durationMs == 400)
        #expect(seen.hooks.last?.exitStatus == 2 && seen.hooks.last?.on == "guest")

        // db-1 runs its second attempt; a sample of its first attempt is not shown, one of this one is.
        var running = steps[1]
        running.state = .running
        running.attempt = 2
        try await journal.commit(
            JournalBatch(runID: 1, transitions: [StepTransition(step: running, from: .pending, message: "attempt 2")]))
        var p = MigrationProgress(elapsedMs: 1500, dataTotal: 1 << 30, dataProcessed: 1 << 29, dataRemaining: 1 << 29)
        try await journal.recordProgress([
            ProgressRecord(kind: .apply, id: 2, runID: 1, attempt: 1, at: Timestamp.now(), progress: p)
        ])
        p.elapsedMs = 2000
        p.memoryRemaining = 1 << 28
        try await journal.recordProgress([
            ProgressRecord(kind: .apply, id: 2, runID: 1, attempt: 2, at: Timestamp.now(), progress: p)
        ])
        try await waitFor { !seen.samples.isEmpty }
        #expect(seen.samples.map(\.progress) == [p], "only the running attempt's sample, its new fields intact")
        #expect(seen.samples.first?.guest == "db-1")

        // The step ends, then the run: the follower returns with its status.
        running.state = .done
        running.stats = MigrationRunner.encode(MigrationOutcome(durationMs: 2345, transferredBytes: 77))
        try await journal.commit(
            JournalBatch(
                runID: 1, transitions: [StepTransition(step: running, from: .running, message: "done")],
                finishRun: (Timestamp.now(), RunStatus.partial.rawValue)))
        #expect(try await following.value == .finished(.partial))
        let done = seen.all.compactMap { e -> StepChange? in
            if case .step(let c) = e, c.to == .done { c } else { nil }
        }
        #expect(done.first?.durationMs == 2345 && done.first?.transferredBytes == 77, "the hypervisor's figures")
        #expect(seen.samples.count == 1, "an unchanged row is not shown twice")
    }

    /// A rolling cycle: each batch's stage as it is reached, and the batch's drain followed in
    /// its own journal (its migrations shown, its end a line rather than the end of all).
    @Test func aRollingCycleShowsEachBatchStageAndItsDrain() async throws {
        let dir = TempDir()
        var cyclePlan = FakePlan(moves: [])
        cyclePlan.name = "roll"
        let cycle = try SQLiteJournal(path: dir.path + "/roll.sqlite", plan: try cyclePlan.planFile())
        defer { cycle.close() }
        var b1 = CycleRecord(batch: 1, hosts: ["lab-1"], stage: .pending, updated: Timestamp.now())
        let b2 = CycleRecord(batch: 2, hosts: ["lab-2"], stage: .pending, updated: Timestamp.now())
        try await cycle.commit(
            JournalBatch(
                runID: 1,
                beginRun: RunRecord(
                    id: 1, kind: .apply, planHash: "h", planName: "roll", started: Timestamp.now(), command: "roll"),
                cycle: [b1, b2]))
        let seen = Recorder()
        let follower = try JournalFollower(path: cycle.path)
        let following = Task { try await follower.follow(seen, interval: .milliseconds(20)) }
        let stages = {
            seen.all.compactMap { e -> String? in
                if case .cycle(let c) = e { "\(c.batch) \(c.stage.rawValue)" } else { nil }
            }
        }
        try await waitFor { stages() == ["1 pending", "2 pending"] }

        // The drain: its journal exists and holds a run before the stage says draining.
        let drainPlan = try FakePlan(moves: [.init("web-1", from: "lab-1", to: "lab-3")]).planFile()
        let drain = try SQLiteJournal(path: dir.path + "/drain.sqlite", plan: drainPlan)
        let node = drainPlan.graph.nodes[0]
        var step = StepRecord(
            kind: .apply, id: node.id, guest: node.guest, uuid: node.uuid, source: node.source, target: node.target)
        try await drain.commit(
            JournalBatch(
                runID: 1,
                beginRun: RunRecord(
                    id: 1, kind: .apply, planHash: drainPlan.planHash, planName: drainPlan.planName,
                    started: Timestamp.now(), command: "roll"),
                insertSteps: [step]))
        b1.stage = .draining
        b1.phaseJournal = drain.path
        try await cycle.commit(JournalBatch(runID: 1, cycle: [b1]))
        try await waitFor {
            seen.all.contains { if case .runStarted(let r) = $0 { r.journal == drain.path } else { false } }
        }
        step.state = .done
        try await drain.commit(
            JournalBatch(
                runID: 1, transitions: [StepTransition(step: step, from: .pending, message: "done")],
                finishRun: (Timestamp.now(), RunStatus.allDone.rawValue)))
        drain.close()
        try await waitFor {
            seen.all.contains { if case .notice(let m) = $0 { m.hasPrefix("apply finished: all-done") } else { false } }
        }
        for stage in [CycleRecord.Stage.maintenance, .waiting, .done] {
            b1.stage = stage
            try await cycle.commit(JournalBatch(runID: 1, cycle: [b1]))
            try await waitFor { stages().last == "1 \(stage.rawValue)" }
        }
        try await cycle.commit(JournalBatch(runID: 1, finishRun: (Timestamp.now(), RunStatus.partial.rawValue)))
        #expect(try await following.value == .finished(.partial))
        #expect(stages() == ["1 pending", "2 pending", "1 draining", "1 maintenance", "1 waiting", "1 done"])
        #expect(
            seen.all.contains { if case .step(let c) = $0 { c.guest == "web-1" && c.to == .done } else { false } },
            "the drain's migration, from its own journal")
        #expect(
            seen.all.contains {
                if case .notice(let m) = $0 { m == "rolling cycle: 1 of 2 batch(es) done" } else { false }
            })
        let finished = seen.all.filter { if case .runFinished = $0 { true } else { false } }
        #expect(finished.count == 1, "only the cycle's own end ends the display")
        let lines = seen.all.compactMap { if case .cycle = $0 { PlainObserver.text($0) } else { nil } }
        #expect(lines.contains("rolling batch 1 (lab-1): waiting for the host(s) to answer libvirt again"))
    }

    /// Samples are one row per step, written without an fsync of their own, and leave the
    /// journal's durability settings as they were.
    @Test func theJournalKeepsOneRowPerStepAndItsDurability() async throws {
        let dir = TempDir()
        let plan = try FakePlan(moves: [.init("a", from: "s", to: "t")]).planFile()
        let journal = try SQLiteJournal(path: dir.path + "/j.sqlite", plan: plan)
        for ms in stride(from: UInt64(0), to: 10_000, by: 1000) {
            try await journal.recordProgress([
                ProgressRecord(
                    kind: .apply, id: 1, runID: 1, attempt: 1, at: Timestamp.now(),
                    progress: MigrationProgress(elapsedMs: ms))
            ])
        }
        #expect(try await journal.progress().map(\.progress.elapsedMs) == [9000])
        #expect(try await journal.pragma("synchronous") == "2", "FULL again after the sample's transaction")
        #expect(try await journal.pragma("journal_mode") == "wal")
        journal.close()
        await #expect(throws: JournalError.self) {
            try await journal.recordProgress([
                ProgressRecord(kind: .apply, id: 1, runID: 1, attempt: 1, at: "x", progress: MigrationProgress())
            ])
        }
    }
}
