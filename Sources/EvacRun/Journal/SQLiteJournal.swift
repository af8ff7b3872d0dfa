import Dispatch
import EvacCore
import Foundation
import GRDB

/// The run journal: one SQLite file per plan, in WAL mode with `synchronous=FULL`, so every
/// committed transaction is fsync'd to the WAL before `commit` returns.
///
/// Why SQLite (through GRDB) rather than an fsync'd JSON-lines log: `evac status` and resume
/// need the *current* state of each step and the history of one step; with a log both mean
/// replaying the whole file, while here they are indexed rows. A torn final record, which a log
/// reader must detect and skip, is SQLite's job (WAL frames are checksummed). And the operator
/// can read it at 3 a.m. with `sqlite3 FILE 'select * from steps'`. The price is a few
/// microseconds of SQL per row; the fsync dominates either way (see evac-run-bench).
///
/// Durability before side effects: `commit` suspends the caller until its transaction is
/// durable. Concurrent commits are merged into one transaction (group commit), which is what
/// keeps 64 migrations in flight from queueing behind 64 fsyncs. The write runs on a dedicated
/// serial queue, never on Swift's cooperative pool.
///
/// Owns the GRDB connection and the `JournalLock`; `close()` releases both.
public final class SQLiteJournal: RunJournal, @unchecked Sendable {
    /// The journal file, named in errors and in `evac status`.
    public let path: String
    private let db: DatabaseQueue
    private let lock: JournalLock
    private let hook: JournalWriteHook?
    private let writer = DispatchQueue(label: "evac.journal.writer")

    private struct Pending {
        var batch: JournalBatch
        var done: CheckedContinuation<Void, Error>
    }
    private struct GroupState {
        var queue: [Pending] = []
        var draining = false
        var dead: Error?
        var closed = false
    }
    private let group = Locked(GroupState())

    static let schemaVersion = "1"

    /// Opens (creating if needed) the journal for `plan` at `path`, taking its lock first.
    /// Refuses a journal of another plan unless `force`.
    public init(
        path: String, plan: PlanFile, force: Bool = false, hook: JournalWriteHook? = nil,
        holder: JournalLock.Holder = .current()
    ) throws(JournalError) {
        self.path = path
        self.hook = hook
        try JournalLocation.ensureDirectory((path as NSString).deletingLastPathComponent)
        lock = try JournalLock(journalPath: path, holder: holder)
        do {
            try Self.createPrivateFile(path)
            db = try Self.openDatabase(path, readonly: false)
            try db.write { db in
                try Self.createSchema(db)
                let existing = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'plan_hash'")
                if let existing, existing != plan.planHash, !force {
                    throw JournalError.otherPlan(path: path, journalHash: existing, planHash: plan.planHash)
                }
                if existing != plan.planHash {
                    let planJSON = String(decoding: plan.encoded(), as: UTF8.self)
                    for (k, v) in [
                        ("schema_version", Self.schemaVersion), ("plan_hash", plan.planHash),
                        ("plan_name", plan.planName), ("plan", planJSON),
                    ] {
                        try db.execute(
                            sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [k, v])
                    }
                }
            }
        } catch let e as JournalError {
            lock.release()
            throw e
        } catch {
            lock.release()
            throw .database(path: path, "\(error)")
        }
    }

    /// Creates the file 0600 before SQLite does, so it never exists with the umask's mode.
    /// SQLite gives its -wal and -shm files the mode of the database file. Opened without
    /// following a symlink (`exclusive`: the file must not exist yet, for archives).
    static func createPrivateFile(_ path: String, exclusive: Bool = false) throws(JournalError) {
        let fd = try StateFiles.open(path, flags: O_RDWR, create: true, exclusive: exclusive)
        defer { closeDescriptor(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw .io(path: path, "chmod 0600: \(String(cString: strerror(errno)))") }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & 0o777 == 0o600 else {
            throw .io(path: path, "mode is not 0600 after chmod")
        }
    }

    /// Opens the journal through GRDB. GRDB 7 has no way to pass SQLITE_OPEN_NOFOLLOW (its
    /// open flags are internal), so the database and its -wal/-shm are checked not to be
    /// symlinks (or other users' files) before and after SQLite opens them; the state
    /// directory's own checks (`StateFiles`) are what keeps anyone else from planting one.
    static func openDatabase(_ path: String, readonly: Bool) throws -> DatabaseQueue {
        try StateFiles.refuseLinks(journal: path)
        let queue = try openUnchecked(path, readonly: readonly)
        do { try StateFiles.refuseLinks(journal: path) } catch {
            try? queue.close()
            throw error
        }
        return queue
    }

    private static func openUnchecked(_ path: String, readonly: Bool) throws -> DatabaseQueue {
        var config = Configuration()
        config.readonly = readonly
        config.busyMode = .timeout(5)
        // Not `config.journalMode = .wal`: GRDB then sets synchronous=NORMAL *after*
        // prepareDatabase, which syncs the WAL only at checkpoints (measured: 49 fdatasyncs for
        // 2,000 commits). FULL syncs the WAL at every commit, so a committed transition
        // survives a power loss, which is the whole point of writing it before the side effect.
        config.prepareDatabase { db in
            if !readonly {
                guard try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") == "wal" else {
                    throw JournalError.database(path: path, "could not switch to WAL mode")
                }
            }
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return try DatabaseQueue(path: path, configuration: config)
    }

    static func createSchema(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS run (
                    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, plan_hash TEXT NOT NULL, plan_name TEXT NOT NULL,
                    started TEXT NOT NULL, finished TEXT, exit_status TEXT, command TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS steps (
                    kind TEXT NOT NULL, migration_id INTEGER NOT NULL, guest TEXT NOT NULL, uuid TEXT NOT NULL,
                    source TEXT NOT NULL, target TEXT NOT NULL, state TEXT NOT NULL, attempt INTEGER NOT NULL,
                    reason TEXT, started TEXT, finished TEXT, stats TEXT,
                    PRIMARY KEY (kind, migration_id));
                CREATE TABLE IF NOT EXISTS events (
                    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, kind TEXT NOT NULL, migration_id INTEGER,
                    at TEXT NOT NULL, from_state TEXT, to_state TEXT, message TEXT NOT NULL, libvirt_error TEXT);
                CREATE INDEX IF NOT EXISTS events_by_step ON events (kind, migration_id);
                CREATE TABLE IF NOT EXISTS hooks (
                    point TEXT NOT NULL, hook TEXT NOT NULL, scope TEXT NOT NULL, pass INTEGER NOT NULL,
                    run_id INTEGER NOT NULL, state TEXT NOT NULL, subject TEXT NOT NULL, exit_status INTEGER,
                    started TEXT NOT NULL, finished TEXT, output TEXT, message TEXT,
                    PRIMARY KEY (point, hook, scope, pass));
                CREATE TABLE IF NOT EXISTS hook_passes (
                    scope TEXT PRIMARY KEY, closed INTEGER NOT NULL, attempt_at_close INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS progress (
                    kind TEXT NOT NULL, migration_id INTEGER NOT NULL, run_id INTEGER NOT NULL, attempt INTEGER NOT NULL,
                    at TEXT NOT NULL, sample TEXT NOT NULL, PRIMARY KEY (kind, migration_id));
                CREATE TABLE IF NOT EXISTS cycle (
                    batch INTEGER PRIMARY KEY, hosts TEXT NOT NULL, stage TEXT NOT NULL, phase_journal TEXT,
                    updated TEXT NOT NULL, message TEXT);
                """)
    }

    // MARK: Writing

    /// Queues the batch for the writer and suspends until its transaction (merged with any
    /// commits queued meanwhile) is fsync'd; a failed write fails every batch of that transaction.
    public func commit(_ batch: JournalBatch) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            enum Next { case fail(Error), start, wait }
            let next: Next = group.withLock { g in
                if let dead = g.dead { return .fail(dead) }
                if g.closed { return .fail(JournalError.io(path: path, "journal is closed")) }
                g.queue.append(Pending(batch: batch, done: c))
                if g.draining { return .wait }
                g.draining = true
                return .start
            }
            switch next {
            case .fail(let e): c.resume(throwing: e)
            case .start: writer.async { self.drain() }
            case .wait: break
            }
        }
    }

    /// Runs on `writer`: takes everything queued, writes it in one transaction, wakes the callers.
    private func drain() {
        while true {
            let work: [Pending] = group.withLock { g in
                let w = g.queue
                g.queue = []
                if w.isEmpty { g.draining = false }
                return w
            }
            if work.isEmpty { return }
            do {
                try hook?()
                try db.write { db in for p in work { try Self.write(p.batch, db) } }
                for p in work { p.done.resume() }
            } catch {
                // A journal that failed once is not trusted again: every later commit fails too,
                // and the executor stops starting side effects.
                let e = (error as? JournalError) ?? JournalError.database(path: path, "\(error)")
                let rest: [Pending] = group.withLock { g in
                    g.dead = e
                    g.draining = false
                    defer { g.queue = [] }
                    return g.queue
                }
                for p in work + rest { p.done.resume(throwing: e) }
                return
            }
        }
    }

    private static func write(_ b: JournalBatch, _ db: Database) throws {
        if let r = b.beginRun {
            try db.cachedStatement(
                sql: """
                    INSERT INTO run (id, kind, plan_hash, plan_name, started, command) VALUES (?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [r.id, r.kind.rawValue, r.planHash, r.planName, r.started, r.command])
        }
        if !b.insertSteps.isEmpty {
            let ins = try db.cachedStatement(
                sql: """
                    INSERT INTO steps (kind, migration_id, guest, uuid, source, target, state, attempt, reason, started, finished, stats)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for s in b.insertSteps {
                try ins.execute(arguments: [
                    s.kind.rawValue, s.id, s.guest, s.uuid, s.source, s.target, s.state.rawValue,
                    s.attempt, s.reason, s.started, s.finished, s.stats,
                ])
            }
        }
        if !b.transitions.isEmpty {
            let upd = try db.cachedStatement(
                sql: """
                    UPDATE steps SET state = ?, attempt = ?, reason = ?, started = ?, finished = ?, stats = ?, target = ?, source = ?
                    WHERE kind = ? AND migration_id = ?
                    """)
            let ev = try db.cachedStatement(
                sql: """
                    INSERT INTO events (run_id, kind, migration_id, at, from_state, to_state, message, libvirt_error)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            let at = Timestamp.now()
            for t in b.transitions {
                let s = t.step
                try upd.execute(arguments: [
                    s.state.rawValue, s.attempt, s.reason, s.started, s.finished, s.stats,
                    s.target, s.source, s.kind.rawValue, s.id,
                ])
                try ev.execute(arguments: [
                    b.runID, s.kind.rawValue, s.id, at, t.from.rawValue, s.state.rawValue,
                    t.message, t.hypervisorError,
                ])
            }
        }
        for h in b.hooks {
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO hooks (point, hook, scope, pass, run_id, state, subject, exit_status, started, finished, output, message)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                h.point.rawValue, h.hook, h.scope, h.pass, h.runID, h.state.rawValue, h.subject,
                h.exitStatus.map { Int($0) }, h.started, h.finished, h.output, h.message,
            ])
        }
        for c in b.cycle {
            try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO cycle (batch, hosts, stage, phase_journal, updated, message) VALUES (?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                c.batch, c.hosts.joined(separator: ","), c.stage.rawValue, c.phaseJournal, c.updated, c.message,
            ])
        }
        for p in b.passes {
            try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO hook_passes (scope, closed, attempt_at_close) VALUES (?, ?, ?)"
            )
            .execute(arguments: [p.scope, p.closed, p.attemptAtClose])
        }
        if let f = b.finishRun {
            try db.cachedStatement(sql: "UPDATE run SET finished = ?, exit_status = ? WHERE id = ?")
                .execute(arguments: [f.finished, f.exitStatus, b.runID])
        }
    }

    /// Upserts the samples in one transaction on the writer's queue, outside the group commit
    /// and with `synchronous=OFF` for that transaction only: a sample need not survive a power
    /// loss, and its write must not cost a transition an fsync. The next durable commit syncs
    /// the WAL, these frames with it. A journal that failed (or is closed) takes no samples.
    public func recordProgress(_ samples: [ProgressRecord]) async throws {
        guard !samples.isEmpty else { return }
        let rows: [(ProgressRecord, String)] = samples.compactMap { s in s.sampleJSON.map { (s, $0) } }
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            writer.async { [self] in
                if let gone = group.withLock({ g in
                    g.dead ?? (g.closed ? JournalError.io(path: path, "journal is closed") : nil)
                }) {
                    return c.resume(throwing: gone)
                }
                do {
                    try db.writeWithoutTransaction { db in
                        try db.execute(sql: "PRAGMA synchronous = OFF")
                        defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
                        try db.inTransaction {
                            let up = try db.cachedStatement(
                                sql: """
                                    INSERT OR REPLACE INTO progress (kind, migration_id, run_id, attempt, at, sample)
                                    VALUES (?, ?, ?, ?, ?, ?)
                                    """)
                            for (s, json) in rows {
                                try up.execute(arguments: [s.kind.rawValue, s.id, s.runID, s.attempt, s.at, json])
                            }
                            return .commit
                        }
                    }
                    c.resume()
                } catch {
                    c.resume(throwing: JournalError.database(path: path, "\(error)"))
                }
            }
        }
    }

    // MARK: Reading

    /// Read from the progress table without waiting for the writer (WAL readers do not block).
    public func progress() async throws -> [ProgressRecord] { try await db.read { try Self.readProgress($0) } }

    /// The progress rows (none in a journal written before they existed). A row whose sample
    /// does not decode is left out: it is a display figure, not a fact a run depends on.
    static func readProgress(_ db: Database) throws -> [ProgressRecord] {
        guard try db.tableExists("progress") else { return [] }
        return try Row.fetchAll(db, sql: "SELECT * FROM progress ORDER BY kind, migration_id").compactMap { r in
            ProgressRecord(
                kind: try r.decode(forColumn: "kind"), id: try r.decode(forColumn: "migration_id"),
                runID: try r.decode(forColumn: "run_id"), attempt: try r.decode(forColumn: "attempt"),
                at: try r.decode(forColumn: "at"), sampleJSON: try r.decode(forColumn: "sample"))
        }
    }

    /// A PRAGMA's value on the writing connection (tests check journal_mode and synchronous).
    func pragma(_ name: String) async throws -> String? {
        try await db.read { try String.fetchOne($0, sql: "PRAGMA \(name)") }
    }

    /// Read in one transaction, so the steps agree with each other.
    public func steps(kind: RunKind) async throws -> [StepRecord] {
        try await db.read { db in try Self.readSteps(db, kind: kind) }
    }

    /// Oldest first, by run id.
    public func runs() async throws -> [RunRecord] {
        try await db.read { db in try Self.readRuns(db) }
    }

    static func readSteps(_ db: Database, kind: RunKind?) throws -> [StepRecord] {
        let rows = try Row.fetchAll(
            db, sql: "SELECT * FROM steps \(kind == nil ? "" : "WHERE kind = ?") ORDER BY kind, migration_id",
            arguments: kind.map { [$0.rawValue] } ?? [])
        // `row["col"]` traps on a cell of the wrong type; `decode` throws, and a journal is a
        // file anyone with access can edit.
        return try rows.map { r in
            let kind: String = try r.decode(forColumn: "kind")
            let state: String = try r.decode(forColumn: "state")
            guard let k = RunKind(rawValue: kind) else {
                throw JournalRowError("steps", "kind '\(kind)' is not apply or rollback")
            }
            guard let s = StepState(rawValue: state) else {
                throw JournalRowError("steps", "state '\(state)' is not a step state")
            }
            return StepRecord(
                kind: k, id: try r.decode(forColumn: "migration_id"), guest: try r.decode(forColumn: "guest"),
                uuid: try r.decode(forColumn: "uuid"), source: try r.decode(forColumn: "source"),
                target: try r.decode(forColumn: "target"), state: s, attempt: try r.decode(forColumn: "attempt"),
                reason: try r.decode(forColumn: "reason"), started: try r.decode(forColumn: "started"),
                finished: try r.decode(forColumn: "finished"), stats: try r.decode(forColumn: "stats"))
        }
    }

    static func readRuns(_ db: Database) throws -> [RunRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM run ORDER BY id").map { r in
            let kind: String = try r.decode(forColumn: "kind")
            guard let k = RunKind(rawValue: kind) else {
                throw JournalRowError("run", "kind '\(kind)' is not apply or rollback")
            }
            return RunRecord(
                id: try r.decode(forColumn: "id"), kind: k, planHash: try r.decode(forColumn: "plan_hash"),
                planName: try r.decode(forColumn: "plan_name"), started: try r.decode(forColumn: "started"),
                finished: try r.decode(forColumn: "finished"), exitStatus: try r.decode(forColumn: "exit_status"),
                command: try r.decode(forColumn: "command"))
        }
    }

    /// The hook rows and passes read in one transaction.
    public func hookState() async throws -> HookJournalState {
        try await db.read { db in HookJournalState(records: try Self.readHooks(db), passes: try Self.readPasses(db)) }
    }

    /// Hook rows, oldest first. A journal written before hooks existed has no such table.
    static func readHooks(_ db: Database) throws -> [HookRecord] {
        guard try db.tableExists("hooks") else { return [] }
        return try Row.fetchAll(db, sql: "SELECT * FROM hooks ORDER BY started, rowid").map { r in
            let point: String = try r.decode(forColumn: "point")
            let state: String = try r.decode(forColumn: "state")
            guard let p = HookPoint(rawValue: point) else {
                throw JournalRowError("hooks", "point '\(point)' is not a hook point")
            }
            guard let s = HookRecord.State(rawValue: state) else {
                throw JournalRowError("hooks", "state '\(state)' is not a hook state")
            }
            let exit: Int? = try r.decode(forColumn: "exit_status")
            return HookRecord(
                point: p, hook: try r.decode(forColumn: "hook"), scope: try r.decode(forColumn: "scope"),
                pass: try r.decode(forColumn: "pass"), runID: try r.decode(forColumn: "run_id"), state: s,
                subject: try r.decode(forColumn: "subject"), exitStatus: exit.flatMap { Int32(exactly: $0) },
                started: try r.decode(forColumn: "started"), finished: try r.decode(forColumn: "finished"),
                output: try r.decode(forColumn: "output"), message: try r.decode(forColumn: "message"))
        }
    }

    /// The rolling cycle's batches, in order (empty for a journal that is not a cycle's).
    public func cycle() async throws -> [CycleRecord] { try await db.read { try Self.readCycle($0) } }

    static func readCycle(_ db: Database) throws -> [CycleRecord] {
        guard try db.tableExists("cycle") else { return [] }
        return try Row.fetchAll(db, sql: "SELECT * FROM cycle ORDER BY batch").map { r in
            let stage: String = try r.decode(forColumn: "stage")
            let hosts: String = try r.decode(forColumn: "hosts")
            guard let s = CycleRecord.Stage(rawValue: stage) else {
                throw JournalRowError("cycle", "stage '\(stage)' is not a cycle stage")
            }
            return CycleRecord(
                batch: try r.decode(forColumn: "batch"), hosts: hosts.split(separator: ",").map(String.init), stage: s,
                phaseJournal: try r.decode(forColumn: "phase_journal"), updated: try r.decode(forColumn: "updated"),
                message: try r.decode(forColumn: "message"))
        }
    }

    static func readPasses(_ db: Database) throws -> [HookPass] {
        guard try db.tableExists("hook_passes") else { return [] }
        return try Row.fetchAll(db, sql: "SELECT * FROM hook_passes ORDER BY scope").map { r in
            HookPass(
                scope: try r.decode(forColumn: "scope"), closed: try r.decode(forColumn: "closed"),
                attemptAtClose: try r.decode(forColumn: "attempt_at_close"))
        }
    }

    /// Waits for queued writes, then closes the database and drops the lock.
    public func close() {
        let first: Bool = group.withLock { g in
            defer { g.closed = true }
            return !g.closed
        }
        guard first else { return }
        writer.sync {}
        while group.withLock({ $0.draining }) { writer.sync {} }
        try? db.close()
        lock.release()
    }

    deinit { close() }
}

/// A journal row that decodes but means nothing (an unknown kind or state).
struct JournalRowError: Error, CustomStringConvertible {
    var description: String
    init(_ table: String, _ what: String) { description = "table \(table): \(what)" }
}
