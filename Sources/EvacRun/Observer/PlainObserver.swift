import EvacCore
import Foundation

/// Not a terminal: one plain line per event, greppable, no escape codes. Progress samples are
/// thinned to one line per migration every `progressEveryMs` so logs stay readable.
public final class PlainObserver: RunObserver, Sendable {
    private let out: LineWriter
    private let progressEveryMs: UInt64
    private let lastProgress = Locked([Int: UInt64]())

    /// Lines through `writer`; a running migration's progress at most once per `progressEveryMs`.
    public init(writer: LineWriter = LineWriter(), progressEveryMs: UInt64 = 10_000) {
        out = writer
        self.progressEveryMs = progressEveryMs
    }

    /// Writes the event's line, timestamped; events with nothing to say for a log file write none.
    public func handle(_ event: RunEvent) {
        if let line = line(event) { out.write(Timestamp.now() + " " + line) }
    }

    func line(_ event: RunEvent) -> String? {
        guard case .progress(let p) = event else { return Self.text(event) }
        let due: Bool = lastProgress.withLock { last in
            let prev = last[p.id]
            guard prev == nil || p.progress.elapsedMs >= prev! + progressEveryMs else { return false }
            last[p.id] = p.progress.elapsedMs
            return true
        }
        guard due else { return nil }
        let q = p.progress
        return "\(e(p.guest)) \(e(p.source)) → \(e(p.target)) \(String(format: "%.0f", q.percent))% "
            + "\(q.memoryBps / 1_048_576) MiB/s, \(q.dataRemaining / 1_048_576) MiB left, iteration \(q.iteration)"
    }

    /// The text of every event but progress (which needs the thinning state above); shared with
    /// TerminalObserver so the scrollback of a terminal run reads like a plain log.
    ///
    /// Names, paths and messages (from plans, inventories and libvirt) are escaped one by one
    /// (`e`): a newline or escape sequence in a guest name must not forge or hide a line.
    static func text(_ event: RunEvent) -> String? {
        switch event {
        case .progress:
            return nil
        case .runStarted(let s):
            return
                "\(s.kind.rawValue) \(e(s.planName)) (\(e(String(s.planHash.prefix(12))))): \(s.steps) step(s), run \(s.runID), journal \(e(s.journal))"
        case .step(let c):
            let state = c.to?.rawValue ?? "checking"
            // "done in 1.3s" after "done" reads as one phrase, not "done: done in 1.3s".
            let detail =
                c.message == state || c.message.isEmpty
                ? ""
                : c.message.hasPrefix(state + " ")
                    ? e(String(c.message.dropFirst(state.count)))
                    : ": \(e(c.message))"
            return "\(e(c.guest)) \(e(c.source)) → \(e(c.target)) \(state)\(detail)"
        case .notice(let m):
            return "NOTICE: \(e(m))"
        case .hook(let h):
            return h.line
        case .cycle(let c):
            let stage: String
            switch c.stage {
            case .pending: stage = "pending"
            case .draining: stage = "draining"
            case .maintenance: stage = "maintenance"
            case .waiting: stage = "waiting for the host(s) to answer libvirt again"
            case .returning: stage = "returning its guests"
            case .done: stage = "done"
            }
            return "rolling batch \(c.batch) (\(e(c.hosts.joined(separator: "+")))): \(stage)"
                + (c.message.map { " — \(e($0))" } ?? "")
        case .runFinished(let s):
            let c = s.counts
            var text =
                "\(s.kind.rawValue) finished: \(s.status.rawValue) — \(c.done) done, \(c.failed) failed, "
                + "\(c.blocked) blocked, \(c.pending) pending of \(c.total) in \(Format.planDuration(ms: s.elapsedMs))"
            if let m = s.message { text += " (\(e(m)))" }
            for p in s.problems { text += "\n  \(e(p.guest)): \(p.state.rawValue): \(e(p.reason ?? ""))" }
            return text
        }
    }
}

/// Shorthand for the observers' text: one untrusted part made safe for a terminal.
func e(_ s: String) -> String { TerminalText.escape(s) }
