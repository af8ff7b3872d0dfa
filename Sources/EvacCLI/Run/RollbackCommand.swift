import ArgumentParser
import EvacRun

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
