/// Bounded repair by ejection chains. A guest the greedy pass could not place is put on one of
/// its roomiest targets after evicting some guests planned there by this run (never guests that
/// already live on the target); each evicted guest is then re-placed the same way, one level
/// shallower and never back onto the target it left. Any failure rolls the whole chain back.
/// `budget` counts eviction attempts, which keeps the worst case bounded on hopeless fleets.
public struct RepairLimits: Sendable, Hashable {
    /// Eviction attempts over the whole repair step.
    public var budget: Int
    /// How many levels of re-placement an eviction may trigger.
    public var depth: Int
    /// How many targets are tried per guest, roomiest first.
    public var breadth: Int
    /// The limits `Placer` uses unless told otherwise.
    public init(budget: Int = 20_000, depth: Int = 3, breadth: Int = 8) {
        self.budget = budget
        self.depth = depth
        self.breadth = breadth
    }
}

extension Search {
    mutating func repair(_ order: [Int], choose: PlacementPolicy.Choose, limits: RepairLimits, budget: inout Int) {
        for m in order where state.target[m] < 0 && budget > 0 {
            _ = insert(m, choose: choose, depth: limits.depth, breadth: limits.breadth, tabu: [], budget: &budget)
        }
    }

    mutating func insert(
        _ m: Int, choose: PlacementPolicy.Choose, depth: Int, breadth: Int,
        tabu: [Int], budget: inout Int
    ) -> Bool {
        if let t = best(m, choose, tabu: tabu) {
            state.place(m, on: t)
            return true
        }
        guard depth > 0, budget > 0 else { return false }
        for t in roomiest(m, limit: breadth, tabu: tabu) {
            // Saturating: a waived shut-off guest needs Int64.min + 1.
            let (d, o) = state.need[m].subtractingReportingOverflow(state.free(t))
            let deficit = o ? Int64.min : d
            // Guests pinned here cannot go anywhere else; do not bother evicting them.
            let evictable = state.incoming[t].filter { state.pinOf[$0] != t }
                .sorted { (state.mem[$0], movers[$0].listed) < (state.mem[$1], movers[$1].listed) }
            for set in Self.evictionSets(evictable.map { state.mem[$0] }, deficit: deficit) {
                budget -= 1
                if budget < 0 { return false }
                let restore = mark
                for i in set { state.unplace(evictable[i]) }
                guard state.dynamicRejection(m, t) == nil else {
                    rollback(to: restore)
                    continue
                }
                state.place(m, on: t)
                var ok = true
                for i in set.reversed() where ok { // largest first
                    ok = insert(
                        evictable[i], choose: choose, depth: depth - 1, breadth: breadth, tabu: [t], budget: &budget)
                }
                if ok {
                    for i in set where firstChoice.isEmpty || firstChoice[evictable[i]] == t {
                        note(
                            evictable[i], "most-free \(state.names[t]) needed for \(movers[m].name) (placed by repair)",
                            byRepair: true)
                    }
                    return true
                }
                rollback(to: restore)
            }
        }
        return false
    }

    /// Candidate sets of indexes into `sizes` (ascending) whose sum covers `deficit`, cheapest
    /// first: the three smallest single guests that suffice, the three smallest sufficient pairs,
    /// then largest-first accumulation.
    static func evictionSets(_ sizes: [Int64], deficit: Int64) -> [[Int]] {
        guard deficit > 0 else { return [[]] }
        var out: [[Int]] = []
        var lastSize: Int64 = -1
        for i in sizes.indices where sizes[i] >= deficit && sizes[i] != lastSize && out.count < 3 {
            out.append([i])
            lastSize = sizes[i]
        }
        if sizes.count <= 40 {
            var pairs: [(Int64, Int, Int)] = []
            for i in sizes.indices where sizes[i] < deficit {
                for j in (i + 1)..<sizes.count where sizes[j] < deficit && sizes[i] + sizes[j] >= deficit {
                    pairs.append((sizes[i] + sizes[j], i, j))
                    break // smallest j for this i
                }
            }
            pairs.sort { ($0.0, $0.1) < ($1.0, $1.1) }
            out += pairs.prefix(3).map { [$0.1, $0.2] }
        }
        var acc: Int64 = 0
        var greedy: [Int] = []
        for i in sizes.indices.reversed() where acc < deficit {
            greedy.append(i)
            acc += sizes[i]
        }
        if acc >= deficit, greedy.count > 2 { out.append(greedy.sorted()) }
        return out
    }
}
