import Foundation
import Logging

/// evac's logs: swift-log `Logger`s that every module creates with `EvacLog.logger(_:)`, silent
/// until the command line says where logs go (`--verbose`: standard error; `--log-file`: a
/// private file). Not `LoggingSystem.bootstrap`: that may run once per process and its default,
/// before bootstrapping, prints info messages to standard output — into a report or JSON stream.
///
/// Loggers forward to the sinks configured *now*, so a logger made before `configure` (a
/// `static let`) logs once the command configured it. What is logged must never carry a
/// credential: libvirt URIs go through EvacLibvirt's redactor before they reach a message.
public enum EvacLog {
    /// A logger for one part of evac ("evac.libvirt", "evac.run", "evac.plan", …).
    public static func logger(_ label: String) -> Logger {
        Logger(label: label) { label in ForwardingHandler(label: label) }
    }

    /// Sends every message at `level` or above to `sinks` (replacing earlier sinks).
    public static func configure(level: Logger.Level, sinks: [any LogSink]) {
        state.withLock { $0 = State(level: sinks.isEmpty ? nil : level, sinks: sinks) }
    }

    /// Whether anything is logged at all (callers skip work that only feeds logs).
    public static var isEnabled: Bool { state.withLock { $0.level != nil } }

    /// Whether log lines go to standard error: a live terminal display must then give way to
    /// plain lines, or the two would garble each other.
    public static var writesToStandardError: Bool {
        state.withLock { $0.sinks.contains { $0 is StandardErrorSink } }
    }

    struct State {
        /// nil: logging is off (the default).
        var level: Logger.Level?
        var sinks: [any LogSink]
    }

    static let state = LockedBox(State(level: nil, sinks: []))

    /// One formatted line: `TIME LEVEL LABEL: MESSAGE key=value …` (metadata sorted by key).
    public static func format(
        time: String, level: Logger.Level, label: String, message: String,
        metadata: Logger.Metadata
    ) -> String {
        var line = "\(time) \(level.rawValue) \(label): \(message)"
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { line += " \(k)=\(v)" }
        return line
    }
}

/// Where formatted log lines go. Implementations serialise their own writes.
public protocol LogSink: Sendable {
    func write(line: String)
}

/// The handler every evac logger has: reads the level and sinks at each call.
struct ForwardingHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The configured level; `.critical` with no sink still drops everything in `log`.
    var logLevel: Logger.Level {
        get { EvacLog.state.withLock { $0.level } ?? .critical }
        // Per-logger levels are not used: the command line sets one level for all.
        set {}
    }

    func log(event: LogEvent) {
        let (level, sinks) = EvacLog.state.withLock { ($0.level, $0.sinks) }
        guard let level, event.level >= level else { return }
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let line = EvacLog.format(
            time: LogClock.now(), level: event.level, label: label,
            message: "\(event.message)", metadata: all)
        for s in sinks { s.write(line: line) }
    }
}

/// A value behind a lock (EvacLog sits below every other module, so it has its own).
final class LockedBox<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
