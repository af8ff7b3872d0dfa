import EvacCore
import Foundation

/// What the terminal shows, as plain data: fed events with the time they arrived, it returns the
/// permanent lines to log and renders the live block (one line per migration in flight plus an
/// overall bar). No I/O and no clock of its own, so tests drive it event by event. `apply` and
/// `status --follow` both draw through it: the follower feeds it the samples the run journaled.
public struct ProgressScreen: Sendable {
    struct Step: Sendable {
        var guest: String, source: String, target: String
        /// nil while checking (not a journal state).
        var state: StepState?
        var gauge: MigrationGauge
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
    /// Durations of migrations that ended done in this run, by id, for the ETA.
    private var doneMs: [Int: Double] = [:]
    /// The most migrations seen in flight at once: the parallelism the limits actually allowed.
    private var peakInFlight = 0
    /// The plan's model of the run; without it the ETA extrapolates from finished migrations.
    public let forecast: RunForecast?
    /// The last ETA worked out, and when (the walk over the queue is not redone at every sample).
    private var etaCache: (atMs: UInt64, ms: UInt64?, atLeast: Bool)?
    private var nowMs: UInt64 = 0

    /// A screen before any run started; `forecast` gives the overall ETA the plan's model,
    /// corrected by live rates.
    public init(forecast: RunForecast? = nil) { self.forecast = forecast }

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
        nowMs = now
        // A state change moves the ETA at once; samples refresh it at most once a second.
        let keepETA: Bool
        if case .progress = event, let c = etaCache { keepETA = now < c.atMs + 1000 } else { keepETA = false }
        if !keepETA { etaCache = nil }
        switch event {
        case .runStarted(let s):
            self = ProgressScreen(forecast: forecast)
            kind = s.kind
            total = s.steps
            alreadyDone = s.alreadyDone
        case .progress(let p):
            if steps[p.id] == nil { track(p.id, p.guest, p.source, p.target, .running, now) }
            steps[p.id]?.gauge.add(p.progress)
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
            if c.to == .done {
                // The hypervisor's own duration when the event carries it (a follower replays
                // old events at once), else what this screen saw.
                if let d = c.durationMs {
                    doneMs[c.id] = Double(d)
                } else if wasInFlight, let started = steps[c.id]?.startedMs {
                    doneMs[c.id] = Double(now >= started ? now - started : 0)
                }
            }
            if steps[c.id] == nil { track(c.id, c.guest, c.source, c.target, c.to, now) }
            steps[c.id]?.state = c.to
            steps[c.id]?.gauge = MigrationGauge(expectedMemoryBytes: forecast?.memoryBytes(of: c.id) ?? 0)
        case .notice, .runFinished, .hook, .cycle:
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
            state: state, gauge: MigrationGauge(expectedMemoryBytes: forecast?.memoryBytes(of: id) ?? 0),
            startedMs: now, order: nextOrder)
        nextOrder += 1
    }

    /// Milliseconds until the run ends. With the plan's forecast: the queue walked under the
    /// plan's limits, queued migrations at their corrected predicted durations and those in
    /// flight at what their live rate leaves (see `RunForecast`). Without one: mean done
    /// duration × the steps still to finish ÷ the parallelism seen, nil until one has finished.
    public var etaMs: UInt64? {
        if let c = etaCache { return c.ms }
        return computeETA().ms
    }

    /// Whether `etaMs` is only a lower bound: a migration in flight does not converge (or has
    /// outrun its prediction with no rate to go by), so when it ends is not known.
    public var etaIsLowerBound: Bool {
        if let c = etaCache { return c.atLeast }
        return computeETA().atLeast
    }

    private func computeETA() -> (ms: UInt64?, atLeast: Bool) {
        let c = counts
        if c.pending + c.running == 0 { return (0, false) }
        guard let forecast, let kind else {
            guard !doneMs.isEmpty else { return (nil, false) }
            let mean = doneMs.values.reduce(0, +) / Double(doneMs.count)
            return (UInt64(mean * Double(c.pending + c.running) / Double(max(1, peakInFlight))), false)
        }
        var settled = Set(steps.filter { $0.value.state.map { $0 != .pending && $0 != .running } ?? false }.keys)
        // A resume reports nothing of what earlier runs settled: count the first unreported
        // migrations in the run's order as those (the ids are not in the events).
        let order = kind == .rollback ? forecast.graph.nodes.reversed() : forecast.graph.nodes
        let unreported = order.filter { steps[$0.id] == nil }
        settled.formUnion(unreported.prefix(alreadyDone).map(\.id))
        var flying: [Int: RunForecast.InFlight] = [:]
        for (id, s) in steps where s.state == nil || s.state == .running {
            let sampled = s.gauge.last != nil
            let elapsed = sampled ? Double(s.gauge.elapsedMs) : Double(nowMs >= s.startedMs ? nowMs - s.startedMs : 0)
            flying[id] = RunForecast.InFlight(
                elapsedMs: elapsed, remainingMs: sampled ? s.gauge.remainingMs : nil,
                stalled: sampled && !s.gauge.converging)
        }
        let e = forecast.estimate(kind: kind, settled: settled, inFlight: flying, doneMs: doneMs)
        return (e.ms.isFinite && e.ms >= 0 && e.ms < 1e15 ? UInt64(e.ms) : nil, e.atLeast)
    }

    /// Works the ETA out now if a change invalidated it (the terminal calls this before drawing).
    public mutating func refreshETA() {
        if etaCache == nil {
            let e = computeETA()
            etaCache = (nowMs, e.ms, e.atLeast)
        }
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
        // "≥": a migration in flight does not converge; the run ends no sooner than this.
        let bound = etaMs != nil && etaIsLowerBound ? "≥" : ""
        return "[\(Self.meter(finished, of: c.total, cells: 20))] \(c.done)/\(c.total) done, \(c.failed) failed, "
            + "\(c.blocked) blocked · \(c.running) in flight · ETA \(bound)\(eta)"
    }

    /// Percent and bytes left from the data actually left (see `MigrationGauge`), the time
    /// that leaves at the rate net of the dirtying, the rate, the memory pass, the dirty rate
    /// and the job's elapsed time.
    static func detail(_ s: Step) -> String {
        guard s.state == .running else { return "checking" }
        let g = s.gauge
        guard let p = g.last else { return "starting" }
        let percent = g.percent
        let left =
            g.remainingMs.map { "~" + clock(UInt64($0.rounded(.up))) } ?? (g.converging ? "~?" : "not converging")
        return "[\(meter(percent, of: 100, cells: 10))] \(pad(String(percent), 3, right: true))%  "
            + "\(Format.meterBytes(g.remainingBytes)) left \(left)  \(rate(g.rateBytesPerSec ?? 0))  "
            + "iter \(p.iteration)  dirty \(rate(g.dirtyBytesPerSec))  \(clock(p.elapsedMs))"
    }

    /// A rate with a unit that shows an idle guest's trickle too: 850 KiB/s, 112 MiB/s.
    static func rate(_ bytesPerSec: Double) -> String {
        guard bytesPerSec.isFinite, bytesPerSec > 0 else { return "0 MiB/s" }
        if bytesPerSec < 1_048_576 { return "\(Int(bytesPerSec / 1024)) KiB/s" }
        return bytesPerSec < 1e12 ? "\(Int(bytesPerSec / 1_048_576)) MiB/s" : ">1 TiB/s"
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
