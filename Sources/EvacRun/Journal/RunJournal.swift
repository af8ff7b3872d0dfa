import EvacCore
import Foundation

/// One invocation of apply, resume or rollback, as the journal records it.
public struct RunRecord: Codable, Hashable, Sendable {
    /// The run's number in this journal, from 1 in the order the runs started.
    public var id: Int
    /// Whether it applied the plan (apply, resume) or took it back (rollback).
    public var kind: RunKind
    /// The hash of the sealed plan file it ran: a journal belongs to one plan.
    public var planHash: String
    /// The plan's name, for status and the run page.
    public var planName: String
    /// When the run started (ISO 8601 UTC).
    public var started: String
    /// When it ended; nil while it runs, or when the process died before it could say.
    public var finished: String?
    /// RunStatus raw value once the run ended; nil while running (or after a crash).
    public var exitStatus: String?
    /// The command line that started it, credentials left out, so status can say who ran what.
    public var command: String
    /// A run as the journal records it; `finished` and `exitStatus` nil until it ends.
    public init(
        id: Int, kind: RunKind, planHash: String, planName: String, started: String,
        finished: String? = nil, exitStatus: String? = nil, command: String
    ) {
        self.id = id
        self.kind = kind
        self.planHash = planHash
        self.planName = planName
        self.started = started
        self.finished = finished
        self.exitStatus = exitStatus
        self.command = command
    }
}

/// Everything written in one durable transaction.
public struct JournalBatch: Sendable {
    /// The run the events belong to.
    public var runID: Int
    /// A run to open in this batch (its first write), with the steps in `insertSteps`.
    public var beginRun: RunRecord?
    /// Steps the journal does not have yet, written pending before any of them changes.
    public var insertSteps: [StepRecord] = []
    /// Step changes, each a new row plus an event, in the order they happened.
    public var transitions: [StepTransition] = []
    /// The end of the run (when, and the RunStatus raw value), written with its last transitions.
    public var finishRun: (finished: String, exitStatus: String)?
    /// Hook rows to insert or replace (by point, hook, scope and pass).
    public var hooks: [HookRecord] = []
    /// Guest hook passes to set.
    public var passes: [HookPass] = []
    /// Rolling-cycle batches to set (the cycle's journal only).
    public var cycle: [CycleRecord] = []
    /// With a coordinator: the target capacity reserved in the same transaction as these
    /// transitions (a step becoming running). Journals without one ignore it: the in-process
    /// ledger already reserved it.
    public var claim: CapacityClaim?
    /// A batch of `runID`; every part is optional, so one type serves opening, changing and ending a run.
    public init(
        runID: Int, beginRun: RunRecord? = nil, insertSteps: [StepRecord] = [],
        transitions: [StepTransition] = [], finishRun: (finished: String, exitStatus: String)? = nil,
        hooks: [HookRecord] = [], passes: [HookPass] = [], cycle: [CycleRecord] = [],
        claim: CapacityClaim? = nil
    ) {
        self.runID = runID
        self.beginRun = beginRun
        self.insertSteps = insertSteps
        self.transitions = transitions
        self.finishRun = finishRun
        self.hooks = hooks
        self.passes = passes
        self.cycle = cycle
        self.claim = claim
    }
}

/// The durable record of a plan's runs. `commit` returns only once the batch is durable, so the
/// executor can order "written" before "side effect". Implementations may merge concurrent
/// commits into one transaction (group commit).
public protocol RunJournal: AnyObject, Sendable {
    /// Where the journal lives (a file path, or a database's description), for messages.
    var path: String { get }
    /// Makes `batch` durable in one transaction; returns only once it is, so the caller's side
    /// effect (a migration start) comes after its record. Throws when the write failed: nothing of
    /// the batch is then recorded.
    func commit(_ batch: JournalBatch) async throws
    /// Every step of `kind` the journal records, by id.
    func steps(kind: RunKind) async throws -> [StepRecord]
    /// Every run, oldest first.
    func runs() async throws -> [RunRecord]
    /// Every hook row and guest pass (what has run, what completed).
    func hookState() async throws -> HookJournalState
    /// Keeps the latest progress sample of each in-flight migration: one row per step
    /// (kind, id), replaced by each call, so the journal does not grow with the run's length.
    /// What `evac status --follow` in another process shows as the live figures.
    ///
    /// Not a durability point, unlike `commit`: a sample is a display figure, so the write need
    /// not be flushed to disk (a crash may lose the last one) and it must not delay the
    /// transitions' commits; callers write at most every couple of seconds per step.
    /// A failure is the caller's to ignore: it never stops a run.
    func recordProgress(_ samples: [ProgressRecord]) async throws
    /// The latest sample of every step that has one, as `recordProgress` left them.
    func progress() async throws -> [ProgressRecord]
    /// Releases the file and the lock. Safe to call twice.
    func close()
}

/// The latest progress sample of one step, as the journal keeps it (`RunJournal.recordProgress`).
public struct ProgressRecord: Codable, Hashable, Sendable {
    /// Apply or rollback, and the migration id: the step the sample belongs to.
    public var kind: RunKind
    /// See `kind`.
    public var id: Int
    /// The run, and the step's attempt, that took the sample: a follower shows it only while
    /// the step is running that attempt (a sample of a failed attempt is not the retry's).
    public var runID: Int
    /// See `runID`.
    public var attempt: Int
    /// When it was written (journal timestamp).
    public var at: String
    /// libvirt's job figures.
    public var progress: MigrationProgress
    /// A sample of step (`kind`, `id`) taken in run `runID` during the step's attempt `attempt`.
    public init(kind: RunKind, id: Int, runID: Int, attempt: Int, at: String, progress: MigrationProgress) {
        self.kind = kind
        self.id = id
        self.runID = runID
        self.attempt = attempt
        self.at = at
        self.progress = progress
    }
}

extension ProgressRecord {
    /// The sample as journals store it (canonical JSON text); nil when it does not encode.
    public var sampleJSON: String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(progress)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A stored row back; nil when the kind or the sample does not decode (a display figure,
    /// not a fact a run depends on, so such a row is left out rather than failing a status).
    public init?(kind: String, id: Int, runID: Int, attempt: Int, at: String, sampleJSON: String) {
        guard let k = RunKind(rawValue: kind),
            let p = try? JSONDecoder().decode(MigrationProgress.self, from: Data(sampleJSON.utf8))
        else { return nil }
        self.init(kind: k, id: id, runID: runID, attempt: attempt, at: at, progress: p)
    }
}

/// Called before every durable write; throwing simulates the process dying there (kill -9):
/// that write and every later one never happen. Tests enumerate these points.
public typealias JournalWriteHook = @Sendable () throws -> Void
