import Dispatch
import Foundation

/// SIGINT/SIGTERM → stop requests: the first asks for a graceful stop (start nothing new, let
/// in-flight migrations finish), the second for a forced one (abort them; guests stay on their
/// sources). Owns its dispatch sources; `cancel()` (or deinit) restores default handling.
public final class StopSignals: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let signals: [Int32]
    private let count = Locked(0)

    /// `onStop(graceful)` runs on a private queue.
    public init(signals: [Int32] = [SIGINT, SIGTERM], onStop: @escaping @Sendable (_ graceful: Bool) -> Void) {
        self.signals = signals
        let queue = DispatchQueue(label: "evac.signals")
        for sig in signals {
            // Dispatch sources only see a signal the process does not act on itself.
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            src.setEventHandler { [count] in
                let n = count.withLock { c in
                    c += 1
                    return c
                }
                onStop(n == 1)
            }
            src.resume()
            sources.append(src)
        }
    }

    public func cancel() {
        for s in sources { s.cancel() }
        sources = []
        for sig in signals { signal(sig, SIG_DFL) }
    }

    deinit { cancel() }
}

extension Executor {
    /// Wires SIGINT/SIGTERM to this executor; keep the returned object alive for the run.
    public nonisolated func stopOnSignals() -> StopSignals {
        StopSignals { [weak self] graceful in self?.requestStop(graceful: graceful) }
    }
}
