import Foundation

/// `--output json`: one JSON object per event (JSON Lines), keys sorted, with an `event` field
/// naming the kind: run-started, step, progress, notice, run-finished.
public struct JSONLinesObserver: RunObserver {
    private let out: LineWriter
    private let progress: Bool
    /// Writes through `writer`; `includeProgress: false` drops progress samples (`status --follow` has none to show).
    public init(writer: LineWriter = LineWriter(), includeProgress: Bool = true) {
        out = writer
        progress = includeProgress
    }

    /// Writes `event` as one line.
    public func handle(_ event: RunEvent) {
        if case .progress = event, !progress { return }
        if let line = Self.line(event) { out.write(line) }
    }

    private struct Envelope<T: Encodable>: Encodable {
        var event: String
        var at: String
        var data: T
    }

    /// The JSON line for `event`, stamped with the current time; nil when it cannot be encoded.
    public static func line(_ event: RunEvent) -> String? {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let at = Timestamp.now()
        let data: Data?
        switch event {
        case .runStarted(let s): data = try? e.encode(Envelope(event: "run-started", at: at, data: s))
        case .step(let c): data = try? e.encode(Envelope(event: "step", at: at, data: c))
        case .progress(let p): data = try? e.encode(Envelope(event: "progress", at: at, data: p))
        case .notice(let m): data = try? e.encode(Envelope(event: "notice", at: at, data: ["message": m]))
        case .runFinished(let s): data = try? e.encode(Envelope(event: "run-finished", at: at, data: s))
        }
        return data.map { String(decoding: $0, as: UTF8.self) }
    }
}
