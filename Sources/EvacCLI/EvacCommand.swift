import ArgumentParser
import EvacCore
import EvacRun
import Foundation

public struct EvacCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "evac",
        abstract: "Plan and run batch evacuations of libvirt/KVM hosts.",
        discussion: """
            Exit codes: 0 all placed / all done; 1 some guests unplaceable / some migrations failed \
            or blocked; 2 invalid input; 3 cannot start (unreachable source, journal locked, stale plan); \
            4 interrupted; 5 journal write failed.
            """,
        version: EvacVersion.current,
        subcommands: [
            PlanCommand.self, InventoryCommand.self, ValidateCommand.self,
            ApplyCommand.self, ResumeCommand.self, RollbackCommand.self, StatusCommand.self, RollCommand.self,
        ])

    public init() {}

    /// Runs the command line. Usage errors exit 2 ("invalid input", like a bad plan) rather
    /// than the parser's 64, so that scripts see one code for every kind of bad input.
    public static func runMain() async {
        // Before anything can block on a host: a signal outside a run ends evac at once, with
        // the exit code scripts know ("interrupted"), whatever disposition it inherited.
        StopSignals.shared.install { sig in
            let name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal \(sig)"
            FileHandle.standardError.write(
                Data("\nevac: interrupted by \(name) (no run was going: nothing to stop or undo)\n".utf8))
            Foundation.exit(EvacExit.interrupted.rawValue)
        }
        // Before the parser, which would print only the static version string.
        if Array(CommandLine.arguments.dropFirst()) == ["--version"] {
            Console.out(EvacVersionText.full())
            return
        }
        do {
            var command = try parseAsRoot()
            try (command as? LoggingCommand)?.logging.start()
            if command is SurvivesHangup { Hangup.ignore() }
            if var async = command as? AsyncParsableCommand { try await async.run() } else { try command.run() }
        } catch let failure as CLIFailure {
            Console.error(failure.message)
            Foundation.exit(failure.code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                Console.error(fullMessage(for: error) + "\n")
                Foundation.exit(EvacExit.invalidInput.rawValue)
            }
            exit(withError: error)
        }
    }
}
