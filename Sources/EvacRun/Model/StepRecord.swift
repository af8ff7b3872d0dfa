/// One step as the journal stores it: the durable part of a migration's life.
public struct StepRecord: Codable, Hashable, Sendable {
    public var kind: RunKind
    /// The migration id from the plan (a rollback step keeps the id of the step it undoes).
    public var id: Int
    public var guest: String
    public var uuid: String
    public var source: String
    public var target: String
    public var state: StepState
    /// How many times the migration was started (written with `running`).
    public var attempt: Int
    /// Why the step is blocked, failed, pending again, or how it was reconciled.
    public var reason: String?
    /// ISO 8601 UTC timestamps of the last attempt.
    public var started: String?
    public var finished: String?
    /// Final job statistics of a done migration (MigrationOutcome as JSON).
    public var stats: String?

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
    public var step: StepRecord
    public var from: StepState
    public var message: String
    /// The hypervisor's error text when the transition comes from one.
    public var hypervisorError: String?
    public init(step: StepRecord, from: StepState, message: String, hypervisorError: String? = nil) {
        self.step = step
        self.from = from
        self.message = message
        self.hypervisorError = hypervisorError
    }
}

/// Counts of steps per state, for summaries and `evac status`.
public struct StepCounts: Codable, Hashable, Sendable {
    public var total = 0, pending = 0, running = 0, done = 0, failed = 0, blocked = 0, skipped = 0, rolledBack = 0
    public init() {}
    public init<S: Sequence>(_ steps: S) where S.Element == StepRecord {
        for s in steps { add(s.state) }
    }
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
