/// A shell-style name pattern: `*` any run, `?` one character, `[abc]`/`[a-z]`/`[!a]` classes.
public struct Glob: Hashable, Sendable, CustomStringConvertible {
    /// The pattern as written in the plan.
    public let pattern: String
    private let scalars: [Unicode.Scalar]
    /// A glob for `pattern`; check `syntaxError` before trusting what it matches.
    public init(_ pattern: String) {
        self.pattern = pattern
        self.scalars = Array(pattern.unicodeScalars)
    }
    /// The pattern as written, for messages.
    public var description: String { pattern }
    /// Whether the pattern has no wildcard or class, so it can only match the name it spells.
    public var isLiteral: Bool { !scalars.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    /// A reason the pattern is malformed (unclosed class), or nil.
    public var syntaxError: String? {
        var i = 0
        while i < scalars.count {
            if scalars[i] == "[" {
                var j = i + 1
                if j < scalars.count, scalars[j] == "!" || scalars[j] == "^" { j += 1 }
                if j < scalars.count, scalars[j] == "]" { j += 1 }
                while j < scalars.count, scalars[j] != "]" { j += 1 }
                if j >= scalars.count { return "unclosed '[' in pattern '\(pattern)'" }
                i = j
            }
            i += 1
        }
        return nil
    }

    /// Whether the whole of `name` matches the pattern (an unclosed `[` matches itself).
    public func matches(_ name: String) -> Bool {
        let s = Array(name.unicodeScalars)
        // Iterative matcher with single-star backtracking: linear for typical patterns.
        var p = 0
        var n = 0
        var starP = -1
        var starN = 0
        while n < s.count {
            if p < scalars.count, scalars[p] == "*" {
                starP = p
                starN = n
                p += 1
                continue
            }
            if p < scalars.count, let next = matchOne(at: p, s[n]) {
                p = next
                n += 1
                continue
            }
            if starP >= 0 {
                p = starP + 1
                starN += 1
                n = starN
                continue
            }
            return false
        }
        while p < scalars.count, scalars[p] == "*" { p += 1 }
        return p == scalars.count
    }

    /// If the pattern element at `p` matches `c`, the index after that element.
    private func matchOne(at p: Int, _ c: Unicode.Scalar) -> Int? {
        switch scalars[p] {
        case "?": return p + 1
        case "[":
            var j = p + 1
            var negate = false
            if j < scalars.count, scalars[j] == "!" || scalars[j] == "^" {
                negate = true
                j += 1
            }
            var matched = false
            var first = true
            while j < scalars.count, scalars[j] != "]" || first {
                first = false
                if j + 2 < scalars.count, scalars[j + 1] == "-", scalars[j + 2] != "]" {
                    if scalars[j].value <= c.value && c.value <= scalars[j + 2].value { matched = true }
                    j += 3
                } else {
                    if scalars[j] == c { matched = true }
                    j += 1
                }
            }
            guard j < scalars.count else { return scalars[p] == c ? p + 1 : nil } // unclosed: literal
            return matched != negate ? j + 1 : nil
        default:
            return scalars[p] == c ? p + 1 : nil
        }
    }
}
