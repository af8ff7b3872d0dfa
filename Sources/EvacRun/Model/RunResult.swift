/// How a run ended; the CLI maps each case to an exit code.
public enum RunStatus: String, Codable, Sendable, Hashable {
    /// Every step is done (or skipped).
    case allDone = "all-done"
    /// Some steps failed or are blocked (or were not started after an on-failure stop).
    case partial
    /// Stopped by the operator (signal); pending steps remain for a resume.
    case interrupted
    /// Nothing was started: lock held, plan mismatch, unreachable source, journal not openable.
    case cannotStart = "cannot-start"
    /// The journal could not be written mid-run: in-flight migrations were aborted and nothing
    /// else was started. Resume reconciles from what was durably written.
    case journalFailed = "journal-failed"
}

/// What a run hands back to the CLI: how it ended and where each of its steps stands.
public struct RunResult: Sendable, Hashable {
    /// How the run ended; the CLI's exit code follows from it.
    public var status: RunStatus
    /// Why, for cannotStart / journalFailed / interrupted.
    public var message: String?
    /// The journal's id of this run; nil when it could not start.
    public var runID: Int?
    /// The run's steps (apply or rollback, as the run was) as they stand at its end.
    public var steps: [StepRecord]
    /// Steps per state.
    public var counts: StepCounts { StepCounts(steps) }
    /// A result; a run that cannot start has only a status and a message.
    public init(status: RunStatus, message: String? = nil, runID: Int? = nil, steps: [StepRecord] = []) {
        self.status = status
        self.message = message
        self.runID = runID
        self.steps = steps
    }
}
