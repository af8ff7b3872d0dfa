import ArgumentParser
import EvacCore
import EvacRun
import Foundation

// Option values read once, by the option itself, in the plan language's grammar: a command's
// `run()` gets the value, never the text to parse again. Each option names its reader as its
// `transform`, so that a bad value is refused by argument-parser ("The value 'x' is invalid
// for '--option <value>': why") with the plan language's own reason; the failable
// `init?(argument:)` of ExpressibleByArgument is the same reader without the reason. (With a
// transform argument-parser shows no default in the help: an option with one says it.)

/// A rate (`1GiB/s`, `512MiB/s`), in bytes per second.
struct BandwidthArgument: ExpressibleByArgument, CustomStringConvertible, Sendable {
    var bytesPerSec: UInt64
    /// As written on the command line.
    var description: String

    init(bytesPerSec: UInt64, written: String) {
        self.bytesPerSec = bytesPerSec
        description = written
    }

    init(_ text: String) throws(ValidationError) {
        switch Units.bandwidth(text) {
        case .success(let b): self.init(bytesPerSec: b, written: text)
        case .failure(let f): throw ValidationError("\(f.message); \(f.help)")
        }
    }

    init?(argument: String) { try? self.init(argument) }

    /// What the timeline estimate assumes when the plan caps no bandwidth.
    static let assumedByDefault = BandwidthArgument(bytesPerSec: 1 << 30, written: "1GiB/s")
}

/// A duration (`30s`, `2h`), in milliseconds.
struct DurationArgument: ExpressibleByArgument, CustomStringConvertible, Sendable {
    var milliseconds: UInt64
    var description: String

    init(_ text: String) throws(ValidationError) {
        switch Units.duration(text) {
        case .success(let ms):
            milliseconds = ms
            description = text
        case .failure(let f): throw ValidationError("\(f.message); \(f.help)")
        }
    }

    init?(argument: String) { try? self.init(argument) }

    /// A deadline for talking to a host (`--connect-timeout`, `--call-timeout`): 100ms to 1h.
    static func connectionDeadline(_ text: String) throws(ValidationError) -> DurationArgument {
        let d = try DurationArgument(text)
        guard ConnectionSettings.boundsMs.contains(d.milliseconds) else {
            throw ValidationError("a connection deadline is between 100ms and 1h")
        }
        return d
    }
}

/// `resume --retry`: all, none, or guest names separated by commas.
struct RetryArgument: ExpressibleByArgument, CustomStringConvertible, Sendable {
    var selection: RetrySelection
    var description: String

    init(_ text: String) throws(ValidationError) {
        description = text
        switch text {
        case "all": selection = .all
        case "none": selection = .none
        default:
            let names = text.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard !names.contains(where: \.isEmpty) else {
                throw ValidationError("give all, none, or guest names separated by commas")
            }
            selection = .guests(Set(names))
        }
    }

    init?(argument: String) { try? self.init(argument) }

    static let all = RetryArgument(selection: .all)

    private init(selection: RetrySelection) {
        self.selection = selection
        description = "all"
    }
}
