import EvacRun

/// Runs `body`, or gives up after `limit`: then calls `onTimeout` (which should make the body end,
/// e.g. by closing its connection) and throws `TimedOut` at once.
///
/// The caller never waits for a body that has timed out. postgres-nio does not promise that a
/// query in flight ends when its connection is closed from another task (a close that races the
/// query's write leaves the query's promise unanswered), and a wait for the body there was the
/// hang of the 64-commit test: one attempt past its deadline, and the caller, its connection
/// slot and every commit queued behind it waited forever. The body goes on detached (cancelled);
/// should it still produce a value, `abandoned` gets it (a late connection, to be closed).
/// A cancelled caller ends the same way, with `CancellationError`.
func deadline<T: Sendable>(
    _ limit: Duration, onTimeout: @escaping @Sendable () -> Void,
    abandoned: @escaping @Sendable (T) -> Void = { _ in },
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = Race<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            guard race.arm(c) else { return }
            let work = Task {
                do {
                    let value = try await body()
                    if !race.finish(.success(value)) { abandoned(value) }
                } catch {
                    race.finish(.failure(error))
                }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                if Task.isCancelled { return }
                race.finish(.failure(TimedOut(limit: limit))) {
                    onTimeout()
                    work.cancel()
                }
            }
            race.onFinish { timer.cancel() }
        }
    } onCancel: {
        race.finish(.failure(CancellationError())) { onTimeout() }
    }
}

/// The first of body, timer and cancellation to finish resumes the caller; the others find it
/// done. `before` runs before the resumption, once, for the winner only.
final class Race<T: Sendable>: Sendable {
    private struct State {
        var waiting: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var done = false
        var cleanup: (@Sendable () -> Void)?
    }
    private let state = Locked(State())

    /// Takes the caller's continuation; false (and resumed already) when the race was decided
    /// before it began (the caller was cancelled first).
    func arm(_ c: CheckedContinuation<T, any Error>) -> Bool {
        let early: Result<T, any Error>? = state.withLock { s in
            if s.done { return s.result }
            s.waiting = c
            return nil
        }
        guard let early else { return true }
        c.resume(with: early)
        return false
    }

    /// Runs `cleanup` once the race is decided (now, if it is).
    func onFinish(_ cleanup: @escaping @Sendable () -> Void) {
        let now: Bool = state.withLock { s in
            if s.done { return true }
            s.cleanup = cleanup
            return false
        }
        if now { cleanup() }
    }

    /// Decides the race with `result` unless it was decided; returns whether this call won.
    @discardableResult
    func finish(_ result: Result<T, any Error>, before: () -> Void = {}) -> Bool {
        let won: Bool = state.withLock { s in
            if s.done { return false }
            s.done = true
            s.result = result
            return true
        }
        guard won else { return false }
        before()
        let (c, cleanup) = state.withLock { s in
            defer {
                s.waiting = nil
                s.cleanup = nil
            }
            return (s.waiting, s.cleanup)
        }
        cleanup?()
        c?.resume(with: result)
        return true
    }
}

/// An attempt that had no answer within its deadline.
struct TimedOut: Error, CustomStringConvertible {
    var limit: Duration
    var what = "no answer"
    var description: String { "\(what) within \(PostgresLink.text(limit))" }
}
