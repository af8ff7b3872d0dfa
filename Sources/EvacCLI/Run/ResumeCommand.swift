import ArgumentParser
import EvacCore
import EvacLibvirt
import EvacRun
import Foundation

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a journaled run after a crash, a signal or partial failure.",
        discussion: """
            First reconciles the journal with the hosts: each guest not recorded as done is looked \
            up by UUID on its source and target (one that landed counts as done; one still on its \
            source is retried; one on both or on neither is reported and left alone). Then runs what \
            is pending and retries failed and blocked steps, pre-checks included. No guest is \
            migrated twice. Once a rollback of the run has begun, resume continues the rollback \
            (never the apply); after a complete rollback there is nothing to resume (exit 3). \
            Exit codes as for apply.

            --bandwidth and --timeout replace the plan's migration bandwidth cap and timeout for \
            this resume only (e.g. after a migration was aborted under a cap that was too tight). \
            The journal still belongs to the same plan; the override is not stored in it, so give \
            it again to a later resume.
            """)

    @Argument(
        help: "The plan (YAML: its run that is not over), saved plan file (JSON) or journal (.journal.sqlite).",
        completion: .file(extensions: ["yaml", "yml", "json", "sqlite"]))
    var plan: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Which failed or blocked steps to retry: all, none, or guest names separated by commas.",
            valueName: "all|none|GUEST,…"))
    var retry: String = "all"

    @Flag(name: .long, help: "Use the journal even if it records another plan.")
    var force = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Bandwidth cap for the migrations of this resume instead of the plan's (e.g. 512MiB/s), or 'none' for no cap.",
            valueName: "RATE|none"),
        transform: { text throws(ValidationError) in try Override(text, Units.bandwidth) })
    var bandwidth: Override<UInt64>?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Migration timeout for this resume instead of the plan's: fixed (e.g. 10m) or per GiB of guest memory (e.g. 2m/GiB), or 'none'.",
            valueName: "DURATION|none"),
        transform: { text throws(ValidationError) in try Override(text, Units.timeout) })
    var timeout: Override<MigrationOptions.Timeout>?

    @OptionGroup var run: RunOptions

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var logging: LogOptions

    /// A value given on the command line for this run instead of the plan's, or `none`.
    /// Parsed once, by the plan language's own grammar (bounds included).
    struct Override<Value> {
        var value: Value?
        init(_ text: String, _ parse: (String) -> Result<Value, Units.Failure>) throws(ValidationError) {
            if text == "none" {
                value = nil
                return
            }
            switch parse(text) {
            case .success(let v): value = v
            case .failure(let f): throw ValidationError("\(f.message) (\(f.help))")
            }
        }
    }

    /// The plan's migration options with --bandwidth/--timeout applied.
    static func overriding(
        _ options: MigrationOptions, bandwidth: Override<UInt64>?,
        timeout: Override<MigrationOptions.Timeout>?
    ) -> MigrationOptions {
        var o = options
        if let bandwidth { o.bandwidthBytesPerSec = bandwidth.value }
        if let timeout { o.timeout = timeout.value }
        return o
    }

    var selection: RetrySelection {
        switch retry {
        case "all": return .all
        case "none": return .none
        default:
            return .guests(Set(retry.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }))
        }
    }

    func validate() throws {
        if retry.isEmpty
            || retry.split(separator: ",", omittingEmptySubsequences: false).contains(where: {
                $0.trimmingCharacters(in: .whitespaces).isEmpty
            })
        {
            throw ValidationError("--retry takes all, none, or guest names separated by commas")
        }
    }

    func run() async throws {
        if let url = run.coordinatorURL {
            let (b, t) = (bandwidth, timeout)
            return try await CoordinatedRun.continueRun(
                plan, .resume(selection), url: url, run: run, connection: connection
            ) { options in
                Self.overriding(options, bandwidth: b, timeout: t)
            }
        }
        // The journal is opened with the plan as stored (its hash is checked); the override only
        // changes the migration options the executor uses for this run.
        let (executor, runLock) = try JournaledRun.open(plan, force: force, run: run, connection: connection) {
            options in
            Self.overriding(options, bandwidth: bandwidth, timeout: timeout)
        }
        defer {
            executor.journal.close()
            runLock.release()
        }
        if case .guests(let names) = selection {
            let known = Set(executor.plan.graph.nodes.map(\.guest))
            let unknown = names.subtracting(known).sorted()
            if !unknown.isEmpty {
                Console.error(
                    "error: --retry names guests that are not in the plan: \(unknown.joined(separator: ", "))\n")
                throw EvacExit.invalidInput
            }
        }
        let sel = selection
        try await RunExit.run(executor.executor) { await $0.resume(retry: sel) }
    }
}

struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Move every guest a run moved back to the host it came from, in reverse order, journaled.",
        discussion: """
            First accounts for every guest the apply touched, also after a crash: steps left running, \
            failed or blocked are looked up by UUID on source and target, and a guest that landed is \
            returned too. Uses the same limits and pre-checks as apply; it is a run of its own, \
            resumable by running rollback (or resume) again. Never all-done while a guest cannot be \
            accounted for; guests it cannot return are reported with the reason. Exit codes as for apply.
            """)

    @Argument(
        help:
            "The plan (YAML or saved plan file: every run of the plan that is not over) or a journal (.journal.sqlite).",
        completion: .file(extensions: ["yaml", "yml", "json", "sqlite"]))
    var plan: String

    @Flag(name: .long, help: "Use the journal even if it records another plan.")
    var force = false

    @OptionGroup var run: RunOptions

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var logging: LogOptions

    func run() async throws {
        if let url = run.coordinatorURL {
            return try await CoordinatedRun.continueRun(plan, .rollback, url: url, run: run, connection: connection)
        }
        // One lock for the whole command: with several live journals (written before one run
        // per plan name) every one is rolled back under it, newest first.
        let runLock = try JournaledRun.lock(plan, run: run)
        defer { runLock.release() }
        let targets: (planName: String, journals: [String])
        targets = try PlanReference.journalsToRollBack(plan, stateDirectory: run.stateDirectory)
        var worst = EvacExit.success
        for (i, path) in targets.journals.enumerated() {
            if targets.journals.count > 1 {
                Console.error(
                    "note: plan \(targets.planName) has \(targets.journals.count) runs that are not over; rolling back \(path) (\(i + 1) of \(targets.journals.count))\n"
                )
            }
            let opened = try JournaledRun.open(
                journal: path, runLock: runLock, force: force, run: run, connection: connection)
            let code = await RunExit.result(opened.executor) { await $0.rollback() }
            opened.journal.close()
            worst = RunExit.worse(worst, code)
            if code == EvacExit.interrupted || code == EvacExit.journalFailed { break }
        }
        if worst != EvacExit.success { throw worst }
    }
}

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
        if let options = migration(plan.migration), options != plan.migration {
            plan.migration = options
            Console.error(
                "note: migration options for this run: bandwidth \(options.bandwidthBytesPerSec.map { Format.bytes(Double($0)) + "/s" } ?? "unlimited"), "
                    + "timeout \(options.timeout.map(Self.describe) ?? "none")\n")
        }
        let executor = Executor(
            plan: plan, hypervisor: LibvirtHypervisor(settings: connection.settings(plan.connection)),
            journal: run.journal(journal), observer: run.observer())
        return JournaledRun(plan: plan, journal: journal, executor: executor)
    }

    private static func describe(_ t: MigrationOptions.Timeout) -> String {
        switch t {
        case .fixed(let ms): return Format.planDuration(ms: ms)
        case .perGiB(let ms): return Format.planDuration(ms: ms) + "/GiB"
        }
    }
}
