import EvacCore

/// A YAML syntax or structure error, worded for people, with where it is and how to fix it.
public struct YAMLError: Error, Hashable, Sendable, CustomStringConvertible {
    public var mark: Mark
    /// Columns to underline at `mark`.
    public var span: Int
    public var message: String
    public var help: String?

    public init(at mark: Mark, span: Int = 1, _ message: String, help: String? = nil) {
        self.mark = mark
        self.span = span
        self.message = message
        self.help = help
    }

    public var description: String { "\(mark): \(message)" }

    public func diagnostic(file: String) -> Diagnostic {
        Diagnostic(.error, file: file, at: mark, span: span, message, help: help)
    }

    public func diagnostic(file: SourceFile) -> Diagnostic { diagnostic(file: file.path) }
}
