import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// A journal whose disk fills at a chosen transition: that commit and every later one fail,
/// as SQLiteJournal behaves after its first failed write.
final class FillingJournal: RunJournal, @unchecked Sendable {
    let inner: SQLiteJournal
    private let fullWhen: @Sendable (JournalBatch) -> Bool
    private let full = Locked(false)
    var path: String { inner.path }
    init(_ inner: SQLiteJournal, fullWhen: @escaping @Sendable (JournalBatch) -> Bool) {
        self.inner = inner
        self.fullWhen = fullWhen
    }
    func commit(_ batch: JournalBatch) async throws {
        let fail = full.withLock { f in
            f = f || fullWhen(batch)
            return f
        }
        if fail { throw JournalError.io(path: path, "database or disk is full") }
        try await inner.commit(batch)
    }
    func steps(kind: RunKind) async throws -> [StepRecord] { try await inner.steps(kind: kind) }
    func runs() async throws -> [RunRecord] { try await inner.runs() }
    func hookState() async throws -> HookJournalState { try await inner.hookState() }
    func close() { inner.close() }
}

@Suite struct JournalFailureTests {
    /// The disk fills as a's `done` is written while b is migrating: exit 5, and the summary
    /// says what happened (a migrated, b aborted and still on its source) instead of "0 done".
    @Test func summaryTellsWhatHappenedAfterTheLastDurableWrite() async throws {
        let dir = TempDir()
        var fp = FakePlan(moves: [
            .init("a", from: "s1", to: "t1"), .init("b", from: "s2", to: "t2"),
            .init("c", from: "s1", to: "t2"),
        ])
        fp.total = 2
        fp.perSource = 1
        let plan = try fp.planFile()
        let world = fp.world(migrationDelay: .milliseconds(20))
        world.setFault(guest: "b", .hang)
        let j = FillingJournal(
            try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan)
        ) { b in
            b.transitions.contains { $0.step.guest == "a" && $0.step.state == .done }
        }
        let rec = Recorder()
        let r = await Executor(plan: plan, hypervisor: world, journal: j, observer: rec).apply()
        j.close()
        #expect(r.status == .journalFailed)
        #expect(world.whereIs(uuid: FakePlan.uuid("a")) == ["t1": .running])
        #expect(world.whereIs(uuid: FakePlan.uuid("b")) == ["s2": .running], "aborted: stays on its source")
        #expect(r.counts.done == 1 && r.counts.pending == 2, "\(r.counts)")
        let m = r.message ?? ""
        #expect(m.contains("database or disk is full"), "\(m)")
        #expect(m.contains("not recorded: a migrated to t1, b aborted, on s2"), "\(m)")
        #expect(m.hasSuffix("`evac resume` reconciles the journal with the hosts"), "\(m)")
        // The abort and the unrecorded done are events the operator sees.
        let b = rec.changes.filter { $0.guest == "b" && $0.from == .running }
        #expect(b.map(\.to) == [.pending])
        #expect(
            b.first?.message.hasPrefix("aborted: the journal cannot be written; the guest stays on s2 (not recorded")
                == true,
            "\(b.map(\.message))")
        #expect(rec.changes.contains { $0.guest == "a" && $0.to == .done && $0.message.contains("not recorded") })
        var summary: RunSummary?
        for case .runFinished(let s) in rec.all { summary = s }
        #expect(summary?.counts.done == 1)

        // Resume on a writable journal reconciles and finishes.
        let j2 = try SQLiteJournal(path: j.path, plan: plan)
        world.setFault(guest: "b", nil)
        let resumed = await Executor(plan: plan, hypervisor: world, journal: j2).resume()
        j2.close()
        #expect(resumed.status == .allDone)
        #expect(world.migrationCounts.values.allSatisfy { $0 == 1 })
    }
}
