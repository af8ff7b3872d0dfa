import Foundation
import GRDB
import EvacCore

/// `evac status`: a journal's runs and steps, read without taking the lock (WAL lets a reader
/// look while an apply writes). Codable for `--output json`.
public struct JournalStatus: Codable, Sendable {
    public var path: String
    public var planName: String
    public var planHash: String
    /// Who holds the lock right now ("evac apply (pid … on …, since …)"), nil when nobody.
    public var activeHolder: String?
    public var runs: [RunRecord]
    public var apply: [StepRecord]
    public var rollback: [StepRecord]
    public var applyCounts: StepCounts
    public var rollbackCounts: StepCounts

    public static func read(path: String) throws(JournalError) -> JournalStatus {
        guard FileManager.default.fileExists(atPath: path) else { throw .io(path: path, "no such journal") }
        do {
            let db = try SQLiteJournal.openDatabase(path, readonly: true)
            defer { try? db.close() }
            return try db.read { db in
                let meta = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT key, value FROM meta")
                    .map { (($0["key"] as String), ($0["value"] as String)) })
                let steps = try SQLiteJournal.readSteps(db, kind: nil)
                let apply = steps.filter { $0.kind == .apply }, rollback = steps.filter { $0.kind == .rollback }
                return JournalStatus(path: path, planName: meta["plan_name"] ?? "?", planHash: meta["plan_hash"] ?? "?",
                                     activeHolder: JournalLock.currentHolder(journalPath: path),
                                     runs: try SQLiteJournal.readRuns(db), apply: apply, rollback: rollback,
                                     applyCounts: StepCounts(apply), rollbackCounts: StepCounts(rollback))
            }
        } catch let e as JournalError {
            throw e
        } catch {
            throw .database(path: path, "\(error)")
        }
    }

    /// The plan file the journal was opened for (kept in its meta table), so that resume,
    /// rollback and status work from the journal alone when the plan file was never saved.
    public static func storedPlan(path: String) throws(JournalError) -> PlanFile {
        guard FileManager.default.fileExists(atPath: path) else { throw .io(path: path, "no such journal") }
        do {
            let db = try SQLiteJournal.openDatabase(path, readonly: true)
            defer { try? db.close() }
            let json = try db.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'plan'") }
            guard let json else { throw JournalError.database(path: path, "the journal holds no plan") }
            return try JSONDecoder().decode(PlanFile.self, from: Data(json.utf8))
        } catch let e as JournalError {
            throw e
        } catch {
            throw .database(path: path, "\(error)")
        }
    }

    /// Every event of one step, oldest first: the history an operator reads for a failed guest.
    public static func events(path: String, kind: RunKind, id: Int) throws(JournalError) -> [StepEvent] {
        do {
            let db = try SQLiteJournal.openDatabase(path, readonly: true)
            defer { try? db.close() }
            return try db.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM events WHERE kind = ? AND migration_id = ? ORDER BY id",
                                 arguments: [kind.rawValue, id]).map { r in
                    StepEvent(runID: r["run_id"], at: r["at"], from: r["from_state"], to: r["to_state"],
                              message: r["message"], hypervisorError: r["libvirt_error"])
                }
            }
        } catch {
            throw .database(path: path, "\(error)")
        }
    }
}

public struct StepEvent: Codable, Sendable, Hashable {
    public var runID: Int
    public var at: String
    public var from: String?
    public var to: String?
    public var message: String
    public var hypervisorError: String?
}

extension JournalLock {
    /// The holder's summary if someone holds the lock now (probed with a shared, non-blocking
    /// flock that is released at once), else nil.
    public static func currentHolder(journalPath: String) -> String? {
        let fd = open(journalPath + ".lock", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { closeDescriptor(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { flock(fd, LOCK_UN); return nil }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = pread(fd, &buf, buf.count, 0)
        return Holder.parse(n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : "")?.summary ?? "another process"
    }
}
