import EvacCore
import EvacLog
import Foundation

/// Runs a plan's hooks for the executor. Each hook is journaled `running` before its command
/// starts and with its outcome after, so that a resume (after kill -9 at any point) runs what
/// did not complete and never what did, unless the hook says `rerun: true`.
public final class HookRunner: Sendable {
    let hooks: HookSet
    let journal: any RunJournal
    let observer: any RunObserver
    let planName: String
    let runID: Int
    /// True once running hooks must be killed (a forced stop, a journal failure).
    let forcedStop: @Sendable () -> Bool
    private let state: Locked<HookJournalState>
    /// Set by a hook whose failure policy is `stop`: the walk starts nothing new after it.
    private let halt = Locked<String?>(nil)
    private let log = EvacLog.logger("evac.hook")

    /// Hooks for one run: `state` is what the journal already records (what completed is not run
    /// again), `forcedStop` is checked while a command runs (a forced stop kills its group).
    public init(
        hooks: HookSet, journal: any RunJournal, observer: any RunObserver, planName: String, runID: Int,
        forcedStop: @escaping @Sendable () -> Bool = { false }, state: HookJournalState = HookJournalState()
    ) {
        self.hooks = hooks
        self.journal = journal
        self.observer = observer
        self.planName = planName
        self.runID = runID
        self.forcedStop = forcedStop
        self.state = Locked(state)
    }

    /// What the hooks of one point decided.
    public enum Verdict: Sendable, Equatable {
        case proceed
        /// Leave this guest or host alone (its migrations are blocked with this reason).
        case skip(String)
        /// Start nothing new (this reason).
        case stop(String)
    }

    /// The hook whose `stop` policy ended the run's starts, when one did.
    var haltedBy: String? { halt.withLock { $0 } }

    // MARK: guests

    func scope(_ spec: StepSpec) -> String { "\(spec.kind.rawValue):\(spec.id)" }
    func openPass(_ scope: String) -> Int { state.withLock { $0.passes[scope]?.open ?? 1 } }

    func appliesToGuest(_ guest: String) -> Bool { hooks.hasGuestHooks(for: guest) }

    func beforeMigration(_ spec: StepSpec) async throws -> Verdict {
        let s = scope(spec)
        return try await run(
            .beforeMigration, subject: spec.guest, scope: s, pass: openPass(s), env: guestEnvironment(spec))
    }

    /// The after-migration hooks of the open pass (EVAC_OUTCOME is the step's state), then the
    /// pass is closed at the step's attempt count.
    func afterMigration(_ spec: StepSpec, _ record: StepRecord) async throws -> Verdict {
        let s = scope(spec)
        let pass = openPass(s)
        var env = guestEnvironment(spec)
        env["EVAC_OUTCOME"] = record.state.rawValue
        let verdict = try await run(.afterMigration, subject: spec.guest, scope: s, pass: pass, env: env)
        let closed = HookPass(scope: s, closed: pass, attemptAtClose: record.attempt)
        try await journal.commit(JournalBatch(runID: runID, passes: [closed]))
        state.withLock { $0.passes[s] = closed }
        return verdict
    }

    /// Whether a settled step's pass was left open by a process that died after the migration
    /// (or a before-hook failure) and before the after-migration hooks: a resume finishes it.
    func needsAfterPhase(_ spec: StepSpec, _ record: StepRecord) -> Bool {
        guard appliesToGuest(spec.guest) else { return false }
        let s = scope(spec)
        return state.withLock { st in
            let pass = st.passes[s]
            switch record.state {
            case .done, .failed:
                return record.attempt > (pass?.attemptAtClose ?? 0)
            case .blocked:
                let open = pass?.open ?? 1
                return st.records.values.contains { $0.scope == s && $0.pass == open && $0.point == .beforeMigration }
            default:
                return false
            }
        }
    }

    private func guestEnvironment(_ spec: StepSpec) -> [String: String] {
        [
            "EVAC_GUEST": spec.guest, "EVAC_GUEST_UUID": spec.uuid, "EVAC_SOURCE": spec.source.name,
            "EVAC_TARGET": spec.target.name, "EVAC_STEP": "\(spec.id)", "EVAC_STEP_KIND": spec.kind.rawValue,
        ]
    }

    // MARK: hosts

    /// Runs the hooks of a drain point (before-drain, after-drain) for `host`, `outcome` passed as
    /// EVAC_OUTCOME; throws when the journal cannot record them.
    public func drain(_ point: HookPoint, host: String, outcome: String? = nil) async throws -> Verdict {
        var env = ["EVAC_HOST": host]
        if let outcome { env["EVAC_OUTCOME"] = outcome }
        return try await run(point, subject: host, scope: "host:\(host)", pass: 1, env: env)
    }

    /// Whether any hook of `point` applies to `host`: without one the drain point costs nothing.
    public func hasDrainHooks(_ point: HookPoint, host: String) -> Bool {
        hooks[point].contains { $0.applies(to: host) }
    }

    /// Whether every hook of a drain point already completed for this host (by an earlier process).
    func drainCompleted(_ point: HookPoint, host: String) -> Bool {
        state.withLock { st in
            hooks[point].filter { $0.applies(to: host) }.allSatisfy {
                st.records[HookRecord.Key(point: point, hook: $0.name, scope: "host:\(host)", pass: 1)]?.state == .ok
            }
        }
    }

    // MARK: running

    /// The hooks of `point` for `subject`, in the plan's order. Throws when the journal cannot
    /// be written (then the command was not started, or its outcome is not recorded).
    private func run(
        _ point: HookPoint, subject: String, scope: String, pass: Int, env: [String: String]
    ) async throws -> Verdict {
        for hook in hooks[point] where hook.applies(to: subject) {
            let key = HookRecord.Key(point: point, hook: hook.name, scope: scope, pass: pass)
            let before = state.withLock { $0.records[key] }
            if let before, before.state == .ok, !hook.rerun {
                observer.handle(
                    .notice(
                        "hook \(hook.name) (\(point.rawValue), \(subject)) completed in run \(before.runID); not run again"
                    ))
                continue
            }
            if let before, before.state == .running {
                observer.handle(
                    .notice(
                        "hook \(hook.name) (\(point.rawValue), \(subject)) was interrupted in run \(before.runID) (the process running it ended); running it again"
                    ))
            }
            guard !forcedStop() else { return .stop("forced stop before hook \(hook.name)") }
            let record = try await runOne(hook, point: point, subject: subject, scope: scope, pass: pass, env: env)
            if record.state == .ok { continue }
            let why =
                "\(point.rawValue) hook \(hook.name) failed for \(subject): \(record.message ?? record.state.rawValue)"
            if record.state == .stopped { return .stop(why) }
            switch hook.onFailure {
            case .continue:
                continue
            case .skip:
                if point == .beforeMigration || point == .beforeDrain || point == .maintenance { return .skip(why) }
            case .stop:
                halt.withLock { $0 = $0 ?? "hook \(hook.name) (\(point.rawValue), \(subject))" }
                return .stop(why)
            }
        }
        return .proceed
    }

    private func runOne(
        _ hook: HookSpec, point: HookPoint, subject: String, scope: String, pass: Int,
        env: [String: String]
    ) async throws -> HookRecord {
        var record = HookRecord(
            point: point, hook: hook.name, scope: scope, pass: pass, runID: runID, state: .running,
            subject: subject, started: Timestamp.now())
        try await write(record)
        observer.handle(.hook(HookOutcome(record, policy: hook.onFailure)))
        var environment = Self.baseEnvironment()
        environment.merge(env) { _, new in new }
        environment["EVAC_PLAN"] = planName
        environment["EVAC_RUN"] = "\(runID)"
        environment["EVAC_HOOK"] = hook.name
        environment["EVAC_HOOK_POINT"] = point.rawValue
        let exit = await HookProcess.run(
            HookInvocation(argv: hook.run, environment: environment, timeoutMs: hook.timeoutMs), stop: forcedStop)
        record.finished = Timestamp.now()
        record.output = exit.output.isEmpty ? nil : exit.output
        if case .exited(let code) = exit.ending { record.exitStatus = code }
        switch exit.ending {
        case .exited(0): record.state = .ok
        case .timedOut: record.state = .timedOut
        case .stopped: record.state = .stopped
        default: record.state = .failed
        }
        let took = Format.planDuration(ms: exit.durationMs)
        record.message =
            exit.succeeded
            ? "ok in \(took)"
            : "\(exit.summary) after \(took)"
                + (hook.timeoutMs > 0 && exit.ending == .timedOut
                    ? " (timeout \(Format.planDuration(ms: hook.timeoutMs)))" : "")
        try await write(record)
        observer.handle(.hook(HookOutcome(record, policy: hook.onFailure)))
        let who = "hook \(hook.name) (\(point.rawValue), \(subject), pid \(exit.pid.map(String.init) ?? "-"))"
        if exit.succeeded {
            log.info("\(who): \(record.message ?? "")")
        } else {
            log.warning("\(who): \(record.message ?? "")")
        }
        log.debug("\(who) ran \(Self.describe(hook.run))")
        if !exit.output.isEmpty { log.info("\(who) output:\n\(exit.output)") }
        return record
    }

    private func write(_ record: HookRecord) async throws {
        try await journal.commit(JournalBatch(runID: runID, hooks: [record]))
        state.withLock { $0.records[record.key] = record }
    }

    /// What a hook inherits from evac's own environment: enough to find programs and speak a
    /// language, nothing else (evac's environment may hold what a hook has no business seeing).
    static func baseEnvironment() -> [String: String] {
        let env = ProcessInfo.processInfo.environment
        var out: [String: String] = [:]
        for k in ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME"] { if let v = env[k] { out[k] = v } }
        out["PATH"] = out["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        return out
    }

    static func describe(_ argv: [String]) -> String {
        TerminalText.escape(argv.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " "))
    }
}
