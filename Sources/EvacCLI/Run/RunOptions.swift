import ArgumentParser
import EvacCore
import EvacRun
import Foundation

/// Options shared by the commands that run or read a journal.
struct RunOptions: ParsableArguments {
    enum ProgressFormat: String, ExpressibleByArgument, CaseIterable {
        case auto, plain, json
    }

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Directory of run journals.",
            discussion: "Default: $EVAC_STATE_DIR, else $XDG_STATE_HOME/evac, else ~/.local/state/evac."),
        completion: .directory)
    var stateDir: String?

    @Option(
        name: .long,
        help:
            "auto: a live display on a terminal, plain lines otherwise; plain: one line per event; json: one JSON object per event (JSON Lines)."
    )
    var output: ProgressFormat = .auto

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Keep a Prometheus text-format metrics file up to date during the run (node_exporter textfile collector: a .prom name in its directory).",
            discussion: "Default: $EVAC_METRICS_FILE when set.", valueName: "PATH"),
        completion: .file(extensions: ["prom"]))
    var metricsFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The coordinator: a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE) where the run's journal, host leases and capacity reservations are shared by every evac of the fleet.",
            discussion:
                "Default: $EVAC_COORDINATOR. The password comes from PGPASSWORD or the password file (PGPASSFILE, ~/.pgpass), never from the URL. Without one, the journal is a file in --state-dir and no other run is seen.",
            valueName: "URL"))
    var coordinator: String?

    var stateDirectory: String { stateDir ?? JournalLocation.stateDirectory() }

    /// The coordinator's URL text, from --coordinator or $EVAC_COORDINATOR; nil: none.
    var coordinatorURL: String? { CoordinatedRun.urlText(coordinator) }

    /// What shows the run; `plan` gives the live display the plan's model for its ETA.
    func observer(plan: PlanFile? = nil) -> any RunObserver {
        RunObservers.compose(display: display(plan), metricsFile: metricsFile)
    }

    private func display(_ plan: PlanFile?) -> any RunObserver {
        switch output {
        case .json: return JSONLinesObserver()
        case .plain: return PlainObserver()
        case .auto:
            // A live display on a terminal (not TERM=dumb), plain lines otherwise — also when
            // --verbose writes log lines to the same terminal, which would garble the display.
            if RunObservers.logsShareTerminal { return PlainObserver() }
            return TerminalObserver.forStandardOutput(forecast: plan.map(RunForecast.init(plan:)))
        }
    }

    /// The journal the executor writes through (logged when logging is on).
    func journal(_ j: SQLiteJournal) -> any RunJournal { RunObservers.journal(j) }
}

/// Exit codes of a run (README: "Exit codes").
enum RunExit {
    static func code(_ status: RunStatus) -> ExitCode {
        switch status {
        case .allDone: return EvacExit.success
        case .partial: return EvacExit.partial
        case .interrupted: return EvacExit.interrupted
        case .cannotStart: return EvacExit.cannotStart
        case .journalFailed: return EvacExit.journalFailed
        }
    }

    /// The exit code of a run that ends with `status`, when the plan left guests unplaceable
    /// or not: a run whose migrations all ended done is still partial then. The one rule for
    /// apply, resume, rollback and `apply --dry-run` (which predicts the apply's).
    static func code(_ status: RunStatus, unplaceable: Bool) -> ExitCode {
        let c = code(status)
        return c == EvacExit.success && unplaceable ? EvacExit.partial : c
    }

    /// Runs an executor operation with SIGINT/SIGTERM wired to it (before and after, a signal
    /// ends the process: see `EvacCommand.runMain`), and maps its end to an exit code.
    /// `unplaceable`: guests the plan could not place, which make a run whose migrations all
    /// ended done still partial. The last line says what the exit code means.
    static func run(
        _ executor: Executor, unplaceable: [String] = [], _ body: @Sendable (Executor) async -> RunResult
    ) async throws {
        let code = await result(executor, unplaceable: unplaceable, body)
        if code != EvacExit.success { throw code }
    }

    /// As `run`, returning the exit code instead of throwing it.
    static func result(
        _ executor: Executor, unplaceable: [String] = [], _ body: @Sendable (Executor) async -> RunResult
    ) async -> ExitCode {
        let signals = executor.stopOnSignals()
        let result = await body(executor)
        signals.cancel()
        if result.status == .cannotStart, let m = result.message { Console.error("error: \(m)\n") }
        let code = code(result.status, unplaceable: !unplaceable.isEmpty)
        Console.error(ExitLine.text(code: code, result: result, unplaceable: unplaceable) + "\n")
        return code
    }

    /// The more serious of two exit codes (journal failed > interrupted > cannot start > partial).
    static func worse(_ a: ExitCode, _ b: ExitCode) -> ExitCode {
        let rank: [Int32: Int] = [0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5]
        return (rank[b.rawValue] ?? 6) > (rank[a.rawValue] ?? 6) ? b : a
    }
}
