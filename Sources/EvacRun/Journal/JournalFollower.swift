import EvacCore
import Foundation
import GRDB

/// `evac status --follow`: the live view of a run that another process is making, read from its
/// journal. It never takes the journal's lock and never writes: it polls the events table over
/// a read-only connection (WAL lets it read while the run writes) and turns each new row into
/// the `RunEvent` the running process showed, for the same observers (terminal, plain, JSON):
/// step changes from the events table, the latest progress sample of each running step from
/// the progress table (the run writes one every couple of seconds), and hook starts and ends
/// from the hooks table (with the plan's failure policy, the decision the run took).
public final class JournalFollower: @unchecked Sendable {
    /// How following a run ended.
    public enum End: Sendable, Equatable {
        /// The run wrote its end: the status it ended with.
        case finished(RunStatus)
        /// The process running it is gone without writing an end (crash, kill -9, reboot).
        case processGone(String)
        /// `abandon` said the run is no longer wanted before one began (a rolling cycle moved on).
        case abandoned
    }

    /// The run followed (its id in the journal), once one was found.
    public private(set) var followedRun: Int?

    /// The journal being followed.
    public let path: String
    private let db: DatabaseQueue
    /// The plan the journal stores (nil when it holds none that verifies): its hooks' policies
    /// and, for the caller, the forecast of its live display.
    public let plan: PlanFile?

    /// Opens the journal at `path` read-only; throws when there is none or SQLite cannot read it.
    public init(path: String) throws(JournalError) {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw .io(path: path, "no such journal") }
        do { db = try SQLiteJournal.openDatabase(path, readonly: true) } catch {
            throw .database(path: path, "\(error)")
        }
        plan = try? JournalStatus.storedPlan(path: path)
    }

    deinit { try? db.close() }

    private struct Snapshot {
        var runs: [RunRecord]
        var steps: [StepRecord]
        var events:
            [(id: Int64, run: Int, kind: RunKind, step: Int?, from: StepState?, to: StepState?, message: String)]
        var progress: [ProgressRecord] = []
        var hooks: [HookRecord] = []
        var cycle: [CycleRecord] = []
    }

    private func read(after eventID: Int64, run: Int?) throws -> Snapshot {
        try db.read { db in
            let runs = try SQLiteJournal.readRuns(db)
            let steps = try SQLiteJournal.readSteps(db, kind: nil)
            var events: [(Int64, Int, RunKind, Int?, StepState?, StepState?, String)] = []
            if let run {
                for r in try Row.fetchAll(
                    db,
                    sql:
                        "SELECT id, run_id, kind, migration_id, from_state, to_state, message FROM events WHERE id > ? AND run_id = ? ORDER BY id",
                    arguments: [eventID, run])
                {
                    let from: String? = r["from_state"]
                    let to: String? = r["to_state"]
                    events.append(
                        (
                            r["id"], r["run_id"], RunKind(rawValue: r["kind"]) ?? .apply, r["migration_id"],
                            from.flatMap(StepState.init(rawValue:)), to.flatMap(StepState.init(rawValue:)), r["message"]
                        ))
                }
            }
            return Snapshot(
                runs: runs, steps: steps,
                events: events.map {
                    (id: $0.0, run: $0.1, kind: $0.2, step: $0.3, from: $0.4, to: $0.5, message: $0.6)
                },
                progress: run == nil ? [] : try SQLiteJournal.readProgress(db),
                hooks: run == nil ? [] : try SQLiteJournal.readHooks(db),
                cycle: run == nil ? [] : try SQLiteJournal.readCycle(db))
        }
    }

    /// Follows the newest run from its first event to its end. When the newest run already
    /// ended and nobody holds the journal, that run is shown and followed to its end at once;
    /// when someone holds it (a resume just starting), the follower waits for the new run.
    /// Runs up to `afterRun` are not considered (a rolling cycle's drain journal, followed once
    /// for the drain and again for the return); `abandon`, asked while waiting for a run, ends
    /// the wait.
    public func follow(
        _ observer: any RunObserver, interval: Duration = .milliseconds(200), afterRun: Int = 0,
        abandon: (@Sendable () -> Bool)? = nil
    ) async throws -> End {
        let run: RunRecord
        var snapshot: Snapshot
        switch try await awaitRun(interval: interval, afterRun: afterRun, abandon: abandon) {
        case .found(let r, let s): (run, snapshot) = (r, s)
        case .ended(let end): return end
        }
        followedRun = run.id
        let kindSteps = snapshot.steps.filter { $0.kind == run.kind }
        snapshot = try read(after: 0, run: run.id)
        announce(run, steps: kindSteps, snapshot, observer)
        var lastEvent: Int64 = 0
        var lastProbe = ContinuousClock.now
        var shown = Shown()
        while true {
            let bySteps = Dictionary(snapshot.steps.map { ("\($0.kind.rawValue)#\($0.id)", $0) }) { a, _ in a }
            lastEvent = emitSteps(snapshot, steps: bySteps, after: lastEvent, observer)
            emitHooks(snapshot.hooks, run: run.id, shown: &shown, observer)
            emitProgress(snapshot.progress, steps: bySteps, run: run, shown: &shown, observer)
            if try await followCycle(snapshot.cycle, shown: &shown, observer, interval: interval) {
                // A drain or return was followed to its end: read everything since afresh.
                snapshot = try read(after: lastEvent, run: run.id)
                continue
            }
            if let end = finished(run, snapshot, observer) { return end }
            // A run whose process died writes no end: notice it, rather than wait forever.
            if ContinuousClock.now - lastProbe > .seconds(2) {
                lastProbe = .now
                if holder() == nil {
                    let again = try read(after: lastEvent, run: run.id)
                    if again.runs.first(where: { $0.id == run.id })?.exitStatus == nil {
                        return .processGone(
                            "run \(run.id) (\(run.command)) has no end in the journal and its process is gone; `evac resume` continues it"
                        )
                    }
                    snapshot = again
                    continue
                }
            }
            try await Task.sleep(for: interval)
            snapshot = try read(after: lastEvent, run: run.id)
        }
    }

    private enum Found {
        case found(RunRecord, Snapshot)
        case ended(End)
    }

    /// The run to follow: the newest after `afterRun` that is still running, or that ended
    /// with nobody holding the journal; otherwise it polls until a new run begins, the journal
    /// turns out to be abandoned (no run and no holder after 50 polls), or `abandon` says so.
    private func awaitRun(
        interval: Duration, afterRun: Int, abandon: (@Sendable () -> Bool)?
    ) async throws -> Found {
        var snapshot = try read(after: 0, run: nil)
        var idlePolls = 0
        while true {
            let newest = snapshot.runs.last { $0.id > afterRun }
            if let newest, newest.exitStatus == nil || holder() == nil { return .found(newest, snapshot) }
            idlePolls += 1
            if newest == nil && idlePolls > 50 && holder() == nil {
                return .ended(.processGone("the journal has no run and nobody holds it"))
            }
            if abandon?() == true { return .ended(.abandoned) }
            try await Task.sleep(for: interval)
            snapshot = try read(after: 0, run: nil)
            if let newest, let latest = snapshot.runs.last, latest.id != newest.id { return .found(latest, snapshot) }
        }
    }

    /// The run's start as the running process showed it: its steps, and how many were settled
    /// by earlier runs (settled, and untouched by this run's events).
    private func announce(
        _ run: RunRecord, steps kindSteps: [StepRecord], _ snapshot: Snapshot, _ observer: any RunObserver
    ) {
        let touched = Set(snapshot.events.compactMap { $0.kind == run.kind ? $0.step : nil })
        let settledBefore = kindSteps.filter { $0.state.isSettled && !touched.contains($0.id) }.count
        observer.handle(
            .runStarted(
                RunStart(
                    kind: run.kind, planName: run.planName, planHash: run.planHash, journal: path,
                    runID: run.id, steps: kindSteps.count, alreadyDone: settledBefore)))
    }

    /// Every new event that changed a step's state, as the step change the running process
    /// showed; returns the last event id seen.
    private func emitSteps(
        _ snapshot: Snapshot, steps bySteps: [String: StepRecord], after lastEvent: Int64, _ observer: any RunObserver
    ) -> Int64 {
        var last = lastEvent
        for e in snapshot.events {
            last = max(last, e.id)
            guard let id = e.step, let st = bySteps["\(e.kind.rawValue)#\(id)"], e.from != e.to else { continue }
            var change = StepChange(
                kind: e.kind, id: id, guest: st.guest, source: st.source, target: st.target,
                from: e.from, to: e.to, attempt: st.attempt, message: e.message)
            if e.to == .done, st.state == .done, let outcome = Self.outcome(st.stats) {
                // What the running process put on its event: the hypervisor's own figures.
                change.transferredBytes = outcome.transferredBytes
                change.durationMs = outcome.durationMs
            }
            observer.handle(.step(change))
        }
        return last
    }

    /// The run's end once the journal has it, shown as the running process summed it up.
    private func finished(_ run: RunRecord, _ snapshot: Snapshot, _ observer: any RunObserver) -> End? {
        guard let row = snapshot.runs.first(where: { $0.id == run.id }), let exit = row.exitStatus else { return nil }
        let status = RunStatus(rawValue: exit) ?? .partial
        if !snapshot.cycle.isEmpty {
            let done = snapshot.cycle.filter { $0.stage == .done }.count
            observer.handle(.notice("rolling cycle: \(done) of \(snapshot.cycle.count) batch(es) done"))
        }
        let mine = snapshot.steps.filter { $0.kind == run.kind }
        observer.handle(
            .runFinished(
                RunSummary(
                    kind: run.kind, status: status, message: nil, counts: StepCounts(mine),
                    elapsedMs: Self.elapsedMs(row),
                    problems: mine.filter { $0.state == .failed || $0.state == .blocked })))
        return .finished(status)
    }

    /// What the follower already handed on: hook rows by key and state, progress samples by step.
    struct Shown {
        var hooks: [HookRecord.Key: HookRecord.State] = [:]
        var progress: [Int: MigrationProgress] = [:]
        /// Rolling cycle: the stage shown per batch, and the last run followed per drain journal.
        var stages: [Int: CycleRecord.Stage] = [:]
        var phaseRuns: [String: Int] = [:]
    }

    /// Hook rows of this run that are new or changed state since the last poll, oldest first.
    private func emitHooks(_ rows: [HookRecord], run: Int, shown: inout Shown, _ observer: any RunObserver) {
        for h in rows where h.runID == run && shown.hooks[h.key] != h.state {
            shown.hooks[h.key] = h.state
            observer.handle(.hook(HookOutcome(h, policy: plan?.hooks?.policy(h.point, h.hook) ?? .stop)))
        }
    }

    /// The latest sample of each step running in this run's attempt, when it changed.
    private func emitProgress(
        _ rows: [ProgressRecord], steps: [String: StepRecord], run: RunRecord, shown: inout Shown,
        _ observer: any RunObserver
    ) {
        for p in rows where p.kind == run.kind && p.runID == run.id && shown.progress[p.id] != p.progress {
            guard let st = steps["\(p.kind.rawValue)#\(p.id)"], st.state == .running, st.attempt == p.attempt else {
                continue
            }
            shown.progress[p.id] = p.progress
            observer.handle(
                .progress(
                    ProgressSample(
                        id: p.id, guest: st.guest, source: st.source, target: st.target, progress: p.progress)))
        }
    }

    static func outcome(_ stats: String?) -> MigrationOutcome? {
        stats.flatMap { try? JSONDecoder().decode(MigrationOutcome.self, from: Data($0.utf8)) }
    }

    static func elapsedMs(_ r: RunRecord) -> UInt64 {
        guard let s = JournalClock.parse(r.started), let f = r.finished.flatMap(JournalClock.parse), f >= s else {
            return 0
        }
        return UInt64((f - s) * 1000)
    }

    func holder() -> String? { JournalLock.liveHolder(journalPath: path) }

    func readCycleNow() throws -> [CycleRecord] { try db.read { try SQLiteJournal.readCycle($0) } }
}

extension JournalLock {
    /// Who holds the lock of `journalPath` (a journal, or a plan's `STEM.plan`) now, without
    /// touching the lock: the holder the lock file records, if that process is alive on this
    /// host. Only for a holder on another host does it fall back to the non-blocking probe.
    /// `evac status --follow` polls this, and a probing follower could make a run that is just
    /// starting see the lock as taken.
    public static func liveHolder(journalPath: String) -> String? {
        guard let text = try? String(contentsOfFile: journalPath + ".lock", encoding: .utf8) else { return nil }
        guard let h = Holder.parse(text) else { return currentHolder(journalPath: journalPath) }
        if h.host == ProcessInfo.processInfo.hostName {
            return kill(h.pid, 0) == 0 || errno == EPERM ? h.summary : nil
        }
        return currentHolder(journalPath: journalPath)
    }
}

/// The journal's UTC timestamps (`2026-12-01T10:22:33.123Z`) read back.
public enum JournalClock {
    /// The journal timestamp `s` as a `Date`; nil when it is not one.
    public static func date(_ s: String) -> Date? { parse(s).map { Date(timeIntervalSince1970: $0) } }

    /// Seconds since 1970.
    public static func parse(_ s: String) -> Double? {
        let u = Array(s.utf8)
        guard u.count >= 19, u[4] == 45, u[7] == 45, u[10] == 84, u[13] == 58, u[16] == 58 else { return nil }
        func n(_ a: Int, _ b: Int) -> Int? {
            var v = 0
            for i in a..<b {
                guard u[i] >= 48 && u[i] <= 57 else { return nil }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        guard let y = n(0, 4), let mo = n(5, 7), let d = n(8, 10), let h = n(11, 13), let mi = n(14, 16),
            let sec = n(17, 19)
        else { return nil }
        var t = tm()
        t.tm_year = Int32(y - 1900)
        t.tm_mon = Int32(mo - 1)
        t.tm_mday = Int32(d)
        t.tm_hour = Int32(h)
        t.tm_min = Int32(mi)
        t.tm_sec = Int32(sec)
        let ms = u.count >= 23 && u[19] == 46 ? n(20, 23) ?? 0 : 0
        let secs = timegm(&t)
        return secs == -1 ? nil : Double(secs) + Double(ms) / 1000
    }
}
