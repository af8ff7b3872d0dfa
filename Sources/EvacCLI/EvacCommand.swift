import ArgumentParser
import EvacCore
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
            ApplyCommand.self, ResumeCommand.self, RollbackCommand.self, StatusCommand.self,
        ])

    public init() {}

    /// Runs the command line. Usage errors exit 2 ("invalid input", like a bad plan) rather
    /// than the parser's 64, so that scripts see one code for every kind of bad input.
    public static func runMain() async {
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
