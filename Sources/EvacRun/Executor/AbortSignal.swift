import EvacCore

/// Why a migration in flight is being aborted.
enum AbortReason: Sendable, Hashable {
    case timeout(ms: UInt64)
    case noProgress(ms: UInt64)
    case operatorStop
    /// The journal cannot be written: no side effect may go on unrecorded.
    case journalFailed

    var text: String {
        switch self {
        case .timeout(let ms): return "timed out after \(Format.planDuration(ms: ms))"
        case .noProgress(let ms): return "no progress for \(Format.planDuration(ms: ms))"
        case .operatorStop: return "aborted by operator"
        case .journalFailed: return "aborted: the journal cannot be written"
        }
    }
}

/// A one-shot signal that a migration must be aborted. Fired by the watchdog (timeouts), by a
/// forced stop, or by a journal failure; awaited next to the migrate call, which is then cancelled.
final class AbortSignal: Sendable {
    private struct State {
        var reason: AbortReason?
        var waiter: CheckedContinuation<AbortReason?, Never>?
        var cancelled = false
    }
    private let state = Locked(State())

    var reason: AbortReason? { state.withLock { $0.reason } }

    func fire(_ reason: AbortReason) {
        let waiter: CheckedContinuation<AbortReason?, Never>? = state.withLock { s in
            if s.reason == nil { s.reason = reason }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: reason)
    }

    /// Returns the reason once fired, or nil when the waiting task is cancelled.
    func wait() async -> AbortReason? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<AbortReason?, Never>) in
                let now: AbortReason?? = state.withLock { s in
                    if let r = s.reason { return .some(r) }
                    if s.cancelled { return .some(nil) }
                    s.waiter = c
                    return .none
                }
                if let now { c.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                s.cancelled = true
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
