import EvacCore
import EvacFake
import Foundation
import Testing

@testable import EvacRun

/// A stop works at every moment: also while the executor waits on a host that never answers
/// (before any migration, or in a pre-check), and it says what it does.
@Suite struct StopWhileWaitingTests {
    func scratch() -> String {
        let d = NSTemporaryDirectory() + "evac-stop-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func aStopEndsTheWaitOnASilentSourceBeforeAnythingStarts() async throws {
        let fp = smallPlan()
        let plan = try fp.planFile()
        let world = fp.world()
        world.setSilent("src-a", true)
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir), plan: plan)
        defer { j.close() }
        let notices = NoticeLog()
        let executor = Executor(plan: plan, hypervisor: world, journal: j, observer: notices)
        async let result = executor.apply()
        try await Task.sleep(for: .milliseconds(50)) // nothing to wait on: the executor is stuck by design
        executor.requestStop(graceful: true)
        let r = await result
        #expect(r.status == .interrupted)
        #expect(r.message?.hasPrefix("interrupted before any migration started") == true, "\(r.message ?? "")")
        #expect(
            r.steps.allSatisfy { $0.state == .pending && $0.reason == nil },
            "nothing written about the steps: \(r.steps)")
        #expect(world.attemptCounts.isEmpty)
        #expect(
            notices.all.first
                == "stopping: no new migration starts; none in flight; the run ends as soon as the hosts being asked have answered or are given up"
        )
    }

    @Test func aStopEndsAPreCheckOnASilentTargetAndTheStepStaysPending() async throws {
        var fp = FakePlan(moves: [
            .init("app-1", from: "src-a", to: "dst-a"), .init("app-2", from: "src-a", to: "dst-b"),
        ])
        fp.total = 2
        fp.perSource = 2
        let plan = try fp.planFile()
        let world = fp.world(migrationDelay: .seconds(600))
        world.setSilent("dst-b", true)
        let dir = scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let j = try SQLiteJournal(path: JournalLocation.journalPath(for: plan, stateDirectory: dir), plan: plan)
        defer { j.close() }
        let notices = NoticeLog()
        let executor = Executor(plan: plan, hypervisor: world, journal: j, observer: notices)
        async let result = executor.apply()
        await notices.waitFor {
            if case .step(let c) = $0 { return c.guest == "app-1" && c.to == .running } else { return false }
        }
        executor.requestStop(graceful: true) // app-1 in flight (600 s), app-2 stuck in its pre-check
        #expect(
            notices.all.last
                == "stopping: no new migration starts; 1 in flight will finish; press Ctrl-C again to abort them")
        executor.requestStop(graceful: false) // and the second aborts app-1
        let r = await result
        #expect(r.status == .interrupted)
        #expect(
            notices.all.last
                == "aborting 1 migration(s) in flight; their guests stay on their sources; `evac resume` continues the run"
        )
        #expect(r.steps.map(\.state) == [.pending, .pending], "\(r.steps)")
        for m in fp.moves { #expect(world.whereIs(uuid: m.uuid) == ["src-a": .running]) }
    }
}

/// Notices as they come, and a wait for a given event.
final class NoticeLog: RunObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var notices: [String] = []
    private var waiters: [(match: (RunEvent) -> Bool, c: CheckedContinuation<Void, Never>)] = []
    private var events: [RunEvent] = []

    var all: [String] { lock.withLock { notices } }

    func handle(_ event: RunEvent) {
        let ready: [CheckedContinuation<Void, Never>] = lock.withLock {
            if case .notice(let m) = event { notices.append(m) }
            events.append(event)
            let (hit, rest) = (waiters.filter { $0.match(event) }, waiters.filter { !$0.match(event) })
            waiters = rest
            return hit.map(\.c)
        }
        for c in ready { c.resume() }
    }

    func waitFor(_ match: @escaping (RunEvent) -> Bool) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = lock.withLock { () -> Bool in
                if events.contains(where: match) { return true }
                waiters.append((match, c))
                return false
            }
            if now { c.resume() }
        }
    }
}
