import EvacCore

/// What the executor tells the outside world. Renderers (terminal, plain lines, JSON lines)
/// implement `RunObserver`; calls come from any thread, possibly concurrently.
public enum RunEvent: Sendable {
    /// A run began: what it runs and how many steps it has.
    case runStarted(RunStart)
    /// A step changed state (journaled transitions, plus `checking` which is not journaled).
    case step(StepChange)
    /// A sample of an in-flight migration's progress (not journaled, so a follower never sees one).
    case progress(ProgressSample)
    /// Something the operator must read (reconcile findings, guests lost, refusals).
    case notice(String)
    /// The run ended: how, with its counts and the steps that need the operator.
    case runFinished(RunSummary)
}

/// The start of a run, as observers announce it.
public struct RunStart: Sendable, Codable, Hashable {
    /// Apply or rollback.
    public var kind: RunKind
    /// The plan's name.
    public var planName: String
    /// The plan's hash, which names the run's journal.
    public var planHash: String
    /// The journal's path.
    public var journal: String
    /// The journal's id of this run.
    public var runID: Int
    /// How many steps the run has, counting those already settled.
    public var steps: Int
    /// Steps already settled (done, skipped, rolled back) by earlier runs: a resume sends no
    /// events for them, so a display counts them as done from the start.
    public var alreadyDone: Int = 0
}

/// One step changing state, as observers show it.
public struct StepChange: Sendable, Codable, Hashable {
    /// Whether the step belongs to the apply or to a rollback.
    public var kind: RunKind
    /// The migration id from the plan.
    public var id: Int
    /// The guest's libvirt domain name.
    public var guest: String
    /// The host the step moves the guest from.
    public var source: String
    /// The host the step moves the guest to.
    public var target: String
    /// nil for the first report of a step.
    public var from: StepState?
    /// `checking` is reported as nil `to` with a "checking" message: it is not a journal state.
    public var to: StepState?
    /// The step's attempt count (see `StepRecord.attempt`).
    public var attempt: Int
    /// Why the step changed, for people.
    public var message: String
    /// For a migration that just ended done: bytes the hypervisor transferred and how long the
    /// migration took by its own account (what the metrics file counts).
    public var transferredBytes: UInt64? = nil
    /// … and that duration, in milliseconds.
    public var durationMs: UInt64? = nil
}

/// The progress of one in-flight migration, sampled while it runs.
public struct ProgressSample: Sendable, Codable, Hashable {
    /// The migration id from the plan.
    public var id: Int
    /// The guest's libvirt domain name.
    public var guest: String
    /// The host the guest is moving from.
    public var source: String
    /// The host the guest is moving to.
    public var target: String
    /// The hypervisor's job figures: bytes transferred and remaining, rate, memory pass.
    public var progress: MigrationProgress
}

/// The end of a run, as observers announce it.
public struct RunSummary: Sendable, Codable, Hashable {
    /// Apply or rollback.
    public var kind: RunKind
    /// How the run ended.
    public var status: RunStatus
    /// Why, when the status needs a reason (cannot start, journal failed, interrupted).
    public var message: String?
    /// Steps of the run per state at its end.
    public var counts: StepCounts
    /// How long the run took, in milliseconds.
    public var elapsedMs: UInt64
    /// Steps that ended failed or blocked, with their reasons: what the operator reads first.
    public var problems: [StepRecord]
}

/// Receives a run's events to show or record them (terminal, plain lines, JSON lines, metrics).
public protocol RunObserver: Sendable {
    /// Takes one event; calls come from any thread, possibly concurrently.
    func handle(_ event: RunEvent)
}

/// Drops everything (benchmarks, tests that do not watch).
public struct NullObserver: RunObserver {
    /// An observer that drops every event.
    public init() {}
    /// Drops `event`.
    public func handle(_ event: RunEvent) {}
}

/// Forwards to several observers (e.g. the terminal and a JSON log file).
public struct FanOutObserver: RunObserver {
    /// The observers every event goes to, in order.
    public var observers: [any RunObserver]
    /// An observer forwarding to `observers`.
    public init(_ observers: [any RunObserver]) { self.observers = observers }
    /// Hands `event` to every observer in order.
    public func handle(_ event: RunEvent) { for o in observers { o.handle(event) } }
}
