import EvacCore
import Foundation

/// What the terminal shows, as plain data: fed events with the time they arrived, it returns the
/// permanent lines to log and renders the live block (one line per migration in flight plus an
/// overall bar). No I/O and no clock of its own, so tests drive it event by event.
public struct ProgressScreen: Sendable {
    struct Step: Sendable {
        var guest: String, source: String, target: String
        /// nil while checking (not a journal state).
        var state: StepState?
        var sample: MigrationProgress?
        /// When it went in flight (checking or running), in the caller's milliseconds.
        var startedMs: UInt64
        /// Order of going in flight: live lines keep their place while others come and go.
        var order: Int
    }

    /// The kind of run shown (nil before one starts); steps of the other kind are ignored.
    public private(set) var kind: RunKind?
    /// Steps in the run, those settled by earlier runs included.
    public private(set) var total = 0
    /// Settled by earlier runs (resume): counted as done, they send no events.
    private var alreadyDone = 0
    private var steps: [Int: Step] = [:]
    private var nextOrder = 0
    /// Durations of migrations that ended done, for the ETA.
    private var doneDurationsMs: [UInt64] = []
    /// The most migrations seen in flight at once: the parallelism the limits actually allowed.
    private var peakInFlight = 0

    /// A screen before any run started.
    public init() {}

    /// Steps per state as far as the events tell: unreported steps count as pending, those settled earlier as done.
    public var counts: StepCounts {
        var c = StepCounts()
        for s in steps.values { c.add(s.state ?? .running) }
        // Steps not reported yet (or settled by an earlier run) are pending as far as we know.
        let unreported = max(0, total - c.total)
        let settled = min(alreadyDone, unreported)
        c.done += settled
        c.pending += unreported - settled
        c.total = max(total, c.total)
        return c
    }

    var inFlight: [Step] {
        steps.values.filter { $0.state == nil || $0.state == .running }.sorted { $0.order < $1.order }
    }

    /// Applies one event; returns the lines that belong in the scrollback (empty for progress and
    /// for in-flight transitions, which only change the live block).
    public mutating func apply(_ event: RunEvent, atMs now: UInt64) -> [String] {
        switch event {
        case .runStarted(let s):
            self = ProgressScreen()
            kind = s.kind
            total = s.steps
            alreadyDone = s.alreadyDone
        case .progress(let p):
            if steps[p.id] == nil { track(p.id, p.guest, p.source, p.target, .running, now) }
            steps[p.id]?.sample = p.progress
            return []
        case .step(let c):
            // Rollback also moves the apply step to rolled-back: same ids, other kind, not ours.
            if let kind, c.kind != kind { return [] }
            let wasInFlight = steps[c.id].map { $0.state == nil || $0.state == .running } ?? false
            if c.to == nil || c.to == .running {
                if !wasInFlight { track(c.id, c.guest, c.source, c.target, c.to, now) }
                steps[c.id]?.state = c.to
                peakInFlight = max(peakInFlight, inFlight.count)
                return []
            }
            if c.to == .done, wasInFlight, let started = steps[c.id]?.startedMs {
                doneDurationsMs.append(now >= started ? now - started : 0)
            }
            if steps[c.id] == nil { track(c.id, c.guest, c.source, c.target, c.to, now) }
            steps[c.id]?.state = c.to
            steps[c.id]?.sample = nil
        case .notice, .runFinished:
            break
        }
        return PlainObserver.text(event).map { $0.components(separatedBy: "\n") } ?? []
    }

    private mutating func track(
        _ id: Int, _ guest: String, _ source: String, _ target: String, _ state: StepState?, _ now: UInt64
    ) {
        // Escaped once here, so widths are measured on what is shown (names may hold escapes).
        steps[id] = Step(
            guest: TerminalText.escape(guest), source: TerminalText.escape(source), target: TerminalText.escape(target),
            state: state, sample: nil, startedMs: now, order: nextOrder)
        nextOrder += 1
    }

    /// Milliseconds left: mean done duration × the steps still to finish ÷ the parallelism seen.
    /// nil until one migration has finished (no basis before that).
    public var etaMs: UInt64? {
        guard !doneDurationsMs.isEmpty else { return nil }
        let c = counts
        let left = c.pending + c.running
        let mean = Double(doneDurationsMs.reduce(0, +)) / Double(doneDurationsMs.count)
        return UInt64(mean * Double(left) / Double(max(1, peakInFlight)))
    }

    /// The live block: one line per migration in flight (at most `maxLines - 1`, then a "more"
    /// line), then the overall bar; every line at most `width` characters.
    public func render(width: Int, maxLines: Int = .max) -> [String] {
        let flying = inFlight
        let room = max(0, maxLines - 1)
        let shown = flying.count > room ? Array(flying.prefix(max(0, room - 1))) : flying
        // Columns line up across the block; widths come from the lines shown, so they can shift
        // as migrations come and go, which is fine at 5 frames a second.
        let guestWidth = shown.map(\.guest.count).max() ?? 0
        let routes = shown.map { "\($0.source) → \($0.target)" }
        let routeWidth = routes.map(\.count).max() ?? 0
        var lines = zip(shown, routes).map { s, route in
            "  " + Self.pad(s.guest, guestWidth) + "  " + Self.pad(route, routeWidth) + "  " + Self.detail(s)
        }
        if shown.count < flying.count { lines.append("  … \(flying.count - shown.count) more in flight") }
        lines.append(bar())
        return lines.map { Self.truncate($0, width) }
    }

    func bar() -> String {
        let c = counts
        let finished = c.total - c.pending - c.running
        // Whole seconds: a sub-second ETA is noise, and Format.planDuration would say "0ms".
        let eta = etaMs.map { ms in ms < 500 ? "0s" : Format.planDuration(ms: (ms + 500) / 1000 * 1000) } ?? "—"
        return "[\(Self.meter(finished, of: c.total, cells: 20))] \(c.done)/\(c.total) done, \(c.failed) failed, "
            + "\(c.blocked) blocked · \(c.running) in flight · ETA \(eta)"
    }

    static func detail(_ s: Step) -> String {
        guard s.state == .running else { return "checking" }
        guard let p = s.sample else { return "starting" }
        let percent = Int(p.percent) // floor: 99.6% of a pass is not done
        return "[\(meter(percent, of: 100, cells: 10))] \(pad(String(percent), 3, right: true))%  "
            + "\(p.memoryBps / 1_048_576) MiB/s  \(Format.meterBytes(p.dataRemaining)) left  iter \(p.iteration)  "
            + "dirty \(Format.count(p.dirtyRate)) pages/s  \(clock(p.elapsedMs))"
    }

    static func meter(_ part: Int, of whole: Int, cells: Int) -> String {
        let filled = whole <= 0 ? 0 : min(cells, max(0, part * cells / whole))
        return String(repeating: "#", count: filled) + String(repeating: ".", count: cells - filled)
    }

    /// m:ss, or h:mm:ss past an hour: a stopwatch, since it ticks on screen.
    static func clock(_ ms: UInt64) -> String {
        let s = ms / 1000
        let h = s / 3600
        let m = s / 60 % 60
        let sec = s % 60
        let two = { (v: UInt64) in v < 10 ? "0\(v)" : "\(v)" }
        return h > 0 ? "\(h):\(two(m)):\(two(sec))" : "\(m):\(two(sec))"
    }

    static func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, n - s.count))
        return right ? fill + s : s + fill
    }

    /// Cuts to `width` characters with a trailing ellipsis: a wrapped live line would break the
    /// cursor-up arithmetic and leave garbage on screen.
    static func truncate(_ s: String, _ width: Int) -> String {
        guard s.count > width else { return s }
        return width <= 0 ? "" : String(s.prefix(width - 1)) + "…"
    }
}
