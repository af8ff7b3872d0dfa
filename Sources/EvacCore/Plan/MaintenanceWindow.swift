import Foundation

/// The time the drain has (`window:`): a duration from the start of `evac apply`, or an end
/// time. The plan report says which migrations the estimate ends inside it; the executor
/// starts no migration predicted to end after it closes unless `late: start`.
public struct MaintenanceWindow: Hashable, Sendable, Codable {
    /// Milliseconds from the start of the run (of `evac apply`, and again of each `evac resume`).
    public var durationMs: UInt64?
    /// The end, in milliseconds since 1970-01-01T00:00:00Z.
    public var endsAtMs: Int64?
    /// Whether a migration predicted to end after the window closes still starts.
    public var late: Late = .skip

    /// What the executor does with a migration the window would not hold.
    public enum Late: String, Hashable, Sendable, Codable, CaseIterable {
        /// Do not start a migration predicted to end after the window closes (it stays pending:
        /// a resume in the next window continues).
        case skip
        /// Start it anyway (the report still names it).
        case start
    }

    /// A window by duration or by end time (one of the two); `late` defaults to `skip`.
    public init(durationMs: UInt64? = nil, endsAtMs: Int64? = nil, late: Late = .skip) {
        self.durationMs = durationMs
        self.endsAtMs = endsAtMs
        self.late = late
    }

    /// When the window closes for a run that started at `runStart`.
    public func closes(runStart: Date) -> Date {
        if let e = endsAtMs { return Date(timeIntervalSince1970: Double(e) / 1000) }
        return runStart.addingTimeInterval(Double(durationMs ?? 0) / 1000)
    }

    /// Whether a migration predicted to take `predictedMs` may start at `now`.
    public func admits(predictedMs: Double, now: Date, runStart: Date) -> Bool {
        admits(
            predictedMs: predictedMs, atMs: now.timeIntervalSince(runStart) * 1000,
            closesMs: closesMs(runStart: runStart))
    }

    /// The one start rule, for the executor at each start and for the report over the
    /// predicted schedule (`Timeline.windowed`): a migration predicted to take `predictedMs`
    /// may start `atMs` after the run started when it is predicted to end by `closesMs`
    /// (the window's close, after the run started), or with `late: start`.
    public func admits(predictedMs: Double, atMs: Double, closesMs: Double) -> Bool {
        late == .start || atMs + predictedMs <= closesMs
    }

    /// When the window closes, in milliseconds after `runStart` (negative when already past).
    public func closesMs(runStart: Date) -> Double { closes(runStart: runStart).timeIntervalSince(runStart) * 1000 }

    /// What the plan language accepts for `window.duration`: a minute to 30 days.
    public static let durationBoundsMs: ClosedRange<UInt64> = 60_000...(30 * 86_400_000)

    /// Parses "2026-12-01T18:00:00Z" (RFC 3339, with a zone).
    public static func parseEnd(_ text: String) -> Int64? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    /// What is wrong with a window read from a plan file (input too).
    public var problems: [String] {
        switch (durationMs, endsAtMs) {
        case (nil, nil): return ["the window has neither a duration nor an end"]
        case (_?, _?): return ["the window has both a duration and an end"]
        case (let d?, nil) where !Self.durationBoundsMs.contains(d): return ["the window's duration is out of range"]
        default: return []
        }
    }
}
