import EvacCore

/// What the executor tells the outside world. Renderers (terminal, plain lines, JSON lines)
/// implement `RunObserver`; calls come from any thread, possibly concurrently.
public enum RunEvent: Sendable {
    case runStarted(RunStart)
    /// A step changed state (journaled transitions, plus `checking` which is not journaled).
    case step(StepChange)
    case progress(ProgressSample)
    /// Something the operator must read (reconcile findings, guests lost, refusals).
    case notice(String)
    case runFinished(RunSummary)
}

public struct RunStart: Sendable, Codable, Hashable {
    public var kind: RunKind
    public var planName: String
    public var planHash: String
    public var journal: String
    public var runID: Int
    public var steps: Int
    /// Steps already settled (done, skipped, rolled back) by earlier runs: a resume sends no
    /// events for them, so a display counts them as done from the start.
    public var alreadyDone: Int = 0
}

public struct StepChange: Sendable, Codable, Hashable {
    public var kind: RunKind
    public var id: Int
    public var guest: String
    public var source: String
    public var target: String
    /// nil for the first report of a step.
    public var from: StepState?
    /// `checking` is reported as nil `to` with a "checking" message: it is not a journal state.
    public var to: StepState?
    public var attempt: Int
    public var message: String
    /// For a migration that just ended done: bytes the hypervisor transferred and how long the
    /// migration took by its own account (what the metrics file counts).
    public var transferredBytes: UInt64? = nil
    public var durationMs: UInt64? = nil
}

public struct ProgressSample: Sendable, Codable, Hashable {
    public var id: Int
    public var guest: String
    public var source: String
    public var target: String
    public var progress: MigrationProgress
}

public struct RunSummary: Sendable, Codable, Hashable {
    public var kind: RunKind
    public var status: RunStatus
    public var message: String?
    public var counts: StepCounts
    public var elapsedMs: UInt64
    /// Steps that ended failed or blocked, with their reasons: what the operator reads first.
    public var problems: [StepRecord]
}

public protocol RunObserver: Sendable {
    func handle(_ event: RunEvent)
}

/// Drops everything (benchmarks, tests that do not watch).
public struct NullObserver: RunObserver {
    public init() {}
    public func handle(_ event: RunEvent) {}
}

/// Forwards to several observers (e.g. the terminal and a JSON log file).
public struct FanOutObserver: RunObserver {
    public var observers: [any RunObserver]
    public init(_ observers: [any RunObserver]) { self.observers = observers }
    public func handle(_ event: RunEvent) { for o in observers { o.handle(event) } }
}
