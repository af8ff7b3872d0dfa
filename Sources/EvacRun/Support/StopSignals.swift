import Dispatch
import Foundation

/// SIGINT and SIGTERM for the whole process, from its first instant to its last.
///
/// Why not the inherited disposition: a process started in the background of a
/// non-interactive shell (a script's `evac apply … &`, some CI runners, `nohup`) inherits
/// SIGINT *ignored*; evac relied on the default until a run began, so Ctrl-C or `kill -INT`
/// did nothing while it connected to hosts or read their inventory, which could last forever
/// on a host that never answered. `install` takes both signals over at start-up, whatever was
/// inherited.
///
/// While a run is going (`route`), the first signal asks it for a graceful stop and the second
/// for a forced one; outside a run, a signal ends the process at once through `outsideRun`
/// (nothing is half-done then: no journal is being written and no migration was started).
public final class StopSignals: @unchecked Sendable {
    /// The process's one instance: signal handlers are process-wide.
    public static let shared = StopSignals()

    private struct State {
        var installed = false
        var outsideRun: (@Sendable (Int32) -> Void)?
        var route: (id: Int, handler: @Sendable (_ graceful: Bool) -> Void)?
        var nextRoute = 0
        var count = 0
    }
    private let state = Locked(State())
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "evac.signals")

    /// Takes SIGINT and SIGTERM over (and ignores SIGPIPE, which a daemon dying mid-call would
    /// otherwise deliver: libvirt writes to its sockets with write(2)). `outsideRun` runs on a
    /// private queue for a signal that comes while no run listens. Call once, first thing.
    public func install(outsideRun: @escaping @Sendable (Int32) -> Void) {
        signal(SIGPIPE, SIG_IGN)
        let first: Bool = state.withLock { s in
            s.outsideRun = outsideRun
            defer { s.installed = true }
            return !s.installed
        }
        guard first else { return }
        for sig in [SIGINT, SIGTERM] {
            // Dispatch sources only see a signal the process does not act on itself.
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            src.setEventHandler { [weak self] in self?.deliver(sig) }
            src.resume()
            sources.append(src)
        }
    }

    private func deliver(_ sig: Int32) {
        let (route, outside, n): ((@Sendable (Bool) -> Void)?, (@Sendable (Int32) -> Void)?, Int) = state.withLock {
            s in
            if s.route != nil { s.count += 1 }
            return (s.route?.handler, s.outsideRun, s.count)
        }
        if let route { route(n == 1) } else { outside?(sig) }
    }

    /// Sends the signals to `handler` (graceful for the first, forced after) until the
    /// returned route is ended.
    public func route(_ handler: @escaping @Sendable (_ graceful: Bool) -> Void) -> Route {
        let id: Int = state.withLock { s in
            s.nextRoute += 1
            s.route = (s.nextRoute, handler)
            s.count = 0
            return s.nextRoute
        }
        return Route(signals: self, id: id)
    }

    fileprivate func end(_ id: Int) {
        state.withLock { s in if s.route?.id == id { s.route = nil } }
    }

    /// A run's hold on the signals; `cancel()` (or deinit) gives them back.
    public final class Route: @unchecked Sendable {
        private let signals: StopSignals
        private let id: Int
        fileprivate init(signals: StopSignals, id: Int) {
            self.signals = signals
            self.id = id
        }
        /// Gives the signals back (a signal then ends the process through `outsideRun` again).
        public func cancel() { signals.end(id) }
        deinit { cancel() }
    }
}

extension Executor {
    /// Wires SIGINT/SIGTERM to this executor; keep the returned route alive for the run.
    /// (The process must have called `StopSignals.shared.install` for signals to arrive.)
    public nonisolated func stopOnSignals() -> StopSignals.Route {
        StopSignals.shared.route { [weak self] graceful in self?.requestStop(graceful: graceful) }
    }
}
