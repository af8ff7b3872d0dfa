import ArgumentParser
import Foundation
import EvacCore
import EvacLibvirt
import EvacRun

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a journaled run after a crash, a signal or partial failure.",
        discussion: """
        First reconciles the journal with the hosts: each guest not recorded as done is looked \
        up by UUID on its source and target (one that landed counts as done; one still on its \
        source is retried; one on both or on neither is reported and left alone). Then runs what \
        is pending and retries failed and blocked steps, pre-checks included. No guest is \
        migrated twice. Exit codes as for apply.

        --bandwidth and --timeout replace the plan's migration bandwidth cap and timeout for \
        this resume only (e.g. after a migration was aborted under a cap that was too tight). \
        The journal still belongs to the same plan; the override is not stored in it, so give \
        it again to a later resume.
        """)

    @Argument(help: "The plan (YAML; its newest journal is used), saved plan file (JSON) or journal (.journal.sqlite).",
              completion: .file(extensions: ["yaml", "yml", "json", "sqlite"]))
    var plan: String

    @Option(name: .long, help: ArgumentHelp("Which failed or blocked steps to retry: all, none, or guest names separated by commas.",
                                            valueName: "all|none|GUEST,…"))
    var retry: String = "all"

    @Flag(name: .long, help: "Use the journal even if it records another plan.")
    var force = false

    @Option(name: .long, help: ArgumentHelp("Bandwidth cap for the migrations of this resume instead of the plan's (e.g. 512MiB/s), or 'none' for no cap.",
                                            valueName: "RATE|none"))
    var bandwidth: String?

    @Option(name: .long, help: ArgumentHelp("Migration timeout for this resume instead of the plan's: fixed (e.g. 10m) or per GiB of guest memory (e.g. 2m/GiB), or 'none'.",
                                            valueName: "DURATION|none"))
    var timeout: String?

    @OptionGroup var run: RunOptions

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions

    /// The plan's migration options with --bandwidth/--timeout applied.
    static func overriding(_ options: MigrationOptions, bandwidth: String?, timeout: String?) throws(Units.Failure) -> MigrationOptions {
        var o = options
        if let bandwidth {
            if bandwidth == "none" { o.bandwidthBytesPerSec = nil } else { o.bandwidthBytesPerSec = try Units.bandwidth(bandwidth).get() }
        }
        if let timeout {
            if timeout == "none" {
                o.timeout = nil
            } else if timeout.hasSuffix("/GiB") {
                o.timeout = .perGiB(milliseconds: try Units.duration(String(timeout.dropLast(4))).get())
            } else {
                o.timeout = .fixed(milliseconds: try Units.duration(timeout).get())
            }
        }
        return o
    }

    var selection: RetrySelection {
        switch retry {
        case "all": return .all
        case "none": return .none
        default: return .guests(Set(retry.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }))
        }
    }

    func validate() throws {
        if retry.isEmpty || retry.split(separator: ",", omittingEmptySubsequences: false).contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--retry takes all, none, or guest names separated by commas")
        }
        do { _ = try Self.overriding(MigrationOptions(), bandwidth: bandwidth, timeout: timeout) } catch {
            throw ValidationError("\(error.message) (\(error.help))")
        }
    }

    func run() async throws {
        // The journal is opened with the plan as stored (its hash is checked); the override only
        // changes the migration options the executor uses for this run.
        let executor = try JournaledRun.open(plan, force: force, run: run, connection: connection) { options in
            try? Self.overriding(options, bandwidth: bandwidth, timeout: timeout)
        }
        if case .guests(let names) = selection {
            let known = Set(executor.plan.graph.nodes.map(\.guest))
            let unknown = names.subtracting(known).sorted()
            if !unknown.isEmpty {
                Console.error("error: --retry names guests that are not in the plan: \(unknown.joined(separator: ", "))\n")
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
        Uses the same limits and pre-checks as apply; it is a run of its own, resumable by running \
        rollback again. Guests it cannot return are reported with the reason. Exit codes as for apply.
        """)

    @Argument(help: "The plan (YAML; its newest journal is used), saved plan file (JSON) or journal (.journal.sqlite).",
              completion: .file(extensions: ["yaml", "yml", "json", "sqlite"]))
    var plan: String

    @Flag(name: .long, help: "Use the journal even if it records another plan.")
    var force = false

    @OptionGroup var run: RunOptions

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions

    func run() async throws {
        let executor = try JournaledRun.open(plan, force: force, run: run, connection: connection)
        try await RunExit.run(executor.executor) { await $0.rollback() }
    }
}

/// An executor on an existing journal (resume, rollback).
struct JournaledRun {
    var plan: PlanFile
    var journal: SQLiteJournal
    var executor: Executor
    /// Held for the life of the run: one run per plan name (see PlanRunLock).
    var runLock: JournalLock

    static func open(_ reference: String, force: Bool, run: RunOptions, connection: ConnectionOptions,
                     migration: (MigrationOptions) -> MigrationOptions? = { _ in nil }) throws -> JournaledRun {
        let found: (plan: PlanFile, journal: String)
        do { found = try PlanReference.journal(for: reference, stateDirectory: run.stateDirectory) } catch { throw error.exit }
        let runLock: JournalLock
        do { runLock = try PlanRunLock.acquire(planName: found.plan.planName, stateDirectory: run.stateDirectory) } catch { throw error.exit }
        let journal: SQLiteJournal
        do { journal = try SQLiteJournal(path: found.journal, plan: found.plan, force: force) }
        catch { Console.error("error: \(error)\n"); throw EvacExit.cannotStart }
        var plan = found.plan
        if let options = migration(plan.migration), options != plan.migration {
            plan.migration = options
            Console.error("note: migration options for this run: bandwidth \(options.bandwidthBytesPerSec.map { Format.bytes(Double($0)) + "/s" } ?? "unlimited"), "
                          + "timeout \(options.timeout.map(Self.describe) ?? "none")\n")
        }
        let executor = Executor(plan: plan, hypervisor: LibvirtHypervisor(settings: connection.settings(plan.connection)), journal: run.journal(journal), observer: run.observer())
        return JournaledRun(plan: plan, journal: journal, executor: executor, runLock: runLock)
    }

    private static func describe(_ t: MigrationOptions.Timeout) -> String {
        switch t {
        case .fixed(let ms): return Format.duration(ms: Double(ms))
        case .perGiB(let ms): return Format.duration(ms: Double(ms)) + "/GiB"
        }
    }
}
