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
        """)

    @Argument(help: "The plan (YAML; its newest journal is used), saved plan file (JSON) or journal (.journal.sqlite).",
              completion: .file(extensions: ["yaml", "yml", "json", "sqlite"]))
    var plan: String

    @Option(name: .long, help: ArgumentHelp("Which failed or blocked steps to retry: all, none, or guest names separated by commas.",
                                            valueName: "all|none|GUEST,…"))
    var retry: String = "all"

    @Flag(name: .long, help: "Use the journal even if it records another plan.")
    var force = false

    @OptionGroup var run: RunOptions

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
    }

    func run() async throws {
        let executor = try JournaledRun.open(plan, force: force, run: run)
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

    func run() async throws {
        let executor = try JournaledRun.open(plan, force: force, run: run)
        try await RunExit.run(executor.executor) { await $0.rollback() }
    }
}

/// An executor on an existing journal (resume, rollback).
struct JournaledRun {
    var plan: PlanFile
    var journal: SQLiteJournal
    var executor: Executor

    static func open(_ reference: String, force: Bool, run: RunOptions) throws -> JournaledRun {
        let found: (plan: PlanFile, journal: String)
        do { found = try PlanReference.journal(for: reference, stateDirectory: run.stateDirectory) } catch { throw error.exit }
        let journal: SQLiteJournal
        do { journal = try SQLiteJournal(path: found.journal, plan: found.plan, force: force) }
        catch { Console.error("error: \(error)\n"); throw EvacExit.cannotStart }
        let executor = Executor(plan: found.plan, hypervisor: LibvirtHypervisor(), journal: journal, observer: run.observer())
        return JournaledRun(plan: found.plan, journal: journal, executor: executor)
    }
}
