import EvacCore

/// Reads one YAML document into an `EvacCore.Node` tree with 1-based marks.
///
/// Choices, so callers know what to expect:
/// - A stream with no document (empty, or only comments) reads as an empty mapping at 1:1, so an
///   empty plan file gets the plan decoder's "missing key" messages rather than a YAML error.
/// - A second document ('---') is an error at its mark: a plan is one document.
/// - Aliases are replaced by the anchored node; aliases adding more than
///   `TreeBuilder.maxAliasNodes` nodes, more than `TreeBuilder.maxWrittenNodes` nodes written
///   out, or nesting deeper than `TreeBuilder.maxDepth`, is an error.
/// - Merge keys ('<<') are ordinary keys; the plan decoder reports them as unknown.
/// - Duplicate keys are kept as separate pairs in order; the plan decoder reports them.
/// - Tags other than '!' and '!!str' (which mark a scalar as quoted) are ignored.
/// - Input must be UTF-8; other bytes are an error at the first bad byte.
public enum YAMLReader {
    public static func parse(_ file: SourceFile) -> Result<Node, YAMLError> {
        parse(bytes: Array(file.text.utf8))
    }

    /// Parses raw file contents, so invalid UTF-8 is reported rather than silently replaced.
    public static func parse(bytes: [UInt8]) -> Result<Node, YAMLError> {
        guard let parser = LibYAMLParser(bytes: bytes) else {
            return .failure(YAMLError(at: Mark(line: 1, column: 1), "out of memory while reading YAML"))
        }
        var builder = TreeBuilder()
        var documents = 0
        while true {
            let event: Event
            switch parser.next() {
            case .success(let e): event = e
            case .failure(let error): return .failure(error)
            }
            switch event {
            case .streamEnd:
                return .success(builder.root ?? .mapping([], Mark(line: 1, column: 1)))
            case .documentStart(let mark):
                documents += 1
                if documents > 1 {
                    return .failure(
                        YAMLError(
                            at: mark, "a second YAML document starts here",
                            help: "a plan is one document; remove this '---' or move the rest to its own file"))
                }
            default:
                do { try builder.apply(event) } catch { return .failure(error) }
            }
        }
    }
}
