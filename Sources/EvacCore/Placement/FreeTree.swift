/// Free memory of the targets of one compatibility class, as a segment tree over positions that
/// are ordered by host name. Answers "most free" and "least free that still fits" in O(log n)
/// (the latter is pruned by per-node min/max and is O(log n) in practice), and updates in O(log n).
/// Ties go to the leftmost position, i.e. the smallest host name, which keeps results deterministic.
/// A leaf set to `FreeTree.excluded` is never returned (used to skip targets a guest cannot take).
struct FreeTree {
    static let excluded = Int64.min
    private let size: Int
    private var maxv: [Int64]
    private var minv: [Int64]

    init(_ values: [Int64]) {
        var s = 1
        while s < max(1, values.count) { s <<= 1 }
        size = s
        maxv = Array(repeating: Self.excluded, count: 2 * s)
        minv = Array(repeating: Int64.max, count: 2 * s)
        for (i, v) in values.enumerated() {
            maxv[s + i] = v
            minv[s + i] = v == Self.excluded ? Int64.max : v
        }
        for i in stride(from: s - 1, through: 1, by: -1) { pull(i) }
    }

    private mutating func pull(_ i: Int) {
        maxv[i] = max(maxv[2 * i], maxv[2 * i + 1])
        minv[i] = min(minv[2 * i], minv[2 * i + 1])
    }

    func value(at pos: Int) -> Int64 { maxv[size + pos] }
    /// The largest free value in the class (`excluded` when none).
    var maxValue: Int64 { maxv[1] }

    mutating func set(_ pos: Int, _ v: Int64) {
        var i = size + pos
        maxv[i] = v
        minv[i] = v == Self.excluded ? Int64.max : v
        i >>= 1
        while i >= 1 {
            pull(i)
            i >>= 1
        }
    }

    /// The position with the most free memory if it is at least `need`.
    func mostFree(need: Int64) -> Int? {
        guard maxv[1] != Self.excluded, maxv[1] >= need else { return nil }
        var i = 1
        while i < size { i = maxv[2 * i] >= maxv[2 * i + 1] ? 2 * i : 2 * i + 1 }
        return i - size
    }

    /// The position with the least free memory that is still at least `need` (best fit).
    func leastFree(need: Int64) -> Int? {
        var best: (Int64, Int)? = nil
        search(1, need, &best)
        return best?.1
    }

    private func search(_ i: Int, _ need: Int64, _ best: inout (Int64, Int)?) {
        if maxv[i] == Self.excluded || maxv[i] < need { return }
        // Positions are visited left to right, so a later equal value never wins a tie.
        if let b = best, b.0 == need || (minv[i] >= need && minv[i] >= b.0) { return }
        if i >= size {
            let v = maxv[i]
            let pos = i - size
            if best == nil || v < best!.0 || (v == best!.0 && pos < best!.1) { best = (v, pos) }
            return
        }
        search(2 * i, need, &best)
        search(2 * i + 1, need, &best)
    }
}
