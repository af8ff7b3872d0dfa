import EvacCore
import Foundation
import GRDB

/// `evac status`: a journal's runs and steps, read without taking the lock (WAL lets a reader
/// look while an apply writes). Codable for `--output json`.
public struct JournalStatus: Codable, Sendable {
    /// The journal read.
    public var path: String
    /// The name of the plan whose journal it is.
    public var planName: String
    /// The hash of the sealed plan file the journal belongs to.
    public var planHash: String
    /// Who holds the lock right now ("evac apply (pid … on …, since …)"), nil when nobody.
    public var activeHolder: String?
    /// Every run, oldest first.
    public var runs: [RunRecord]
    /// The apply's steps by id, as they stand.
    public var apply: [StepRecord]
    /// The rollback's steps by id; empty when nothing was rolled back.
    public var rollback: [StepRecord]
    /// How many apply steps are in each state.
    public var applyCounts: StepCounts
    /// How many rollback steps are in each state.
    public var rollbackCounts: StepCounts
    /// Every hook the runs ran, oldest first; nil when the plan has none (or none ran yet).
    public var hooks: [HookRecord]? = nil
    /// A rolling cycle's batches, where each stands; nil for a journal that is not a cycle's.
    public var cycle: [CycleRecord]? = nil

    /// A journal's status from its rows, wherever they are kept (the coordinator's database).
    public init(
        path: String, planName: String, planHash: String, activeHolder: String?, runs: [RunRecord],
        steps: [StepRecord], hooks: [HookRecord] = [], cycle: [CycleRecord] = []
    ) {
        let apply = steps.filter { $0.kind == .apply }
        let rollback = steps.filter { $0.kind == .rollback }
        self.init(
            path: path, planName: planName, planHash: planHash, activeHolder: activeHolder, runs: runs,
            apply: apply, rollback: rollback, applyCounts: StepCounts(apply), rollbackCounts: StepCounts(rollback),
            hooks: hooks.nilIfEmpty, cycle: cycle.nilIfEmpty)
    }

    init(
        path: String, planName: String, planHash: String, activeHolder: String?, runs: [RunRecord],
        apply: [StepRecord], rollback: [StepRecord], applyCounts: StepCounts, rollbackCounts: StepCounts,
        hooks: [HookRecord]? = nil, cycle: [CycleRecord]? = nil
    ) {
        self.path = path
        self.planName = planName
        self.planHash = planHash
        self.activeHolder = activeHolder
        self.runs = runs
        self.apply = apply
        self.rollback = rollback
        self.applyCounts = applyCounts
        self.rollbackCounts = rollbackCounts
        self.hooks = hooks
        self.cycle = cycle
    }

    /// Reads the journal at `path` read-only, in one transaction; throws when it is missing,
    /// not a journal, or of a schema this evac does not know.
    public static func read(path: String) throws(JournalError) -> JournalStatus {
        guard FileManager.default.fileExists(atPath: path) else { throw .io(path: path, "no such journal") }
        do {
            let db = try SQLiteJournal.openDatabase(path, readonly: true)
            defer { try? db.close() }
            return try db.read { db in
                let meta = try readMeta(db)
                let steps = try SQLiteJournal.readSteps(db, kind: nil)
                let apply = steps.filter { $0.kind == .apply }
                let rollback = steps.filter { $0.kind == .rollback }
                return JournalStatus(
                    path: path, planName: meta["plan_name"] ?? "?", planHash: meta["plan_hash"] ?? "?",
                    activeHolder: JournalLock.currentHolder(journalPath: path),
                    runs: try SQLiteJournal.readRuns(db), apply: apply, rollback: rollback,
                    applyCounts: StepCounts(apply), rollbackCounts: StepCounts(rollback),
                    hooks: try SQLiteJournal.readHooks(db).nilIfEmpty,
                    cycle: try SQLiteJournal.readCycle(db).nilIfEmpty)
            }
        } catch let e as JournalError {
            throw e
        } catch {
            throw .database(path: path, "\(error)")
        }
    }

    /// The hooks of one guest's step, for `status --guest`.
    public func hooks(of step: StepRecord) -> [HookRecord] {
        (hooks ?? []).filter { $0.scope == "\(step.kind.rawValue):\(step.id)" }
    }

    /// The plan file the journal was opened for (kept in its meta table), so that resume,
    /// rollback and status work from the journal alone when the plan file was never saved.
    public static func storedPlan(path: String) throws(JournalError) -> PlanFile {
        guard FileManager.default.fileExists(atPath: path) else { throw .io(path: path, "no such journal") }
        do {
            let db = try SQLiteJournal.openDatabase(path, readonly: true)
            defer { try? db.close() }
            let meta = try db.read { db in try readMeta(db) }
            guard let json = meta["plan"] else { throw JournalError.untrusted(path: path, "it holds no plan") }
            // Sealed when evac wrote it: the plan must match its own hash and the journal's.
            let plan: PlanFile
            switch PlanFile.decode(Data(json.utf8)) {
            case .success(let p): plan = p
            case .failure(let e): throw JournalError.untrusted(path: path, "its stored plan: \(e.message)")
            }
            guard meta["plan_hash"] == plan.planHash else {
                throw JournalError.untrusted(
                    path: path,
                    "it is keyed to plan \(TerminalText.escape(String((meta["plan_hash"] ?? "none").prefix(12)))) but stores plan \(plan.planHash.prefix(12))"
                )
            }
            return plan
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
                try Row.fetchAll(
                    db, sql: "SELECT * FROM events WHERE kind = ? AND migration_id = ? ORDER BY id",
                    arguments: [kind.rawValue, id]
                ).map { r in
                    StepEvent(
                        runID: try r.decode(forColumn: "run_id"), at: try r.decode(forColumn: "at"),
                        from: try r.decode(forColumn: "from_state"), to: try r.decode(forColumn: "to_state"),
                        message: try r.decode(forColumn: "message"),
                        hypervisorError: try r.decode(forColumn: "libvirt_error"))
                }
            }
        } catch {
            throw .database(path: path, "\(error)")
        }
    }
}

extension JournalStatus {
    /// The meta table as a dictionary; a cell of the wrong type is an error, a repeated key keeps
    /// its first value (the table's primary key forbids both, but the file is input).
    static func readMeta(_ db: Database) throws -> [String: String] {
        var meta: [String: String] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT key, value FROM meta") {
            let k: String = try r.decode(forColumn: "key")
            let v: String = try r.decode(forColumn: "value")
            if meta[k] == nil { meta[k] = v }
        }
        return meta
    }
}

/// One row of a step's history: a transition as the journal's events table keeps it.
public struct StepEvent: Codable, Sendable, Hashable {
    /// The run that made the change.
    public var runID: Int
    /// When (journal timestamp).
    public var at: String
    /// The state it left (a step state's raw value); nil when the row records none.
    public var from: String?
    /// The state it entered; a convergence rung is an event from running to running.
    public var to: String?
    /// Why, as the executor wrote it.
    public var message: String
    /// libvirt's error text when the change came from one.
    public var hypervisorError: String?
    /// An event as read back from the journal.
    public init(runID: Int, at: String, from: String?, to: String?, message: String, hypervisorError: String?) {
        self.runID = runID
        self.at = at
        self.from = from
        self.to = to
        self.message = message
        self.hypervisorError = hypervisorError
    }
}

extension JournalLock {
    /// The holder's summary if someone holds the lock now (probed with a shared, non-blocking
    /// flock that is released at once), else nil.
    public static func currentHolder(journalPath: String) -> String? {
        guard let fd = try? StateFiles.open(journalPath + ".lock", flags: O_RDONLY, create: false) else { return nil }
        defer { closeDescriptor(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = pread(fd, &buf, buf.count, 0)
        return Holder.parse(n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : "")?.summary ?? "another process"
    }
}

extension Array {
    var nilIfEmpty: [Element]? { isEmpty ? nil : self }
}
