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

public struct RunResult: Sendable, Hashable {
    public var status: RunStatus
    /// Why, for cannotStart / journalFailed / interrupted.
    public var message: String?
    public var runID: Int?
    public var steps: [StepRecord]
    public var counts: StepCounts { StepCounts(steps) }
    public init(status: RunStatus, message: String? = nil, runID: Int? = nil, steps: [StepRecord] = []) {
        self.status = status
        self.message = message
        self.runID = runID
        self.steps = steps
    }
}
