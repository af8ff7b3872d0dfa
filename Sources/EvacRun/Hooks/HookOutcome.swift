import EvacCore

/// A hook starting or ending, as observers show it (`RunEvent.hook`): a typed event rather than
/// a notice, so JSON consumers, `status` and `status --follow` read the same fields the journal
/// holds. Built from the journal's `HookRecord` and the plan's hook (its failure policy), so a
/// follower derives exactly what the running process reported.
public struct HookOutcome: Sendable, Codable, Hashable {
    /// What the run does after the hook, by its exit and the plan's `on-failure`.
    public enum Decision: String, Sendable, Codable, Hashable, CaseIterable {
        /// It succeeded: the run goes on.
        case proceed
        /// It failed and the plan says `continue` (or `skip` where skipping means nothing).
        case `continue`
        /// It failed: the guest (before-migration) or the host (before-drain, maintenance) stays.
        case skip
        /// It failed (or a forced stop killed it): no new migration starts.
        case stop

        /// What `state` means for a hook at `point` whose plan says `policy`; nil while running.
        public static func of(_ state: HookRecord.State, policy: HookFailurePolicy, point: HookPoint) -> Decision? {
            switch state {
            case .running: return nil
            case .ok: return .proceed
            case .stopped: return .stop
            case .failed, .timedOut:
                switch policy {
                case .continue: return .continue
                case .stop: return .stop
                case .skip:
                    return point == .beforeMigration || point == .beforeDrain || point == .maintenance
                        ? .skip : .continue
                }
            }
        }
    }

    /// The hook's name in the plan.
    public var hook: String
    /// Where it runs (before-migration, after-drain, maintenance, …).
    public var point: HookPoint
    /// `guest` for per-guest points, `host` for drains and maintenance.
    public var on: String
    /// The guest or host it ran for.
    public var subject: String
    /// The journal's state: running, ok, failed, timed-out, stopped.
    public var state: HookRecord.State
    /// Its exit status, when it exited.
    public var exitStatus: Int32?
    /// What the run does next; nil while it runs.
    public var decision: Decision?
    /// How long it ran, in milliseconds (once it ended).
    public var durationMs: UInt64?
    /// The run that ran it, and the guest's hook pass (1 for hosts).
    public var runID: Int
    /// See `runID`.
    public var pass: Int
    /// The journal's message ("ok in 1.2s", "exit status 3 after 40ms").
    public var message: String?
    /// The last line of its output, for a hook that did not succeed (the whole tail is in the
    /// journal: `evac status --guest`).
    public var lastOutputLine: String?

    /// The event for `record`, whose plan hook fails with `policy`.
    public init(_ record: HookRecord, policy: HookFailurePolicy) {
        hook = record.hook
        point = record.point
        on = record.point.isPerGuest ? "guest" : "host"
        subject = record.subject
        state = record.state
        exitStatus = record.exitStatus
        decision = Decision.of(record.state, policy: policy, point: record.point)
        durationMs = Self.durationMs(record)
        runID = record.runID
        pass = record.pass
        message = record.message
        if record.state != .ok && record.state != .running {
            lastOutputLine = record.output?.split(separator: "\n").last.map { String($0.prefix(200)) }
        }
    }

    static func durationMs(_ r: HookRecord) -> UInt64? {
        guard let f = r.finished.flatMap(JournalClock.parse), let s = JournalClock.parse(r.started), f >= s else {
            return nil
        }
        return UInt64(((f - s) * 1000).rounded())
    }

    /// One line for people: `hook lb-drain (before-migration, web-1): ok in 1.2s → proceed`.
    public var line: String {
        let e = TerminalText.escape
        let what = state == .running ? "running" : (message ?? state.rawValue)
        return "hook \(e(hook)) (\(point.rawValue), \(e(subject))): \(e(what))"
            + (lastOutputLine.map { ": \(e($0))" } ?? "")
            + (decision.map { $0 == .proceed ? "" : " → \($0.rawValue)" } ?? "")
    }
}

extension HookSet {
    /// The failure policy of the hook named `name` at `point` (`stop` when the plan has none).
    public func policy(_ point: HookPoint, _ name: String) -> HookFailurePolicy {
        self[point].first { $0.name == name }?.onFailure ?? .stop
    }
}
