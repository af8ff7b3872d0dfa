import ArgumentParser

/// Exit codes scripts can rely on (documented in README.md).
public enum EvacExit {
    /// Everything placed (plan) / every migration done (apply).
    public static let success = ExitCode(0)
    /// Some guests unplaceable (plan) / some migrations failed or blocked (apply).
    public static let partial = ExitCode(1)
    /// The plan or another input is invalid; nothing was done.
    public static let invalidInput = ExitCode(2)
    /// Could not start: a source unreachable, the journal locked by another run, a stale plan.
    public static let cannotStart = ExitCode(3)
    /// Interrupted by a signal; the journal says where it stopped.
    public static let interrupted = ExitCode(4)
    /// The journal could not be written mid-run: in-flight migrations were aborted, nothing
    /// else started; `evac resume` reconciles from what was written.
    public static let journalFailed = ExitCode(5)
}
