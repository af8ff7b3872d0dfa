/// Where a journal's run stands, from its rows alone (no host is asked): what `apply`, `resume`
/// and `rollback` of the plan may do with it. One plan name has at most one journal that is not
/// over (see the CLI's PlanRuns): every apply, resume and rollback of the plan goes to it.
public enum RunStanding: Sendable, Equatable {
    /// Its rollback returned every guest the plan moved: over. Resume refuses (there is
    /// nothing to continue); apply keeps the journal under a closed name and starts again.
    case rolledBack(String)
    /// A rollback began and has not returned every guest yet (killed, interrupted, partial):
    /// resume and rollback continue it; apply refuses, since going forward and going home at
    /// once is what nobody means.
    case rollingBack
    /// No migration was ever started and no rollback either (every step pending or blocked by
    /// pre-checks, or no step at all): nothing to undo. Resume retries it; a new apply may
    /// replace it (placing everything afresh is exactly "re-place what is not done").
    case untouched
    /// Migrations started: some guests may be on their targets. `complete` when every step is
    /// done or skipped. Resume continues it, rollback returns its guests.
    case applied(complete: Bool)

    /// The standing of a journal with these runs, apply steps and rollback steps.
    public static func of(runs: [RunRecord], apply: [StepRecord], rollback: [StepRecord]) -> RunStanding {
        if runs.contains(where: { $0.kind == .rollback }) || !rollback.isEmpty {
            let last = runs.last { $0.kind == .rollback }
            // The newest rollback ended all-done, nothing it moved is still out, and no apply step
            // is done (on its target) or running (whereabouts unknown).
            guard last?.exitStatus == RunStatus.allDone.rawValue,
                rollback.allSatisfy({ $0.state == .done }),
                !apply.contains(where: { $0.state == .done || $0.state == .running })
            else { return .rollingBack }
            return .rolledBack(
                rollback.isEmpty
                    ? "its rollback found no guest of the plan away from its source"
                    : "its rollback returned all \(rollback.count) guest(s) it moved")
        }
        if apply.allSatisfy({ $0.attempt == 0 && $0.state != .done && $0.state != .running && $0.state != .rolledBack })
        {
            return .untouched
        }
        return .applied(complete: apply.allSatisfy { $0.state == .done || $0.state == .skipped })
    }

    /// Over: a new apply of the plan may keep this journal under a closed name and start again.
    public var isOver: Bool {
        switch self {
        case .rolledBack, .untouched: return true
        case .rollingBack, .applied: return false
        }
    }

    /// Why the journal is over, for the note apply prints when it closes it.
    public var overReason: String? {
        switch self {
        case .rolledBack(let why): return why
        case .untouched: return "none of its migrations ever started"
        case .rollingBack, .applied: return nil
        }
    }
}
