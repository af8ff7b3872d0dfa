import ArgumentParser
import EvacLog
import Foundation

/// `--verbose` and `--log-file`, on every command.
struct LogOptions: ParsableArguments {
    @Flag(
        name: .long,
        help:
            "Log libvirt calls with their timings and evac's decisions (placements, pre-checks, starts, journal commits) to standard error."
    )
    var verbose = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Append the same log to this file (created 0600; a symbolic link is refused).", valueName: "FILE"),
        completion: .file())
    var logFile: String?

    /// Points evac's loggers where the options say; nothing is logged without either.
    func start() throws {
        var sinks: [any LogSink] = []
        if verbose { sinks.append(StandardErrorSink()) }
        if let logFile {
            do { sinks.append(try FileSink(path: logFile)) } catch {
                Console.error("error: \(error)\n")
                throw EvacExit.invalidInput
            }
        }
        EvacLog.configure(level: .debug, sinks: sinks)
        if !sinks.isEmpty {
            EvacLog.logger("evac").debug("evac \(EvacVersionText.evac) started", metadata: ["pid": "\(getpid())"])
        }
    }
}

/// A command with the logging options.
protocol LoggingCommand {
    var logging: LogOptions { get }
}

extension PlanCommand: LoggingCommand {}
extension InventoryCommand: LoggingCommand {}
extension ValidateCommand: LoggingCommand {}
extension ApplyCommand: LoggingCommand {}
extension ResumeCommand: LoggingCommand {}
extension RollbackCommand: LoggingCommand {}
extension StatusCommand: LoggingCommand {}
