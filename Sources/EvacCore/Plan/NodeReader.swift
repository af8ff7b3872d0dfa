/// Typed reading of document nodes with diagnostics: every failure is recorded with the node's
/// mark, a message and a fix, and reading goes on so that all problems are reported at once.
struct NodeReader {
    var sink: DiagnosticSink
    /// Host names declared under `hosts:`, valid or not: a reference to a host whose entry
    /// already has an error is not reported again as unknown.
    var declaredHosts: Set<String> = []

    init(file: String) { sink = DiagnosticSink(file: file) }

    // MARK: mappings

    /// The pairs of a mapping whose keys are all among `known`. Unknown keys get a did-you-mean
    /// suggestion, duplicate keys an error; both are dropped from the result.
    mutating func mapping(_ node: Node, context: String, known: [String]) -> [String: Node.Pair]? {
        guard case .mapping(let pairs, _) = node else {
            typeError(node, expected: "a mapping", context: context)
            return nil
        }
        var out: [String: Node.Pair] = [:]
        for pair in pairs {
            guard let key = pair.key.scalar else {
                sink.error(
                    pair.key.mark, "keys in \(context) must be plain names, found \(pair.key.kindName)",
                    help: "write `name: value`")
                continue
            }
            if !known.contains(key.value) {
                let help: String
                if let guess = Spelling.closest(to: key.value, in: known) {
                    help = "did you mean '\(guess)'?"
                } else {
                    help = "known keys here: \(known.joined(separator: ", "))"
                }
                sink.error(key.mark, span: key.value.count, "unknown key '\(key.value)' in \(context)", help: help)
                continue
            }
            if let first = out[key.value] {
                sink.error(
                    key.mark, span: key.value.count, "duplicate key '\(key.value)' in \(context)",
                    help: "it was already given at line \(first.key.mark.line); keep one")
                continue
            }
            out[key.value] = pair
        }
        return out
    }

    /// The pairs of a mapping with free-form keys (host names, pins), duplicates reported.
    mutating func namedEntries(_ node: Node, context: String) -> [(Node.Scalar, Node)]? {
        guard case .mapping(let pairs, _) = node else {
            typeError(node, expected: "a mapping of names", context: context)
            return nil
        }
        var seen: [String: Mark] = [:]
        var out: [(Node.Scalar, Node)] = []
        for pair in pairs {
            guard let key = pair.key.scalar, !key.value.isEmpty else {
                sink.error(pair.key.mark, "names in \(context) must be non-empty strings", help: "write `name: value`")
                continue
            }
            if let first = seen[key.value] {
                sink.error(
                    key.mark, span: key.value.count, "duplicate name '\(key.value)' in \(context)",
                    help: "it was already given at line \(first.line); names must be unique")
                continue
            }
            seen[key.value] = key.mark
            out.append((key, pair.value))
        }
        return out
    }

    mutating func require(
        _ map: [String: Node.Pair], _ key: String, in node: Node, context: String, example: String
    ) -> Node? {
        if let p = map[key] { return p.value }
        sink.error(node.mark, "missing '\(key)' in \(context)", help: "add `\(key): \(example)`")
        return nil
    }

    // MARK: scalars

    mutating func string(_ node: Node, context: String, allowEmpty: Bool = false) -> String? {
        guard let s = node.scalar else {
            typeError(node, expected: "a string", context: context)
            return nil
        }
        if !s.quoted, s.value == "~" || s.value == "null" || (s.value.isEmpty && !allowEmpty) {
            sink.error(s.mark, "\(context) is empty", help: "give a value")
            return nil
        }
        return s.value
    }

    mutating func name(_ node: Node, context: String) -> Located<String>? {
        guard let v = string(node, context: context) else { return nil }
        return Located(v, at: node.mark)
    }

    mutating func int(_ node: Node, context: String, min: Int? = nil, max: Int? = nil) -> Int? {
        guard let s = node.scalar, !s.quoted, let v = Int(s.value) else {
            typeError(node, expected: "an integer", context: context)
            return nil
        }
        if let min, v < min {
            sink.error(
                s.mark, span: s.value.count, "\(context) must be at least \(min), found \(v)",
                help: "use a value ≥ \(min)")
            return nil
        }
        if let max, v > max {
            sink.error(
                s.mark, span: s.value.count, "\(context) must be at most \(max), found \(v)",
                help: "use a value ≤ \(max)")
            return nil
        }
        return v
    }

    mutating func number(_ node: Node, context: String, above: Double) -> Double? {
        guard let s = node.scalar, !s.quoted, let v = Double(s.value) else {
            typeError(node, expected: "a number", context: context)
            return nil
        }
        // `1e400` reads as infinity and `nan` as NaN: numbers, but not usable ones.
        guard v.isFinite, v < 1e9 else {
            sink.error(
                s.mark, span: s.value.count, "\(context) must be a finite number below 1e9, found \(s.value)",
                help: "use a number such as 4.0")
            return nil
        }
        guard v > above else {
            sink.error(
                s.mark, span: s.value.count, "\(context) must be greater than \(above), found \(s.value)",
                help: "use a positive number such as 4.0")
            return nil
        }
        return v
    }

    mutating func bool(_ node: Node, context: String) -> Bool? {
        if let s = node.scalar, !s.quoted {
            switch s.value {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            case "yes", "no", "on", "off", "Yes", "No", "On", "Off":
                sink.error(
                    s.mark, span: s.value.count, "\(context) must be true or false, found '\(s.value)'",
                    help:
                        "write \(["yes", "on", "Yes", "On"].contains(s.value) ? "true" : "false") (YAML 1.2 does not read '\(s.value)' as a boolean)"
                )
                return nil
            default: break
            }
        }
        typeError(node, expected: "true or false", context: context)
        return nil
    }

    mutating func choice<E: RawRepresentable & CaseIterable>(_ node: Node, _ type: E.Type, context: String) -> E?
    where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        guard let s = node.scalar else {
            typeError(node, expected: "one of \(allowed.joined(separator: ", "))", context: context)
            return nil
        }
        if let v = E(rawValue: s.value) { return v }
        let help =
            Spelling.closest(to: s.value, in: allowed).map {
                "did you mean '\($0)'? (one of \(allowed.joined(separator: ", ")))"
            }
            ?? "use one of \(allowed.joined(separator: ", "))"
        sink.error(s.mark, span: max(1, s.value.count), "'\(s.value)' is not a valid \(context)", help: help)
        return nil
    }

    mutating func unit<T>(_ node: Node, context: String, _ parse: (String) -> Result<T, Units.Failure>) -> T? {
        guard let s = node.scalar else {
            typeError(node, expected: "a string with a unit", context: context)
            return nil
        }
        switch parse(s.value) {
        case .success(let v): return v
        case .failure(let f):
            sink.error(s.mark, span: max(1, s.value.count), "\(context): \(f.message)", help: f.help)
            return nil
        }
    }

    /// A duration within `bounds` (milliseconds); out of range is an error naming both ends.
    mutating func duration(_ node: Node, context: String, _ bounds: ClosedRange<UInt64>, why: String) -> UInt64? {
        guard let ms = unit(node, context: context, Units.duration) else { return nil }
        if let f = Units.outOfRange(ms, bounds, context: context, found: node.scalar?.value ?? "?", why: why) {
            sink.error(node.mark, span: max(1, node.scalar?.value.count ?? 1), f.message, help: f.help)
            return nil
        }
        return ms
    }

    // MARK: lists

    /// A list, or a single scalar taken as a one-element list (`exclude: scratch-*`).
    mutating func list(_ node: Node, context: String, allowEmpty: Bool = true) -> [Node]? {
        switch node {
        case .sequence(let items, let mark):
            if items.isEmpty && !allowEmpty {
                sink.error(mark, "\(context) is empty", help: "list at least one entry")
                return nil
            }
            return items
        case .scalar(let s) where !s.quoted && (s.value.isEmpty || s.value == "~" || s.value == "null"):
            if !allowEmpty {
                sink.error(s.mark, "\(context) is empty", help: "list at least one entry")
                return nil
            }
            return []
        case .scalar: return [node]
        case .mapping:
            typeError(node, expected: "a list", context: context)
            return nil
        }
    }

    mutating func globs(_ node: Node, context: String, allowEmpty: Bool = true) -> [Located<Glob>]? {
        guard let items = list(node, context: context, allowEmpty: allowEmpty) else { return nil }
        var out: [Located<Glob>] = []
        for item in items {
            guard let s = string(item, context: "a pattern in \(context)") else { continue }
            let g = Glob(s)
            if let err = g.syntaxError {
                sink.error(item.mark, span: s.count, err, help: "close the class with ']' or quote a literal '['")
                continue
            }
            out.append(Located(g, at: item.mark))
        }
        return out
    }

    mutating func typeError(_ node: Node, expected: String, context: String) {
        let span = node.scalar.map { max(1, $0.value.count) } ?? 1
        sink.error(
            node.mark, span: span, "\(context) must be \(expected), found \(node.kindName)",
            help: Self.typeHelp(expected: expected, node: node))
    }

    static func typeHelp(expected: String, node: Node) -> String {
        if expected.contains("list"), let s = node.scalar { return "write `[\(s.value)]` or one `- item` per line" }
        if expected.contains("mapping") { return "write `key: value` pairs, indented under this key" }
        if expected.contains("integer"), let s = node.scalar, let d = Double(s.value) {
            // `nan`, `inf` and 1e19 are numbers too: only a representable whole number is suggested.
            guard let whole = Int(exactly: d.rounded()), whole.magnitude < 1 << 53 else {
                return "write a whole number such as 1"
            }
            return "write a whole number such as \(whole)"
        }
        return "write \(expected)"
    }
}

/// Did-you-mean suggestions by edit distance.
enum Spelling {
    static func closest(to word: String, in candidates: [String]) -> String? {
        let w = word.lowercased().replacingOccurrences(of: "_", with: "-")
        var best: (String, Int)?
        for c in candidates {
            if c == w { return c }
            let d = distance(Array(w), Array(c.lowercased()))
            if best == nil || d < best!.1 { best = (c, d) }
        }
        guard let (c, d) = best else { return nil }
        // Accept up to a third of the word wrong (at least 1, at most 3 edits).
        return d <= min(3, max(1, w.count / 3)) ? c : nil
    }

    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = Swift.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}
