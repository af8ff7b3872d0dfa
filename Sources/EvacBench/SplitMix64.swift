/// A small seeded PRNG (SplitMix64) whose output is fixed by its seed on every platform and
/// Swift version, so generated fleets are the same wherever they are generated.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `range` (multiply-shift; the bias is negligible for the small ranges used here).
    /// Not `Int.random(in:using:)`, whose algorithm the standard library may change.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound + 1)
        return range.lowerBound + Int(next().multipliedFullWidth(by: span).high)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    public mutating func chance(_ p: Double) -> Bool { unit() < p }

    public mutating func pick<T>(_ xs: [T]) -> T { xs[int(0...(xs.count - 1))] }

    /// An element drawn with the given relative weights.
    public mutating func pick<T>(_ xs: [T], weights: [Int]) -> T {
        var r = int(0...(weights.reduce(0, +) - 1))
        for (x, w) in zip(xs, weights) {
            if r < w { return x }
            r -= w
        }
        return xs[xs.count - 1]
    }

    public mutating func uuid() -> String {
        let a = next()
        let b = next()
        func hex(_ v: UInt64, _ digits: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, digits - s.count)) + s
        }
        return
            "\(hex(a >> 32, 8))-\(hex((a >> 16) & 0xffff, 4))-\(hex(a & 0xffff, 4))-\(hex(b >> 48, 4))-\(hex(b & 0xffff_ffff_ffff, 12))"
    }
}
