/// A position in a source file; 1-based line and column (columns count Unicode scalars).
public struct Mark: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// 1-based line number.
    public var line: Int
    /// 1-based column, counted in Unicode scalars.
    public var column: Int
    /// The position at `line`:`column`.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
    /// `LINE:COL`, as diagnostics print it.
    public var description: String { "\(line):\(column)" }
    /// Earlier in the file first.
    public static func < (a: Mark, b: Mark) -> Bool { (a.line, a.column) < (b.line, b.column) }
}

/// A parsed document node with the mark where it starts. The YAML module produces these;
/// the plan language reads them, so the core never sees libyaml.
public indirect enum Node: Hashable, Sendable {
    /// A scalar: its text, whether it was quoted (quoted scalars are always strings), and its mark.
    case scalar(Scalar)
    /// A mapping: its key/value pairs in document order, and its mark.
    case mapping([Pair], Mark)
    /// A sequence: its items in document order, and its mark.
    case sequence([Node], Mark)

    /// A scalar's text as written, with the marks that span it.
    public struct Scalar: Hashable, Sendable {
        /// The text after YAML unquoting and escapes.
        public var value: String
        /// Whether it was quoted; a quoted scalar is always a string, never a number, boolean or null.
        public var quoted: Bool
        /// Where the scalar starts.
        public var mark: Mark
        /// Mark just past the scalar's last character (for carets spanning the value).
        public var end: Mark
        /// A scalar; `end` defaults to `mark` plus the length of `value` on the same line.
        public init(value: String, quoted: Bool = false, mark: Mark, end: Mark? = nil) {
            self.value = value
            self.quoted = quoted
            self.mark = mark
            self.end = end ?? Mark(line: mark.line, column: mark.column + value.unicodeScalars.count)
        }
    }

    /// One `key: value` entry of a mapping.
    public struct Pair: Hashable, Sendable {
        /// The key node.
        public var key: Node
        /// The value node.
        public var value: Node
        /// The entry `key: value`.
        public init(key: Node, value: Node) {
            self.key = key
            self.value = value
        }
    }

    /// Where the node starts.
    public var mark: Mark {
        switch self {
        case .scalar(let s): return s.mark
        case .mapping(_, let m), .sequence(_, let m): return m
        }
    }

    /// A word for the node's kind, used in "expected X, found Y" messages.
    public var kindName: String {
        switch self {
        case .scalar(let s):
            if s.quoted { return "a string" }
            if s.value.isEmpty || s.value == "~" || s.value == "null" { return "null" }
            if Self.isBool(s.value) { return "a boolean" }
            if Int(s.value) != nil { return "an integer" }
            if Double(s.value) != nil { return "a number" }
            return "a string"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    static func isBool(_ s: String) -> Bool {
        ["true", "false", "True", "False", "TRUE", "FALSE"].contains(s)
    }

    /// The scalar, or nil when the node is a mapping or a sequence.
    public var scalar: Scalar? {
        if case .scalar(let s) = self { return s }
        return nil
    }
    /// The mapping's pairs, or nil when the node is not a mapping.
    public var pairs: [Pair]? {
        if case .mapping(let p, _) = self { return p }
        return nil
    }
    /// The sequence's items, or nil when the node is not a sequence.
    public var items: [Node]? {
        if case .sequence(let i, _) = self { return i }
        return nil
    }
}

/// A whole source: its name for messages, its text (for snippets) and the root node.
public struct SourceFile: Sendable {
    /// The file's name, as diagnostics print it.
    public var path: String
    /// The whole text, kept to quote source lines in diagnostics.
    public var text: String
    /// A source named `path` with the text `text`.
    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }

    /// Every line without its newline ("\n" or "\r\n"), as `line(_:)` numbers them.
    public var lines: [Substring] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    }

    /// The 1-based line `n` without its newline, or "" past the end.
    public func line(_ n: Int) -> String {
        var current = 1
        var start = text.startIndex
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == "\n" || text[i] == "\r\n" {
                if current == n { return String(text[start..<i]) }
                current += 1
                start = text.index(after: i)
            }
            i = text.index(after: i)
        }
        return current == n ? String(text[start..<text.endIndex]) : ""
    }
}
