/// One step as the journal stores it: the durable part of a migration's life.
public struct StepRecord: Codable, Hashable, Sendable {
    /// Whether the step belongs to the apply or to a rollback of it.
    public var kind: RunKind
    /// The migration id from the plan (a rollback step keeps the id of the step it undoes).
    public var id: Int
    /// The guest's libvirt domain name.
    public var guest: String
    /// The guest's libvirt UUID, by which resume finds it on its source and target.
    public var uuid: String
    /// The host the step moves the guest from (a rollback step's source is its apply step's target).
    public var source: String
    /// The host the step moves the guest to (a rollback step's target is the guest's original source).
    public var target: String
    /// Where the step stands; a done apply step becomes rolled-back once a rollback returns its guest.
    public var state: StepState
    /// How many times the migration was started (written with `running`).
    public var attempt: Int
    /// Why the step is blocked, failed, pending again, or how it was reconciled.
    public var reason: String?
    /// ISO 8601 UTC timestamps of the last attempt.
    public var started: String?
    /// When the last attempt ended; nil while it runs or before it started.
    public var finished: String?
    /// Final job statistics of a done migration (MigrationOutcome as JSON).
    public var stats: String?

    /// A step record; a new step is pending with no attempt yet.
    public init(
        kind: RunKind, id: Int, guest: String, uuid: String, source: String, target: String,
        state: StepState = .pending, attempt: Int = 0, reason: String? = nil,
        started: String? = nil, finished: String? = nil, stats: String? = nil
    ) {
        self.kind = kind
        self.id = id
        self.guest = guest
        self.uuid = uuid
        self.source = source
        self.target = target
        self.state = state
        self.attempt = attempt
        self.reason = reason
        self.started = started
        self.finished = finished
        self.stats = stats
    }
}

/// One change of a step, written as the new row plus an event (from → to, why).
public struct StepTransition: Sendable, Hashable {
    /// The step as it is after the change.
    public var step: StepRecord
    /// The state it left.
    public var from: StepState
    /// Why it changed, for the journal's event row and the observers.
    public var message: String
    /// The hypervisor's error text when the transition comes from one.
    public var hypervisorError: String?
    /// A transition of `step` from `from`, with the hypervisor's error when one caused it.
    public init(step: StepRecord, from: StepState, message: String, hypervisorError: String? = nil) {
        self.step = step
        self.from = from
        self.message = message
        self.hypervisorError = hypervisorError
    }
}

/// Counts of steps per state, for summaries and `evac status`.
public struct StepCounts: Codable, Hashable, Sendable {
    /// Steps in total and in each state.
    public var total = 0, pending = 0, running = 0, done = 0, failed = 0, blocked = 0, skipped = 0, rolledBack = 0
    /// No steps counted.
    public init() {}
    /// The counts of `steps`.
    public init<S: Sequence>(_ steps: S) where S.Element == StepRecord {
        for s in steps { add(s.state) }
    }
    /// Counts one more step in `state`.
    public mutating func add(_ state: StepState) {
        total += 1
        switch state {
        case .pending: pending += 1
        case .running: running += 1
        case .done: done += 1
        case .failed: failed += 1
        case .blocked: blocked += 1
        case .skipped: skipped += 1
        case .rolledBack: rolledBack += 1
        }
    }
}
