import EvacRun
import Foundation
import Testing

@testable import EvacCoordinator

/// Every wait on the database ends: a call past its deadline returns at once, whatever its body
/// does, and a run of such calls ends with the outage message. (The 64-commit test hung on a
/// deadline that waited for a body which never ended after its connection was closed.)
@Suite(.timeLimit(.minutes(2)))
struct DeadlineTests {
    @Test func aBodyThatNeverEndsDoesNotHoldItsCaller() async throws {
        let stuck = Stuck()
        let closed = Locked(false)
        await #expect {
            try await deadline(.milliseconds(200), onTimeout: { closed.withLock { $0 = true } }) {
                await stuck.forever()
                return 1
            }
        } throws: { e in (e as? TimedOut)?.limit == .milliseconds(200) }
        #expect(closed.withLock { $0 }, "the timeout closed the body's connection")
        stuck.release()
    }

    @Test func aLateValueGoesToAbandoned() async throws {
        let late = Locked<Int?>(nil)
        let gate = Stuck()
        await #expect(throws: TimedOut.self) {
            try await deadline(.milliseconds(100), onTimeout: {}, abandoned: { v in late.withLock { $0 = v } }) {
                await gate.forever()
                return 7
            }
        }
        gate.release()
        for _ in 0..<100 where late.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(20)) }
        #expect(late.withLock { $0 } == 7, "a connection that arrives after its deadline is closed, not leaked")
    }

    @Test func aCancelledCallerEndsToo() async throws {
        let stuck = Stuck()
        let call = Task {
            try await deadline(.seconds(3600), onTimeout: {}) {
                await stuck.forever()
                return 1
            }
        }
        try await Task.sleep(for: .milliseconds(50))
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        stuck.release()
    }

    @Test func aBusyPoolGivesUpAfterItsWait() async throws {
        let pool = Pool(size: 1)
        let held = try #require(await pool.acquire(within: .seconds(1)))
        #expect(await pool.acquire(within: .milliseconds(100)) == nil)
        pool.release(held, healthy: true)
        #expect(await pool.acquire(within: .milliseconds(100)) != nil)
    }
}

/// A statement the server takes longer over than the attempt's deadline, on the suite's server.
@Suite(.sharedPostgres, .timeLimit(.minutes(2)))
struct SlowStatementTests {
    @Test func aStatementPastEveryDeadlineEndsWithTheOutageMessage() async throws {
        var timing = CoordinatorTiming.testing
        timing.attempt = .seconds(1)
        timing.outage = .seconds(3)
        let server = try await PostgresServer.shared()
        // The schema first, with the usual deadlines (under a loaded suite it can take a second).
        try await server.coordinator().migrate()
        let coordinator = try server.coordinator(timing: timing)
        await #expect {
            try await coordinator.link.run("sleeping") { c in
                try await c.query("SELECT pg_sleep(20)", logger: coordinator.logger)
            }
        } throws: { e in
            guard case .unreachable(let named, _, let why) = e as? CoordinatorError else { return false }
            return named == server.url.server && why.contains("sleeping: no answer within 1s")
        }
        // The link is usable again at once: the slots of the abandoned attempts are free.
        let one = try await coordinator.link.run("one") { c in
            var n = 0
            for try await v in try await c.query("SELECT 1", logger: coordinator.logger).decode(Int.self) { n = v }
            return n
        }
        #expect(one == 1)
        await coordinator.shutdown()
    }
}

/// A wait that ends only when told.
final class Stuck: Sendable {
    private let waiters = Locked<[CheckedContinuation<Void, Never>]>([])
    private let open = Locked(false)
    func forever() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = open.withLock { o in
                if !o { waiters.withLock { $0.append(c) } }
                return o
            }
            if now { c.resume() }
        }
    }
    func release() {
        open.withLock { $0 = true }
        let all = waiters.withLock { w in
            defer { w = [] }
            return w
        }
        for c in all { c.resume() }
    }
}
