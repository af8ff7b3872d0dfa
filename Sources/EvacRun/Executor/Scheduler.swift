import EvacCore

/// The DAG walk's bookkeeping, with no I/O: which steps are ready, which slots are taken on
/// each axis (total, per source, per target, per anti-affinity group), and who is blocked
/// when a step does not end done. Steps are held in rank order, so "lowest index first"
/// is "the plan's order wins".
struct Scheduler {
    let specs: [StepSpec]
    private let limits: MigrationGraph.Limits
    private let groupLimit: [String: Int]
    private var unmet: [Int]
    private var dependents: [[Int]]
    /// Ready spec indices, ascending.
    private var ready: [Int] = []
    private var total = 0
    private var bySource: [String: Int] = [:]
    private var byTarget: [String: Int] = [:]
    private var byGroup: [String: Int] = [:]
    private var settled: [Bool]

    /// `outside(id)` tells the state of a dependency that is not part of this walk (done in an
    /// earlier run, or failed and not retried); nil = unknown id, treated as satisfied.
    /// Returns the scheduler and the steps blocked from the start (index, reason).
    static func make(
        specs: [StepSpec], limits: MigrationGraph.Limits,
        outside: (Int) -> (guest: String, state: StepState)?
    ) -> (Scheduler, [(Int, String)]) {
        var s = Scheduler(specs: specs, limits: limits)
        let blocked = s.blockFromOutside(outside)
        return (s, blocked)
    }

    private init(specs unsorted: [StepSpec], limits: MigrationGraph.Limits) {
        specs = unsorted.sorted { ($0.rank, $0.id) < ($1.rank, $1.id) }
        self.limits = limits
        groupLimit = Dictionary(limits.groups.map { ($0.name, max(1, $0.maxInFlight)) }, uniquingKeysWith: min)
        let index = Dictionary(specs.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        unmet = Array(repeating: 0, count: specs.count)
        dependents = Array(repeating: [], count: specs.count)
        settled = Array(repeating: false, count: specs.count)
        for (i, s) in specs.enumerated() {
            for a in s.after {
                if let j = index[a] {
                    unmet[i] += 1
                    dependents[j].append(i)
                }
            }
        }
        for i in specs.indices where unmet[i] == 0 { ready.append(i) }
    }

    private mutating func blockFromOutside(_ outside: (Int) -> (guest: String, state: StepState)?) -> [(Int, String)] {
        let inside = Set(specs.map(\.id))
        var out: [(Int, String)] = []
        for (i, s) in specs.enumerated() where !settled[i] {
            for a in s.after where !inside.contains(a) {
                guard let o = outside(a), o.state != .done, o.state != .skipped else { continue }
                settled[i] = true
                ready.removeAll { $0 == i }
                out.append((i, "waits for \(o.guest), which \(Self.phrase(o.state))"))
                out += blockDependents(of: i, state: .blocked)
                break
            }
        }
        return out
    }

    static func phrase(_ s: StepState) -> String {
        switch s {
        case .failed: return "failed"
        case .blocked: return "is blocked"
        case .rolledBack: return "was rolled back"
        case .pending: return "was not started"
        case .running: return "is still running"
        case .done, .skipped: return "is \(s.rawValue)"
        }
    }

    var inFlight: Int { total }
    var hasReady: Bool { !ready.isEmpty }

    private func fits(_ s: StepSpec) -> Bool {
        guard total < max(1, limits.total),
            bySource[s.source.name, default: 0] < max(1, limits.perSource),
            byTarget[s.target.name, default: 0] < max(1, limits.perTarget)
        else { return false }
        for g in s.groups { if let l = groupLimit[g], byGroup[g, default: 0] >= l { return false } }
        return true
    }

    /// Takes a slot on every axis for each ready step that fits, in rank order.
    mutating func takeStartable() -> [Int] {
        var started: [Int] = []
        var k = 0
        while k < ready.count && total < max(1, limits.total) {
            let i = ready[k]
            if fits(specs[i]) {
                total += 1
                bySource[specs[i].source.name, default: 0] += 1
                byTarget[specs[i].target.name, default: 0] += 1
                for g in specs[i].groups { byGroup[g, default: 0] += 1 }
                started.append(i)
                ready.remove(at: k)
            } else {
                k += 1
            }
        }
        return started
    }

    /// A started step ended. Frees its slots; on `done` its dependents may become ready, else
    /// they (transitively) are blocked: returned with their reasons.
    mutating func finish(_ i: Int, state: StepState) -> [(Int, String)] {
        total -= 1
        bySource[specs[i].source.name, default: 1] -= 1
        byTarget[specs[i].target.name, default: 1] -= 1
        for g in specs[i].groups { byGroup[g, default: 1] -= 1 }
        settled[i] = true
        if state == .done {
            for d in dependents[i] {
                unmet[d] -= 1
                if unmet[d] == 0 && !settled[d] { insertReady(d) }
            }
            return []
        }
        // pending (aborted by operator, not started): dependents just stay waiting.
        if state == .pending { return [] }
        return blockDependents(of: i, state: state)
    }

    private mutating func blockDependents(of i: Int, state: StepState) -> [(Int, String)] {
        var out: [(Int, String)] = []
        var stack: [(Int, StepState)] = [(i, state)]
        while let (j, st) = stack.popLast() {
            for d in dependents[j] where !settled[d] {
                settled[d] = true
                ready.removeAll { $0 == d }
                out.append((d, "waits for \(specs[j].guest), which \(Self.phrase(st))"))
                stack.append((d, .blocked))
            }
        }
        return out
    }

    private mutating func insertReady(_ i: Int) {
        var lo = 0
        var hi = ready.count
        while lo < hi {
            let m = (lo + hi) / 2
            if ready[m] < i { lo = m + 1 } else { hi = m }
        }
        ready.insert(i, at: lo)
    }
}
