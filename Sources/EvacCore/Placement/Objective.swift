/// What placement maximizes when not every guest fits: the guests placed at each priority
/// level, highest level first (`placement.priority`; a plan without priorities has one level,
/// so this is the number of guests), then the memory placed. Compared lexicographically: one
/// more guest of a higher priority outweighs any number of lower ones, and one more guest
/// outweighs any amount of memory.
struct Objective {
    /// Distinct priorities, highest first.
    let priorities: [Int]
    /// Index into `priorities` of each mover.
    let levelOf: [Int]

    init(movers: [Mover]) {
        priorities = Array(Set(movers.map(\.priority))).sorted(by: >)
        var index: [Int: Int] = [:]
        for (i, p) in priorities.enumerated() { index[p] = i }
        levelOf = movers.map { index[$0.priority] ?? 0 }
    }

    /// Guests placed per level, then memory placed (KiB).
    func value(_ state: FleetState) -> [Int64] {
        var v = [Int64](repeating: 0, count: priorities.count + 1)
        for m in state.target.indices where state.target[m] >= 0 {
            v[levelOf[m]] += 1
            v[priorities.count] &+= state.mem[m]
        }
        return v
    }

    /// The change of `value` when `added` movers are placed and `removed` ones unplaced.
    func delta(added: [Int], removed: [Int], mem: [Int64]) -> [Int64] {
        var v = [Int64](repeating: 0, count: priorities.count + 1)
        for m in added {
            v[levelOf[m]] += 1
            v[priorities.count] &+= mem[m]
        }
        for m in removed {
            v[levelOf[m]] -= 1
            v[priorities.count] &-= mem[m]
        }
        return v
    }

    /// Whether `a` is worth more than `b` (first differing component decides).
    static func better(_ a: [Int64], than b: [Int64]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x > y }
        return false
    }

    /// Whether a change (from `delta`) is an improvement.
    static func gains(_ d: [Int64]) -> Bool {
        for x in d where x != 0 { return x > 0 }
        return false
    }
}
