import Foundation
import GRDB

/// Closing a journal whose run is over so the same plan can run again.
///
/// A journal is keyed by plan hash, and a plan whose guests all came back by rollback has the
/// same inventory, so re-placing it gives the same hash: without this, `apply` after a complete
/// rollback found the old journal and said "use resume", which had nothing to do. The old run is
/// kept, not deleted: it moves to `<stem>.closed-<UTC time>.journal.sqlite`, which `evac status`
/// still lists and reads.
public enum JournalArchive {
    /// Why a journal is over (RunStanding.isOver), or nil when it still has work for resume or
    /// rollback: a guest an apply step still has on its target (done), one a crash left in
    /// flight, or a rollback that has not returned everything keeps it open.
    public static func closedReason(_ s: JournalStatus) -> String? {
        RunStanding.of(runs: s.runs, apply: s.apply, rollback: s.rollback).overReason
    }

    /// Copies the journal to its archive name (0600, one consistent snapshot through `VACUUM
    /// INTO`, so a WAL not yet checkpointed is included) and removes the original, under the
    /// journal's lock. Returns the archive's path.
    public static func archive(path: String, now: Date = Date()) throws(JournalError) -> String {
        let lock = try JournalLock(journalPath: path)
        defer { lock.release() }
        let suffix = JournalLocation.journalSuffix
        let stem = path.hasSuffix(suffix) ? String(path.dropLast(suffix.count)) : path
        let stamp = Self.stamp(now)
        var target = "\(stem).closed-\(stamp)\(suffix)"
        var n = 1
        while FileManager.default.fileExists(atPath: target) {
            n += 1
            target = "\(stem).closed-\(stamp)-\(n)\(suffix)"
        }
        try SQLiteJournal.createPrivateFile(target, exclusive: true)
        do {
            let db = try SQLiteJournal.openDatabase(path, readonly: false)
            try db.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [target]) }
            try db.close()
        } catch {
            try? FileManager.default.removeItem(atPath: target)
            throw .database(path: path, "cannot archive to \(target): \(error)")
        }
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            do { try FileManager.default.removeItem(atPath: path + suffix) } catch {
                throw .io(path: path + suffix, "archived to \(target) but cannot remove: \(error.localizedDescription)")
            }
        }
        return target
    }

    /// Timestamp's UTC form without separators or milliseconds: 20270115T080000Z.
    static func stamp(_ d: Date) -> String {
        Timestamp.format(d).prefix(19).filter { $0 != "-" && $0 != ":" } + "Z"
    }
}
