/// Who may start what: operator stop requests (graceful, then forced) and journal failure,
/// plus the abort signals of the migrations in flight so that a forced stop reaches them.
/// Lock-based so a signal handler can call it without awaiting the executor.
final class StopControl: Sendable {
    private struct State {
        var graceful = false
        var forced = false
        var journalFailed = false
        var inFlight: [Int: AbortSignal] = [:]
    }
    private let state = Locked(State())

    var startsAllowed: Bool { state.withLock { !$0.graceful && !$0.forced && !$0.journalFailed } }
    var stopRequested: Bool { state.withLock { $0.graceful || $0.forced } }

    func request(graceful: Bool) {
        let fire: [AbortSignal] = state.withLock { s in
            s.graceful = true
            if graceful { return [] }
            s.forced = true
            return Array(s.inFlight.values)
        }
        for f in fire { f.fire(.operatorStop) }
    }

    func journalFailed() {
        let fire = state.withLock { s in
            s.journalFailed = true
            return Array(s.inFlight.values)
        }
        for f in fire { f.fire(.journalFailed) }
    }

    /// Registers a migration's signal; fires it at once if a forced stop or failure came first.
    func register(_ id: Int, _ signal: AbortSignal) {
        let already: AbortReason? = state.withLock { s in
            s.inFlight[id] = signal
            return s.journalFailed ? .journalFailed : s.forced ? .operatorStop : nil
        }
        if let already { signal.fire(already) }
    }

    func unregister(_ id: Int) { state.withLock { _ = $0.inFlight.removeValue(forKey: id) } }
}
