/// How long one migration should take, from what the plan and the inventory know: a pure
/// function, so that the report, the plan file, the order and the maintenance window all use
/// the same figures.
///
/// The model of QEMU's pre-copy (live mode):
/// - first the local disks to copy (storage copy: NBD mirror) go over at the bandwidth;
/// - pass 0 sends all of memory `M` at bandwidth `B`, taking `t0 = M / B`; meanwhile the guest
///   dirties `r · t0` bytes (at most `M`: a page dirtied twice is sent once);
/// - pass k sends what the previous pass left dirty; with compression (XBZRLE, which encodes
///   re-sent pages as deltas) those bytes go over `compressionRatio` times faster;
/// - the guest is paused for the last pass as soon as what is left fits in `max-downtime` at
///   the bandwidth: that is convergence. When the dirty rate is at least what the link sends
///   (`r ≥ B · ratio`), what is left never shrinks and the migration does not converge; evac
///   then predicts what the plan's options make of it (post-copy, auto-converge, the timeout).
/// - auto-converge throttles the vCPUs from `initial` % by `increment` % a pass (QEMU caps the
///   throttle at 99 %), which scales the dirty rate by what is left of the CPU.
/// - post-copy switches after pass 0 (`after-first-pass`) or at the timeout (`on-timeout`):
///   from then on every page left is sent once, while the guest runs on the target.
/// Paused guests dirty nothing: one pass. Offline migrations move a definition only.
///
/// Every migration pays `setupMs` on top (connections, the target QEMU starting, the confirm
/// phase, evac's post-check): `measuredSetupMs`, measured on the lab (`scripts/bench-convergence`).
///
/// `refinements` (all on by default) are what the lab's measurements added to that model:
/// pass 0 sends the memory the guest touched (its QEMU's resident memory less QEMU's own), not
/// all configured memory; a pass leaves at least what one sampling period of the dirty rate
/// dirties; QEMU starts the next pass as soon as what is left of one fits the downtime, and a
/// pass that leaves ≥ 95 % of the best so far counts as stalled (as `LadderClimb` judges).
public struct DurationModel: Hashable, Sendable {
    /// The link when the plan sets no bandwidth cap.
    public var assumedBandwidthBytesPerSec: UInt64 = 1 << 30
    /// What one migration connection carries at most; nil = the whole link. With
    /// `parallel-connections: N` a migration gets up to N of these (and never more than the
    /// link or the plan's cap).
    public var connectionBytesPerSec: UInt64? = nil
    /// How much faster re-sent (dirty) pages go with compression.
    public var compressionRatio: Double = 2
    /// Fixed cost of one live or paused migration, ms.
    public var setupMs: Double = DurationModel.measuredSetupMs
    /// Fixed cost of an offline migration (a definition moved), ms.
    public var offlineMs: Double = DurationModel.measuredSetupMs / 2
    /// Passes after which a migration that still has not converged is taken not to.
    public var maxPasses: Int = 30
    /// What the model takes from the lab's measurements; `.baseline` is the model before them,
    /// which `scripts/bench-convergence` predicts with too, in the same run.
    public var refinements: Refinements = .measured

    /// The parts of the model added from measurements on the lab (BENCHMARKS.md).
    public struct Refinements: Hashable, Sendable {
        /// Pass 0 sends what the guest touched: its QEMU's resident memory less
        /// `qemuOverheadBytes`, at least what it dirties in a sampling period, at most its
        /// memory. Untouched pages are zero pages, which QEMU sends almost free.
        public var residentMemory: Bool
        /// A pass leaves at least what one sampling period (`samplingPeriodSeconds`) of the
        /// dirty rate dirties: page-sampling counts a page once a period however often it is
        /// written, so a shorter pass is not known to leave less (the lab's dirtier rewrites its
        /// 58 MiB in milliseconds, and every pass left all of it).
        public var samplingFloor: Bool
        /// QEMU syncs the dirty bitmap (starts the next pass) as soon as what is left of a pass
        /// fits `max-downtime` at the bandwidth, and completes if what is then left fits too; a
        /// pass that leaves at least `LadderClimb.progressFraction` of the best so far is stalled.
        public var earlySync: Bool

        public init(residentMemory: Bool, samplingFloor: Bool, earlySync: Bool) {
            self.residentMemory = residentMemory
            self.samplingFloor = samplingFloor
            self.earlySync = earlySync
        }
        /// The model before the lab's measurements (as of issue 10's first round).
        public static let baseline = Refinements(residentMemory: false, samplingFloor: false, earlySync: false)
        public static let measured = Refinements(residentMemory: true, samplingFloor: true, earlySync: true)
    }

    /// QEMU's own resident memory besides guest pages. The lab's idle guests (64 MiB, no OS,
    /// TCG) run at 35–36 MiB RSS, a few hundred KiB of it guest pages SeaBIOS touched; 32 MiB
    /// keeps it on the low side (what is left over counts as guest memory to send).
    public static let qemuOverheadBytes: Double = 32 * 1_048_576
    /// The dirty-rate sampler's period (`DirtyRateSample` in EvacLibvirt).
    public static let samplingPeriodSeconds: Double = 1

    /// Set-up cost of one migration as evac's journal sees it (running → done of an idle 64 MiB
    /// guest, almost all zero pages: connections, the target QEMU starting, the confirm phase and
    /// evac's own post-check). `scripts/bench-convergence` measured 1937, 2009, 2741 ms on the
    /// lab (median 2009 ms), so the 2 s the estimate always used stays; raw `virsh migrate`
    /// takes ~1.1 s of it (`scripts/bench-setup`, BENCHMARKS.md "Duration model").
    public static let measuredSetupMs: Double = 2000

    /// The model with the measured defaults (see each member).
    public init() {}

    /// One migration as the model sees it.
    public struct Migration: Hashable, Sendable {
        /// The guest's configured memory: what the first pass copies.
        public var memoryBytes: UInt64
        /// Bytes a second the guest dirties; nil = not measured (taken as idle).
        public var dirtyBytesPerSec: UInt64?
        /// Local disk bytes copied with the migration.
        public var storageBytes: UInt64
        /// Offline migrations copy no memory and take `offlineMs`.
        public var mode: MigrationOptions.Mode
        /// The guest's QEMU resident memory, bytes; nil = not read.
        public var residentBytes: UInt64?
        /// A migration of `memoryBytes`; the defaults are an idle live guest with shared storage.
        public init(
            memoryBytes: UInt64, dirtyBytesPerSec: UInt64? = nil, storageBytes: UInt64 = 0,
            mode: MigrationOptions.Mode = .live, residentBytes: UInt64? = nil
        ) {
            self.memoryBytes = memoryBytes
            self.dirtyBytesPerSec = dirtyBytesPerSec
            self.storageBytes = storageBytes
            self.mode = mode
            self.residentBytes = residentBytes
        }
    }

    /// How a migration is predicted to end.
    public enum Outcome: String, Hashable, Sendable, Codable {
        /// Pre-copy converges within the plan's max-downtime.
        case converges
        /// Does not converge by pre-copy; post-copy (the plan allows it) finishes it.
        case postCopy = "post-copy"
        /// Does not converge by pre-copy; auto-converge's throttle makes it converge.
        case autoConverge = "auto-converge"
        /// Does not converge; the plan's timeout aborts it (the guest stays on its source).
        case abortedAtTimeout = "aborted-at-timeout"
        /// Does not converge and nothing in the plan ends it: it runs until stopped.
        case neverEnds = "never-ends"
        /// Does not converge by pre-copy; the convergence ladder brings it across (a raised
        /// max-downtime, post-copy, or its retry-paused fallback).
        case ladder
        /// Does not converge; the convergence ladder's fallback (abort, skip, stop) ends it
        /// with the guest on its source.
        case ladderFallback = "ladder-fallback"

        /// Whether pre-copy alone, under the plan's options, brings the guest across.
        public var convergesByPreCopy: Bool { self == .converges }
    }

    /// What the model predicts for one migration.
    public struct Prediction: Hashable, Sendable {
        /// How long it takes, setup included.
        public var durationMs: Double
        /// How it ends.
        public var outcome: Outcome
        /// Pre-copy passes sent (0 for offline).
        public var passes: Int
        /// The guest's pause at the switch-over, ms.
        public var downtimeMs: Double
        /// For a migration that does not converge: the max-downtime with which the last pass
        /// would fit (what was left at the end of pre-copy at the bandwidth), ms; nil otherwise.
        public var downtimeNeededMs: Double?
    }

    /// The bandwidth one migration gets under `options`, bytes a second.
    public func bandwidth(_ options: MigrationOptions) -> Double {
        var b = Double(options.bandwidthBytesPerSec ?? assumedBandwidthBytesPerSec)
        if let c = connectionBytesPerSec {
            b = min(b, Double(c) * Double(max(1, options.parallelConnections ?? 1)))
        }
        return max(1, b)
    }

    /// The duration and end of `m` under the plan's `options`: an offline one takes `offlineMs`;
    /// a live one is simulated pass by pass until what is left fits the max-downtime (or it
    /// does not converge, and the options say what then).
    public func predict(_ m: Migration, options: MigrationOptions) -> Prediction {
        if m.mode == .offline {
            return Prediction(
                durationMs: offlineMs, outcome: .converges, passes: 0, downtimeMs: 0, downtimeNeededMs: nil)
        }
        let b = bandwidth(options)
        let dirty = m.mode == .paused ? 0 : Double(m.dirtyBytesPerSec ?? 0)
        let mem = sentMemory(m, dirty: dirty)
        let storageMs = Double(m.storageBytes) / b * 1000
        let resend = b * (options.compression ? max(1, compressionRatio) : 1) // re-sent bytes a second
        let limitMs = Double(options.maxDowntimeMs)
        let timeoutMs = options.timeout.map { Double($0.milliseconds(forMemoryKiB: m.memoryBytes / 1024)) }

        // Pass 0 (all of memory at the link's rate), then passes of what was dirtied, until
        // what is left fits in the downtime.
        var elapsed = setupMs + storageMs
        var left = mem
        var passes = 0
        var best = Double.infinity
        var stalledPasses = 0
        var throttle = options.autoConverge.map { Double($0.initial) / 100 } ?? 0
        var stalls = dirty >= resend // what is left never shrinks without help
        while true {
            let rate = passes == 0 ? b : resend
            let unsent = unsentAtSync(left, downtimeMs: limitMs, rate: rate)
            let passMs = (left - unsent) / rate * 1000
            elapsed += passMs
            left = leftAfter(
                passMs: passMs, unsent: unsent, dirty: passes == 0 ? dirty : dirty * (1 - throttle), memory: mem)
            passes += 1
            if refinements.earlySync && passes >= 2 {
                if left >= best * LadderClimb.progressFraction {
                    stalledPasses += 1
                    stalls = true
                } else {
                    stalledPasses = 0
                }
            }
            if refinements.earlySync { best = min(best, left) }
            let pauseMs = left / resend * 1000
            if pauseMs <= limitMs {
                let end = elapsed + pauseMs
                if let t = timeoutMs, end > t { break }
                return Prediction(
                    durationMs: end, outcome: stalls && options.autoConverge != nil ? .autoConverge : .converges,
                    passes: passes,
                    downtimeMs: pauseMs, downtimeNeededMs: nil)
            }
            if options.postCopy == .afterFirstPass || passes >= maxPasses || (stalls && options.autoConverge == nil) {
                break
            }
            if let t = timeoutMs, elapsed >= t { break }
            if let a = options.autoConverge, passes > 1 { throttle = min(0.99, throttle + Double(a.increment) / 100) }
        }
        // Pre-copy does not converge under the plan's options (in time).
        let needed = max(left / resend * 1000, limitMs + 1)
        if let l = options.ladder, m.mode == .live, options.postCopy != .afterFirstPass {
            let climbed = ladder(
                l, options: options, elapsedMs: elapsed, leftBytes: left, resend: resend, bandwidth: b, memory: mem,
                judged: stalledPasses)
            if let t = timeoutMs, climbed.durationMs > t {
                return Prediction(
                    durationMs: t, outcome: .abortedAtTimeout, passes: passes, downtimeMs: 0, downtimeNeededMs: needed)
            }
            return Prediction(
                durationMs: climbed.durationMs, outcome: climbed.outcome, passes: passes + climbed.passes,
                downtimeMs: climbed.downtimeMs, downtimeNeededMs: needed)
        }
        switch (options.postCopy, timeoutMs) {
        case (.afterFirstPass, _):
            return Prediction(
                durationMs: elapsed + left / b * 1000, outcome: .postCopy, passes: passes,
                downtimeMs: 0, downtimeNeededMs: needed)
        case (.onTimeout, let t?):
            return Prediction(
                durationMs: max(elapsed, t) + left / b * 1000, outcome: .postCopy, passes: passes,
                downtimeMs: 0, downtimeNeededMs: needed)
        case (_, let t?):
            return Prediction(
                durationMs: max(min(elapsed, t), t), outcome: .abortedAtTimeout, passes: passes,
                downtimeMs: 0, downtimeNeededMs: needed)
        case (_, nil):
            return Prediction(
                durationMs: elapsed, outcome: .neverEnds, passes: passes, downtimeMs: 0,
                downtimeNeededMs: needed)
        }
    }

    /// The memory pass 0 sends: what the guest touched (see `Refinements.residentMemory`), or
    /// all of it.
    func sentMemory(_ m: Migration, dirty: Double) -> Double {
        let configured = Double(m.memoryBytes)
        guard refinements.residentMemory, let rss = m.residentBytes else { return configured }
        let hot = dirty * Self.samplingPeriodSeconds
        return min(configured, max(Double(rss) - Self.qemuOverheadBytes, hot, 0))
    }

    /// What is still unsent of a pass of `left` bytes when QEMU syncs the dirty bitmap: what
    /// fits the downtime (`Refinements.earlySync`), else nothing (the whole pass is sent).
    func unsentAtSync(_ left: Double, downtimeMs: Double, rate: Double) -> Double {
        refinements.earlySync ? min(left, rate * downtimeMs / 1000) : 0
    }

    /// What is to send after a pass of `passMs`: what the guest dirtied meanwhile (at least a
    /// sampling period's worth with `samplingFloor`, at most its memory), or the pages still
    /// unsent at the sync, whichever is more: QEMU goes on sending while it checks, so what it
    /// cannot get below is the larger of what fits the downtime and what the guest keeps dirty.
    func leftAfter(passMs: Double, unsent: Double, dirty: Double, memory mem: Double) -> Double {
        let seconds = refinements.samplingFloor ? max(passMs / 1000, Self.samplingPeriodSeconds) : passMs / 1000
        return min(mem, max(dirty * seconds, unsent))
    }

    /// The convergence ladder as the executor climbs it (`LadderClimb`) over passes that each
    /// leave `leftBytes`: `stallPasses` passes to the first rung (less the `judged` stalled
    /// passes pre-copy already had), one more (not judged) before each later one; downtime
    /// rungs skipped when the cap cannot hold what is left. With `earlySync` a pass ends when
    /// what is left of it fits the downtime of the moment, so a raised downtime shortens them.
    private func ladder(
        _ l: ConvergenceLadder, options: MigrationOptions, elapsedMs: Double, leftBytes left: Double,
        resend: Double, bandwidth b: Double, memory mem: Double, judged: Int
    ) -> (durationMs: Double, outcome: Outcome, passes: Int, downtimeMs: Double) {
        let pauseMs = left / resend * 1000 // the last pass, paused
        var downtimeMs = Double(options.maxDowntimeMs)
        var t = elapsedMs
        var passes = 0
        var rungs = 0
        func climb() {
            let n = rungs == 0 ? max(0, l.stallPasses - judged) : l.stallPasses + 1
            t += (left - unsentAtSync(left, downtimeMs: downtimeMs, rate: resend)) / resend * 1000 * Double(n)
            passes += n
            rungs += 1
        }
        let downtimes = options.ladderDowntimes
        if let cap = downtimes.last, pauseMs <= Double(cap) {
            for d in downtimes {
                climb()
                downtimeMs = Double(d)
                if pauseMs <= Double(d) { return (t + pauseMs, .ladder, passes, pauseMs) }
            }
        }
        climb()
        if l.postCopy { return (t + left / b * 1000, .ladder, passes, 0) }
        if l.fallback == .retryPaused { return (t + setupMs + mem / b * 1000, .ladder, passes, 0) }
        if l.fallback == .offline {
            // Shut down (charged its whole deadline: how long a guest OS takes is not known),
            // then the definition's move and the start, each a set-up's worth.
            let offlineMs = Double(l.shutdownDeadlineMs) + 2 * setupMs
            return (t + offlineMs, .ladder, passes, offlineMs)
        }
        return (t, .ladderFallback, passes, 0)
    }

    /// " (will shut down and move offline: ACPI shutdown up to 2m, then forced off)".
    static func offlineWords(_ l: ConvergenceLadder) -> String {
        let deadline = Format.planDuration(ms: l.shutdownDeadlineMs)
        return " (will shut down and move offline: ACPI shutdown up to \(deadline), "
            + (l.forcesOff ? "then forced off" : "not forced off") + ", started on the target)"
    }

    /// What the operator can change for a migration predicted not to converge, in the plan's
    /// words; nil when it converges.
    public static func remedy(_ p: Prediction, options: MigrationOptions) -> String? {
        switch p.outcome {
        case .converges: return nil
        case .postCopy: return "evac switches it to post-copy (migration.post-copy: \(options.postCopy.rawValue))"
        case .autoConverge: return "auto-converge throttles its vCPUs until it converges"
        case .ladder, .ladderFallback:
            guard let l = options.ladder else { return nil }
            var rungs: [String] = []
            if let cap = l.maxDowntimeCapMs { rungs.append("max-downtime up to \(cap)ms") }
            if l.postCopy { rungs.append("post-copy") }
            rungs.append("fallback \(l.fallback.rawValue)" + (l.fallback == .offline ? Self.offlineWords(l) : ""))
            let end = p.outcome == .ladder ? "" : " (predicted to end in the fallback, the guest on its source)"
            return "the convergence ladder takes it: " + rungs.joined(separator: ", then ") + end
        case .abortedAtTimeout, .neverEnds:
            var fixes = ["set migration.post-copy: after-first-pass", "enable migration.auto-converge"]
            if let n = p.downtimeNeededMs, n <= Double(MigrationOptions.Bounds.maxDowntimeMs.upperBound) {
                fixes.insert("raise migration.max-downtime to \(Int(n.rounded(.up)))ms", at: 0)
            }
            if !options.compression { fixes.append("enable migration.compression") }
            let end =
                p.outcome == .abortedAtTimeout
                ? "the timeout aborts it and it stays on its source" : "nothing in the plan ends it"
            return "\(end); remedy: " + fixes.joined(separator: ", or ")
        }
    }
}
