/// What evac does, at run time, with a live migration that stops making progress: the
/// plan's `migration.ladder`. Each rung is tried after `stallPasses` pre-copy passes in a row
/// left no less to send than the best pass before (libvirt's `memory_iteration` and
/// `data_remaining`):
/// 1. raise max-downtime in `downtimeSteps` equal steps from the plan's `max-downtime` up to
///    `maxDowntimeCapMs` (`virDomainMigrateSetMaxDowntime`) — skipped when even the cap cannot
///    hold what is left at the measured rate;
/// 2. switch to post-copy when `postCopy` (the migration is then started with post-copy
///    enabled; `virDomainMigrateStartPostCopy`);
/// 3. the `fallback`; `offline` is the one that still gets the guest across, with a restart,
///    and only where the plan says so (`allowRestart`): the consent is a key of its own, not the
///    fallback itself, so that a fallback inherited from the plan never restarts a group's
///    guests that the plan did not mean to restart.
public struct ConvergenceLadder: Hashable, Sendable, Codable {
    /// What happens when no rung made the migration converge.
    public enum Fallback: String, Hashable, Sendable, Codable, CaseIterable {
        /// Abort the migration; the step fails, the guest stays on its source (as a timeout).
        case abort
        /// Abort, then move it again at once in paused mode: the guest stops for the whole
        /// copy (so it dirties nothing and the copy ends), then runs on the target.
        case retryPaused = "retry-paused"
        /// Abort and leave the guest on its source, the step skipped (not a failure): the drain
        /// goes on without it.
        case skip
        /// Abort, fail the step and start no further migration (those in flight finish).
        case stop
        /// Abort, then shut the guest down (ACPI, up to `shutdownTimeoutMs`; then destroy only
        /// with `forceOff`), move its definition offline, start it on the target. Only where the
        /// plan consents to a restart (`allowRestart`); never for a guest whose disks are copied
        /// (libvirt refuses VIR_MIGRATE_OFFLINE with VIR_MIGRATE_NON_SHARED_DISK).
        case offline
    }

    /// Passes in a row without a new low of what is left before the next rung (1–100).
    public var stallPasses: Int = 2
    /// The highest max-downtime the ladder sets, ms; nil = no downtime rungs.
    public var maxDowntimeCapMs: UInt64?
    /// How many equal steps lead from the plan's max-downtime to the cap (1–20).
    public var downtimeSteps: Int = 3
    /// Whether the ladder switches to post-copy after the downtime rungs.
    public var postCopy: Bool = false
    /// What ends a migration that still does not converge at the top of the ladder.
    public var fallback: Fallback = .abort
    /// `ladder.allow-restart`: the plan's consent that the guests may be shut down and started
    /// again on the target (the `offline` fallback needs it). nil = no (optional, as the two
    /// below, so that plan files written before it decode and keep their hash).
    public var allowRestart: Bool?
    /// `ladder.shutdown-timeout`: how long the offline fallback waits for the guest to shut down
    /// after the ACPI request, ms; nil = `defaultShutdownTimeoutMs`.
    public var shutdownTimeoutMs: UInt64?
    /// `ladder.force-off`: whether the offline fallback destroys (pulls the power of) a guest
    /// that did not shut down in time; nil = no: the step fails and the guest stays on its source.
    public var forceOff: Bool?

    /// Whether the plan consents to restarting the guest (`allow-restart: true`).
    public var restartAllowed: Bool { allowRestart == true }
    /// The shutdown deadline of the offline fallback, ms.
    public var shutdownDeadlineMs: UInt64 { shutdownTimeoutMs ?? Self.defaultShutdownTimeoutMs }
    /// Whether the offline fallback may destroy a guest that did not shut down in time.
    public var forcesOff: Bool { forceOff == true }
    /// Two minutes: what a guest OS usually needs to stop its services and power off.
    public static let defaultShutdownTimeoutMs: UInt64 = 120_000

    /// A ladder; the defaults take two stalled passes per rung and end in `abort`.
    public init(
        stallPasses: Int = 2, maxDowntimeCapMs: UInt64? = nil, downtimeSteps: Int = 3, postCopy: Bool = false,
        fallback: Fallback = .abort
    ) {
        self.stallPasses = stallPasses
        self.maxDowntimeCapMs = maxDowntimeCapMs
        self.downtimeSteps = downtimeSteps
        self.postCopy = postCopy
        self.fallback = fallback
    }

    /// What the plan language accepts for the ladder's counts (and plan files are checked against).
    public enum Bounds {
        /// Stalled passes per rung.
        public static let stallPasses: ClosedRange<Int> = 1...100
        /// Downtime steps to the cap.
        public static let downtimeSteps: ClosedRange<Int> = 1...20
        /// The offline fallback's shutdown deadline, ms: 1 s to 1 h.
        public static let shutdownTimeoutMs: ClosedRange<UInt64> = 1000...3_600_000
    }

    /// The max-downtime of each downtime rung, ms, from `base` (the plan's) to the cap.
    public func downtimeRungs(base: UInt64) -> [UInt64] {
        guard let cap = maxDowntimeCapMs, cap > base else { return [] }
        let steps = UInt64(max(1, downtimeSteps))
        return (1...steps).map { base + (cap - base) * $0 / steps }
    }
}

extension MigrationOptions {
    /// Whether the migration is started with post-copy enabled (VIR_MIGRATE_POSTCOPY): the
    /// plan's `post-copy` policy or the ladder may switch it.
    public var postCopyEnabled: Bool { mode == .live && (postCopy != .never || ladder?.postCopy == true) }

    /// The max-downtime of each of the ladder's downtime rungs, ms (none without a ladder).
    public var ladderDowntimes: [UInt64] { ladder?.downtimeRungs(base: maxDowntimeMs) ?? [] }

    /// The ladder's own bad combinations, reported at `ladder.KEY`.
    var ladderConflicts: [Conflict] {
        guard let l = ladder else { return [] }
        var out: [Conflict] = []
        if mode != .live {
            out.append(
                Conflict(
                    key: "ladder", message: "a convergence ladder needs mode: live",
                    help: "only a live migration can fail to converge; drop ladder:, or set mode: live"))
        }
        if let cap = l.maxDowntimeCapMs, cap <= maxDowntimeMs {
            out.append(
                Conflict(
                    key: "ladder.max-downtime",
                    message: "ladder.max-downtime \(cap)ms is not above migration.max-downtime \(maxDowntimeMs)ms",
                    help:
                        "the ladder raises max-downtime up to its cap; give a cap above \(maxDowntimeMs)ms, or drop it")
            )
        }
        if l.postCopy, postCopy == .afterFirstPass {
            out.append(
                Conflict(
                    key: "ladder.post-copy", message: "ladder.post-copy has no effect with post-copy: after-first-pass",
                    help: "the migration switches to post-copy after its first pass anyway; drop one of them"))
        }
        if l.fallback == .offline, !l.restartAllowed {
            out.append(
                Conflict(
                    key: "ladder.fallback",
                    message:
                        "fallback offline shuts the guest down and starts it on the target, and the plan does not allow a restart",
                    help:
                        "add ladder.allow-restart: true where the guests may be restarted (a group, or the plan), or choose another fallback (abort, retry-paused, skip, stop)"
                ))
        }
        if l.maxDowntimeCapMs == nil, !l.postCopy, l.fallback == .abort {
            out.append(
                Conflict(
                    key: "ladder", message: "the ladder has no rung: no max-downtime cap, no post-copy, fallback abort",
                    help: "give ladder.max-downtime, ladder.post-copy: true or another fallback; or drop ladder:"))
        }
        return out
    }

    /// The ladder's ranges.
    var ladderProblems: [String] {
        guard let l = ladder else { return [] }
        var out: [String] = []
        if !ConvergenceLadder.Bounds.stallPasses.contains(l.stallPasses) {
            out.append("ladder.stall-passes \(l.stallPasses) is out of range")
        }
        if !ConvergenceLadder.Bounds.downtimeSteps.contains(l.downtimeSteps) {
            out.append("ladder.downtime-steps \(l.downtimeSteps) is out of range")
        }
        if let t = l.shutdownTimeoutMs, !ConvergenceLadder.Bounds.shutdownTimeoutMs.contains(t) {
            out.append("ladder.shutdown-timeout \(t)ms is out of range")
        }
        if let c = l.maxDowntimeCapMs, !Bounds.maxDowntimeMs.contains(c) {
            out.append("ladder.max-downtime \(c)ms is out of range")
        }
        return out
    }
}
