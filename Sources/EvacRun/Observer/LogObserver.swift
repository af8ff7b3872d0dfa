import Dispatch
import EvacCore
import EvacLog

/// Writes the run's decisions to evac's log (`--verbose`, `--log-file`): run start and end,
/// each pre-check verdict, each migration the scheduler starts, each end with its reason.
/// Progress samples are logged at trace level only (one per poll would drown the rest).
public struct LogObserver: RunObserver {
    let log = EvacLog.logger("evac.run")
    /// An observer that writes to evac's log (stderr by default).
    public init() {}

    /// One log line per event, at the event's level: failures as errors, notices as info.
    public func handle(_ event: RunEvent) {
        switch event {
        case .runStarted(let s):
            log.info(
                "\(s.kind.rawValue) of \(s.planName) started: run \(s.runID), \(s.steps) step(s), \(s.alreadyDone) settled earlier",
                metadata: ["plan_hash": "\(s.planHash.prefix(12))", "journal": "\(s.journal)"])
        case .step(let c):
            log.debug(
                "\(Self.describe(c))", metadata: ["step": "\(c.kind.rawValue)#\(c.id)", "attempt": "\(c.attempt)"])
        case .progress(let p):
            log.trace(
                "progress \(p.guest) \(String(format: "%.1f", p.progress.percent))%",
                metadata: ["remaining_bytes": "\(p.progress.dataRemaining)", "iteration": "\(p.progress.iteration)"])
        case .notice(let m):
            log.notice("\(m)")
        case .cycle(let c):
            log.info("rolling batch \(c.batch) (\(c.hosts.joined(separator: "+"))): \(c.stage.rawValue)")
        case .hook(let h):
            if h.decision == nil || h.decision == .proceed {
                log.info("\(h.line)")
            } else {
                log.warning("\(h.line)")
            }
        case .runFinished(let s):
            let c = s.counts
            log.info(
                "\(s.kind.rawValue) finished: \(s.status.rawValue) in \(s.elapsedMs) ms: \(c.done) done, \(c.failed) failed, \(c.blocked) blocked, \(c.pending) pending"
            )
        }
    }

    /// The decision a step change records, in words.
    static func describe(_ c: StepChange) -> String {
        let route = "\(c.guest) \(c.source) → \(c.target)"
        switch (c.from, c.to) {
        case (_, nil): return "pre-checks of \(route)"
        case (.pending?, .running?), (.failed?, .running?), (.blocked?, .running?):
            return "scheduler started \(route) (pre-checks passed), attempt \(c.attempt)"
        case (_, .blocked?): return "\(route) blocked: \(c.message)"
        case (_, .done?): return "\(route) done: \(c.message)"
        case (_, .failed?): return "\(route) failed: \(c.message)"
        case (let from, let to?): return "\(route) \(from?.rawValue ?? "new") → \(to.rawValue): \(c.message)"
        }
    }
}

/// A journal that logs every commit (what it wrote and how long it took to become durable) and
/// passes everything to the journal it wraps.
public final class LoggingJournal: RunJournal {
    let inner: any RunJournal
    let log = EvacLog.logger("evac.journal")

    /// Logs the commits of `inner`.
    public init(_ inner: any RunJournal) { self.inner = inner }

    /// The wrapped journal's.
    public var path: String { inner.path }

    /// Commits through `inner` and logs what the batch held and how long it took to be durable
    /// (or why it failed, before the error goes on to the executor).
    public func commit(_ batch: JournalBatch) async throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let what = Self.describe(batch)
        do {
            try await inner.commit(batch)
        } catch {
            log.error("journal commit failed (\(what)): \(error)")
            throw error
        }
        let ms = Double((DispatchTime.now().uptimeNanoseconds &- start) / 10_000) / 100
        log.debug("journal commit durable in \(ms) ms: \(what)", metadata: ["run": "\(batch.runID)"])
    }

    static func describe(_ b: JournalBatch) -> String {
        var parts: [String] = []
        if let r = b.beginRun { parts.append("run \(r.id) begins (\(r.kind.rawValue))") }
        if !b.insertSteps.isEmpty { parts.append("\(b.insertSteps.count) new step(s)") }
        if !b.transitions.isEmpty {
            // A batch can hold thousands (every step blocked at start): name a few, count the rest.
            var names = b.transitions.prefix(5).map { "\($0.step.guest) \($0.from.rawValue)→\($0.step.state.rawValue)" }
            if b.transitions.count > 5 { names.append("… \(b.transitions.count - 5) more") }
            parts.append(names.joined(separator: ", "))
        }
        if let f = b.finishRun { parts.append("run ends: \(f.exitStatus)") }
        return parts.joined(separator: "; ")
    }

    /// Read from `inner`, not logged.
    public func steps(kind: RunKind) async throws -> [StepRecord] { try await inner.steps(kind: kind) }
    /// Read from `inner`, not logged.
    public func runs() async throws -> [RunRecord] { try await inner.runs() }
    /// Read from `inner`, not logged.
    public func hookState() async throws -> HookJournalState { try await inner.hookState() }
    /// Passes the samples on; a failure is logged as a warning and thrown on (the caller ignores it).
    public func recordProgress(_ samples: [ProgressRecord]) async throws {
        do { try await inner.recordProgress(samples) } catch {
            log.warning("progress samples not journaled (\(samples.count) step(s)): \(error)")
            throw error
        }
    }
    /// Read from `inner`, not logged.
    public func progress() async throws -> [ProgressRecord] { try await inner.progress() }
    /// Closes `inner`.
    public func close() { inner.close() }
}
