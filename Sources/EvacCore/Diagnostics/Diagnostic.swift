/// One problem found in an input, with where it is and how to fix it.
public struct Diagnostic: Hashable, Sendable, Comparable {
    /// How serious a diagnostic is: an error refuses the input (`hasErrors`); a warning or a note does not.
    public enum Severity: String, Sendable, Codable { case error, warning, note }
    /// How serious the problem is.
    public var severity: Severity
    /// The path of the input file, as it is named in messages.
    public var file: String
    /// Where in the file the problem starts.
    public var mark: Mark
    /// Length of the caret underline in columns (at least 1).
    public var span: Int
    /// What is wrong, in one sentence.
    public var message: String
    /// How to fix it; rendered as a `help:` line.
    public var help: String?

    /// A diagnostic of `severity` at `mark` in `file`; `span` below 1 counts as 1.
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

    /// Orders by file, then position, then message, so output is stable whatever order checks ran in.
    public static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        (a.file, a.mark.line, a.mark.column, a.message) < (b.file, b.mark.line, b.mark.column, b.message)
    }
}

/// Renders diagnostics as `FILE:LINE:COL: error: message`, the source line, a caret, and help.
public enum DiagnosticRenderer {
    /// One diagnostic with its source line and caret, when `source` is given.
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

    /// All diagnostics in `Diagnostic` order, each with its line from `sources` (keyed by file path).
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
    /// The file every diagnostic of this sink is reported against.
    public let file: String
    /// Everything collected so far, in the order it was reported.
    public private(set) var diagnostics: [Diagnostic] = []
    /// A sink for diagnostics about `file`.
    public init(file: String) { self.file = file }

    /// Reports an error at `at`: the input is refused.
    public mutating func error(_ at: Mark, span: Int = 1, _ message: String, help: String? = nil) {
        diagnostics.append(Diagnostic(.error, file: file, at: at, span: span, message, help: help))
    }
    /// Reports a warning at `at`: the input is accepted, but probably not as meant.
    public mutating func warning(_ at: Mark, span: Int = 1, _ message: String, help: String? = nil) {
        diagnostics.append(Diagnostic(.warning, file: file, at: at, span: span, message, help: help))
    }
    /// Adds a diagnostic that was built elsewhere.
    public mutating func append(_ d: Diagnostic) { diagnostics.append(d) }
    /// Whether any error was reported, i.e. the input must be refused.
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}
