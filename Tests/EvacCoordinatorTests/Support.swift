import EvacCoordinator
import EvacCore
import EvacFake
import EvacRun
import Foundation
import Testing

/// A plan of `moves` (guest, source, target, MiB) whose names are unique to this test, so tests
/// sharing a database never see each other's hosts or plans.
func testPlan(_ name: String, _ moves: [(String, String, String, UInt64)], tag: String) throws -> PlanFile {
    var p = FakePlan(
        moves: moves.map {
            .init("\($0.0)-\(tag)", from: "\($0.1)-\(tag)", to: "\($0.2)-\(tag)", memoryKiB: $0.3 * 1024)
        })
    p.name = "\(name)-\(tag)"
    return try p.planFile()
}

func tag() -> String { String(UUID().uuidString.prefix(8)).lowercased() }

/// The steps of a plan as a first run inserts them.
func newSteps(_ plan: PlanFile, kind: RunKind = .apply) -> [StepRecord] {
    plan.graph.nodes.map {
        StepRecord(kind: kind, id: $0.id, guest: $0.guest, uuid: $0.uuid, source: $0.source, target: $0.target)
    }
}

/// Begins run `id` the way the executor does: the run row and the steps it does not have yet.
func begin(_ j: PostgresJournal, _ plan: PlanFile, id: Int = 1, insert: Bool = true) async throws {
    try await j.commit(
        JournalBatch(
            runID: id,
            beginRun: RunRecord(
                id: id, kind: .apply, planHash: plan.planHash, planName: plan.planName,
                started: "2026-12-01T10:00:00.000Z",
                command: "test"),
            insertSteps: insert ? newSteps(plan) : []))
}

func transition(_ s: StepRecord, to state: StepState, _ message: String = "test") -> StepTransition {
    var n = s
    n.state = state
    if state == .running { n.attempt += 1 }
    return StepTransition(step: n, from: s.state, message: message)
}

/// The pre-check and start of one step as the executor makes them with a coordinator: read what
/// others hold on the target, decide with the target's capacity, then take the reservation with
/// `running` at the version read; check again when the target changed meanwhile.
/// Returns true when the step started (running), false when there was no room (blocked).
func startStep(
    _ s: StepRecord, memoryKiB: UInt64, capacityKiB: UInt64, ownInFlightKiB: @Sendable () -> UInt64,
    journal: PostgresJournal, coordinator: PostgresCoordinator, retries: inout Int
) async throws -> Bool {
    while true {
        let seen = try await coordinator.commitments(on: s.target)
        if seen.drainedBy != nil || seen.memoryKiB + ownInFlightKiB() + memoryKiB > capacityKiB {
            try await journal.commit(JournalBatch(runID: 1, transitions: [transition(s, to: .blocked, "no room")]))
            return false
        }
        do {
            try await journal.commit(
                JournalBatch(
                    runID: 1, transitions: [transition(s, to: .running)],
                    claim: CapacityClaim(
                        target: s.target, uuid: s.uuid, memoryKiB: memoryKiB, vcpus: 1, seen: seen.version)))
            return true
        } catch CoordinatorError.changed {
            retries += 1
        }
    }
}
