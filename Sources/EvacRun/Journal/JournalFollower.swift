import EvacCore
import Foundation
import GRDB

/// `evac status --follow`: the live view of a run that another process is making, read from its
/// journal. It never takes the journal's lock and never writes: it polls the events table over
/// a read-only connection (WAL lets it read while the run writes) and turns each new row into
/// the `RunEvent` the running process showed, for the same observers (terminal, plain, JSON).
/// Progress samples are not journaled, so a follower shows states, not percentages.
public final class JournalFollower: @unchecked Sendable {
    /// How following a run ended.
    public enum End: Sendable, Equatable {
        /// The run wrote its end: the status it ended with.
        case finished(RunStatus)
        /// The process running it is gone without writing an end (crash, kill -9, reboot).
        case processGone(String)
    }

    /// The journal being followed.
    public let path: String
    private let db: DatabaseQueue

    /// Opens the journal at `path` read-only; throws when there is none or SQLite cannot read it.
    public init(path: String) throws(JournalError) {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw .io(path: path, "no such journal") }
        do { db = try SQLiteJournal.openDatabase(path, readonly: true) } catch {
            throw .database(path: path, "\(error)")
        }
    }

    deinit { try? db.close() }

    private struct Snapshot {
        var runs: [RunRecord]
        var steps: [StepRecord]
        var events:
            [(id: Int64, run: Int, kind: RunKind, step: Int?, from: StepState?, to: StepState?, message: String)]
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
                })
        }
    }

    /// Follows the newest run from its first event to its end. When the newest run already
    /// ended and nobody holds the journal, that run is shown and followed to its end at once;
    /// when someone holds it (a resume just starting), the follower waits for the new run.
    public func follow(_ observer: any RunObserver, interval: Duration = .milliseconds(200)) async throws -> End {
        var snapshot = try read(after: 0, run: nil)
        var run: RunRecord?
        var idlePolls = 0
        while run == nil {
            let newest = snapshot.runs.last
            if let newest, newest.exitStatus == nil || holder() == nil {
                run = newest
                break
            }
            idlePolls += 1
            if newest == nil && idlePolls > 50 && holder() == nil {
                return .processGone("the journal has no run and nobody holds it")
            }
            try await Task.sleep(for: interval)
            snapshot = try read(after: 0, run: nil)
            if let newest, let latest = snapshot.runs.last, latest.id != newest.id { run = latest }
        }
        guard let run else { return .processGone("no run") }
        let kindSteps = snapshot.steps.filter { $0.kind == run.kind }
        snapshot = try read(after: 0, run: run.id)
        let touched = Set(snapshot.events.compactMap { $0.kind == run.kind ? $0.step : nil })
        let settledBefore = kindSteps.filter { $0.state.isSettled && !touched.contains($0.id) }.count
        observer.handle(
            .runStarted(
                RunStart(
                    kind: run.kind, planName: run.planName, planHash: run.planHash, journal: path,
                    runID: run.id, steps: kindSteps.count, alreadyDone: settledBefore)))
        var lastEvent: Int64 = 0
        var lastProbe = ContinuousClock.now
        while true {
            let bySteps = Dictionary(snapshot.steps.map { ("\($0.kind.rawValue)#\($0.id)", $0) }) { a, _ in a }
            for e in snapshot.events {
                lastEvent = max(lastEvent, e.id)
                guard let id = e.step, let st = bySteps["\(e.kind.rawValue)#\(id)"], e.from != e.to else { continue }
                observer.handle(
                    .step(
                        StepChange(
                            kind: e.kind, id: id, guest: st.guest, source: st.source, target: st.target,
                            from: e.from, to: e.to, attempt: st.attempt, message: e.message)))
            }
            if let row = snapshot.runs.first(where: { $0.id == run.id }), let exit = row.exitStatus {
                let status = RunStatus(rawValue: exit) ?? .partial
                let mine = snapshot.steps.filter { $0.kind == run.kind }
                let ms = Self.elapsedMs(row)
                observer.handle(
                    .runFinished(
                        RunSummary(
                            kind: run.kind, status: status, message: nil, counts: StepCounts(mine),
                            elapsedMs: ms, problems: mine.filter { $0.state == .failed || $0.state == .blocked })))
                return .finished(status)
            }
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

    static func elapsedMs(_ r: RunRecord) -> UInt64 {
        guard let s = JournalClock.parse(r.started), let f = r.finished.flatMap(JournalClock.parse), f >= s else {
            return 0
        }
        return UInt64((f - s) * 1000)
    }

    func holder() -> String? { JournalLock.liveHolder(journalPath: path) }
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
