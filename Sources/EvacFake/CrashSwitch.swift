import EvacRun

/// A journal write hook that "kills the process" at the k-th durable write: that write and
/// every later one fail, and the fake world is told the client is gone (its in-flight
/// migrations then finish on the hypervisor side). k = nil never crashes, only counts.
public final class CrashSwitch: @unchecked Sendable {
    private let state = Locked((writes: 0, tripped: false))
    public let crashAt: Int?
    private let world: FakeHypervisor?

    public init(at k: Int?, world: FakeHypervisor? = nil) {
        crashAt = k
        self.world = world
    }

    public var writes: Int { state.withLock { $0.writes } }
    public var tripped: Bool { state.withLock { $0.tripped } }

    public var hook: JournalWriteHook {
        { [self] in
            let crashNow: Bool = state.withLock { s in
                if s.tripped { return true }
                s.writes += 1
                if let k = crashAt, s.writes >= k {
                    s.tripped = true
                    return true
                }
                return false
            }
            if crashNow {
                world?.crash()
                throw JournalError.simulatedCrash(point: crashAt ?? 0)
            }
        }
    }
}
