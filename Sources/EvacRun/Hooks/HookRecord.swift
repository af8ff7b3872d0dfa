import EvacCore

/// The journal's record of one hook at one point for one guest pass or host: written
/// `running` before the command starts and with its outcome once it ended, so that a resume
/// knows what completed (and is not run again) and what was interrupted (and is).
public struct HookRecord: Codable, Hashable, Sendable {
    /// Where a hook stands in the journal.
    public enum State: String, Codable, Sendable, CaseIterable {
        /// Started and not known to have ended: the process that ran it died (or still runs).
        case running
        /// Exited 0: completed, never run again for this scope and pass unless `rerun`.
        case ok
        /// Exited non-zero, killed by a signal, or could not start.
        case failed
        /// Killed with its process group at its deadline.
        case timedOut = "timed-out"
        /// Killed with its process group by a forced stop.
        case stopped
    }

    /// The point in the run it belongs to (before-migration, after-drain, …).
    public var point: HookPoint
    /// The hook's name from the plan.
    public var hook: String
    /// `apply:<step id>` or `rollback:<step id>` for per-guest points, `host:<name>` for drains.
    public var scope: String
    /// The guest's pass (see `HookPass`); 1 for hosts.
    public var pass: Int
    /// The run that started it.
    public var runID: Int
    /// Where it stands.
    public var state: State
    /// The guest or host it ran for (what `evac status` shows).
    public var subject: String
    /// Its exit status, when it exited.
    public var exitStatus: Int32?
    /// When it started (journal timestamp).
    public var started: String
    /// When it ended; nil while `running`.
    public var finished: String?
    /// The tail of its output (bounded, see `HookInvocation.outputLimit`).
    public var output: String?
    /// Why it ended as it did, in words, when the exit status does not say (a timeout, a stop).
    public var message: String?

    /// A hook row; the optional members are nil until the hook ended.
    public init(
        point: HookPoint, hook: String, scope: String, pass: Int, runID: Int, state: State, subject: String,
        exitStatus: Int32? = nil, started: String, finished: String? = nil, output: String? = nil,
        message: String? = nil
    ) {
        self.point = point
        self.hook = hook
        self.scope = scope
        self.pass = pass
        self.runID = runID
        self.state = state
        self.subject = subject
        self.exitStatus = exitStatus
        self.started = started
        self.finished = finished
        self.output = output
        self.message = message
    }

    /// What identifies a row: a hook runs at most once per point, scope and pass.
    public struct Key: Hashable, Sendable {
        /// The row's point, hook name, scope and pass.
        public var point: HookPoint, hook: String, scope: String, pass: Int
    }
    /// The identity of this row, for replacing it when the hook ends.
    public var key: Key { Key(point: point, hook: hook, scope: scope, pass: pass) }
}

/// A guest's hook passes: one pass is its before-migration hooks, the migration (with any
/// retries inside one run), and its after-migration hooks. `closed` passes are over; the next
/// one (closed + 1) is open. A pass closes when its after-migration hooks have run, recording
/// the step's attempt count then, so that a step retried later (after a failure) opens a new
/// pass and its load balancer is drained again, while a resume after a crash in the middle of
/// a pass finishes that pass instead of starting the hooks over.
public struct HookPass: Codable, Hashable, Sendable {
    /// `apply:<step id>` or `rollback:<step id>`: the step the passes belong to.
    public var scope: String
    /// How many passes are over.
    public var closed: Int
    /// The step's attempt count when the last pass closed.
    public var attemptAtClose: Int
    /// A step's passes, `closed` over, the last at attempt `attemptAtClose`.
    public init(scope: String, closed: Int, attemptAtClose: Int) {
        self.scope = scope
        self.closed = closed
        self.attemptAtClose = attemptAtClose
    }
    /// The pass that runs next (or is running): one past the closed ones.
    public var open: Int { closed + 1 }
}

/// Hook rows and passes, as read back from a journal.
public struct HookJournalState: Sendable {
    /// Every hook row, by its identity.
    public var records: [HookRecord.Key: HookRecord] = [:]
    /// Every step's passes, by scope.
    public var passes: [String: HookPass] = [:]
    /// The state of `records` and `passes` as read from the journal (a later row of the same
    /// identity replaces an earlier one).
    public init(records: [HookRecord] = [], passes: [HookPass] = []) {
        for r in records { self.records[r.key] = r }
        for p in passes { self.passes[p.scope] = p }
    }
}
