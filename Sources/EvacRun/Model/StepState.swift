/// The state of one step in the journal (DESIGN.md vocabulary).
public enum StepState: String, Codable, Sendable, CaseIterable {
    /// Waiting, migrating, migrated, failed, blocked (by a pre-check or a step that did not end done), skipped.
    case pending, running, done, failed, blocked, skipped
    /// An apply step whose guest a rollback returned to its source.
    case rolledBack = "rolled-back"

    /// States a resume leaves alone: the guest is where this run wants it, or on purpose not moved.
    public var isSettled: Bool { self == .done || self == .skipped || self == .rolledBack }
}

/// Which journaled run a step belongs to: the forward apply or the rollback of it.
public enum RunKind: String, Codable, Sendable { case apply, rollback }
