/// Who may start what: operator stop requests (graceful, then forced) and journal failure,
/// plus the abort signals of the migrations in flight so that a forced stop reaches them.
/// Lock-based so a signal handler can call it without awaiting the executor.
final class StopControl: Sendable {
    private struct State {
        var graceful = false
        var forced = false
        var journalFailed = false
        var inFlight: [Int: AbortSignal] = [:]
        /// Waits that any stop ends (host reads, pre-checks, retry back-offs), by token.
        var cancellable: [Int: @Sendable () -> Void] = [:]
        var nextToken = 0
    }
    private let state = Locked(State())

    var startsAllowed: Bool { state.withLock { !$0.graceful && !$0.forced && !$0.journalFailed } }
    var stopRequested: Bool { state.withLock { $0.graceful || $0.forced } }
    /// A second stop (or a journal failure): running hooks are killed, not waited for.
    var forcedStopRequested: Bool { state.withLock { $0.forced || $0.journalFailed } }

    /// Returns how many migrations were in flight when it came.
    @discardableResult
    func request(graceful: Bool) -> Int {
        let (fire, cancel, n): ([AbortSignal], [@Sendable () -> Void], Int) = state.withLock { s in
            s.graceful = true
            let cancel = Array(s.cancellable.values)
            s.cancellable = [:]
            if graceful { return ([], cancel, s.inFlight.count) }
            s.forced = true
            return (Array(s.inFlight.values), cancel, s.inFlight.count)
        }
        for c in cancel { c() }
        for f in fire { f.fire(.operatorStop) }
        return n
    }

    /// Runs `body` in a task that any stop request cancels: for waits that start nothing
    /// (reading hosts, pre-checks, a retry's back-off), where stopping means not waiting. A
    /// host call cut short this way fails with `.interrupted`; check `stopRequested` after.
    func cancellingOnStop<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
        let task = Task { await body() }
        let token: Int? = state.withLock { s in
            if s.graceful || s.forced { return nil }
            s.nextToken += 1
            s.cancellable[s.nextToken] = { task.cancel() }
            return s.nextToken
        }
        if token == nil { task.cancel() }
        defer { if let token { state.withLock { _ = $0.cancellable.removeValue(forKey: token) } } }
        return await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
    }

    func journalFailed() {
        let fire = state.withLock { s in
            s.journalFailed = true
            return Array(s.inFlight.values)
        }
        for f in fire { f.fire(.journalFailed) }
    }

    /// Admits a migration that is about to start: registers its signal and returns true, or
    /// returns false when a stop or a journal failure came first. One lock for the check and the
    /// registration, so that a stop's "N in flight will finish" counts every migration that
    /// starts after all, and none starts that it did not count.
    func admit(_ id: Int, _ signal: AbortSignal) -> Bool {
        state.withLock { s in
            guard !s.graceful && !s.forced && !s.journalFailed else { return false }
            s.inFlight[id] = signal
            return true
        }
    }

    func unregister(_ id: Int) { state.withLock { _ = $0.inFlight.removeValue(forKey: id) } }
}
