import EvacCore
import EvacFake
import Foundation
import XCTest

@testable import EvacRun

/// A temp state directory per test, removed at the end.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "evac-run-tests-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Collects events for assertions.
final class Recorder: RunObserver, @unchecked Sendable {
    private let events = Locked([RunEvent]())
    func handle(_ event: RunEvent) { events.withLock { $0.append(event) } }
    var all: [RunEvent] { events.withLock { $0 } }
    var notices: [String] { all.compactMap { if case .notice(let m) = $0 { return m } else { return nil } } }
    var changes: [StepChange] { all.compactMap { if case .step(let c) = $0 { return c } else { return nil } } }
}

extension XCTestCase {
    func journal(_ plan: PlanFile, _ dir: TempDir, hook: JournalWriteHook? = nil) throws -> SQLiteJournal {
        try SQLiteJournal(
            path: JournalLocation.journalPath(for: plan, stateDirectory: dir.path), plan: plan, hook: hook)
    }

    /// A journal as a crash leaves it: run 1 started every apply step (attempt 1) and wrote nothing after.
    func journalCrashedWhileRunning(_ plan: PlanFile, _ dir: TempDir) async throws -> SQLiteJournal {
        let j = try journal(plan, dir)
        let steps = plan.applySpecs().map { s -> StepRecord in
            var r = s.newRecord()
            r.state = .running
            r.attempt = 1
            return r
        }
        try await j.commit(
            JournalBatch(
                runID: 1,
                beginRun: RunRecord(
                    id: 1, kind: .apply, planHash: plan.planHash,
                    planName: plan.planName, started: "x", command: "test"), insertSteps: steps))
        return j
    }

    func step(_ r: RunResult, _ guest: String) -> StepRecord? { r.steps.first { $0.guest == guest } }

    /// Every guest of the plan is exactly on its planned host (target, or source when `back`).
    func assertPlaced(
        _ plan: FakePlan, _ world: FakeHypervisor, back: Bool = false, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        for m in plan.moves {
            let at = world.whereIs(uuid: m.uuid)
            XCTAssertEqual(
                Array(at.keys), [back ? m.source : m.target], "\(m.guest) is on \(at)", file: file, line: line)
        }
    }
}

/// 6 guests on 2 sources to 2 targets; db-* wait for app-*; limits 2/1/1.
func smallPlan() -> FakePlan {
    var p = FakePlan(moves: [
        .init("app-1", from: "src-a", to: "dst-a"),
        .init("app-2", from: "src-b", to: "dst-b"),
        .init("app-3", from: "src-a", to: "dst-b"),
        .init("db-1", from: "src-b", to: "dst-a", after: ["app-1", "app-2", "app-3"], groups: ["db"]),
        .init("db-2", from: "src-a", to: "dst-b", after: ["app-1", "app-2", "app-3"], groups: ["db"]),
        .init("web-1", from: "src-b", to: "dst-b"),
    ])
    p.total = 2
    p.perSource = 1
    p.perTarget = 1
    p.groupLimits = ["db": 1]
    return p
}
