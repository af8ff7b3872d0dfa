/// Finding targets for movers without scanning every target: the static filters are evaluated
/// once per (distinct guest needs × target class), and within a class the free-memory tree yields
/// the best target directly. Guest-specific filters (name conflict, pin, vCPU ratio,
/// anti-affinity) are checked on the tree's answer; a target they reject is hidden for the rest
/// of the query and the tree is asked again.
struct Search {
    var state: FleetState
    /// Per needs id: the compatible classes, and the same as a membership table.
    let compatible: [[Int]]
    let isCompatible: [[Bool]]
    /// Per class: free memory of its targets before anything is planned, ascending.
    private let initialFree: [[Int64]]
    /// Why a mover is not on the target the policy would have picked, when repair or the
    /// fallback packing moved it (undone with the log on rollback).
    private(set) var notes: [(mover: Int, text: String, byRepair: Bool)] = []
    /// Where each mover went in the greedy pass (-1: nowhere): repair notes are about leaving it.
    var firstChoice: [Int] = []

    init(input: PlacementInput, state: FleetState) {
        self.state = state
        let classProfiles = state.members.map { input.targets.profiles[$0[0]] }
        var compatible: [[Int]] = []
        var isCompatible: [[Bool]] = []
        for n in input.needs {
            let ok = classProfiles.map { StaticFilters.first(n, $0, target: "") == nil }
            isCompatible.append(ok)
            compatible.append(ok.indices.filter { ok[$0] })
        }
        self.compatible = compatible
        self.isCompatible = isCompatible
        initialFree = state.members.map { $0.map(state.free).sorted() }
    }

    var movers: [Mover] { state.movers }

    func staticallyCompatible(_ m: Int, _ t: Int) -> Bool { isCompatible[state.needsOf[m]][state.classOf[t]] }

    /// The target `choose` picks for mover `m` among those passing every filter, never `tabu`.
    mutating func best(_ m: Int, _ choose: PlacementPolicy.Choose, tabu: [Int] = []) -> Int? {
        let need = state.need[m]
        let pin = state.pinOf[m]
        if pin != FleetState.unpinned {
            guard pin >= 0, !tabu.contains(pin), staticallyCompatible(m, pin), state.free(pin) >= need,
                state.othersReject(m, pin) == nil
            else { return nil }
            return pin
        }
        // The guest-specific filters are checked on the overall best only; a target they reject
        // is hidden (restored on return) and the search asked again.
        var hidden: [Int] = []
        defer { for t in hidden { state.restore(t) } }
        while let t = choose == .mostFreeMemory ? mostFree(m, need) : leastFree(m, need) {
            guard tabu.contains(t) || state.othersReject(m, t) != nil else { return t }
            state.hide(t)
            hidden.append(t)
        }
        return nil
    }

    /// Most free across the compatible classes: compare the classes' maxima (one read each) and
    /// descend only the winning tree(s).
    private func mostFree(_ m: Int, _ need: Int64) -> Int? {
        var bestValue = Int64.min
        var bestTarget = -1
        for c in compatible[state.needsOf[m]] {
            let v = state.trees[c].maxValue
            guard v != FreeTree.excluded, v >= need, v >= bestValue else { continue }
            let t = state.members[c][state.trees[c].mostFree(need: need)!]
            if v > bestValue || t < bestTarget {
                bestValue = v
                bestTarget = t
            }
        }
        return bestTarget < 0 ? nil : bestTarget
    }

    private func leastFree(_ m: Int, _ need: Int64) -> Int? {
        var pick = -1
        for c in compatible[state.needsOf[m]] {
            guard let pos = state.trees[c].leastFree(need: need) else { continue }
            let t = state.members[c][pos]
            if pick < 0 || better(t, than: pick, .leastFreeMemory) { pick = t }
        }
        return pick < 0 ? nil : pick
    }

    private func better(_ a: Int, than b: Int, _ choose: PlacementPolicy.Choose) -> Bool {
        let fa = state.free(a)
        let fb = state.free(b)
        if fa != fb { return choose == .mostFreeMemory ? fa > fb : fa < fb }
        return a < b // target ids are in name order
    }

    /// Up to `limit` targets the mover passes every filter but memory on, most free first.
    mutating func roomiest(_ m: Int, limit: Int, tabu: [Int]) -> [Int] {
        let p = state.pinOf[m]
        if p != FleetState.unpinned {
            return p >= 0 && !tabu.contains(p) && staticallyCompatible(m, p) && state.othersReject(m, p) == nil
                ? [p] : []
        }
        var found: [Int] = []
        var hidden: [Int] = []
        for c in compatible[state.needsOf[m]] {
            var taken = 0
            var looked = 0
            while taken < limit, looked < 4 * limit, let pos = state.trees[c].mostFree(need: Int64.min + 1) {
                let t = state.members[c][pos]
                state.hide(t)
                hidden.append(t)
                looked += 1
                if !tabu.contains(t), state.othersReject(m, t) == nil {
                    found.append(t)
                    taken += 1
                }
            }
        }
        for t in hidden { state.restore(t) }
        found.sort { state.free($0) != state.free($1) ? state.free($0) > state.free($1) : $0 < $1 }
        return Array(found.prefix(limit))
    }

    /// How many targets could take the mover on an empty plan: the measure of how constrained it is.
    /// (Call before anything is planned.)
    func feasibleCount(_ m: Int) -> Int {
        let need = state.need[m]
        let p = state.pinOf[m]
        if p != FleetState.unpinned { return p >= 0 && staticallyCompatible(m, p) && state.free(p) >= need ? 1 : 0 }
        return compatible[state.needsOf[m]].reduce(0) { n, c in
            let a = initialFree[c]
            var lo = 0
            var hi = a.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if a[mid] < need { lo = mid + 1 } else { hi = mid }
            }
            return n + a.count - lo
        }
    }

    /// Places movers in `order`, each on the target `choose` picks. With `annotate`, records the
    /// most-free target a mover did not get (used when a fallback packs by best fit).
    mutating func greedy(_ order: [Int], _ choose: PlacementPolicy.Choose, annotate: Bool = false) {
        for m in order where state.target[m] < 0 {
            guard let t = best(m, choose) else { continue }
            if annotate, let mf = best(m, .mostFreeMemory), mf != t {
                note(
                    m,
                    "most-free \(state.names[mf]) not used: most-free-memory could not place every guest, so this plan packs by best fit"
                )
            }
            state.place(m, on: t)
        }
    }

    mutating func note(_ m: Int, _ text: String, byRepair: Bool = false) { notes.append((m, text, byRepair)) }

    /// Per mover, why it is not where the policy first put it: the last note, and a repair note
    /// only if the mover did not end up back on its first choice.
    func offMostFree() -> [String?] {
        var out: [String?] = Array(repeating: nil, count: movers.count)
        for n in notes { out[n.mover] = n.text }
        for n in notes where n.byRepair && out[n.mover] == n.text && state.target[n.mover] == firstChoice[n.mover] {
            out[n.mover] = nil
        }
        return out
    }

    /// A restore point for `rollback`.
    var mark: (log: Int, notes: Int) { (state.log.count, notes.count) }
    mutating func rollback(to mark: (log: Int, notes: Int)) {
        state.rollback(to: mark.log)
        notes.removeSubrange(mark.notes...)
    }

    var unplaced: [Int] { state.target.indices.filter { state.target[$0] < 0 } }
}
