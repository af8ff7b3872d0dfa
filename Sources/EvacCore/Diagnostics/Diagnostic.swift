/// One problem found in an input, with where it is and how to fix it.
public struct Diagnostic: Hashable, Sendable, Comparable {
    public enum Severity: String, Sendable, Codable { case error, warning, note }
    public var severity: Severity
    public var file: String
    public var mark: Mark
    /// Length of the caret underline in columns (at least 1).
    public var span: Int
    public var message: String
    /// How to fix it; rendered as a `help:` line.
    public var help: String?

    public init(
        _ severity: Severity, file: String, at mark: Mark, span: Int = 1, _ message: String, help: String? = nil
    ) {
        self.severity = severity
        self.file = file
        self.mark = mark
        self.span = max(1, span)
        self.message = message
        self.help = help
    }

    public static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        (a.file, a.mark.line, a.mark.column, a.message) < (b.file, b.mark.line, b.mark.column, b.message)
    }
}

/// Renders diagnostics as `FILE:LINE:COL: error: message`, the source line, a caret, and help.
public enum DiagnosticRenderer {
    public static func render(_ d: Diagnostic, source: SourceFile?) -> String {
        render(d, line: source.map { d.mark.line >= 1 ? $0.line(d.mark.line) : "" })
    }

    /// `line` is the source line at the diagnostic's mark, nil when there is no source.
    static func render(_ d: Diagnostic, line sourceLine: String?) -> String {
        // Messages quote names from the plan, which may hold terminal escapes or newlines.
        var out =
            "\(TerminalText.escape(d.file)):\(d.mark.line):\(d.mark.column): \(d.severity.rawValue): \(TerminalText.escape(d.message))\n"
        if let sourceLine, d.mark.line >= 1 {
            let line = TerminalText.escapeKeepingLines(sourceLine)
            if !line.isEmpty || d.mark.column == 1 {
                out += "    \(line)\n"
                // Tabs stay tabs so the caret lines up in a terminal.
                let prefix = line.unicodeScalars.prefix(max(0, d.mark.column - 1))
                    .map { $0 == "\t" ? "\t" : " " }.joined()
                let width = max(1, min(d.span, max(1, line.unicodeScalars.count - (d.mark.column - 1))))
                out += "    \(prefix)^" + String(repeating: "~", count: width - 1) + "\n"
            }
        }
        if let help = d.help { out += "    help: \(TerminalText.escape(help))\n" }
        return out
    }

    /// Lines are split once per file: looking each one up from the start made 100,000
    /// diagnostics on a large plan quadratic.
    public static func render(_ ds: [Diagnostic], sources: [String: SourceFile]) -> String {
        var lines: [String: [Substring]] = [:]
        return ds.sorted().map { d -> String in
            guard let source = sources[d.file] else { return render(d, line: nil) }
            if lines[d.file] == nil { lines[d.file] = source.lines }
            let all = lines[d.file] ?? []
            return render(d, line: d.mark.line >= 1 && d.mark.line <= all.count ? String(all[d.mark.line - 1]) : "")
        }.joined()
    }
}

/// Collects diagnostics while reading one file.
public struct DiagnosticSink: Sendable {
    public let file: String
    public private(set) var diagnostics: [Diagnostic] = []
    public init(file: String) { self.file = file }

    public mutating func error(_ at: Mark, span: Int = 1, _ message: String, help: String? = nil) {
        diagnostics.append(Diagnostic(.error, file: file, at: at, span: span, message, help: help))
    }
    public mutating func warning(_ at: Mark, span: Int = 1, _ message: String, help: String? = nil) {
        diagnostics.append(Diagnostic(.warning, file: file, at: at, span: span, message, help: help))
    }
    public mutating func append(_ d: Diagnostic) { diagnostics.append(d) }
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}
