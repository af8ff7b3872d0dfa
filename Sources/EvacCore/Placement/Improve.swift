/// Local moves for a plan that cannot place every guest, each accepted only when it raises the
/// `Objective` (so the loop ends), all bounded by a count of elementary checks so that the
/// worst case stays bounded and the result stays deterministic (no clock is read):
/// - trade: take one planned guest off a target, fill the room with left-over guests (highest
///   priority, then smallest, first), and try to re-place the guest taken off elsewhere;
/// - swap up: put a left-over guest in the place of a planned one of lower priority or less
///   memory, and try to re-place that one elsewhere.
extension Search {
    mutating func improve(_ objective: Objective, order: [Int], choose: PlacementPolicy.Choose, work: inout Int) {
        let hopeless = Set(order.filter { feasibleCount($0) == 0 })
        var rounds = 0
        while work > 0, rounds < 16 {
            rounds += 1
            let traded = trade(objective, choose: choose, hopeless: hopeless, work: &work)
            let swapped = swapUp(objective, choose: choose, hopeless: hopeless, work: &work)
            guard traded || swapped else { break }
        }
        greedy(order, choose)
    }

    /// Unplaced movers that some target could take on an empty plan, in the order they are
    /// offered room: highest priority, then smallest, then plan order.
    private func leftOver(_ objective: Objective, hopeless: Set<Int>, largestFirst: Bool = false) -> [Int] {
        let lv = objective.levelOf
        let mem = state.mem
        return unplaced.filter { !hopeless.contains($0) }.sorted {
            if lv[$0] != lv[$1] { return lv[$0] < lv[$1] }
            if mem[$0] != mem[$1] { return largestFirst ? mem[$0] > mem[$1] : mem[$0] < mem[$1] }
            return movers[$0].listed < movers[$1].listed
        }
    }

    /// Whether `m` may go on `t` now, memory included (the pin is one of the other filters).
    private func fits(_ m: Int, _ t: Int) -> Bool {
        staticallyCompatible(m, t) && state.free(t) >= state.need[m] && state.othersReject(m, t) == nil
    }

    private mutating func trade(
        _ objective: Objective, choose: PlacementPolicy.Choose, hopeless: Set<Int>,
        work: inout Int
    ) -> Bool {
        var improved = false
        var left = leftOver(objective, hopeless: hopeless)
        guard !left.isEmpty else { return false }
        for t in state.names.indices where work > 0 {
            let byClass = left.filter { staticallyCompatible($0, t) }
            guard !byClass.isEmpty else { continue }
            let planned = state.incoming[t].sorted {
                (state.mem[$0], movers[$0].listed) > (state.mem[$1], movers[$1].listed)
            }
            for g in planned where work > 0 && state.target[g] == t {
                work -= 1 + byClass.count
                let restore = mark
                state.unplace(g)
                var added: [Int] = []
                for u in byClass where state.target[u] < 0 && fits(u, t) {
                    state.place(u, on: t)
                    added.append(u)
                }
                guard !added.isEmpty else {
                    rollback(to: restore)
                    continue
                }
                var budget = 64
                let back = insert(g, choose: choose, depth: 1, breadth: 4, tabu: [t], budget: &budget)
                let d = objective.delta(added: added, removed: back ? [] : [g], mem: state.mem)
                if Objective.gains(d) {
                    improved = true
                    left = leftOver(objective, hopeless: hopeless)
                    break
                }
                rollback(to: restore)
            }
        }
        return improved
    }

    private mutating func swapUp(
        _ objective: Objective, choose: PlacementPolicy.Choose, hopeless: Set<Int>,
        work: inout Int
    ) -> Bool {
        var improved = false
        let lv = objective.levelOf
        for u in leftOver(objective, hopeless: hopeless, largestFirst: true) where work > 0 && state.target[u] < 0 {
            // The planned guest whose place gains most: of a lower priority, or of the same
            // priority and the least memory that still makes room.
            var pick: (g: Int, t: Int)? = nil
            for t in state.names.indices where staticallyCompatible(u, t) {
                work -= 1 + state.incoming[t].count
                for g in state.incoming[t] where lv[g] > lv[u] || (lv[g] == lv[u] && state.mem[g] < state.mem[u]) {
                    guard state.free(t) + state.mem[g] >= state.mem[u] else { continue }
                    if let p = pick, (lv[p.g], -state.mem[p.g], p.g) >= (lv[g], -state.mem[g], g) { continue }
                    pick = (g, t)
                }
            }
            guard let (g, t) = pick else { continue }
            let restore = mark
            state.unplace(g)
            guard fits(u, t) else {
                rollback(to: restore)
                continue
            }
            state.place(u, on: t)
            var budget = 64
            let back = insert(g, choose: choose, depth: 1, breadth: 4, tabu: [t], budget: &budget)
            if Objective.gains(objective.delta(added: [u], removed: back ? [] : [g], mem: state.mem)) {
                improved = true
            } else {
                rollback(to: restore)
            }
        }
        return improved
    }
}
