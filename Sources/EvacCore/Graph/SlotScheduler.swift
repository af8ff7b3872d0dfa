/// A migration as the scheduler sees it: its place in the DAG and the slots it takes.
public protocol SchedulableStep {
    var id: Int { get }
    var guest: String { get }
    /// Host names: a migration takes one slot on its source and one on its target.
    var sourceHost: String { get }
    var targetHost: String { get }
    /// Ids that must be done first.
    var after: [Int] { get }
    /// Anti-affinity groups the migration counts against.
    var groups: [String] { get }
    /// Among ready steps the lower rank starts first: the plan's order (reversed for rollback).
    var rank: Int { get }
}

/// How a started step ended, as far as its dependents are concerned.
public enum SlotOutcome: Sendable, Equatable {
    /// Done: its dependents may start.
    case done
    /// Not started after all (aborted before it began): its dependents keep waiting.
    case requeued
    /// Anything else: its dependents are blocked, "waits for GUEST, which <phrase>".
    case notDone(phrase: String)
}

/// The DAG walk's bookkeeping with no I/O and no clock, shared by the executor and the
/// estimate (`Timeline`), so that the two can never disagree about which migration starts
/// when: which steps are ready, which slots are taken on each axis (total, per source, per
/// target, per anti-affinity group), and who is blocked when a step does not end done.
/// Steps are held in (rank, id) order, so "lowest index first" is "the plan's order wins".
///
/// Crafted plan files are input: limits below 1 count as 1, duplicate ids keep their first
/// step, duplicate group names their smallest limit, and nothing traps.
public struct SlotScheduler<Step: SchedulableStep> {
    /// The steps, sorted by (rank, id); the indices every method takes and returns.
    public let steps: [Step]
    private let limits: MigrationGraph.Limits
    private var unmet: [Int]
    private var dependents: [[Int]]
    /// Ready step indices, ascending. Entries whose `queued` flag is off were taken or
    /// blocked since and are skipped (removed lazily: 100,000-step estimates start thousands
    /// of steps from the front of this list, and an eager removal would shift it each time).
    private var ready: [Int] = []
    private var queued: [Bool]
    private var queuedCount = 0
    /// ready[..<head] are all taken.
    private var head = 0
    private var total = 0
    /// Slots taken per source, target and group, indexed by the numbers `axes` gives each
    /// host and group name: the walk of a 100,000-step estimate checks them millions of times,
    /// and arrays spare it a string hash per check.
    private let axes: SlotAxes
    private var bySource: [Int]
    private var byTarget: [Int]
    private var byGroup: [Int]
    private var settled: [Bool]

    /// `outside(id)` tells how a dependency that is not part of this walk stands (done in an
    /// earlier run, or failed and not retried): `satisfied` lets its dependents start, else
    /// they are blocked with `phrase`; nil = unknown id, treated as satisfied.
    /// Returns the scheduler and the steps blocked from the start (index, reason).
    public static func make(
        steps: [Step], limits: MigrationGraph.Limits,
        outside: (Int) -> (guest: String, satisfied: Bool, phrase: String)? = { _ in nil }
    ) -> (SlotScheduler, [(index: Int, reason: String)]) {
        var s = SlotScheduler(steps: steps, limits: limits)
        let blocked = s.blockFromOutside(outside)
        return (s, blocked)
    }

    private init(steps unsorted: [Step], limits: MigrationGraph.Limits) {
        // The estimate hands its steps over in rank order already; sorting them again copied
        // every step once more.
        let inOrder = zip(unsorted, unsorted.dropFirst()).allSatisfy { a, b in (a.rank, a.id) <= (b.rank, b.id) }
        steps = inOrder ? unsorted : unsorted.sorted { ($0.rank, $0.id) < ($1.rank, $1.id) }
        self.limits = limits
        axes = SlotAxes(steps: steps, limits: limits)
        bySource = Array(repeating: 0, count: axes.sources)
        byTarget = Array(repeating: 0, count: axes.targets)
        byGroup = Array(repeating: 0, count: axes.groupLimit.count)
        let index = Dictionary(steps.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        unmet = Array(repeating: 0, count: steps.count)
        dependents = Array(repeating: [], count: steps.count)
        settled = Array(repeating: false, count: steps.count)
        queued = Array(repeating: false, count: steps.count)
        for (i, s) in steps.enumerated() {
            for a in s.after {
                if let j = index[a] {
                    unmet[i] += 1
                    dependents[j].append(i)
                }
            }
        }
        for i in steps.indices where unmet[i] == 0 {
            ready.append(i)
            queued[i] = true
        }
        queuedCount = ready.count
    }

    private mutating func blockFromOutside(
        _ outside: (Int) -> (guest: String, satisfied: Bool, phrase: String)?
    ) -> [(index: Int, reason: String)] {
        let inside = Set(steps.map(\.id))
        var out: [(index: Int, reason: String)] = []
        for (i, s) in steps.enumerated() where !settled[i] {
            for a in s.after where !inside.contains(a) {
                guard let o = outside(a), !o.satisfied else { continue }
                settled[i] = true
                dequeue(i)
                out.append((i, "waits for \(o.guest), which \(o.phrase)"))
                out += blockDependents(of: i, phrase: "is blocked")
                break
            }
        }
        return out
    }

    /// Steps started and not yet finished.
    public var inFlight: Int { total }
    /// Whether any step is ready (its predecessors done) and not yet started, free slot or not.
    public var hasReady: Bool { queuedCount > 0 }

    private func fits(_ i: Int) -> Bool {
        guard total < max(1, limits.total),
            bySource[axes.source[i]] < max(1, limits.perSource),
            byTarget[axes.target[i]] < max(1, limits.perTarget)
        else { return false }
        for g in axes.groups[i] where byGroup[g] >= axes.groupLimit[g] { return false }
        return true
    }

    /// Takes a slot on every axis for each ready step that fits, in rank order; returns their
    /// indices in the order they start.
    public mutating func takeStartable() -> [Int] {
        var started: [Int] = []
        while head < ready.count && !queued[ready[head]] { head += 1 }
        var k = head
        while k < ready.count && total < max(1, limits.total) {
            let i = ready[k]
            k += 1
            guard queued[i], fits(i) else { continue }
            total += 1
            bySource[axes.source[i]] += 1
            byTarget[axes.target[i]] += 1
            for g in axes.groups[i] { byGroup[g] += 1 }
            started.append(i)
            dequeue(i)
        }
        return started
    }

    /// A started step ended. Frees its slots; when done its dependents may become ready, when
    /// requeued they stay waiting, otherwise they are (transitively) blocked: returned with
    /// their reasons.
    public mutating func finish(_ i: Int, _ outcome: SlotOutcome) -> [(index: Int, reason: String)] {
        guard steps.indices.contains(i), !settled[i] else { return [] }
        total -= 1
        // Never below zero, even for a step finished without having started (a crafted journal).
        bySource[axes.source[i]] = max(0, bySource[axes.source[i]] - 1)
        byTarget[axes.target[i]] = max(0, byTarget[axes.target[i]] - 1)
        for g in axes.groups[i] { byGroup[g] = max(0, byGroup[g] - 1) }
        settled[i] = true
        switch outcome {
        case .done:
            for d in dependents[i] {
                unmet[d] -= 1
                if unmet[d] == 0 && !settled[d] { insertReady(d) }
            }
            return []
        case .requeued:
            return []
        case .notDone(let phrase):
            return blockDependents(of: i, phrase: phrase)
        }
    }

    private mutating func blockDependents(of i: Int, phrase: String) -> [(index: Int, reason: String)] {
        var out: [(index: Int, reason: String)] = []
        var stack: [(Int, String)] = [(i, phrase)]
        while let (j, p) = stack.popLast() {
            for d in dependents[j] where !settled[d] {
                settled[d] = true
                dequeue(d)
                out.append((d, "waits for \(steps[j].guest), which \(p)"))
                stack.append((d, "is blocked"))
            }
        }
        return out
    }

    private mutating func dequeue(_ i: Int) {
        guard queued[i] else { return }
        queued[i] = false
        queuedCount -= 1
    }

    /// Inserts after the taken prefix, keeping the list ascending.
    private mutating func insertReady(_ i: Int) {
        queued[i] = true
        queuedCount += 1
        var lo = head
        var hi = ready.count
        while lo < hi {
            let m = (lo + hi) / 2
            if ready[m] < i { lo = m + 1 } else { hi = m }
        }
        ready.insert(i, at: lo)
    }
}

/// The steps' slot axes as numbers: each source, target and limited group name numbered once,
/// in the steps' order. Groups without a limit are left out (they never hold a step back).
private struct SlotAxes {
    /// Per step: its source's and its target's number.
    var source: [Int] = []
    var target: [Int] = []
    /// Per step: the numbers of its limited groups.
    var groups: [[Int]] = []
    var sources = 0
    var targets = 0
    /// Per group number: its limit (duplicate names: the smallest, as in the plan's rules).
    var groupLimit: [Int] = []

    init<Step: SchedulableStep>(steps: [Step], limits: MigrationGraph.Limits) {
        let limitByName = Dictionary(
            limits.groups.map { ($0.name, max(1, $0.maxInFlight)) }, uniquingKeysWith: min)
        var sourceNumber: [String: Int] = [:]
        var targetNumber: [String: Int] = [:]
        var groupNumber: [String: Int] = [:]
        source.reserveCapacity(steps.count)
        target.reserveCapacity(steps.count)
        groups.reserveCapacity(steps.count)
        for step in steps {
            source.append(Self.number(step.sourceHost, in: &sourceNumber))
            target.append(Self.number(step.targetHost, in: &targetNumber))
            var mine: [Int] = []
            for g in step.groups {
                guard let limit = limitByName[g] else { continue }
                let before = groupNumber.count
                let n = Self.number(g, in: &groupNumber)
                if n == before { groupLimit.append(limit) }
                mine.append(n)
            }
            groups.append(mine)
        }
        sources = sourceNumber.count
        targets = targetNumber.count
    }

    private static func number(_ name: String, in table: inout [String: Int]) -> Int {
        if let n = table[name] { return n }
        let n = table.count
        table[name] = n
        return n
    }
}
