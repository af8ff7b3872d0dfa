/// One migration's way up its `ConvergenceLadder`: a pure value fed every progress sample,
/// answering with the rung to take when the migration has stalled. The executor applies the
/// rung (and journals it); this type only decides, so the decision is tested on values.
///
/// A pass is judged when libvirt's `memory_iteration` moves on: what is left at the start of
/// a re-send pass is what the guest dirtied during the one before. A pass that does not bring
/// that below `progressFraction` of the best so far counts as stalled; `stallPasses` of them
/// in a row climb one rung, and the count starts again. The pass during which a rung is
/// applied is not judged (it ran partly under the old settings): each rung gets full passes.
public struct LadderClimb: Hashable, Sendable {
    /// What the executor does to a stalled migration, one rung at a time.
    public enum Rung: Hashable, Sendable {
        /// Set max-downtime to `toMs` (was `fromMs`).
        case raiseDowntime(fromMs: UInt64, toMs: UInt64)
        /// Switch to post-copy.
        case postCopy
        /// Nothing made it converge: the plan's fallback.
        case fallback(ConvergenceLadder.Fallback)
    }

    /// A rung with why it was taken, for the journal and the display.
    public struct Step: Hashable, Sendable {
        /// The rung taken.
        public var rung: Rung
        /// Pre-copy pass (libvirt's memory_iteration) at which it was taken.
        public var iteration: UInt64
        /// Bytes left to send then.
        public var remainingBytes: UInt64
        /// What the rung skipped and why (downtime rungs the cap cannot help), if anything.
        public var note: String?

        /// One line: the rung, the pass, what was left.
        public var text: String {
            let left = "\(remainingBytes >> 20) MiB left at pass \(iteration)"
            let what: String
            switch rung {
            case .raiseDowntime(let from, let to): what = "max-downtime \(from)ms → \(to)ms"
            case .postCopy: what = "switching to post-copy"
            case .fallback(let f): what = "fallback \(f.rawValue)"
            }
            return "ladder: \(what) (not converging: \(left)\(note.map { "; \($0)" } ?? ""))"
        }
    }

    /// A pass that leaves at least this fraction of the best so far made no progress.
    public static let progressFraction = 0.95

    /// The plan's ladder this climb follows (its rungs, `stallPasses`, fallback).
    public let ladder: ConvergenceLadder
    /// Whether post-copy may be switched to (the migration was started with it enabled and is
    /// not already switching by the plan's own post-copy policy).
    public let postCopyAllowed: Bool
    private let downtimes: [UInt64]
    /// The max-downtime in force now: the base, or the last downtime rung's.
    public private(set) var downtimeMs: UInt64
    private var nextDowntime = 0
    private var postCopyTaken = false
    /// Whether the climb is over (post-copy taken, or the fallback): nothing more is returned.
    public private(set) var finished = false
    private var lastIteration: UInt64 = 0
    private var best: UInt64?
    private var stalled = 0
    /// The next pass boundary follows a rung: not judged.
    private var settling = false

    /// A climb from `baseDowntimeMs`; post-copy rungs only when both the ladder and the
    /// migration allow them.
    public init(ladder: ConvergenceLadder, baseDowntimeMs: UInt64, postCopyAllowed: Bool) {
        self.ladder = ladder
        self.postCopyAllowed = postCopyAllowed && ladder.postCopy
        downtimes = ladder.downtimeRungs(base: baseDowntimeMs)
        downtimeMs = baseDowntimeMs
    }

    /// Feeds one progress sample; the rung to take now, if any. After post-copy or the
    /// fallback nothing more is returned.
    public mutating func observe(_ p: MigrationProgress) -> Step? {
        guard !finished, p.iteration > lastIteration else { return nil }
        lastIteration = p.iteration
        // libvirt counts the first pass as 1; from 2 on, what is left was dirtied meanwhile.
        guard p.iteration >= 2 else { return nil }
        if settling {
            settling = false
            best = min(best ?? .max, p.dataRemaining)
            return nil
        }
        if let b = best, Double(p.dataRemaining) >= Double(b) * Self.progressFraction {
            stalled += 1
        } else {
            best = min(best ?? .max, p.dataRemaining)
            stalled = 0
        }
        guard stalled >= ladder.stallPasses else { return nil }
        stalled = 0
        settling = true
        return climb(p)
    }

    private mutating func climb(_ p: MigrationProgress) -> Step {
        var note: String?
        if nextDowntime < downtimes.count {
            // At the measured rate, the pause the last pass would need; when even the cap
            // cannot hold it, the downtime rungs would only cost passes.
            let needMs = p.memoryBps > 0 ? Double(p.dataRemaining) / Double(p.memoryBps) * 1000 : nil
            if let need = needMs, let cap = downtimes.last, need > Double(cap) {
                note = "max-downtime \(cap)ms could not hold it (needs ~\(Int(need.rounded(.up)))ms); skipped"
                nextDowntime = downtimes.count
            } else {
                let to = downtimes[nextDowntime]
                nextDowntime += 1
                defer { downtimeMs = to }
                return Step(
                    rung: .raiseDowntime(fromMs: downtimeMs, toMs: to), iteration: p.iteration,
                    remainingBytes: p.dataRemaining)
            }
        }
        finished = true
        if postCopyAllowed && !postCopyTaken {
            postCopyTaken = true
            return Step(rung: .postCopy, iteration: p.iteration, remainingBytes: p.dataRemaining, note: note)
        }
        return Step(
            rung: .fallback(ladder.fallback), iteration: p.iteration, remainingBytes: p.dataRemaining, note: note)
    }

    /// The switch to post-copy was refused: the fallback is next, at the next stall.
    public mutating func postCopyRefused() {
        finished = false
        stalled = 0
    }
}
