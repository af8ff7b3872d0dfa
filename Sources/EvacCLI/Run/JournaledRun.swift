import EvacCore
import EvacLibvirt
import EvacRun
import Foundation

/// An executor on an existing journal (resume, rollback, and apply continuing its plan's run).
struct JournaledRun {
    var plan: PlanFile
    var journal: SQLiteJournal
    var executor: Executor

    /// The plan name's run lock (PlanRunLock), taken before anything is chosen or read: in the
    /// journal's own directory when a journal is named, so that the exact commands evac prints
    /// (`evac resume JOURNAL`) need no --state-dir to lock the right plan.
    static func lock(_ reference: String, run: RunOptions) throws -> JournalLock {
        let name = try PlanRunLock.planName(of: reference)
        let dir =
            PlanReference.kind(of: reference) == .journal
            ? (URL(fileURLWithPath: reference).deletingLastPathComponent().path) : run.stateDirectory
        return try PlanRunLock.acquire(planName: name, stateDirectory: dir)
    }

    /// Locks the plan, then opens the journal `reference` names (PlanReference.journal).
    static func open(
        _ reference: String, force: Bool, run: RunOptions, connection: ConnectionOptions,
        migration: (MigrationOptions) -> MigrationOptions? = { _ in nil }
    ) throws -> (JournaledRun, JournalLock) {
        let runLock = try lock(reference, run: run)
        let found: (plan: PlanFile, journal: String)
        found = try PlanReference.journal(for: reference, stateDirectory: run.stateDirectory)
        return (
            try open(
                journal: found.journal, runLock: runLock, force: force, run: run, connection: connection,
                migration: migration), runLock
        )
    }

    /// Opens a journal whose plan's run lock the caller holds.
    static func open(
        journal path: String, runLock: JournalLock, force: Bool, run: RunOptions, connection: ConnectionOptions,
        migration: (MigrationOptions) -> MigrationOptions? = { _ in nil }
    ) throws -> JournaledRun {
        let stored: PlanFile
        do { stored = try JournalStatus.storedPlan(path: path) } catch {
            Console.error("error: \(error)\n")
            throw EvacExit.cannotStart
        }
        let journal: SQLiteJournal
        do { journal = try SQLiteJournal(path: path, plan: stored, force: force) } catch {
            Console.error("error: \(error)\n")
            throw EvacExit.cannotStart
        }
        var plan = stored
        // Every group's options too: the override holds for every migration of this run.
        let overridden = plan.policy.changingMigrationOptions { migration($0) ?? $0 }
        if overridden != plan.policy, let options = migration(plan.policy.migration) {
            plan.policy = overridden
            Console.error(
                "note: migration options for this run: bandwidth \(options.bandwidthBytesPerSec.map { Format.bytes(Double($0)) + "/s" } ?? "unlimited"), "
                    + "timeout \(options.timeout.map(Self.describe) ?? "none")\n")
        }
        let executor = Executor(
            plan: plan, hypervisor: LibvirtHypervisor(settings: connection.settings(plan.connection)),
            journal: run.journal(journal), observer: run.observer(plan: plan))
        return JournaledRun(plan: plan, journal: journal, executor: executor)
    }

    private static func describe(_ t: MigrationOptions.Timeout) -> String {
        switch t {
        case .fixed(let ms): return Format.planDuration(ms: ms)
        case .perGiB(let ms): return Format.planDuration(ms: ms) + "/GiB"
        }
    }
}
