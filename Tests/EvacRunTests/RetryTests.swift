import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// The plan's retry policy on the fake hypervisor: transient failures get more attempts in the
/// same run, each journaled with the hypervisor's error; the others get none.
@Suite struct RetryTests {
    /// One guest, src-a → dst-a, with the given policy.
    func plan(_ policy: RetryPolicy?) throws -> (FakePlan, PlanFile) {
        var fp = FakePlan(moves: [.init("app-1", from: "src-a", to: "dst-a")])
        fp.migration.retry = policy
        return (fp, try fp.planFile())
    }

    func run(
        _ plan: PlanFile, _ world: FakeHypervisor, _ dir: String
    ) async throws -> (RunResult, [StepEvent], Executor) {
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir), plan: plan)
        defer { j.close() }
        let executor = Executor(plan: plan, hypervisor: world, journal: j)
        let result = await executor.apply()
        return (result, try JournalStatus.events(path: j.path, kind: .apply, id: 1), executor)
    }

    func scratch() -> String {
        let d = NSTemporaryDirectory() + "evac-retry-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func aTransientFailureIsRetriedAndEachAttemptJournaled() async throws {
        let (fp, plan) = try plan(RetryPolicy(attempts: 3, backoffMs: 1))
        let world = fp.world()
        let message = "internal error: Unable to find an unused port in range 'migration' (49152-49215)"
        world.setFault(guest: "app-1", .failFirst(times: 2, .noMigrationPort, message))
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (result, events, _) = try await run(plan, world, dir)

        #expect(result.status == .allDone)
        #expect(result.steps.first?.attempt == 3)
        #expect(world.attemptCounts["app-1"] == 3)
        #expect(world.whereIs(uuid: fp.moves[0].uuid) == ["dst-a": .running])
        #expect(events.map(\.to) == ["running", "pending", "running", "pending", "running", "done"])
        #expect(events[2].message == "attempt 2 (retry 1 of 2 in this run)")
        for failed in [events[1], events[3]] {
            #expect(failed.message.contains("failed (no-migration-port, transient)"), "\(failed.message)")
            let error = try JSONDecoder().decode(HypervisorError.self, from: Data((failed.hypervisorError ?? "").utf8))
            #expect(error.kind == .noMigrationPort)
            #expect(error.origin?.message == message)
        }
    }

    @Test(arguments: [HypervisorError.Kind.cpuIncompatible, .noRoom, .guestNotFound, .unreachable, .migrationFailed])
    func aFailureThatIsNotTransientIsNotRetried(kind: HypervisorError.Kind) async throws {
        let (fp, plan) = try plan(RetryPolicy(attempts: 5, backoffMs: 1))
        let world = fp.world()
        world.setFault(guest: "app-1", .failFirst(times: 1, kind, "it failed"))
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (result, events, _) = try await run(plan, world, dir)
        #expect(result.status == .partial)
        #expect(result.steps.first?.state == .failed)
        #expect(world.attemptCounts["app-1"] == 1)
        #expect(events.map(\.to) == ["running", "failed"])
    }

    @Test func attemptsRunOut() async throws {
        let (fp, plan) = try plan(RetryPolicy(attempts: 2, backoffMs: 1))
        let world = fp.world()
        world.setFault(
            guest: "app-1",
            .failFirst(times: 9, .connectionLost, "operation failed: Lost connection to destination host"))
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (result, events, _) = try await run(plan, world, dir)
        #expect(result.steps.first?.state == .failed)
        #expect(result.steps.first?.attempt == 2)
        #expect(
            result.steps.first?.reason?.hasSuffix("(after 2 attempts in this run)") == true,
            "\(result.steps.first?.reason ?? "")")
        #expect(events.map(\.to) == ["running", "pending", "running", "failed"])
        #expect(world.whereIs(uuid: fp.moves[0].uuid) == ["src-a": .running])
    }

    @Test func theDefaultPolicyRetriesTwiceAfterTenSecondsThenTwenty() {
        #expect(RetryPolicy.default == RetryPolicy(attempts: 3, backoffMs: 10_000))
        #expect(MigrationOptions().retryPolicy == .default)
        #expect(RetryPolicy.default.backoffMs(beforeAttempt: 2) == 10_000)
        #expect(RetryPolicy.default.backoffMs(beforeAttempt: 3) == 20_000)
        #expect(RetryPolicy(attempts: 20, backoffMs: 3_000_000).backoffMs(beforeAttempt: 20) == 3_600_000)
    }

    /// A stop during the back-off ends the wait: the step stays pending for resume.
    @Test func aStopDuringTheBackOffLeavesThePendingStep() async throws {
        let (fp, plan) = try plan(RetryPolicy(attempts: 3, backoffMs: 600_000))
        let world = fp.world()
        world.setFault(guest: "app-1", .failFirst(times: 1, .noMigrationPort, "no port"))
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir), plan: plan)
        defer { j.close() }
        let seen = BackOffWatcher()
        let executor = Executor(plan: plan, hypervisor: world, journal: j, observer: seen)
        async let result = executor.apply()
        await seen.waitForBackOff()
        executor.requestStop(graceful: true)
        let r = await result
        #expect(r.status == .interrupted)
        #expect(r.steps.first?.state == .pending)
        #expect(world.attemptCounts["app-1"] == 1)
        #expect(
            seen.notices.contains { $0.hasPrefix("stopping: no new migration starts; none in flight") },
            "\(seen.notices)")
    }
}

/// Waits for the step to go back to pending (the back-off), and keeps the notices.
final class BackOffWatcher: RunObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var pending = false
    private var waiter: CheckedContinuation<Void, Never>?
    private(set) var notices: [String] = []

    func handle(_ event: RunEvent) {
        let resume: CheckedContinuation<Void, Never>? = lock.withLock {
            if case .notice(let m) = event { notices.append(m) }
            guard case .step(let c) = event, c.from == .running, c.to == .pending else { return nil }
            pending = true
            defer { waiter = nil }
            return waiter
        }
        resume?.resume()
    }

    func waitForBackOff() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = lock.withLock { () -> Bool in
                if pending { return true }
                waiter = c
                return false
            }
            if now { c.resume() }
        }
    }
}
